"""End to end through fairseq's own CLIs: train a few updates, generate from the checkpoint."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import REPO, fairseq_env

BIN = Path(sys.executable).parent


def run(*args, check=True):
    proc = subprocess.run([str(a) for a in args], cwd=REPO, env=fairseq_env(),
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args[0]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def train_args(data_dir, save_dir, max_update):
    return [
        BIN / "fairseq-train", data_dir, "--user-dir", "fairseq_marge", "--task", "marge",
        "--arch", "marge_tiny", "--criterion", "marge", "--max-tokens", "600",
        "--optimizer", "adam", "--lr", "1e-3", "--max-update", max_update,
        "--reindex-interval", "0-10:4,10-:8", "--cpu", "--save-dir", save_dir,
        "--log-format", "simple", "--log-interval", "1", "--seed", "3",
    ]


@pytest.mark.slow
def test_train_then_generate(tiny_data_dir, tmp_path):
    save = tmp_path / "ckpt"
    run(*train_args(tiny_data_dir, save, 14))
    state = torch.load(save / "checkpoint_last.pt", weights_only=True)
    assert state["optimizer_history"][-1]["num_updates"] == 14
    # schedule 0-10:4,10-:8 -> epochs start at updates 0, 4, 8, 12
    assert state["extra_state"]["train_iterator"]["epoch"] == 4

    gen = run(
        BIN / "fairseq-generate", tiny_data_dir, "--user-dir", "fairseq_marge", "--task", "marge",
        "--source-lang", "en", "--target-lang", "de", "--gen-subset", "test",
        "--path", save / "checkpoint_last.pt", "--beam", "6", "--no-repeat-ngram-size", "8",
        "--cpu", "--max-tokens", "2000", "--max-len-b", "30",
    )
    hypotheses = [line for line in gen.stdout.splitlines() if line.startswith("H-")]
    assert len(hypotheses) == 6, gen.stdout[-2000:]  # every test sentence, none dropped
    for line in hypotheses:
        words = line.split("\t")[2].split()
        assert words and not any(w.startswith("[") for w in words)
    assert "BLEU4" in gen.stdout
