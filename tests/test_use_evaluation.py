"""Retrieval evaluation (Tatoeba accuracy, BUCC ratio-margin mining) and document chunking."""

import numpy as np
import pytest
import torch

from fairseq_marge.evaluation import bucc
from fairseq_marge.evaluation.chunking import chunk_lines
from fairseq_marge.evaluation.tatoeba import retrieval_accuracy


def noisy_translations(n=50, dim=16, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    src = rng.normal(size=(n, dim)).astype(np.float32)
    return src, src + noise * rng.normal(size=src.shape).astype(np.float32)


def test_retrieval_accuracy_both_directions():
    src, tgt = noisy_translations()
    assert retrieval_accuracy(src, tgt) == (1.0, 1.0)
    tgt[3] = -src[3]  # the one pair that is not a translation fails both ways
    en2xx, xx2en = retrieval_accuracy(src, tgt)
    assert en2xx == pytest.approx(49 / 50) and xx2en == pytest.approx(49 / 50)


def test_ratio_margin_matches_its_definition():
    src, tgt = noisy_translations(n=12, noise=0.5)
    candidates = bucc.mine(src, tgt, k=4)
    x = src / np.linalg.norm(src, axis=1, keepdims=True)
    y = tgt / np.linalg.norm(tgt, axis=1, keepdims=True)
    cos = x @ y.T
    density_x = np.sort(cos, axis=1)[:, -4:].sum(axis=1) / 8
    density_y = np.sort(cos, axis=0)[-4:, :].sum(axis=0) / 8
    margin = cos / (density_x[:, None] + density_y[None, :])
    for s, t, score in zip(candidates.src, candidates.tgt, candidates.score):
        assert score == pytest.approx(margin[s, t], rel=1e-4)
        assert margin[s, t] == pytest.approx(max(margin[s].max(), margin[:, t].max()), rel=1e-4)
    assert np.all(np.diff(candidates.score) <= 0)


def test_threshold_tuned_for_f1_rejects_sentences_without_translation():
    src, tgt = noisy_translations(n=40, noise=0.2)
    distractors = np.random.default_rng(1).normal(size=(20, 16)).astype(np.float32)
    candidates = bucc.mine(np.concatenate([src, distractors]), tgt)
    gold = {(i, i) for i in range(40)}
    threshold = bucc.best_threshold(candidates, gold)
    precision, recall, f1 = bucc.precision_recall_f1(candidates, gold, threshold)
    assert f1 == 1.0 and precision == 1.0 and recall == 1.0
    assert bucc.precision_recall_f1(candidates, gold, -np.inf)[0] < 1.0  # no threshold: distractors kept


def test_chunk_lines_packs_lines_and_cuts_only_overlong_ones():
    lines = [["a"] * 3, ["b"] * 3, ["c"] * 7, ["d"]]
    assert chunk_lines(lines, max_tokens=6) == [["a"] * 3 + ["b"] * 3, ["c"] * 6, ["c", "d"]]
    assert chunk_lines([["a"] * 2], max_tokens=512) == [["a"] * 2]


def test_long_text_helpers_chunk_and_merge(tmp_path):
    from fairseq_marge.evaluation.long_texts import embed_texts, text_chunks, translate_texts
    from fairseq_marge.models.marge import MargeModel
    from use_helpers import document, make_real_data_dir, save_checkpoint

    data = make_real_data_dir(tmp_path)
    save_checkpoint(data, data / "model.pt")
    hub = MargeModel.from_pretrained(str(data), checkpoint_file="model.pt").eval()
    doc = document("en", 3)
    chunks = text_chunks(hub, doc, max_tokens=12)
    assert len(chunks) > 1 and all(len(c) <= 13 for c in chunks)  # + EOS
    # one chunk: the document embedding is the embedding of the whole text
    torch.testing.assert_close(embed_texts(hub, [doc])[0], hub.embed(doc.replace("\n", " ")), rtol=1e-4, atol=1e-5)
    # several: the token-weighted mean of the chunk embeddings
    expected = sum((len(c) + 1) * e for c, e in zip(chunks, hub.embed_tokens(chunks))) / sum(len(c) + 1 for c in chunks)
    torch.testing.assert_close(embed_texts(hub, [doc], max_tokens=12)[0], expected, rtol=1e-4, atol=1e-5)
    outputs = translate_texts(hub, [doc, "Open the menu."], "de", max_tokens=12, beam=2, max_len_b=3)
    assert len(outputs) == 2 and outputs[0].count(" ") >= len(chunks) - 1
