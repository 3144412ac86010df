"""A plan without retrieval: random clusters of documents of the same shard.

Used for validation (a fixed, seeded plan) and by ``--planner random``, the ablation of
retrieval; :func:`with_random_evidence` swaps a retrieval plan's evidence for random documents
(``--valid-evidence shuffled``).  Every document of a cluster is evidence, and those that may
be targets are also targets; f(x, x) = -inf keeps a target from reading itself.
"""

import logging
from typing import Dict

import numpy as np

from .batch_plan import BatchPlan, Cluster
from .planner_registry import Planner, register_planner

logger = logging.getLogger(__name__)


def cluster_cost(evidence_sizes: np.ndarray, target_sizes: np.ndarray,
                 unseen_target_sizes=()) -> int:
    """Tokens a cluster puts through the model, which ``--max-tokens`` bounds (padding aside):
    its encoder rows, the evidence and, for their g, the ``unseen_target_sizes`` of targets that
    are not evidence (a target that is also evidence shares its row), each with BOS; and its
    decoder rows, the targets, each with a language token."""
    encoder = np.sum(evidence_sizes + 1) + np.sum(np.asarray(unseen_target_sizes) + 1)
    return int(encoder + np.sum(target_sizes + 1))


def random_plan(dataset, max_tokens: int, seed: int, generation: int = 0) -> BatchPlan:
    """Shuffle each shard and cut it into clusters of at most ``max_tokens`` tokens."""
    rng = np.random.default_rng(seed)
    meta = dataset.metadata
    sizes = dataset.doc_sizes
    # every document is evidence, so targets need no encoder row of their own (cluster_cost):
    # a document costs its encoding plus, if it may be a target, its reconstruction
    cost = (sizes + 1) + np.where(meta["may_be_target"], sizes + 1, 0)
    clusters, skipped_docs = [], 0
    for docs in documents_by_shard(np.asarray(meta["shard"])).values():
        docs = rng.permutation(docs)
        cuts = _cut_by_budget(cost[docs], max_tokens)
        for part in np.split(docs, cuts):
            targets = part[meta["may_be_target"][part]]
            if len(part) < 2 or len(targets) == 0:
                skipped_docs += len(part)  # a lone document has no evidence but itself
                continue
            clusters.append(Cluster(evidence=np.sort(part), targets=np.sort(targets)))
    if skipped_docs:
        logger.info(f"random plan: {skipped_docs} documents left out (clusters of one document "
                    "or without a possible target)")
    return BatchPlan(clusters=clusters, generation=generation)


@register_planner("random")
class RandomPlanner(Planner):
    """``--planner random``: the ablation of retrieval."""

    def plan(self, dataset, model, generation: int, seed: int, updates_since_last: int) -> BatchPlan:
        return random_plan(dataset, self.task.cluster_budget(), seed=seed, generation=generation)


def with_random_evidence(plan: BatchPlan, dataset, seed: int) -> BatchPlan:
    """The same clusters of targets, each with its evidence replaced by as many documents drawn
    at random from the targets' shard: the ablation that tells whether the model uses what
    retrieval found.  As in :func:`random_plan`, a target may be drawn as evidence; f(x, x) =
    -inf keeps it from reading itself."""
    rng = np.random.default_rng(seed)
    shard_of = np.asarray(dataset.metadata["shard"])
    members = documents_by_shard(shard_of)
    clusters = []
    for cluster in plan.clusters:
        shard = int(shard_of[cluster.targets[0]])
        assert (shard_of[cluster.targets] == shard).all(), "a cluster spans shards"
        pool = members[shard]
        evidence = rng.choice(pool, min(len(cluster.evidence), len(pool)), replace=False)
        clusters.append(Cluster(evidence=np.sort(evidence), targets=cluster.targets))
    return BatchPlan(clusters=clusters, generation=plan.generation)


def documents_by_shard(shard_of: np.ndarray) -> Dict[int, np.ndarray]:
    """{shard: its document ids in increasing order}, shards in increasing order."""
    order = np.argsort(shard_of, kind="stable")
    shards, starts = np.unique(shard_of[order], return_index=True)
    return dict(zip(shards.tolist(), np.split(order, starts[1:])))


def _cut_by_budget(costs: np.ndarray, budget: int) -> np.ndarray:
    """Start a new cluster whenever the running cost would pass ``budget``."""
    cuts, total = [], 0
    for i, c in enumerate(costs):
        if total and total + c > budget:
            cuts.append(i)
            total = 0
        total += c
    return np.array(cuts, dtype=np.int64)
