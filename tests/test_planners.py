"""Pluggable planners: the registry, --planner-schedule, the lexical planner, a user-dir's planner."""

import argparse
import json
import sys

import numpy as np
import pytest
import scipy.sparse

from conftest import REPO, build_task_and_model, run_cli, run_command
from fairseq_marge.data.planner_registry import Planner, register_planner
from fairseq_marge.retrieval.neighbour_search import nearest_neighbours
from fairseq_marge.tasks.planner_schedule import PlannerSchedule

ORACLE_DIR = REPO / "examples" / "custom_planner" / "group_oracle"


def reindex_reports(save_dir, pattern="links_gen*.json"):
    reports = [json.loads(p.read_text()) for p in (save_dir / "reindex").glob(pattern)]
    return sorted(reports, key=lambda r: r["generation"])


def test_schedule_names_a_registered_planner_per_range():
    schedule = PlannerSchedule("retrieval", "0-3000:lexical,3000-:retrieval")
    assert [schedule.planner_at(u) for u in (0, 2999, 3000, 10**7)] == ["lexical", "lexical", "retrieval", "retrieval"]
    assert PlannerSchedule("random").planner_at(123) == "random"
    with pytest.raises(ValueError, match="unknown planner 'bm25': registered planners are .*lexical"):
        PlannerSchedule("retrieval", "0-10:bm25,10-:retrieval")
    for bad in ("0-10:lexical", "0-10:lexical,20-:retrieval", "lexical"):
        with pytest.raises(ValueError, match="--planner-schedule"):
            PlannerSchedule("retrieval", bad)


def test_an_unknown_planner_is_refused_when_the_task_is_set_up(tiny_data_dir):
    with pytest.raises(ValueError, match="unknown planner 'nearest'"):
        build_task_and_model(tiny_data_dir, "--planner", "nearest")


def test_registering_a_name_twice_or_a_non_planner_fails():
    with pytest.raises(ValueError, match="registered twice"):
        register_planner("retrieval")(type("Again", (Planner,), {}))
    with pytest.raises(TypeError, match="must subclass Planner"):
        register_planner("not_a_planner")(object)


@pytest.mark.parametrize("with_self", [False, True])
def test_sparse_search_matches_faiss_on_the_same_vectors(with_self):
    rng = np.random.default_rng(0)
    dense = rng.random((60, 40)).astype(np.float32) * (rng.random((60, 40)) < 0.2)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True) + 1e-9
    queries, query_keys = dense[:25], (np.arange(25) if with_self else None)
    want = nearest_neighbours(queries, dense, 5, query_keys)
    got = nearest_neighbours(scipy.sparse.csr_matrix(queries), scipy.sparse.csr_matrix(dense), 5, query_keys)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
    np.testing.assert_array_equal(got[1], want[1])
    if with_self:
        assert not (got[1] == np.arange(25)[:, None]).any()


@pytest.fixture(scope="module")
def noisy_twin_data(tmp_path_factory):
    """The bundled sample cut in 12-word pieces, each with a twin missing a fifth of its words."""
    out = tmp_path_factory.mktemp("noisy")
    corpus, data = out / "docs.jsonl", out / "data-bin"
    run_command(sys.executable, REPO / "examples/known_answer/make_corpus.py", "--twin", "noisy", "--words", "12",
                "--input", REPO / "examples/sample_corpus/docs.jsonl", "--output", corpus)
    run_command(sys.executable, "-m", "preprocess", "all", "--input", corpus, "--out", data, "--vocab-size", "100",
                "--num-shards", "20", "--valid-fraction", "0.05", "--max-tokens-per-doc", "128")
    return data


def test_lexical_links_find_noisy_twins(noisy_twin_data):
    task, model, _ = build_task_and_model(noisy_twin_data, "--mono-links", "0", "--cross-links", "1",
                                          "--max-tokens", "1024", "--seed", "1")
    task.load_dataset("train")
    dataset = task.dataset("train")
    lexical = task.planner("lexical").reindex(dataset, model.encoder, generation=1, seed=2)
    # a twin keeps 80% of its original's words: character 3-grams find it almost always, where a
    # random document of the shard (about 28 pairs) would be the twin one time in 55
    assert lexical.cross_links_in_group / lexical.cross_links >= 0.95, lexical
    assert lexical.cross_links >= 0.9 * dataset.num_documents / 2 and lexical.mono_links == 0, lexical
    assert lexical.plan.fingerprint() == task.planner("lexical").reindex(
        dataset, model.encoder, generation=1, seed=2).plan.fingerprint()


