from . import marge, marge_classification, marge_seq2seq  # noqa: F401
