"""SIGTERM or SIGUSR1 make fairseq-train save a checkpoint at the next update boundary and exit
with status 75; during a re-index the re-index is abandoned and redone on restart.  The resumed
run reproduces the uninterrupted loss trace, update for update."""

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import REPO, fairseq_env
from fairseq_marge.tasks.preemption import EXIT_CODE
from training_faults import LOADED, free_port, launch_ranks, run_training, tiny_train_args, uninterrupted_trace

UPDATES = 12  # a re-index every 5 updates: epochs 1-2 of updates 1-5 and 6-10, epoch 3
SAVED = re.compile(r"preemption: checkpoint saved ([\d.]+) s after (SIG\w+); exiting with status 75")


def train_args(data_dir, save_dir):
    """fairseq saves at the end of each epoch only: a checkpoint mid-epoch is the preemption's."""
    return tiny_train_args(data_dir, save_dir, UPDATES)


@pytest.fixture(scope="module")
def reference(tiny_data_dir, tmp_path_factory):
    return uninterrupted_trace(train_args(tiny_data_dir, tmp_path_factory.mktemp("reference")), UPDATES)


@pytest.mark.slow
@pytest.mark.parametrize("name, point, saved_at", [
    ("USR1", "update:7", 7),  # mid-update: the update ends, then the checkpoint
    ("TERM", "reindex:2", 5),  # during re-index 2: abandoned; the checkpoint of update 5 restarts it
], ids=["mid-update", "during-reindex"])
def test_signal_saves_at_the_update_boundary_and_resume_reproduces_the_trace(
        reference, tiny_data_dir, tmp_path, name, point, saved_at):
    returncode, stopped, log = run_training(train_args(tiny_data_dir, tmp_path), (name, point))
    assert returncode == EXIT_CODE and f"fault: SIG{name} at {point}" in log, log[-3000:]
    assert sorted(stopped) == list(range(1, saved_at + 1))
    assert SAVED.search(log).group(2) == f"SIG{name}"
    if point.startswith("reindex"):
        assert "re-index abandoned" in log and "re-index 2: plan fingerprint" not in log

    returncode, resumed, log = run_training(train_args(tiny_data_dir, tmp_path))
    assert returncode == 0, log[-3000:]
    assert tuple(map(int, LOADED.search(log).groups())) == (2, saved_at)
    if point.startswith("update"):
        assert "resuming epoch 2 on its saved batch plan" in log
    else:
        assert "epoch 2: building the batch plan" in log
    assert min(resumed) == saved_at + 1 and {**stopped, **resumed} == reference


@pytest.mark.slow
def test_signal_during_the_first_reindex_exits_without_a_checkpoint(tiny_data_dir, tmp_path):
    returncode, stopped, log = run_training(train_args(tiny_data_dir, tmp_path), ("USR1", "reindex:1"))
    assert returncode == EXIT_CODE and not stopped, log[-3000:]
    assert "re-index abandoned before the first update of this run, nothing to save" in log
    assert not (tmp_path / "checkpoint_last.pt").exists()


