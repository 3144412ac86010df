"""A data directory checked when it is loaded, so that a damaged file fails here, naming itself,
and not as an offset, mmap or embedding-index error in the middle of a re-index.

The checks are vectorised numpy over the memory-mapped files: one pass over the token buffer
(the token-id bound), nothing per document in Python.  Loading a split of 200k documents (51M
tokens) with every check takes 0.06 s on a warm page cache (``benchmarks/data_checks.py``);
time grows linearly with the tokens, about 3 s for 10M such documents.
"""

import os
import struct

import numpy as np
from fairseq.data import Dictionary, data_utils
from fairseq.data.indexed_dataset import MMapIndexedDataset, _code_to_dtype

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
    """fairseq's mmap dataset ``prefix.bin/.idx`` (None if absent), its files whole and in
    agreement, every token id in ``dictionary``."""
    if not MMapIndexedDataset.exists(prefix):
        return None
    check_files(prefix, rebuild)
    try:
        tokens = data_utils.load_indexed_dataset(prefix, dictionary, dataset_impl="mmap")
    except (ValueError, AssertionError, OSError) as error:  # what check_files cannot see
        raise DataDirectoryError(f"{prefix}.idx/.bin: unreadable ({one_line(error)}); {rebuild}") from None
    check_token_ids(prefix, tokens, dictionary, rebuild)
    return tokens


def check_files(prefix: str, rebuild: str):
    """The ``.idx`` is a whole index of fairseq's mmap format (magic, version, dtype code, N, then
    N sizes and N pointers) and the ``.bin`` holds exactly the tokens it points to.  Checked
    before fairseq maps them: a truncated file fails in there with a buffer or offset error, and
    leaves a half-built dataset whose destructor raises again when the process exits."""
    idx, data = prefix + ".idx", prefix + ".bin"
    magic = MMapIndexedDataset.Index._HDR_MAGIC
    header_size = len(magic) + struct.calcsize("<QBQ")
    with open(idx, "rb") as f:
        header = f.read(header_size)
    version, code, count = struct.unpack("<QBQ", header[len(magic):]) if len(header) == header_size else (0, 0, 0)
    if not header.startswith(magic) or version != 1 or code not in _code_to_dtype:
        raise DataDirectoryError(f"{idx}: not an index of fairseq's mmap format; {rebuild}")
    expected = header_size + 12 * count
    if os.path.getsize(idx) != expected:
        raise DataDirectoryError(f"{idx}: {os.path.getsize(idx)} bytes, but its header announces {count} "
                                 f"documents in {expected} bytes (truncated or damaged); {rebuild}")
    itemsize = np.dtype(_code_to_dtype[code]).itemsize
    sizes = np.fromfile(idx, np.int32, count, offset=header_size)
    pointers = np.fromfile(idx, np.int64, count, offset=header_size + 4 * count)
    expected = int(pointers[-1] + sizes[-1] * itemsize) if count else 0
    if os.path.getsize(data) != expected:
        raise DataDirectoryError(
            f"{data}: {os.path.getsize(data)} bytes, but {idx} describes {count} documents in "
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
