"""Re-indexing inside ``fairseq-train``: link reports, resumption, two ranks on one plan, a dying rank."""

import re
import signal
import time

import pytest
import torch

from conftest import run_cli
from fairseq_marge.data.batch_plan import BatchPlan
from training_faults import launch_ranks

FINGERPRINT = re.compile(r"re-index (\d+): plan fingerprint ([0-9a-f]{40}) \(rank (\d) of (\d)\)")
TRAIN_ARGS = [
    "--user-dir", "fairseq_marge", "--task", "marge", "--arch", "marge_tiny", "--criterion", "marge",
    "--planner", "retrieval", "--max-tokens", "600", "--optimizer", "adam", "--lr", "1e-3", "--cpu",
    "--num-workers", "0", "--disable-validation", "--no-epoch-checkpoints",
]


def train(data_dir, save_dir, *extra):
    result = run_cli("fairseq-train", data_dir, *TRAIN_ARGS, "--save-dir", save_dir, *extra)
    return result.stdout + result.stderr


def fingerprints(log):
    return {int(generation): fp for generation, fp, _, _ in FINGERPRINT.findall(log)}


@pytest.fixture(scope="module")
def first_run(tiny_data_dir, tmp_path_factory):
    """5 updates with a re-index every 2: generations 1-3, stopped 1 update into the third."""
    save_dir = tmp_path_factory.mktemp("save")
    log = train(tiny_data_dir, save_dir, "--reindex-interval", "2", "--max-update", "5")
    return save_dir, log


@pytest.mark.slow
def test_reindex_during_training_writes_link_matrices(first_run):
    save_dir, log = first_run
    assert sorted(fingerprints(log)) == [1, 2, 3]
    assert "re-index 1 after 0 updates" in log and "re-index 3 after 2 updates" in log
    for generation in (1, 2, 3):
        assert (save_dir / "reindex" / f"links_gen{generation}.json").exists()
        assert (save_dir / "reindex" / f"links_gen{generation}.png").exists()


@pytest.mark.slow
def test_resumed_run_continues_the_saved_plan(first_run, tiny_data_dir):
    save_dir, log = first_run
    generation_3 = fingerprints(log)[3]
    state = torch.load(save_dir / "checkpoint_last.pt", weights_only=False)
    iterator = state["extra_state"]["train_iterator"]
    assert iterator["epoch"] == 3 and iterator["iterations_in_epoch"] == 1
    saved = BatchPlan.from_state_dict({k: v.numpy() for k, v in iterator["plan"].items()})
    assert saved.generation == 3 and saved.fingerprint() == generation_3

    resumed = train(tiny_data_dir, save_dir, "--reindex-interval", "2", "--max-update", "6")
    assert f"resuming epoch 3 on its saved batch plan (generation 3, " in resumed
    assert f"fingerprint {generation_3[:12]})" in resumed
    assert not fingerprints(resumed), "the resumed run must not re-index mid-epoch"


def launch_two_ranks(data_dir, tmp_path, *extra, faults=None):
    args = [data_dir, *TRAIN_ARGS, "--save-dir", tmp_path / "save", *extra]
    return launch_ranks(args, tmp_path, faults=faults)


@pytest.mark.slow
def test_two_ranks_train_on_the_same_plan(tiny_data_dir, tmp_path):
    ranks = launch_two_ranks(tiny_data_dir, tmp_path, "--reindex-interval", "3", "--max-update", "6")
    for process, log in ranks:
        assert process.wait(timeout=300) == 0, log.read_text()[-3000:]
    rank0, rank1 = (fingerprints(log.read_text()) for _, log in ranks)
    assert sorted(rank0) == [1, 2] and rank0 == rank1
    assert "(rank 1 of 2)" in ranks[1][1].read_text()
    for generation in (1, 2):  # plan_agreement.py compared the ranks' plans (and logs on rank 0)
        assert (f"re-index {generation}: the 'retrieval' planner's plan is the same on all 2 ranks "
                f"(fingerprint {rank0[generation][:12]})") in ranks[0][1].read_text()


@pytest.mark.slow
def test_survivor_exits_with_an_error_when_a_rank_dies(tiny_data_dir, tmp_path):
    (survivor, survivor_log), (victim, victim_log) = launch_two_ranks(
        tiny_data_dir, tmp_path, "--reindex-interval", "3", "--max-update", "1000"
    )
    deadline = time.monotonic() + 300
    while 2 not in fingerprints(victim_log.read_text()):  # killed after the second re-index
        assert victim.poll() is None and time.monotonic() < deadline, victim_log.read_text()[-3000:]
        time.sleep(0.5)
    victim.kill()
    victim.wait()
    killed_at = time.monotonic()
    try:
        survivor.wait(timeout=120)
    finally:
        survivor.kill()
    log = survivor_log.read_text()
    assert survivor.returncode != 0 and time.monotonic() - killed_at < 120, log[-2000:]
    assert re.search(r"Connection closed by peer|Connection reset|Broken pipe", log), log[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("victim", [0, 1])
def test_survivor_exits_with_an_error_when_a_rank_dies_during_a_reindex(tiny_data_dir, tmp_path, victim):
    ranks = launch_two_ranks(tiny_data_dir, tmp_path, "--reindex-interval", "3", "--max-update", "1000",
                         faults={victim: ("KILL", "reindex:2")})  # after its encoding, before the gather
    (dead, dead_log), (survivor, survivor_log) = ranks[victim], ranks[1 - victim]
    try:
        assert dead.wait(timeout=300) == -signal.SIGKILL, dead_log.read_text()[-3000:]
        died_at = time.monotonic()
        survivor.wait(timeout=120)
    finally:
        survivor.kill()
    log = survivor_log.read_text()
    assert survivor.returncode != 0 and time.monotonic() - died_at < 120, log[-2000:]
    assert re.search(rf"RuntimeError: re-index 2 failed on rank {1 - victim} of 2: .*(Connection closed by "
                     r"peer|Connection reset|Broken pipe).*; if another rank has died, its log says why",
                     log), log[-2000:]
