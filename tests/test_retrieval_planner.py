"""The retrieval planner in process: a real task and model on tiny data, and awkward shards."""

import json
import logging
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fairseq.data import Dictionary
from fairseq.distributed import utils as distributed_utils

from conftest import LANGS, build_task_and_model, write_split
from fairseq_marge.data.document_metadata import METADATA_DTYPE
from fairseq_marge.retrieval.document_encoder import collate_documents, encode_documents
from fairseq_marge.retrieval.retrieval_planner import shard_problem
from fairseq_marge.retrieval.shard_assignment import deal_out
from training_faults import free_port


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


def test_shards_go_longest_first_to_the_rank_with_fewest_tokens():
    shards, tokens = np.array([4, 7, 9, 11, 12]), np.array([10, 50, 30, 30, 20])
    # 7 (50) -> rank 0; 9 (30, before 11 by id) -> 1; 11 (30) -> 2; 12 (20) -> 1 or 2: the lower; 4 -> 2
    assert [r.tolist() for r in deal_out(shards, tokens, 3)] == [[7], [9, 12], [4, 11]]
    assert [r.tolist() for r in deal_out(shards, tokens, 1)] == [shards.tolist()]
    assert [r.tolist() for r in deal_out(shards[:1], tokens[:1], 2)] == [[4], []]  # a rank may get none


PLANNERS = ("retrieval", "lexical")
# encoding batches of 100 tokens: each shard's several batches are dealt out to several ranks
SMALL_BATCHES = ("--reindex-max-tokens", "100")


def reindex_on_rank(rank, port, data_dir, weights, out_dir):
    """One of three gloo ranks: each planner's re-index of generation 1 on all three ranks, then on
    ranks 0 and 1 alone (a group of two: two process starts fewer than a second run), as JSON."""
    torch.set_num_threads(1)  # as every rank and the one-rank run: the same floating-point sums
    torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=3)
    try:
        task, dataset = build_task(data_dir, out_dir / f"save{rank}", *SMALL_BATCHES)
        task.model.load_state_dict(torch.load(weights))
        results = {3: {name: reindex_summary(task, dataset, name) for name in PLANNERS}}
        pair = torch.distributed.new_group([0, 1])  # every rank must create it
        if rank < 2:
            with mock.patch.object(distributed_utils, "get_data_parallel_group", return_value=pair):
                results[2] = {name: reindex_summary(task, dataset, name) for name in PLANNERS}
        (out_dir / f"rank{rank}.json").write_text(json.dumps(results))
    finally:
        torch.distributed.destroy_process_group()


def reindex_summary(task, dataset, planner):
    result = task.planner(planner).reindex(dataset, task.model.encoder, generation=1, seed=5)
    counts = {k: v for k, v in vars(result).items() if isinstance(v, int)}
    return dict(fingerprint=result.plan.fingerprint(), counts=counts, link_matrix=result.link_matrix.tolist(),
                rank_tokens=result.rank_tokens, rank_seconds=result.rank_seconds)


def test_the_plan_is_the_same_on_one_two_and_three_ranks(tiny_data_dir, tmp_path):
    """All ranks encode, each rank re-indexes its own shards (3 here) and the ranks gather the
    clusters: the plan, its counts and link matrix are those of one rank, on every rank."""
    task, dataset = build_task(tiny_data_dir, tmp_path / "save", *SMALL_BATCHES)
    torch.save(task.model.state_dict(), tmp_path / "weights.pt")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        alone = {name: reindex_summary(task, dataset, name) for name in PLANNERS}
    finally:
        torch.set_num_threads(threads)
    assert alone["retrieval"]["counts"]["targets_used"] > 0.8 * dataset.num_documents
    assert alone["retrieval"]["fingerprint"] != alone["lexical"]["fingerprint"]
    torch.multiprocessing.spawn(reindex_on_rank, nprocs=3, args=(free_port(), tiny_data_dir, tmp_path / "weights.pt", tmp_path))
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in range(3)]
    for world_size in (2, 3):
        for rank in range(world_size):
            for name in PLANNERS:
                summary, want = ranks[rank][str(world_size)][name], alone[name]
                assert [summary[k] for k in ("fingerprint", "counts", "link_matrix")] == [
                    want[k] for k in ("fingerprint", "counts", "link_matrix")], (name, world_size, rank)
                # three shards of about equal size: every rank gets work
                assert len(summary["rank_tokens"]) == world_size and min(summary["rank_tokens"]) > 0
