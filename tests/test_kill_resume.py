"""A run killed with SIGKILL and resumed from its last checkpoint reproduces, update for update,
the loss trace of an uninterrupted run, wherever the kill lands: mid-epoch, in the last update
before a re-index, or during a re-index."""

import signal

import pytest

from training_faults import LOADED, run_training, tiny_train_args, uninterrupted_trace

UPDATES = 16  # a re-index every 5 updates: epochs 1-3 of updates 1-5, 6-10, 11-15; epoch 4


def train_args(data_dir, save_dir):
    return tiny_train_args(data_dir, save_dir, UPDATES, "--save-interval-updates", 1)


@pytest.fixture(scope="module")
def reference(tiny_data_dir, tmp_path_factory):
    return uninterrupted_trace(train_args(tiny_data_dir, tmp_path_factory.mktemp("reference")), UPDATES)


@pytest.mark.slow
@pytest.mark.parametrize("point, last_saved", [
    ("update:7", 6),  # mid-epoch: resumes epoch 2 on its saved plan
    ("update:10", 9),  # the last update before re-index 3: resumes on epoch 2's plan, then re-indexes
    ("reindex:3", 10),  # during re-index 3: abandoned, redone on resume
], ids=["mid-epoch", "last-update-before-reindex", "during-reindex"])
def test_kill_and_resume_reproduces_the_loss_trace(reference, tiny_data_dir, tmp_path, point, last_saved):
    returncode, killed, log = run_training(train_args(tiny_data_dir, tmp_path), ("KILL", point))
    assert returncode == -signal.SIGKILL and f"fault: SIGKILL at {point}" in log, log[-3000:]
    assert sorted(killed) == list(range(1, last_saved + 1)), "the kill landed elsewhere"
    if point.startswith("reindex"):
        assert "epoch 3: building the batch plan" in log and "re-index 3: plan fingerprint" not in log

    returncode, resumed, log = run_training(train_args(tiny_data_dir, tmp_path))
    assert returncode == 0, log[-3000:]
    epoch, updates = map(int, LOADED.search(log).groups())
    assert updates == last_saved and min(resumed) == last_saved + 1
    if point.startswith("update"):
        assert f"resuming epoch {epoch} on its saved batch plan" in log
    else:
        assert "epoch 3: building the batch plan" in log
    assert {**killed, **resumed} == reference
