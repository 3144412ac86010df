"""Which encoder representation retrieval embeds with (``--embed-layer``): a layer's mean state,
the relevance embedding g, or a sweep of all of them (examples/retrieval_eval/evaluate.py)."""

import json
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from fairseq.data import data_utils

from fairseq_marge.evaluation.embeddings import layer_embeddings, resolve_embed_layer
from fairseq_marge.evaluation.long_texts import embed_texts, embed_texts_by_layer, text_chunks
from fairseq_marge.models.marge import MargeModel
from use_helpers import document, make_real_data_dir, save_checkpoint

EVALUATE = Path(__file__).resolve().parents[1] / "examples" / "retrieval_eval" / "evaluate.py"
TEXTS = ["The printer number 3 is connected to the network.", "Open the menu.",
         "Der Drucker ist mit dem Netzwerk verbunden."]
# g after layer 1 of 4: the default, layer 2, is neither g's layer nor the top one
ENCODER = ("--encoder-layers", "4", "--relevance-layers", "1")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("embed_layers")
    data = make_real_data_dir(root)
    return save_checkpoint(data, data / "model.pt", *ENCODER), data, root / "dev"


@pytest.fixture(scope="module")
def hub(checkpoint):
    path, data, _ = checkpoint
    return MargeModel.from_pretrained(str(data), checkpoint_file=path.name).eval()


def source_rows(hub, inputs):
    """``[BOS] text [EOS]`` rows, padded into one batch; ``inputs`` are texts or encoded texts."""
    bos = torch.tensor([hub.task.dictionary.bos()])
    rows = [torch.cat([bos, hub.encode(x) if isinstance(x, str) else x]) for x in inputs]
    return data_utils.collate_tokens(rows, hub.task.dictionary.pad())


@pytest.mark.parametrize("encoder_layers, relevance_layers, default", [(12, 4, 5), (4, 1, 2), (3, 3, 3)])
def test_default_is_the_layer_just_above_g_capped_at_the_depth(encoder_layers, relevance_layers, default):
    encoder = SimpleNamespace(layers=[None] * encoder_layers, relevance_layers=relevance_layers)
    assert resolve_embed_layer(encoder) == default
    assert resolve_embed_layer(encoder, "2") == resolve_embed_layer(encoder, 2) == 2
    assert resolve_embed_layer(encoder, "g") == "g"


@pytest.mark.parametrize("layer", [0, "0", 5, "5", "foo", "all", -1])
def test_a_bad_layer_is_refused_with_the_choices(layer):
    encoder = SimpleNamespace(layers=[None] * 4, relevance_layers=1)
    with pytest.raises(ValueError, match=rf"--embed-layer {layer}: expected an encoder layer 1\.\.4 or 'g'"):
        resolve_embed_layer(encoder, layer)


def test_g_read_from_the_layer_states_is_the_relevance_embedding(hub):
    src = source_rows(hub, TEXTS)  # rows of different lengths: padding must not matter
    assert src.eq(hub.task.dictionary.pad()).any()
    encoder = hub.model.encoder
    with torch.no_grad():
        expected = F.normalize(encoder.relevance_embedding(src), dim=-1)
    torch.testing.assert_close(layer_embeddings(encoder, src, ["g"])[:, 0], expected)
    torch.testing.assert_close(embed_texts(hub, TEXTS, "g"), expected, rtol=1e-4, atol=1e-5)


def test_a_long_text_gets_the_mean_of_its_chunks_g(hub):
    doc = document("en", 3)
    chunks = text_chunks(hub, doc, max_tokens=12)
    assert len(chunks) > 1
    with torch.no_grad():
        chunk_g = F.normalize(hub.model.encoder.relevance_embedding(source_rows(hub, chunks)), dim=-1)
    torch.testing.assert_close(embed_texts(hub, [doc], "g", max_tokens=12)[0], chunk_g.mean(dim=0),
                               rtol=1e-4, atol=1e-5)


