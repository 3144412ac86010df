"""Batch construction: grow clusters greedily on the bipartite evidence -> target graph.

Paper (section 2.4): take a seed document with at least one edge, then repeatedly add the
evidence or target document that most increases the summed edge weight inside the batch
(cross-language edges weigh ``cross_weight``, 100 in the paper; same-language edges 1), until
the token budget of a batch is full.  Here:

- the *gain* of a document outside the cluster is the summed weight of its links into the
  cluster.  A target gains only through evidence already in the cluster, so every target that
  joins has at least one of its linked evidence documents in the batch, by construction;
- the seed is the next unplaced target in a seeded random order, together with its strongest
  evidence (cross-language first, then highest f), so the seed has its evidence too;
- a target is reconstructed in one cluster only; an evidence document may serve in several
  (one close to many targets is useful to all of them);
- when no linked document fits any more but budget is left, the next seed starts another piece
  of the same cluster; a seed that does not fit closes the cluster and starts the next one.
  A target whose seed pair alone exceeds the budget sits out.

Costs are ``random_planner.cluster_cost``'s: a document costs its length + 1 per row.  An
evidence document is one encoder row; a target is a decoder row and, to get its g, an encoder
row too, unless its document is already evidence in the cluster (the two share the row; the
same holds the other way round when the evidence joins after the target).

Order and complexity, for V linked documents and E links: documents join in decreasing gain,
ties to the lower node id, so the result is a deterministic function of (links, costs, seed).
Each document that joins pushes its links onto a max-heap of gains (lazy deletion: stale
entries are skipped when popped), so a plan costs O((E + R) log E) time and O(V + E) memory,
where R counts the links rescanned when an evidence document joins another cluster (only its
still unplaced targets are scanned again).
"""

import heapq
from typing import List

import numpy as np

from ..data.batch_plan import Cluster
from .link_threshold import Links


def grow_clusters(
    links: Links, doc_cost: np.ndarray, budget: int, cross_weight: float, seed: int
) -> List[Cluster]:
    """Clusters of at most ``budget`` tokens; ``doc_cost[d]`` is the cost of document d per row."""
    if len(links) == 0:
        return []
    graph = _BipartiteGraph(links, doc_cost, cross_weight)
    # the loop below is scalar Python: graph arrays as lists, state in local variables
    adjacency, cost, placed, is_target = graph.adjacency, graph.cost, graph.placed, graph.is_target
    twin = graph.twin
    clusters: List[Cluster] = []
    members, gain, heap, used = set(), {}, [], 0  # the cluster being grown

    def cost_to_add(node: int) -> int:
        encoder_row = 0 if twin[node] in members else cost[node]
        return encoder_row + (cost[node] if is_target[node] else 0)

    def add(node: int):
        nonlocal used
        used += cost_to_add(node)
        members.add(node)
        if is_target[node]:
            placed[node] = True
            neighbours = adjacency[node]
        else:
            # forget targets placed elsewhere, so a reused evidence rescans only live links
            neighbours = adjacency[node] = [(v, w) for v, w in adjacency[node] if not placed[v]]
        for other, weight in neighbours:
            if other not in members:
                total = gain.get(other, 0.0) + weight
                gain[other] = total
                heapq.heappush(heap, (-total, other))

    def grow():
        while heap:
            neg_gain, node = heapq.heappop(heap)
            if node in members or placed[node] or gain[node] != -neg_gain:
                continue  # stale entry
            if used + cost_to_add(node) <= budget:
                add(node)

    for target in graph.seed_order(seed):
        if placed[target]:
            continue
        evidence = graph.seed_evidence[target]
        # a target never links to its own document, so adding it leaves the evidence's cost
        pair_cost = cost_to_add(target) + (0 if evidence in members else cost_to_add(evidence))
        if used + pair_cost > budget:
            clusters.extend(graph.cluster(members))
            members, gain, heap, used = set(), {}, [], 0
            if 2 * cost[target] + cost[evidence] > budget:
                continue  # too long for any batch: sits out
        add(target)
        if evidence not in members:
            add(evidence)
        grow()
    clusters.extend(graph.cluster(members))
    return clusters


class _BipartiteGraph:
    """Node ids: evidence documents ``0..num_evidence-1``, then target documents."""

    def __init__(self, links: Links, doc_cost: np.ndarray, cross_weight: float):
        self.evidence_docs, evidence = np.unique(links.evidence, return_inverse=True)
        self.target_docs, target = np.unique(links.target, return_inverse=True)
        self.num_evidence = len(self.evidence_docs)
        target = target + self.num_evidence
        weight = np.where(links.cross, float(cross_weight), 1.0)
        num_nodes = self.num_evidence + len(self.target_docs)

        tails = np.concatenate([evidence, target])
        heads = np.concatenate([target, evidence])
        order = np.argsort(tails, kind="stable")
        bounds = np.searchsorted(tails[order], np.arange(num_nodes + 1)).tolist()
        pairs = list(zip(heads[order].tolist(), np.concatenate([weight, weight])[order].tolist()))
        self.adjacency = [pairs[start:end] for start, end in zip(bounds[:-1], bounds[1:])]
        self.cost = np.concatenate(
            [doc_cost[self.evidence_docs], doc_cost[self.target_docs]]
        ).tolist()
        self.is_target = (np.arange(num_nodes) >= self.num_evidence).tolist()
        # the node of the same document in the other role, -1 if none: the two share an encoder row
        self.twin = np.concatenate([
            _positions(self.target_docs, self.evidence_docs, offset=self.num_evidence),
            _positions(self.evidence_docs, self.target_docs, offset=0),
        ]).tolist()
        self.placed = [False] * num_nodes  # targets already reconstructed in some cluster

        # each target's strongest evidence: highest weight, then highest f
        strongest_first = np.lexsort((-links.score, -weight, target))
        firsts = strongest_first[np.r_[True, np.diff(target[strongest_first]) != 0]]
        self.seed_evidence = dict(zip(target[firsts].tolist(), evidence[firsts].tolist()))

    def seed_order(self, seed: int) -> List[int]:
        num_targets = len(self.target_docs)
        return (self.num_evidence + np.random.default_rng(seed).permutation(num_targets)).tolist()

    def cluster(self, members) -> List[Cluster]:
        """The cluster of these node ids (none if empty), as document ids."""
        if not members:
            return []
        nodes = np.array(sorted(members))
        split = np.searchsorted(nodes, self.num_evidence)
        return [Cluster(evidence=self.evidence_docs[nodes[:split]],
                        targets=self.target_docs[nodes[split:] - self.num_evidence])]


def _positions(sorted_docs: np.ndarray, docs: np.ndarray, offset: int) -> np.ndarray:
    """offset + the index of each of ``docs`` in ``sorted_docs``, -1 where it is missing."""
    at = np.searchsorted(sorted_docs, docs).clip(max=len(sorted_docs) - 1)
    return np.where(sorted_docs[at] == docs, offset + at, -1)
