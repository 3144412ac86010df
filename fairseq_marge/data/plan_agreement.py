"""Every rank must train on the same batch plan: fairseq gives rank ``r`` batch ``i * world_size
+ r`` of the plan's sequence, so ranks on different plans train some clusters twice and skip
others, silently.  The built-in planners agree by construction (the retrieval planner gathers
every rank's shards in shard order; the random one is seeded), but a user-dir's planner with an
unseeded random choice would not: at every re-index the ranks compare their plans'
fingerprints, and a mismatch stops training on every rank.
"""

import logging
from collections import defaultdict
from typing import List, Optional

import torch

from ..retrieval.document_encoder import data_parallel
from .batch_plan import BatchPlan

logger = logging.getLogger(__name__)


class PlanDisagreement(ValueError):
    """Not a RuntimeError: the plan iterator reads those as a collective that lost its peer."""


def check_plan_agreement(plan: BatchPlan, planner: str, generation: int):
    """Raises :class:`PlanDisagreement` on every rank (each sees all fingerprints) unless every
    rank of the data-parallel group has the same ``plan``; every rank must call it."""
    group, _, world_size = data_parallel()
    if world_size == 1:
        return
    fingerprints = [None] * world_size
    torch.distributed.all_gather_object(fingerprints, plan.fingerprint(), group=group)
    held = which_ranks_hold(fingerprints)
    if held:
        raise PlanDisagreement(
            f"re-index {generation}: the {planner!r} planner gave ranks different plans ({held}): "
            f"a planner must give every rank the same plan (seed every random choice with the "
            f"seed it is given)"
        )
    logger.info(f"re-index {generation}: the {planner!r} planner's plan is the same on all "
                f"{world_size} ranks (fingerprint {fingerprints[0][:12]})")


def which_ranks_hold(fingerprints: List[str]) -> Optional[str]:
    """None if rank r's ``fingerprints[r]`` are all equal, else which ranks hold which, e.g.
    'fingerprint 1a2b.. on ranks 0, 2; fingerprint 3c4d.. on rank 1'."""
    ranks_of = defaultdict(list)  # in order of first rank
    for rank, fingerprint in enumerate(fingerprints):
        ranks_of[fingerprint].append(rank)
    if len(ranks_of) == 1:
        return None
    return "; ".join(f"fingerprint {fingerprint[:12]} on {'ranks' if len(ranks) > 1 else 'rank'} "
                     f"{', '.join(map(str, ranks))}" for fingerprint, ranks in ranks_of.items())
