"""--valid-evidence: validation on retrieved evidence, and the same targets on random evidence."""

import numpy as np
import pytest

from conftest import build_task_and_model


def valid_plans(data_dir, *choices):
    """The validation plans of one model for each choice, made on the train split: its shards
    have enough documents to choose from."""
    task, model, _ = build_task_and_model(data_dir)
    task.load_dataset("train")
    dataset = task.datasets["train"]
    plans = []
    for choice in choices:
        task.cfg.valid_evidence = choice
        plans.append(task.valid_plan(dataset))
    return plans, np.asarray(dataset.metadata["shard"])


def test_shuffled_evidence_keeps_the_targets_and_their_shard(tiny_data_dir):
    (retrieved, shuffled), shard_of = valid_plans(tiny_data_dir, "retrieved", "shuffled")
    assert len(retrieved) == len(shuffled) > 0
    for r, s in zip(retrieved.clusters, shuffled.clusters):
        assert np.array_equal(r.targets, s.targets)
        assert len(s.evidence) == len(r.evidence) == len(np.unique(s.evidence))
        assert set(shard_of[s.evidence]) == set(shard_of[r.targets])
    assert any(not np.array_equal(r.evidence, s.evidence)
               for r, s in zip(retrieved.clusters, shuffled.clusters))


def test_random_validation_plan_stays_within_a_shard(tiny_data_dir):
    (plan,), shard_of = valid_plans(tiny_data_dir, "random")
    assert len(plan) > 0 and all(len(set(shard_of[c.evidence])) == 1 for c in plan.clusters)


def test_unknown_choice_is_refused(tiny_data_dir):
    with pytest.raises(SystemExit):
        build_task_and_model(tiny_data_dir, "--valid-evidence", "nearest")
