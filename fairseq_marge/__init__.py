"""fairseq_marge: MARGE pre-training as a fairseq plugin (``--user-dir fairseq_marge``)."""

from . import compat  # noqa: F401  (must come first: fairseq shims)
from . import criterions, models, tasks  # noqa: F401
