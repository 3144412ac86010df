"""The retrieval planner in process: a real task and model on tiny data, and awkward shards."""

import json
import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fairseq.data import Dictionary

from conftest import LANGS, build_task_and_model, write_split
from fairseq_marge.data.document_metadata import METADATA_DTYPE
from fairseq_marge.retrieval.document_encoder import collate_documents, encode_documents
from fairseq_marge.retrieval.retrieval_planner import shard_problem


def build_task(data_dir, save_dir, *extra):
    task, _, _ = build_task_and_model(data_dir, "--save-dir", save_dir, *extra)
    task.load_dataset("train")
    return task, task.datasets["train"]


def test_plan_from_the_current_model(tiny_data_dir, tmp_path, caplog):
    task, dataset = build_task(tiny_data_dir, tmp_path)
    task.model.train()
    with caplog.at_level(logging.INFO):
        plan = task.build_plan(dataset, epoch=3)
    assert task.model.encoder.training, "re-indexing must restore train mode"
    assert plan.generation == 3 and len(plan) > 0
    assert plan.num_targets() > 0.8 * dataset.num_documents
    assert "links per target 4.0 same-language + 4.0 cross-language" in caplog.text
    assert f"plan fingerprint {plan.fingerprint()}" in caplog.text

    record = json.loads((tmp_path / "reindex" / "links_gen3.json").read_text())
    links = np.array(record["links"])
    assert record["langs"] == LANGS and links.shape == (3, 3)
    assert links.sum() == 8 * dataset.num_documents  # every document may be a target
    assert (tmp_path / "reindex" / "links_gen3.png").stat().st_size > 0


def test_clusters_fit_the_budget_as_collated(tiny_data_dir, tmp_path):
    """Encoder rows (evidence, and targets that are not evidence, encoded for their g) plus
    decoder rows: their real tokens never pass --max-tokens."""
    task, dataset = build_task(tiny_data_dir, tmp_path, "--max-tokens", "150")
    plan = task.build_plan(dataset, epoch=1)
    assert any(not set(c.targets) <= set(c.evidence) for c in plan.clusters)
    for c in plan.clusters:
        net = dataset.cluster_batch(c.evidence, c.targets)["net_input"]
        decoder_tokens = net["prev_output_tokens"].ne(dataset.dictionary.pad()).sum()
        assert net["src_lengths"].sum() + decoder_tokens <= 150


def test_encoding_is_g_of_each_document_without_dropout(tiny_data_dir, tmp_path):
    task, dataset = build_task(tiny_data_dir, tmp_path, "--dropout", "0.5")
    encoder = task.model.encoder
    docs = np.random.default_rng(0).permutation(dataset.num_documents)[:40]
    encoder.train()
    encoded = encode_documents(encoder, dataset, docs, max_tokens=100)  # many length-sorted batches
    assert encoder.training, "re-indexing must restore train mode"

    encoder.eval()
    with torch.no_grad():  # one document at a time: no batching, no padding
        g = torch.cat([encoder.relevance_embedding(collate_documents(dataset, [d])) for d in docs])
    np.testing.assert_allclose(encoded, F.normalize(g, dim=-1).numpy(), atol=1e-5)


@pytest.fixture
def awkward_data_dir(tmp_path):
    """Shard 0: one document; 1: one language only; 2: identical documents; 3: no possible
    target; 4: ordinary."""
    dictionary = Dictionary()
    for word in range(30):
        dictionary.add_symbol(f"w{word}")
    dictionary.save(str(tmp_path / "dict.txt"))
    (tmp_path / "langs.txt").write_text("\n".join(LANGS) + "\n")
    rng = np.random.default_rng(0)

    def doc():
        return [dictionary.index(f"w{w}") for w in rng.integers(0, 30, 8)] + [dictionary.eos()]

    same = doc()
    rows = ([(doc(), 0, 0, True)]
            + [(doc(), 1, 1, True) for _ in range(4)]
            + [(same, lang, 2, True) for lang in (0, 0, 1)]
            + [(doc(), lang, 3, False) for lang in (0, 1)]
            + [(doc(), lang % 3, 4, True) for lang in range(9)])
    docs, lang, shard, may_be_target = zip(*rows)
    write_split(tmp_path, "train", docs, dictionary, lang, shard, np.full(len(docs), -1), may_be_target)
    return tmp_path


def test_awkward_shards_are_logged_not_fatal(awkward_data_dir, tmp_path, caplog):
    task, dataset = build_task(awkward_data_dir, tmp_path / "save")
    with caplog.at_level(logging.INFO):
        plan = task.build_plan(dataset, epoch=1)
    assert "1 shard(s) with one document (no evidence for it): 0" in caplog.text
    assert "1 shard(s) with one language only (no cross-language links): 1" in caplog.text
    assert "1 shard(s) with no document that may be a target: 3" in caplog.text
    assert "links join documents with identical g (f = 1)" in caplog.text
    placed = np.concatenate([c.targets for c in plan.clusters])
    assert 0 not in placed and not set(placed) & {8, 9}  # no evidence / not a target
    assert set(placed) >= {5, 6, 7}  # the identical documents are evidence for each other


def test_empty_shard_and_no_links_at_all(awkward_data_dir, tmp_path, caplog):
    assert shard_problem(np.empty(0, METADATA_DTYPE), wants_cross=True) == "no document"
    task, dataset = build_task(awkward_data_dir, tmp_path / "save", "--mono-links", "0",
                               "--cross-links", "0")
    with caplog.at_level(logging.INFO):
        plan = task.build_plan(dataset, epoch=1)
    assert "no target has a link" in caplog.text and "random same-shard plan" in caplog.text
    assert len(plan) > 0
