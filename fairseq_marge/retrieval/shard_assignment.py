"""Shard assignment: which rank re-indexes which of the sampled shards.

Links join documents of one shard only (METHOD.md section 4), so a shard is a unit of work that
needs nothing from the others: each rank encodes, searches, thresholds and batches whole shards,
and the ranks meet once, to gather the clusters.  Encoding is nearly all of a re-index (97% at
512-token chunks, benchmarks/README.md) and costs in proportion to tokens, so shards are
balanced by tokens, greedily, longest processing time first (LPT): shards in decreasing order of
tokens (ties to the lower shard id), each to the rank with the fewest tokens so far (ties to the
lower rank).  The busiest rank then carries at most the mean load plus one shard, and at most
4/3 of the best possible maximum (Graham, 1969).  The assignment is a function of the sampled
shards' sizes alone, so every rank computes the same one without communicating.
"""

import heapq
from typing import List

import numpy as np


def assign_shards(shards: np.ndarray, tokens: np.ndarray, world_size: int) -> List[np.ndarray]:
    """``shards[i]`` holds ``tokens[i]`` tokens; returns each rank's shards, in id order."""
    loads = [(0, rank) for rank in range(world_size)]  # a heap: least tokens first, then rank
    owned = [[] for _ in range(world_size)]
    for i in np.lexsort((shards, -np.asarray(tokens, dtype=np.int64))):
        load, rank = heapq.heappop(loads)
        owned[rank].append(shards[i])
        heapq.heappush(loads, (load + int(tokens[i]), rank))
    return [np.sort(np.asarray(mine, dtype=np.int64)) for mine in owned]
