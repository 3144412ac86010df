"""Which planner builds each epoch's plan: ``--planner``, or ``--planner-schedule``.

A schedule names a registered planner per range of updates, in the grammar of
``--reindex-interval``: ``0-3000:lexical,3000-:retrieval`` builds the plans of the epochs that
start before update 3000 lexically, and the later ones with the model's own g.  An epoch's
planner is the one in force at its first update.
"""

from typing import Optional

from ..data.planner_registry import get_planner_class
from .reindex_schedule import update_ranges, value_at


class PlannerSchedule:
    def __init__(self, planner: str, spec: Optional[str] = None):
        if spec:
            self.ranges = update_ranges(spec, "--planner-schedule", "PLANNER", _registered)
        else:
            self.ranges = [(0, float("inf"), _registered(planner))]

    def planner_at(self, update: int) -> str:
        return value_at(self.ranges, update)


def _registered(name: str) -> str:
    get_planner_class(name)  # raises, listing the registered planners
    return name
