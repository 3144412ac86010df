"""Per-document metadata stored next to a binarized split (``{split}.meta.npy``).

One row per document of ``{split}.bin/.idx``, in the same order:

========================  =======  ==================================================================
field                     dtype    meaning
========================  =======  ==================================================================
``lang``                  int16    index into the data directory's ``langs.txt``
``shard``                 int32    documents are only retrieved for each other inside a shard
``group``                 int64    id shared by the chunks of one article and its translations; -1 = none
``may_be_target``         bool     False for chunks that may only serve as evidence (news: non-first)
========================  =======  ==================================================================

A structured ``.npy`` file is memory-mapped on load, so a 100M-document corpus costs no RAM.
"""

from pathlib import Path

import numpy as np

from .data_dir_checks import REBUILD_DOCUMENTS

METADATA_DTYPE = np.dtype(
    [("lang", np.int16), ("shard", np.int32), ("group", np.int64), ("may_be_target", np.bool_)]
)


class MetadataError(ValueError):
    """A split's metadata is missing or does not match its documents."""


def metadata_path(data_prefix: str) -> Path:
    return Path(f"{data_prefix}.meta.npy")


def save_metadata(data_prefix: str, lang, shard, group, may_be_target) -> Path:
    meta = np.empty(len(lang), dtype=METADATA_DTYPE)
    meta["lang"], meta["shard"], meta["group"], meta["may_be_target"] = (
        lang,
        shard,
        group,
        may_be_target,
    )
    path = metadata_path(data_prefix)
    np.save(path, meta)
    return path


def load_metadata(data_prefix: str, num_documents: int, num_languages: int) -> np.ndarray:
    """Load and check the metadata of a split: every problem names the file and the row."""
    path = metadata_path(data_prefix)
    if not path.exists():
        raise MetadataError(
            f"{path}: missing. Every binarized split needs its per-document metadata; "
            "create it with `python -m preprocess` (see README, 'Data format')."
        )
    try:
        meta = np.load(path, mmap_mode="r")
    except (ValueError, OSError) as error:  # truncated, or not an .npy file
        raise MetadataError(f"{path}: unreadable ({error}); {REBUILD_DOCUMENTS}") from None
    if meta.dtype != METADATA_DTYPE:
        raise MetadataError(f"{path}: dtype {meta.dtype}, expected {METADATA_DTYPE}")
    if len(meta) != num_documents:
        raise MetadataError(
            f"{path}: {len(meta)} rows but the split has {num_documents} documents (the two "
            f"come from different runs); {REBUILD_DOCUMENTS}"
        )
    bad = np.flatnonzero((meta["lang"] < 0) | (meta["lang"] >= num_languages))
    if len(bad):
        raise MetadataError(
            f"{path}: row {bad[0]} has language id {meta['lang'][bad[0]]}, but langs.txt "
            f"lists {num_languages} languages ({len(bad)} rows affected): langs.txt is not the "
            "one written with this metadata; restore it or rebuild the data directory"
        )
    bad = np.flatnonzero(meta["shard"] < 0)
    if len(bad):
        raise MetadataError(f"{path}: row {bad[0]} has negative shard {meta['shard'][bad[0]]}")
    return meta