def test_a_sweep_encodes_once_and_gives_every_layer_its_own_mean(hub):
    encoder = hub.model.encoder
    forward_calls = []
    hook = encoder.register_forward_hook(lambda *_: forward_calls.append(1))
    layers = ["g", 1, 2, 3, 4]
    try:
        sweep = embed_texts_by_layer(hub, TEXTS, layers)
    finally:
        hook.remove()
    assert len(forward_calls) == 1  # the three texts fit one batch
    for i, text in enumerate(TEXTS):
        src = source_rows(hub, [text])  # no padding: a plain mean over the tokens
        with torch.no_grad():
            states = encoder(src, return_all_hiddens=True)["encoder_states"]
        for layer in layers[1:]:
            torch.testing.assert_close(sweep[layer][i], states[layer - 1][:, 0].mean(dim=0), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(sweep[2], sweep[4], atol=1e-3)  # the layers can be told apart
    torch.testing.assert_close(sweep["g"], embed_texts(hub, TEXTS, "g"))


def evaluate(checkpoint, capsys, monkeypatch, *args):
    path, data, dev = checkpoint
    argv = [str(EVALUATE), "--path", str(path), "--data", str(data), "--dev", str(dev), "--langs", "de", "--cpu"]
    monkeypatch.setattr(sys, "argv", argv + list(args))
    runpy.run_path(str(EVALUATE), run_name="__main__")
    out = capsys.readouterr()
    return json.loads(out.out), out.err


def test_evaluate_sweeps_g_and_every_layer_and_reports_the_default(checkpoint, capsys, monkeypatch):
    summary, table = evaluate(checkpoint, capsys, monkeypatch, "--embed-layer", "all")
    assert summary["embed_layer"] == 2
    assert list(summary["sweep"]) == ["g", "1", "2", "3", "4"]
    for kind, columns in (("sent", ["p1_en2xx", "p1_xx2en", "bucc_f1"]), ("doc", ["p1_en2xx", "p1_xx2en"])):
        top = summary["en-de"][kind]
        assert top["n"] == (6 if kind == "sent" else 3)
        assert set(columns) <= set(summary["sweep"]["g"]["en-de"][kind])
        assert {key: top[key] for key in summary["sweep"]["2"]["en-de"][kind]} == summary["sweep"]["2"]["en-de"][kind]
    # the table on stderr: a row per embedding, the default one marked
    lines = table.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == ["layer", "en->de", "de->en", "F1", "en-de"])
    rows = {cells[0]: cells[1:] for cells in map(str.split, lines[header + 1 : header + 6])}
    assert list(rows) == ["g", "1", "2", "3", "4"]
    for layer, cells in rows.items():
        sent = summary["sweep"][layer]["en-de"]["sent"]
        numbers = [f"{sent[key]:.3f}" for key in ("p1_en2xx", "p1_xx2en", "bucc_f1")]
        assert cells == (["*"] if layer == "2" else []) + numbers

    single, _ = evaluate(checkpoint, capsys, monkeypatch, "--embed-layer", "g")
    assert single["embed_layer"] == "g" and "sweep" not in single
    assert {key: single["en-de"]["sent"][key] for key in summary["sweep"]["g"]["en-de"]["sent"]} \
        == summary["sweep"]["g"]["en-de"]["sent"]


@pytest.mark.parametrize("layer", ["0", "5", "foo"])
def test_evaluate_refuses_a_bad_layer(checkpoint, capsys, monkeypatch, layer):
    with pytest.raises(SystemExit) as stopped:
        evaluate(checkpoint, capsys, monkeypatch, "--embed-layer", layer)
    assert stopped.value.code == 2
    assert f"--embed-layer {layer}: expected an encoder layer 1..4 or 'g'" in capsys.readouterr().err


def test_evaluate_on_the_first_paragraphs_only(checkpoint, capsys, monkeypatch):
    summary, _ = evaluate(checkpoint, capsys, monkeypatch, "--embed-layer", "g", "--levels", "sent", "--limit", "4")
    assert summary["embed_layer"] == "g" and list(summary["en-de"]) == ["sent"]
    assert summary["en-de"]["sent"]["n"] == 4
