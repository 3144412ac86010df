"""Shards (documents are only retrieved for each other inside a shard) and target flags.

``date`` (news): one shard per publication date, numbered in date order; documents
without a date are rejected. ``group`` (Wikipedia): a chunk's group is hashed into one of
``num_shards`` shards, so all chunks of an article and of its other-language versions share
one; chunks without a group are spread at random (by a hash of document and chunk index).
``hash``: each document is hashed into a shard, all its chunks with it.

``targets``: ``first-chunk`` (news, the paper's choice) or ``all`` chunks may be targets.
Hashes are seeded and independent of order and worker count, so runs are reproducible.
"""

import hashlib
from collections import Counter
from typing import List

from preprocess.document import Chunk
from preprocess.report import Report

SHARD_BY = ("date", "group", "hash")
TARGETS = ("first-chunk", "all")


def stable_hash(key: str, seed: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{key}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def assign_shards(
    chunks: List[Chunk], shard_by: str, num_shards: int, targets: str, seed: int, report: Report
) -> List[Chunk]:
    """Set ``shard`` and ``may_be_target``; return the chunks kept."""
    if shard_by == "date":
        chunks = _reject_undated(chunks, report)
        date_rank = {date: rank for rank, date in enumerate(sorted({c.date for c in chunks}))}
    for chunk in chunks:
        if shard_by == "date":
            chunk.shard = date_rank[chunk.date]
        elif shard_by == "group" and chunk.group is not None:
            chunk.shard = stable_hash(chunk.group, seed) % num_shards
        elif shard_by == "group":
            chunk.shard = stable_hash(f"{chunk.doc_id}#{chunk.index}", seed) % num_shards
        else:
            chunk.shard = stable_hash(chunk.doc_id, seed) % num_shards
        chunk.may_be_target = targets == "all" or chunk.index == 0
    sizes = sorted(Counter(chunk.shard for chunk in chunks).values())
    report.stats["shards"] = {
        "shard_by": shard_by,
        "targets": targets,
        "shards_used": len(sizes),
        "chunks_per_shard_min_median_max": [sizes[0], sizes[len(sizes) // 2], sizes[-1]] if sizes else [],
    }
    return chunks


def _reject_undated(chunks: List[Chunk], report: Report) -> List[Chunk]:
    kept = []
    for chunk in chunks:
        if chunk.date:
            kept.append(chunk)
        elif chunk.index == 0:  # one rejection per document
            report.reject("missing_date", chunk.origin, "no 'date' to shard by (--shard-by date)")
    return kept
