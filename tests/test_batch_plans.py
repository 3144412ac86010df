"""Batch plans, the re-index schedule, the plan iterator and load-time data checks."""

import numpy as np
import pytest
import torch

from conftest import LANGS, make_data_dir, write_split
from fairseq_marge.data.batch_plan import BatchPlan, Cluster
from fairseq_marge.data.document_dataset import DocumentLengthError, MargeDocumentDataset
from fairseq_marge.data.document_metadata import MetadataError
from fairseq_marge.data.plan_iterator import PlanEpochBatchIterator
from fairseq_marge.data.random_planner import random_plan
from fairseq_marge.tasks.reindex_schedule import ReindexSchedule
from fairseq.data import Dictionary


def load(data_dir, split="train", max_doc_tokens=512):
    dictionary = Dictionary.load(str(data_dir / "dict.txt"))
    lang_ids = [dictionary.add_symbol(f"[{lang}]") for lang in LANGS]
    return MargeDocumentDataset.load(str(data_dir / split), dictionary, lang_ids, split, max_doc_tokens)


def test_schedule():
    s = ReindexSchedule("0-10:4,10-:8")
    assert [s.epoch_start(e) for e in range(1, 6)] == [0, 4, 8, 12, 20]
    assert [s.updates_in_epoch(e) for e in range(1, 5)] == [4, 4, 4, 8]
    assert ReindexSchedule("10000").updates_in_epoch(7) == 10000
    for bad in ("0-10:4", "5-:4", "0-10:4,12-:8", "abc", "0-10:0,10-:5"):
        with pytest.raises(ValueError, match="--reindex-interval"):
            ReindexSchedule(bad)


def test_plan_state_round_trip_and_epoch_batches():
    plan = BatchPlan([Cluster(np.array([0, 1]), np.array([1])), Cluster(np.array([2, 3, 4]), np.array([2, 4]))], 3)
    again = BatchPlan.from_state_dict(plan.state_dict())
    assert again.fingerprint() == plan.fingerprint() and again.generation == 3
    batches = plan.epoch_batches(num_documents=10, num_batches=5, seed=0)
    assert len(batches) == 5
    assert sorted(map(tuple, batches[:2])) == [(0, 1, 11), (2, 3, 4, 12, 14)]


def test_random_plan_respects_shards_and_budget(tiny_data_dir):
    dataset = load(tiny_data_dir)
    plan = random_plan(dataset, max_tokens=300, seed=1)
    shards = dataset.metadata["shard"]
    for c in plan.clusters:
        assert len(set(shards[c.evidence])) == 1
        cost = np.sum(dataset.doc_sizes[c.evidence] + 1) + np.sum(dataset.doc_sizes[c.targets] + 1)
        assert cost <= 300 or len(c.evidence) == 1
        assert set(c.targets) <= set(c.evidence)


def model_tokens(dataset, cluster) -> int:
    """Real (not padding) tokens of a collated cluster's encoder and decoder rows: what
    ``--max-tokens`` bounds."""
    net = dataset.cluster_batch(cluster.evidence, cluster.targets)["net_input"]
    return int(net["src_lengths"].sum() + net["prev_output_tokens"].ne(dataset.dictionary.pad()).sum())


def test_random_plan_clusters_fit_the_budget_as_collated(tiny_data_dir):
    dataset = load(tiny_data_dir)
    for c in random_plan(dataset, max_tokens=150, seed=2).clusters:
        assert model_tokens(dataset, c) <= 150


def test_collated_cluster_layout(tiny_data_dir):
    dataset = load(tiny_data_dir)
    batch = dataset.cluster_batch(evidence=[0, 1], targets=[1, 5])
    net = batch["net_input"]
    assert net["num_evidence"] == 2 and net["target_rows"].tolist() == [1, 2]
    assert (net["src_tokens"][:, 0] == dataset.dictionary.bos()).all()
    # decoder input: language token, then the document; target: the document, then EOS
    lang_of_5 = dataset.metadata["lang"][5]
    assert net["prev_output_tokens"][1, 0] == dataset.lang_token_ids[lang_of_5]
    assert torch.equal(batch["target"][1, : dataset.doc_sizes[5]], dataset.tokens[5])


def test_iterator_saves_and_resumes_its_plan(tiny_data_dir):
    dataset = load(tiny_data_dir)
    built = []

    def plan_for_epoch(epoch):
        built.append(epoch)
        return random_plan(dataset, 300, seed=epoch, generation=epoch)

    itr = PlanEpochBatchIterator(dataset, plan_for_epoch, lambda e: 6, seed=1)
    epoch_itr = itr.next_epoch_itr()
    first = [next(epoch_itr)["id"].tolist() for _ in range(2)]
    state = itr.state_dict()
    rest = [b["id"].tolist() for b in epoch_itr]

    resumed = PlanEpochBatchIterator(dataset, plan_for_epoch, lambda e: 6, seed=1)
    resumed.load_state_dict(state)
    assert built == [1], "resuming must not rebuild the plan"
    assert [b["id"].tolist() for b in resumed.next_epoch_itr()] == rest
    assert len(first) + len(rest) == 6


def test_load_time_errors_name_the_file(tmp_path):
    data_dir = make_data_dir(tmp_path / "d")
    (data_dir / "valid.meta.npy").unlink()
    with pytest.raises(MetadataError, match="valid.meta.npy: missing"):
        load(data_dir, "valid")
    with pytest.raises(DocumentLengthError, match="over --max-doc-tokens 8"):
        load(data_dir, "train", max_doc_tokens=8)
    dictionary = Dictionary.load(str(data_dir / "dict.txt"))
    write_split(data_dir, "bad", [[5, 6, 2]], dictionary, [7], [0], [-1], [True])
    with pytest.raises(MetadataError, match="row 0 has language id 7"):
        load(data_dir, "bad")
