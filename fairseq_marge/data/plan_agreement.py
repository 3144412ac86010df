"""Every rank must train on the same batch plan: fairseq gives rank ``r`` batch ``i * world_size
+ r`` of the plan's sequence, so ranks on different plans train some clusters twice and skip
others, silently.  The built-in planners agree by construction (the retrieval planner broadcasts
rank 0's plan; the random one is seeded), but a user-dir's planner with an unseeded random
choice would not: at every re-index the ranks compare their plans' fingerprints, and a mismatch
stops training on every rank.
"""

import logging
from collections import defaultdict

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
    ranks_of = defaultdict(list)  # fingerprint -> its ranks, in order of first rank
    for r, fingerprint in enumerate(fingerprints):
        ranks_of[fingerprint].append(r)
    if len(ranks_of) > 1:
        held = "; ".join(f"fingerprint {fp[:12]} on {'ranks' if len(rs) > 1 else 'rank'} "
                         f"{', '.join(map(str, rs))}" for fp, rs in ranks_of.items())
        raise PlanDisagreement(
            f"re-index {generation}: the {planner!r} planner gave ranks different plans ({held}): "
            f"a planner must give every rank the same plan (seed every random choice with the "
            f"seed it is given)"
        )
    logger.info(f"re-index {generation}: the {planner!r} planner's plan is the same on all "
                f"{world_size} ranks (fingerprint {fingerprints[0][:12]})")
