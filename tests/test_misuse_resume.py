"""Misuse, resuming: a checkpoint saved mid-epoch keeps its batch plan only on the training data
and plan options it was made from; with any of them changed the epoch is re-indexed, with one
line saying what changed.  An epoch that the resumed options make shorter than the steps already
done stops, naming the options, and leaves the checkpoint as it was; so does a checkpoint_last.pt
cut short, named as such (fairseq-train falls back to no other checkpoint)."""

import shutil

import pytest

from conftest import make_data_dir
from misuse_helpers import digests, truncated_copy
from training_faults import run_training, tiny_train_args

RESUMED = "resuming epoch 1 on its saved batch plan"
DROPPED = "epoch 1: the saved batch plan was made from other sources ("
REINDEXED = "dropping it and re-indexing epoch 1, resuming at step 3 of the epoch"


@pytest.fixture(scope="module")
def saved_mid_epoch(tiny_data_dir, tmp_path_factory):
    """checkpoint_last.pt after 3 of the 5 updates of epoch 1."""
    save_dir = tmp_path_factory.mktemp("mid_epoch")
    returncode, _, log = run_training(tiny_train_args(tiny_data_dir, save_dir, 3))
    assert returncode == 0, log[-3000:]
    return save_dir / "checkpoint_last.pt"


def resume(checkpoint, data_dir, save_dir, *extra):
    save_dir.mkdir()
    shutil.copy(checkpoint, save_dir / "checkpoint_last.pt")
    return run_training(tiny_train_args(data_dir, save_dir, 4, *extra))


def test_same_corpus_and_options_resume_on_the_saved_plan(saved_mid_epoch, tiny_data_dir, tmp_path):
    returncode, losses, log = resume(saved_mid_epoch, tiny_data_dir, tmp_path / "run")
    assert returncode == 0 and RESUMED in log and DROPPED not in log, log[-3000:]
    assert sorted(losses) == [4]


@pytest.mark.parametrize("corpus, extra, changed", [
    ({}, ["--cross-links", 2, "--max-tokens", 800], "--max-tokens: 600 -> 800; --cross-links: 4.0 -> 2.0"),
    ({"num_groups": 20, "seed": 1}, [], "training data: 72 documents (hash "),
    ({"num_shards": 4}, [], "training data: 72 documents (hash "),  # the same documents re-sharded
], ids=["options", "another-corpus", "re-sharded"])
def test_changed_sources_reindex_the_epoch(saved_mid_epoch, tiny_data_dir, tmp_path, corpus, extra, changed):
    data_dir = make_data_dir(tmp_path / "data", **corpus) if corpus else tiny_data_dir
    returncode, losses, log = resume(saved_mid_epoch, data_dir, tmp_path / "run", *extra)
    assert returncode == 0 and sorted(losses) == [4], log[-3000:]
    line = next(line for line in log.splitlines() if DROPPED in line)
    assert changed in line and REINDEXED in line and RESUMED not in log
    assert "re-index 1: plan fingerprint" in log


def test_epoch_shorter_than_the_steps_done_stops(saved_mid_epoch, tiny_data_dir, tmp_path):
    before = digests(saved_mid_epoch)[str(saved_mid_epoch)]
    returncode, losses, log = resume(saved_mid_epoch, tiny_data_dir, tmp_path / "run", "--reindex-interval", 2)
    last = log.strip().splitlines()[-1]
    assert returncode == 1 and not losses
    assert "the checkpoint is 3 steps into epoch 1, which lasts 2 steps" in last and "--reindex-interval" in last
    assert "dataloader mismatch" not in log
    assert list(digests(tmp_path / "run").values()) == [before]  # checkpoint_last.pt, and nothing else


def test_truncated_checkpoint_last_stops_naming_the_file(saved_mid_epoch, tiny_data_dir, tmp_path):
    save_dir = tmp_path / "run"
    save_dir.mkdir()
    truncated_copy(saved_mid_epoch, save_dir / "checkpoint_last.pt")
    before = digests(save_dir)
    returncode, losses, log = run_training(tiny_train_args(tiny_data_dir, save_dir, 4))
    last = log.strip().splitlines()[-1]
    assert returncode == 1 and not losses
    assert "checkpoint_last.pt: the checkpoint file is truncated" in last and "copy it again or load another" in last
    assert digests(save_dir) == before
