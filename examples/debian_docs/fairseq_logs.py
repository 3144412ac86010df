"""Metrics from fairseq logs in the ``simple`` format (train_inner and "valid on" lines)."""

import re
from pathlib import Path
from typing import Dict, List

TRAIN_INNER = re.compile(r"\| train_inner \| ")
VALID = re.compile(r"\| valid \| .*valid on '\w+' subset")
FIELD = re.compile(r"(\w+)[= ]([-+0-9.e]+)(?=,|\s\||$)")


def read_log(path) -> Dict[str, List[Dict[str, float]]]:
    """{"train": [{metric: value}, ...], "valid": [...]}, in the order they were logged."""
    records = {"train": [], "valid": []}
    for line in Path(path).read_text(errors="replace").splitlines():
        kind = "train" if TRAIN_INNER.search(line) else "valid" if VALID.search(line) else None
        if kind:
            records[kind].append({k: float(v) for k, v in FIELD.findall(line.split(" | ", 3)[-1])})
    return records
