"""Threshold: keep the most similar candidate pairs of a shard as evidence -> target links.

The paper keeps the top-k pairs of a shard with k chosen so that a target has on average 4
same-language and 4 cross-language links.  Same- and cross-language pairs get a threshold each
(cross-language similarities are lower, so one threshold would keep almost none of them):
exactly ``round(links * targets)`` pairs of each kind, selected with ``np.argpartition`` in
O(candidates).  Targets left without any link sit out until the next re-index.
"""

from dataclasses import dataclass
from typing import List

import numpy as np

from .candidate_links import Candidates


@dataclass
class Links:
    """Evidence -> target edges of the bipartite retrieval graph, one per entry."""

    target: np.ndarray  # document ids (int64)
    evidence: np.ndarray  # document ids (int64)
    score: np.ndarray  # f(target, evidence), float32
    cross: np.ndarray  # True where evidence and target differ in language

    def __len__(self) -> int:
        return len(self.target)

    @classmethod
    def concatenate(cls, parts: List["Links"]) -> "Links":
        if not parts:
            return cls(*(np.empty(0, dtype) for dtype in (np.int64, np.int64, np.float32, bool)))
        return cls(*(np.concatenate([getattr(p, name) for p in parts])
                     for name in ("target", "evidence", "score", "cross")))


def threshold_links(candidates: Candidates, mono_links: float, cross_links: float) -> Links:
    num_targets = len(candidates.targets)
    parts = []
    for scores, evidence, links, cross in (
        (candidates.mono_scores, candidates.mono_evidence, mono_links, False),
        (candidates.cross_scores, candidates.cross_evidence, cross_links, True),
    ):
        rows, cols = np.unravel_index(strongest(scores, round(links * num_targets)), scores.shape)
        parts.append(Links(
            target=candidates.targets[rows],
            evidence=evidence[rows, cols],
            score=scores[rows, cols],
            cross=np.full(len(rows), cross),
        ))
    return Links.concatenate(parts)


def strongest(scores: np.ndarray, count: int) -> np.ndarray:
    """Flat indices of the ``count`` highest finite ``scores`` (all of them if fewer)."""
    flat = scores.ravel()
    valid = np.flatnonzero(np.isfinite(flat))
    if count >= len(valid):
        return valid
    if count <= 0:
        return valid[:0]
    return np.sort(valid[np.argpartition(-flat[valid], count - 1)[:count]])
