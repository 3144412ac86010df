"""A user-dir that adds a planner: ``--user-dir examples/custom_planner/group_oracle``."""

import fairseq_marge  # noqa: F401  (registers the marge task, model, criterion and built-in planners)

from . import group_oracle_planner  # noqa: F401
