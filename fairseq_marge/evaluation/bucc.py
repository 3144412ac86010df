"""BUCC-style bitext mining with ratio-margin scores (Artetxe & Schwenk 2019; paper section 6.1).

    margin(x, y) = cos(x, y) / ( sum_{z in NN_k(x)} cos(x, z) / 2k + sum_{z in NN_k(y)} cos(y, z) / 2k )

Each source sentence proposes its best target by margin and each target its best source
("max" mining); the union, sorted by score, is cut at a threshold tuned for F1 on a sample split
and applied unchanged to the test split.
"""

from dataclasses import dataclass
from typing import Set, Tuple

import numpy as np

from .tatoeba import nearest, normalised

PAPER_MARGIN_K = 4


@dataclass
class Candidates:
    src: np.ndarray  # (P,) source ids
    tgt: np.ndarray  # (P,) target ids
    score: np.ndarray  # (P,) ratio margins, highest first


def mine(src_embeddings, tgt_embeddings, k: int = PAPER_MARGIN_K) -> Candidates:
    src, tgt = normalised(src_embeddings), normalised(tgt_embeddings)
    k = min(k, len(src), len(tgt))
    src_sims, src_nn = nearest(src, tgt, k)
    tgt_sims, tgt_nn = nearest(tgt, src, k)
    src_density, tgt_density = src_sims.mean(axis=1) / 2, tgt_sims.mean(axis=1) / 2

    def margins(sims, density_q, density_k, neighbours):
        return sims / (density_q[:, None] + density_k[neighbours])

    fwd = margins(src_sims, src_density, tgt_density, src_nn)
    bwd = margins(tgt_sims, tgt_density, src_density, tgt_nn)
    best_fwd, best_bwd = fwd.argmax(axis=1), bwd.argmax(axis=1)
    rows_src, rows_tgt = np.arange(len(src)), np.arange(len(tgt))
    pairs = np.concatenate([
        np.stack([rows_src, src_nn[rows_src, best_fwd]], axis=1),
        np.stack([tgt_nn[rows_tgt, best_bwd], rows_tgt], axis=1),
    ])
    scores = np.concatenate([fwd[rows_src, best_fwd], bwd[rows_tgt, best_bwd]])
    pairs, first = np.unique(pairs, axis=0, return_index=True)  # a pair both sides propose
    order = np.argsort(-scores[first], kind="stable")
    return Candidates(pairs[order, 0], pairs[order, 1], scores[first][order])


def precision_recall_f1(candidates: Candidates, gold: Set[Tuple[int, int]], threshold: float):
    keep = candidates.score >= threshold
    correct = sum((s, t) in gold for s, t in zip(candidates.src[keep], candidates.tgt[keep]))
    precision = correct / max(int(keep.sum()), 1)
    recall = correct / max(len(gold), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return precision, recall, f1


def best_threshold(candidates: Candidates, gold: Set[Tuple[int, int]]) -> float:
    """The margin threshold with the highest F1 on ``gold`` (scanning every candidate score)."""
    correct = np.cumsum([(s, t) in gold for s, t in zip(candidates.src, candidates.tgt)])
    kept = np.arange(1, len(correct) + 1)
    f1 = 2 * correct / (kept + max(len(gold), 1))  # = 2PR / (P + R)
    return float(candidates.score[int(np.argmax(f1))])
