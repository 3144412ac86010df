"""Threshold and batch construction: link counts, budgets, evidence coverage, cross preference."""

import numpy as np

from fairseq_marge.data.random_planner import cluster_cost
from fairseq_marge.retrieval.candidate_links import shard_candidates
from fairseq_marge.retrieval.cluster_builder import grow_clusters
from fairseq_marge.retrieval.link_threshold import Links, strongest, threshold_links
from fairseq_marge.data.batch_plan import Cluster
from fairseq_marge.retrieval.retrieval_planner import links_in_group, targets_with_group_evidence


def random_shard(n=300, num_langs=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    langs = rng.integers(0, num_langs, size=n).astype(np.int16)
    may_be_target = rng.random(n) < 0.8
    return shard_candidates(np.arange(n), x, langs, may_be_target, k_mono=16, k_cross=16), langs


def test_strongest_is_a_global_threshold():
    scores = np.array([[0.9, 0.1, -np.inf], [0.5, 0.7, 0.3]], dtype=np.float32)
    assert strongest(scores, 3).tolist() == [0, 3, 4]  # 0.9, 0.5, 0.7
    assert len(strongest(scores, 10)) == 5  # never a missing (-inf) candidate
    assert len(strongest(scores, 0)) == 0


def test_threshold_gives_the_average_links_per_target():
    candidates, langs = random_shard()
    links = threshold_links(candidates, mono_links=4, cross_links=2.5)
    num_targets = len(candidates.targets)
    assert (~links.cross).sum() == round(4 * num_targets)
    assert links.cross.sum() == round(2.5 * num_targets)
    assert (langs[links.target] != langs[links.evidence]).tolist() == links.cross.tolist()
    assert not (links.target == links.evidence).any()
    # a global threshold: every kept same-language pair beats every dropped one
    kept_min = links.score[~links.cross].min()
    dropped = np.sort(candidates.mono_scores.ravel())[: -(~links.cross).sum()]
    assert dropped.max() <= kept_min


def make_links(rows):
    target, evidence, cross = (np.array(col) for col in zip(*rows))
    return Links(target=target.astype(np.int64), evidence=evidence.astype(np.int64),
                 score=np.linspace(0.9, 0.5, len(rows)).astype(np.float32), cross=cross.astype(bool))


def test_clusters_respect_budget_and_give_every_target_its_evidence():
    candidates, _ = random_shard(n=500, seed=3)
    links = threshold_links(candidates, mono_links=4, cross_links=4)
    doc_cost = np.random.default_rng(4).integers(10, 60, size=500)
    budget = 400
    clusters = grow_clusters(links, doc_cost, budget, cross_weight=100, seed=0)

    linked = set(zip(links.evidence.tolist(), links.target.tolist()))
    placed = np.concatenate([c.targets for c in clusters])
    assert len(placed) == len(set(placed.tolist()))  # a target is reconstructed once
    assert len(placed) > 0.9 * len(np.unique(links.target))
    for c in clusters:
        assert cluster_cost(doc_cost[c.evidence] - 1, doc_cost[c.targets] - 1) <= budget
        for t in c.targets.tolist():
            assert any((e, t) in linked for e in c.evidence.tolist())
    again = grow_clusters(links, doc_cost, budget, cross_weight=100, seed=0)
    assert [c.targets.tolist() for c in again] == [c.targets.tolist() for c in clusters]


def test_clusters_prefer_cross_language_links():
    # target 0 is the seed with its strongest (cross-language) evidence 10; targets 1 and 2 both
    # link to evidence 10, and the budget leaves room for one of them (targets cost a decoder and
    # an encoder row each, 20; evidence 10): the cross-language one wins
    links = make_links([(0, 10, True), (0, 11, False), (1, 10, False), (2, 10, True)])
    doc_cost = np.full(20, 10)
    clusters = grow_clusters(links, doc_cost, budget=50, cross_weight=100, seed=0)
    first = next(c for c in clusters if 0 in c.targets)
    assert first.evidence.tolist() == [10] and first.targets.tolist() == [0, 2]
    # with equal weights the same-language target ties and the lower id wins
    clusters = grow_clusters(links, doc_cost, budget=50, cross_weight=1, seed=0)
    assert sum(len(c.targets) for c in clusters) == 3


def test_target_too_long_for_any_batch_sits_out():
    links = make_links([(0, 1, False), (2, 3, False)])
    doc_cost = np.array([10, 10, 500, 10])
    clusters = grow_clusters(links, doc_cost, budget=100, cross_weight=100, seed=0)
    assert [c.targets.tolist() for c in clusters] == [[0]]
    assert grow_clusters(Links.concatenate([]), doc_cost, 100, 100, seed=0) == []


def test_links_within_the_targets_group_are_counted_by_language():
    # documents 0-3: group 0 (0, 1 English; 2, 3 German); 4: group 1; 5, 6: no group (-1)
    group = np.array([0, 0, 0, 0, 1, -1, -1])
    links = Links(
        target=np.array([0, 0, 0, 1, 5]),
        evidence=np.array([1, 2, 4, 3, 6]),
        score=np.zeros(5, np.float32),
        cross=np.array([False, True, True, True, False]),
    )
    # 0<-1 same language and 0<-2, 1<-3 cross-language within group 0; 0<-4 leaves it; two
    # documents without a group (5<-6) do not share one
    assert links_in_group(links, group) == {"mono_links_in_group": 1, "cross_links_in_group": 2}


def test_targets_with_a_group_mate_in_their_cluster_are_counted():
    group = np.array([0, 0, 1, 1, -1, -1])
    clusters = [
        Cluster(evidence=np.array([1, 2]), targets=np.array([0, 3])),  # 0 sees its mate 1, 3 sees 2
        Cluster(evidence=np.array([0, 5]), targets=np.array([0, 4])),  # 0 sees only itself; 4 has no group
    ]
    assert targets_with_group_evidence(clusters, group) == 2
