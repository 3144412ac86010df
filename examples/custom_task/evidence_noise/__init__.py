"""A user-dir that builds on fairseq_marge: ``--user-dir examples/custom_task/evidence_noise``."""

import fairseq_marge  # noqa: F401  (registers the marge task, model and criterion this builds on)

from . import evidence_noise_task  # noqa: F401
