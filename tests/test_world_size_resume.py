"""A checkpoint saved on one world size resumes on another (two gloo CPU ranks and one): the
epoch's batch plan goes on from its first batch no rank has trained, no batch is trained twice
or skipped, every rank resumes the same plan, and the next re-index is the same on every rank."""

import re
from collections import defaultdict

import numpy as np
import pytest
import torch

from fairseq_marge.data.batch_plan import BatchPlan
from training_faults import TRAINED, launch_ranks, run_training

SEED = 7
FINGERPRINT = re.compile(r"re-index (\d+): plan fingerprint ([0-9a-f]{40}) \(rank (\d) of (\d)\)")
RESUMED = re.compile(r"resuming epoch 2 on its saved batch plan \(.*fingerprint ([0-9a-f]{12})\) "
                     r"at batch (\d+) of its sequence, rank (\d) of (\d)")


def train(data_dir, save_dir, world_size, max_update):
    """Updates up to ``max_update``, a re-index every 4; returns each rank's log."""
    args = [data_dir, "--user-dir", "fairseq_marge", "--task", "marge", "--arch", "marge_tiny",
            "--criterion", "marge", "--max-tokens", 600, "--optimizer", "adam", "--lr", "1e-3",
            "--max-update", max_update, "--reindex-interval", 4, "--seed", SEED, "--cpu",
            "--save-dir", save_dir, "--no-epoch-checkpoints", "--disable-validation",
            "--log-format", "simple", "--log-interval", 1, "--num-workers", 0]
    if world_size == 1:
        returncode, _, log = run_training(args, record=True)
        assert returncode == 0, log[-3000:]
        return [log]
    # rank 0 reads the checkpoint and fairseq broadcasts it to the others (fairseq_marge/compat.py
    # allow-lists what that broadcast unpickles)
    logs = []
    for process, log in launch_ranks(args, save_dir, world_size, record=True):
        assert process.wait(timeout=300) == 0, log.read_text()[-3000:]
        logs.append(log.read_text())
    return logs


def trained(logs):
    """{update: [items of rank 0's batch, rank 1's, ...]}"""
    batches = defaultdict(dict)
    for log in logs:
        for update, rank, items in TRAINED.findall(log):
            batches[int(update)][int(rank)] = tuple(map(int, items.split(",")))
    return {update: [ranks[r] for r in sorted(ranks)] for update, ranks in batches.items()}


@pytest.mark.slow
@pytest.mark.parametrize("before, after", [(2, 1), (1, 2)])
def test_resume_on_another_world_size_trains_each_batch_of_the_plan_once(
        tiny_data_dir, tmp_path, before, after):
    # epoch 2 is updates 5-8: 2 of them before the checkpoint, 2 after; then re-index 3
    first = train(tiny_data_dir, tmp_path, before, max_update=6)
    state = torch.load(tmp_path / "checkpoint_last.pt", weights_only=False)["extra_state"]["train_iterator"]
    plan = BatchPlan.from_state_dict({k: v.numpy() for k, v in state["plan"].items()})
    second = train(tiny_data_dir, tmp_path, after, max_update=10)

    num_documents = len(np.load(tiny_data_dir / "train.meta.npy"))
    batches = plan.epoch_batches(num_documents, 2 * before + 2 * after, seed=SEED + 2)
    sequence = [tuple(sorted(b)) for b in batches]
    assert len(set(sequence)) == len(sequence), "distinct batches, or the test would not see a repeat"
    before_batches, after_batches = trained(first), trained(second)
    assert [b for u in (5, 6) for b in before_batches[u]] == sequence[: 2 * before]
    assert [b for u in (7, 8) for b in after_batches[u]] == sequence[2 * before:]
    assert sorted(after_batches) == [7, 8, 9, 10], "the resumed run starts after the checkpoint"

    resumed = [RESUMED.search(log).groups() for log in second]
    assert resumed == [(plan.fingerprint()[:12], str(2 * before), str(r), str(after)) for r in range(after)]
    reindex_3 = {fp for log in second for gen, fp, _, _ in FINGERPRINT.findall(log) if gen == "3"}
    assert len(reindex_3) == 1 and all("re-index 3: plan fingerprint" in log for log in second)
