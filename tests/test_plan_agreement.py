"""A user-dir planner whose plan depends on the rank stops a distributed run at its first
re-index, on every rank, with one line naming the planner and the ranks.  (Ranks that agree:
test_retrieval_training.py's two-rank run asserts the check's line.)"""

import re
import textwrap

import pytest

from fairseq_marge.data.plan_agreement import which_ranks_hold
from training_faults import launch_ranks, tiny_train_args

RANK_SEEDED = textwrap.dedent('''
    import fairseq_marge  # noqa: F401  (the marge task and the built-in planners)
    import torch
    from fairseq_marge.data.planner_registry import register_planner
    from fairseq_marge.data.random_planner import RandomPlanner


    @register_planner("rank_seeded")
    class RankSeededPlanner(RandomPlanner):
        """The bug the check is for: a random choice seeded by something other than ``seed``."""

        def plan(self, dataset, model, generation, seed, updates_since_last):
            seed += torch.distributed.get_rank()
            return super().plan(dataset, model, generation, seed, updates_since_last)
''')
DISAGREEMENT = re.compile(
    r"PlanDisagreement: re-index 1: the 'rank_seeded' planner gave ranks different plans "
    r"\(fingerprint [0-9a-f]{12} on rank 0; fingerprint [0-9a-f]{12} on rank 1\): a planner must "
    r"give every rank the same plan \(seed every random choice with the seed it is given\)$",
    re.MULTILINE,
)


@pytest.mark.slow
def test_ranks_with_different_plans_all_stop_at_the_first_reindex(tiny_data_dir, tmp_path):
    user_dir = tmp_path / "rank_seeded"
    user_dir.mkdir()
    (user_dir / "__init__.py").write_text(RANK_SEEDED)
    args = tiny_train_args(tiny_data_dir, tmp_path / "save", 2, "--planner", "rank_seeded")
    args[args.index("--user-dir") + 1] = user_dir
    ranks = launch_ranks(args, tmp_path)
    try:  # a rank left waiting for the others is what the check must not cause
        returncodes = [process.wait(timeout=120) for process, _ in ranks]
    finally:
        for process, _ in ranks:
            process.kill()
    for (_, log), returncode in zip(ranks, returncodes):
        text = log.read_text()
        assert returncode != 0, text[-3000:]
        assert len(DISAGREEMENT.findall(text)) == 1, text[-3000:]
        assert "num_updates=" not in text, "stopped before any update"


def test_the_message_groups_ranks_by_plan():
    a, b = "a" * 40, "b" * 40
    assert which_ranks_hold([a, a, a]) is None
    assert which_ranks_hold([a, b, a]) == f"fingerprint {a[:12]} on ranks 0, 2; fingerprint {b[:12]} on rank 1"
