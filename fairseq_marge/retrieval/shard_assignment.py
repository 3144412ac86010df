"""Work assignment: which rank re-indexes which of the sampled shards, and encodes which batches.

Links join documents of one shard only (METHOD.md section 4), so a shard's search, thresholds
and clusters need nothing from the other shards: each shard has one rank that owns it and does
these three steps.  Encoding, nearly all of a re-index (97% at 512-token chunks,
benchmarks/README.md), is dealt out finer, by encoding batch (:mod:`.shard_encoding`): whole
shards would leave ranks waiting when there are fewer shards than ranks (the paper: 1,000
Wikipedia shards, 2,048 workers) or when one shard is many times another.

Both are dealt out by the same greedy rule, longest processing time first (LPT): items in
decreasing order of cost (ties to the lower id), each to the rank with the least cost so far
(ties to the lower rank).  Costs are tokens (a shard's) or padded tokens (a batch's).  The
busiest rank then carries at most the mean plus one item, and at most 4/3 of the best possible
maximum (Graham, 1969).  The assignment is a function of the sampled shards' documents alone, so
every rank computes the same one without communicating.
"""

import heapq
from typing import List

import numpy as np


def deal_out(ids: np.ndarray, costs: np.ndarray, world_size: int) -> List[np.ndarray]:
    """``ids[i]`` costs ``costs[i]``; returns each rank's ids, in increasing order."""
    loads = [(0, rank) for rank in range(world_size)]  # a heap: least cost first, then rank
    owned = [[] for _ in range(world_size)]
    for i in np.lexsort((ids, -np.asarray(costs, dtype=np.int64))):
        load, rank = heapq.heappop(loads)
        owned[rank].append(ids[i])
        heapq.heappush(loads, (load + int(costs[i]), rank))
    return [np.sort(np.asarray(mine, dtype=np.int64)) for mine in owned]
