from . import marge, marge_classification  # noqa: F401