@pytest.mark.slow
def test_sigterm_from_outside(tiny_data_dir, tmp_path):
    """The signal a scheduler sends, at whatever point the run has reached."""
    args = train_args(tiny_data_dir, tmp_path)
    args[args.index("--max-update") + 1] = 10_000  # the run cannot end before the signal lands
    fairseq_train = str(Path(sys.executable).parent / "fairseq-train")
    proc = subprocess.Popen([fairseq_train, *map(str, args)], cwd=REPO, env=fairseq_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log, signalled = [], None
    for line in proc.stdout:
        log.append(line)
        if "num_updates=3," in line:
            proc.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            break
    log += proc.stdout.readlines()
    assert proc.wait(timeout=60) == EXIT_CODE and signalled, "".join(log[-40:])
    assert time.monotonic() - signalled < 60
    saved = int(re.search(r"saving a checkpoint after update (\d+)", "".join(log)).group(1))
    assert saved >= 3 and (tmp_path / "checkpoint_last.pt").exists()


@pytest.mark.slow
def test_in_spawn_mode_the_parent_passes_the_signal_on_and_exits_75(tiny_data_dir, tmp_path):
    """fairseq's spawn mode (one process per machine spawns the ranks): the scheduler's signal
    reaches the parent only."""
    args = train_args(tiny_data_dir, tmp_path)
    args[args.index("--max-update") + 1] = 10_000
    spawn = ["--distributed-world-size", 2, "--distributed-init-method", f"tcp://127.0.0.1:{free_port()}",
             "--distributed-backend", "gloo", "--ddp-backend", "legacy_ddp"]
    fairseq_train = str(Path(sys.executable).parent / "fairseq-train")
    proc = subprocess.Popen([fairseq_train, *map(str, args + spawn)], cwd=REPO, env=fairseq_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = []
    for line in proc.stdout:
        log.append(line)
        if "num_updates=3," in line:
            proc.send_signal(signal.SIGTERM)
            break
    log = "".join(log + proc.stdout.readlines())
    assert proc.wait(timeout=120) == EXIT_CODE, log[-3000:]
    saved = re.findall(r"preemption \(SIGTERM received\): saving a checkpoint after update (\d+)", log)
    assert len(saved) == 2 and len(set(saved)) == 1, log[-3000:]  # both ranks, the same update
    assert "preemption: SIGTERM passed on to 2 ranks, all exited 75; exiting with status 75" in log
    state = torch.load(tmp_path / "checkpoint_last.pt", weights_only=False)
    assert state["optimizer_history"][-1]["num_updates"] == int(saved[0])


@pytest.mark.slow
def test_a_signal_to_one_rank_stops_every_rank_after_the_same_update(tiny_data_dir, tmp_path):
    ranks = launch_ranks(train_args(tiny_data_dir, tmp_path), tmp_path, faults={1: ("USR1", "update:3")})
    logs = []
    for process, log in ranks:
        assert process.wait(timeout=300) == EXIT_CODE, log.read_text()[-3000:]
        logs.append(log.read_text())
    assert "preemption (another rank signalled): saving a checkpoint after update 3" in logs[0]
    assert "preemption (SIGUSR1 received): saving a checkpoint after update 3" in logs[1]
    state = torch.load(tmp_path / "checkpoint_last.pt", weights_only=False)
    assert state["optimizer_history"][-1]["num_updates"] == 3


@pytest.mark.slow
@pytest.mark.parametrize("rank, name, point", [
    (1, "USR1", "reindex:2"),  # mid-re-index: the other rank waits for it in a collective
    (0, "TERM", "planned:2"),  # the plan is built, the ranks have not yet agreed to train on it
], ids=["mid-reindex", "after-the-plan"])
def test_a_signal_to_one_rank_during_a_reindex_stops_every_rank(tiny_data_dir, tmp_path, rank, name, point):
    """No rank leaves a re-index alone: the ranks finish it, agree, and all save and exit 75."""
    ranks = launch_ranks(train_args(tiny_data_dir, tmp_path), tmp_path, faults={rank: (name, point)})
    for r, (process, log) in enumerate(ranks):
        assert process.wait(timeout=300) == EXIT_CODE, log.read_text()[-3000:]
        source = f"SIG{name} received" if r == rank else "another rank signalled"
        assert f"preemption ({source}): saving a checkpoint after update 5, re-index abandoned" in log.read_text()
    state = torch.load(tmp_path / "checkpoint_last.pt", weights_only=False)
    assert state["optimizer_history"][-1]["num_updates"] == 5
    assert state["extra_state"]["train_iterator"]["epoch"] == 2


@pytest.mark.slow
def test_a_signal_to_every_rank_during_a_reindex_abandons_it_on_every_rank(tiny_data_dir, tmp_path):
    args = train_args(tiny_data_dir, tmp_path)
    faults = {rank: ("TERM", "reindex:2") for rank in (0, 1)}  # each after its own encoding
    for process, log in launch_ranks(args, tmp_path, faults=faults):
        assert process.wait(timeout=300) == EXIT_CODE, log.read_text()[-3000:]
        assert "saving a checkpoint after update 5, re-index abandoned" in log.read_text()
    state = torch.load(tmp_path / "checkpoint_last.pt", weights_only=False)
    assert state["extra_state"]["train_iterator"]["epoch"] == 2
    assert state["optimizer_history"][-1]["num_updates"] == 5

    # rank 0 reads the checkpoint and fairseq broadcasts it to the other rank (README, "Preemption")
    args[args.index("--max-update") + 1] = 6
    resumed = launch_ranks(args, tmp_path)
    fingerprints = []
    for process, log in resumed:
        assert process.wait(timeout=300) == 0, log.read_text()[-3000:]
        fingerprints += re.findall(r"re-index 2: plan fingerprint ([0-9a-f]{40}) \(rank \d of 2\)",
                                   log.read_text())
    assert len(fingerprints) == 2 and len(set(fingerprints)) == 1, "re-index 2 redone, alike on both ranks"
