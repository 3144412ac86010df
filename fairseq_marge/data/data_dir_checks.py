"""A data directory checked when it is loaded, so that a damaged file fails here, naming itself,
and not as an offset, mmap or embedding-index error in the middle of a re-index.

The checks are vectorised numpy over the memory-mapped files: one pass over the token buffer
(the token-id bound), nothing per document in Python.  Loading a split of 200k documents (51M
tokens) with every check takes 0.06 s on a warm page cache (``benchmarks/data_checks.py``);
time grows linearly with the tokens, about 3 s for 10M such documents.
"""

import os

import numpy as np
from fairseq.data import Dictionary, data_utils

REBUILD_DOCUMENTS = "rebuild the data directory with `python -m preprocess all`"
REBUILD_PAIR = "rebuild the pair with `python -m preprocess parallel`"
# tokens per slice of the id scan: bounded memory on a corpus of billions of tokens
SCAN_TOKENS = 1 << 26


class DataDirectoryError(ValueError):
    pass


def load_dictionary(data_dir: str) -> Dictionary:
    path = os.path.join(data_dir, "dict.txt")
    try:
        return Dictionary.load(path)
    except FileNotFoundError:
        raise DataDirectoryError(f"{path}: missing; DATA is a data directory made by "
                                 "`python -m preprocess all`") from None
    except (ValueError, RuntimeError, UnicodeError) as error:
        raise DataDirectoryError(f"{path}: unreadable ({one_line(error)}); {REBUILD_DOCUMENTS}") from None


def one_line(error: Exception) -> str:
    """fairseq's messages quote the offending line, newline included."""
    return " ".join(str(error).split())


def load_tokens(prefix: str, dictionary: Dictionary, rebuild: str = REBUILD_DOCUMENTS):
    """fairseq's mmap dataset ``prefix.bin/.idx`` (None if absent), its index readable and in
    agreement with the data file, every token id in ``dictionary``."""
    try:
        tokens = data_utils.load_indexed_dataset(prefix, dictionary, dataset_impl="mmap")
    except (ValueError, AssertionError, OSError) as error:  # a truncated or foreign .idx/.bin
        raise DataDirectoryError(f"{prefix}.idx/.bin: unreadable ({one_line(error)}); {rebuild}") from None
    if tokens is not None:
        check_data_size(prefix, tokens, rebuild)
        check_token_ids(prefix, tokens, dictionary, rebuild)
    return tokens


def check_data_size(prefix: str, tokens, rebuild: str):
    """The ``.bin`` holds exactly the tokens its ``.idx`` points to (a truncated copy does not)."""
    index = tokens._index
    expected = int(index._pointers[-1] + index.sizes[-1] * index.dtype().itemsize) if len(index) else 0
    actual = os.path.getsize(prefix + ".bin")
    if actual != expected:
        raise DataDirectoryError(
            f"{prefix}.bin: {actual} bytes, but {prefix}.idx describes {len(index)} documents in "
            f"{expected} bytes (a truncated or mismatched copy); {rebuild}"
        )


def check_token_ids(prefix: str, tokens, dictionary: Dictionary, rebuild: str):
    buffer = np.frombuffer(tokens._bin_buffer, dtype=tokens._index.dtype)
    low, high = 0, -1
    for start in range(0, len(buffer), SCAN_TOKENS):
        part = buffer[start : start + SCAN_TOKENS]
        low, high = min(low, int(part.min())), max(high, int(part.max()))
    if low < 0 or high >= len(dictionary):
        bad = low if low < 0 else high
        raise DataDirectoryError(
            f"{prefix}.bin: token id {bad}, but the dictionary (dict.txt and the language tokens) "
            f"has {len(dictionary)} types: the documents were binarized with another dict.txt; "
            f"{rebuild}"
        )
