"""A run killed with SIGKILL and resumed from its last checkpoint reproduces, update for update,
the loss trace of an uninterrupted run: once killed mid-epoch, once while re-indexing."""

import random
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, fairseq_env

UPDATES = 16
INNER = re.compile(r"\| train_inner \|.* loss=([\d.]+),.* num_updates=(\d+),")


def train_command(data_dir, save_dir):
    return [
        str(Path(sys.executable).parent / "fairseq-train"), str(data_dir),
        "--user-dir", "fairseq_marge", "--task", "marge", "--arch", "marge_tiny",
        "--criterion", "marge", "--max-tokens", "600", "--optimizer", "adam", "--lr", "1e-3",
        "--max-update", str(UPDATES), "--reindex-interval", "5", "--seed", "7", "--cpu",
        "--save-dir", str(save_dir), "--save-interval-updates", "1", "--no-epoch-checkpoints",
        "--disable-validation", "--log-format", "simple", "--log-interval", "1",
        "--num-workers", "0",
    ]


def run(data_dir, save_dir, kill_when=None):
    """Run training; with ``kill_when(line)``, SIGKILL it at the first log line that matches.
    Returns {update: loss} from the train_inner lines and whether it was killed."""
    proc = subprocess.Popen(
        train_command(data_dir, save_dir), cwd=REPO, env=fairseq_env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    losses, killed, log = {}, False, []
    for line in proc.stdout:
        log.append(line)
        match = INNER.search(line)
        if match:
            losses[int(match.group(2))] = match.group(1)
        if kill_when is not None and kill_when(line):
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
    proc.wait()
    if not killed and proc.returncode != 0:
        raise AssertionError("".join(log[-40:]))
    return losses, killed


@pytest.mark.slow
def test_kill_and_resume_reproduces_the_loss_trace(tiny_data_dir, tmp_path):
    reference, _ = run(tiny_data_dir, tmp_path / "reference")
    assert sorted(reference) == list(range(1, UPDATES + 1))

    kill_update = random.Random().randint(2, UPDATES - 2)
    print(f"killing at update {kill_update}, then during the second re-index")
    save_dir = tmp_path / "interrupted"
    trace = {}
    scenarios = [
        lambda line: f"num_updates={kill_update}," in line,  # mid-training
        lambda line: "epoch 3: building the batch plan" in line,  # while re-indexing
        None,  # run to the end
    ]
    for kill_when in scenarios:
        losses, killed = run(tiny_data_dir, save_dir, kill_when)
        trace.update(losses)  # a resumed run's value for an update replaces the killed one's
        assert killed == (kill_when is not None)
    assert trace == reference
