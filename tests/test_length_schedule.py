"""--doc-length-schedule: documents cut per epoch, in plans and in the batches trained on."""

import numpy as np
import pytest
import torch
from fairseq.tasks import FairseqTask

from conftest import build_task_and_model
from fairseq_marge.data.random_planner import cluster_cost
from fairseq_marge.data.truncated_documents import truncate_sample
from fairseq_marge.tasks.length_schedule import LengthSchedule
from fairseq_marge.tasks.reindex_schedule import ReindexSchedule


def test_schedule_grammar_and_epoch_of_an_update():
    lengths = LengthSchedule("0-20:8,20-:512")
    assert [lengths.length_at(u) for u in (0, 19, 20, 10**6)] == [8, 8, 512, 512]
    assert LengthSchedule(None).length_at(5) is None
    for bad in ("0-20:0,20-:512", "0-20:8", "0-20:x,20-:512", "8"):
        with pytest.raises(ValueError, match="--doc-length-schedule"):
            LengthSchedule(bad)
    epochs = ReindexSchedule("0-10:4,10-:8")  # epochs start at 0, 4, 8, 12, 20
    assert [epochs.epoch_of(u) for u in (0, 3, 4, 11, 12, 19, 20)] == [1, 1, 2, 3, 4, 4, 5]


@pytest.mark.parametrize("length", [1, 6, 12, 100])
def test_a_cut_batch_is_the_batch_of_cut_documents(tiny_data_dir, length):
    """truncate_sample (training, main process) and the cut split (planners) agree exactly."""
    task, _, _ = build_task_and_model(tiny_data_dir)
    task.load_dataset("train")
    dataset = task.datasets["train"]
    docs = np.arange(12)
    evidence, targets = docs[:8], docs[4:]  # four targets are evidence too, four are not
    full = dataset.cluster_batch(evidence, targets)
    cut_view = dataset.truncated(length)
    expected = cut_view.cluster_batch(evidence, targets)
    got = truncate_sample(full, length, task.dictionary.pad(), task.dictionary.eos())
    assert got["ntokens"] == expected["ntokens"]
    assert torch.equal(got["target"], expected["target"])
    for key in ("src_tokens", "src_lengths", "prev_output_tokens", "target_rows"):
        assert torch.equal(got["net_input"][key], expected["net_input"][key]), key
    assert (cut_view.doc_sizes == np.minimum(dataset.doc_sizes, length + 1)).all()
    if length < dataset.doc_sizes.min():  # every document cut: each still ends in EOS
        assert (expected["target"][:, -1] == task.dictionary.eos()).all()


def test_short_epochs_plan_more_targets_per_cluster_within_the_budget(tiny_data_dir, monkeypatch):
    task, _, _ = build_task_and_model(
        tiny_data_dir, "--planner", "random", "--reindex-interval", "4",
        "--doc-length-schedule", "0-4:3,4-:512",
    )
    task.load_dataset("train")
    dataset = task.datasets["train"]
    short, full = task.build_plan(dataset, epoch=1), task.build_plan(dataset, epoch=2)
    assert len(short) < len(full)  # the same documents in fewer, fuller clusters
    cut = dataset.truncated(3)
    for plan, view in ((short, cut), (full, dataset)):
        for c in plan.clusters:
            assert cluster_cost(view.doc_sizes[c.evidence], view.doc_sizes[c.targets]) <= 600
    # a training step of epoch 1 sees cut documents, one of epoch 2 whole ones
    sample = dataset.cluster_batch(short.clusters[0].evidence, short.clusters[0].targets)
    seen = []  # the widths of the targets that reach fairseq's own train_step
    monkeypatch.setattr(FairseqTask, "train_step", lambda self, s, *a, **k: seen.append(s["target"].size(1)))
    for update in (0, 3, 4):
        task.train_step(sample, None, None, None, update_num=update)
    longest = int(dataset.doc_sizes[short.clusters[0].targets].max())
    assert seen == [4, 4, longest]
