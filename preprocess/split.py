"""Hold out a validation split by group: an article and its translations stay on one side.

The unit is the group, or the document for chunks without one. Units are ordered by a
seeded hash and the first ``ceil(valid_fraction * units)`` go to ``valid`` (at least one
unit, never all of them), so the split is exact, reproducible and order-independent.
"""

import math
from typing import List

from preprocess.document import Chunk
from preprocess.report import Report
from preprocess.shard import stable_hash


def split_unit(chunk: Chunk) -> str:
    return f"group:{chunk.group}" if chunk.group is not None else f"doc:{chunk.doc_id}"


def assign_splits(chunks: List[Chunk], valid_fraction: float, seed: int, report: Report) -> List[Chunk]:
    units = sorted({split_unit(c) for c in chunks}, key=lambda u: (stable_hash(u, seed), u))
    num_valid = min(math.ceil(valid_fraction * len(units)), len(units) - 1) if valid_fraction > 0 else 0
    valid = set(units[:num_valid])
    for chunk in chunks:
        chunk.split = "valid" if split_unit(chunk) in valid else "train"
    report.stats["split"] = {"valid_fraction": valid_fraction, "units": len(units), "valid_units": num_valid}
    return chunks