def test_schedule_hands_over_from_lexical_to_retrieval_in_training(tiny_data_dir, tmp_path):
    """... and while the lexical planner builds the plans, g's own links are reported beside them."""
    proc = run_cli("fairseq-train", tiny_data_dir, "--user-dir", "fairseq_marge", "--task", "marge", "--arch", "marge_tiny",
            "--criterion", "marge", "--max-tokens", "600", "--optimizer", "adam", "--lr", "1e-3",
            "--max-update", "9", "--reindex-interval", "3", "--planner-schedule", "0-6:lexical,6-:retrieval",
            "--cpu", "--num-workers", "0", "--save-dir", tmp_path, "--no-epoch-checkpoints",
            "--disable-validation", "--seed", "1", "--report-g-links")
    assert [r["planner"] for r in reindex_reports(tmp_path)] == ["lexical", "lexical", "retrieval"]
    own = reindex_reports(tmp_path, "g_links_gen*.json")
    assert [(r["generation"], r["planner"], r["links_of"]) for r in own] == [(1, "lexical", "g"), (2, "lexical", "g")]
    assert "re-index 2, g's own links (not trained on; the plan is lexical's)" in proc.stdout + proc.stderr


def test_a_user_dir_planner_trains(noisy_twin_data, tmp_path):
    proc = run_cli("fairseq-train", noisy_twin_data, "--user-dir", ORACLE_DIR, "--task", "marge",
                   "--planner", "group_oracle", "--mono-links", "0", "--cross-links", "1", "--arch", "marge_tiny",
                   "--criterion", "marge", "--max-tokens", "1024", "--optimizer", "adam", "--lr", "1e-3",
                   "--max-update", "2", "--reindex-interval", "2", "--cpu", "--num-workers", "0",
                   "--save-dir", tmp_path, "--no-epoch-checkpoints", "--disable-validation")
    (report,) = reindex_reports(tmp_path)
    # every link with a score of 1 is in-group; the few that are not
    # belong to documents that preprocessing left without a group-mate
    assert report["planner"] == "group_oracle" and report["cross_links_in_group"] >= 0.95, report
    assert "(group_oracle planner)" in proc.stdout + proc.stderr
    assert "links join documents with identical" not in proc.stdout + proc.stderr  # ties by design


def test_validation_plans_come_from_the_valid_planner(noisy_twin_data):
    """--valid-planner group_oracle: held-out targets read their own group (the ceiling of the
    evidence ablation); a planner that is not a retrieval planner is refused by name."""
    from fairseq import utils

    utils.import_user_module(argparse.Namespace(user_dir=str(ORACLE_DIR)))
    in_group, fingerprints = {}, set()
    for planner in ("retrieval", "group_oracle"):
        task, model, _ = build_task_and_model(noisy_twin_data, "--mono-links", "0", "--cross-links", "1",
                                              "--max-tokens", "1024", "--seed", "1", "--valid-evidence", "retrieved",
                                              "--valid-planner", planner)
        task.load_dataset("valid")
        dataset = task.dataset("valid")
        group = np.asarray(dataset.metadata["group"])
        plan = task.valid_plan(dataset)
        fingerprints.add(plan.fingerprint())
        in_group[planner] = np.mean([np.isin(group[t], group[c.evidence]) for c in plan.clusters for t in c.targets])
    # at initialisation g finds most noisy twins too (they share 80% of their words), not all
    assert in_group["group_oracle"] == 1 > in_group["retrieval"] and len(fingerprints) == 2, in_group

    task, _, _ = build_task_and_model(noisy_twin_data, "--valid-evidence", "retrieved", "--valid-planner", "random")
    task.load_dataset("valid")
    with pytest.raises(ValueError, match="--valid-planner random: .* by 'retrieval' or a subclass of it"):
        task.valid_plan(task.dataset("valid"))
