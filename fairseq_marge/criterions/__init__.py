from . import marge  # noqa: F401
