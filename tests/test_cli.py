"""End to end through fairseq's own CLIs: train a few updates, generate from the checkpoint."""

import pytest
import torch

from conftest import run_cli


@pytest.mark.slow
def test_train_then_generate(tiny_data_dir, trained_checkpoint):
    state = torch.load(trained_checkpoint, weights_only=True)
    assert state["optimizer_history"][-1]["num_updates"] == 14
    # schedule 0-10:4,10-:8 -> epochs start at updates 0, 4, 8 and 12
    assert state["extra_state"]["train_iterator"]["epoch"] == 4

    gen = run_cli(
        "fairseq-generate", tiny_data_dir, "--user-dir", "fairseq_marge", "--task", "marge",
        "--source-lang", "en", "--target-lang", "de", "--gen-subset", "test",
        "--path", trained_checkpoint, "--beam", "6", "--no-repeat-ngram-size", "8",
        "--cpu", "--max-tokens", "2000", "--max-len-b", "30",
    )
    hypotheses = [line for line in gen.stdout.splitlines() if line.startswith("H-")]
    assert len(hypotheses) == 6, gen.stdout[-2000:]  # every test sentence, none dropped
    for line in hypotheses:
        words = line.split("\t")[2].split()
        assert words and not any(w.startswith("[") for w in words)
    assert "BLEU4" in gen.stdout
