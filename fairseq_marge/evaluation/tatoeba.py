"""Tatoeba-style retrieval accuracy: the share of sentences whose nearest neighbour (by cosine)
on the other side is their own translation, in both directions (paper section 6.1)."""

from typing import Tuple

import faiss
import numpy as np


def normalised(embeddings) -> np.ndarray:
    x = np.array(embeddings, dtype=np.float32)  # a copy: faiss normalises in place
    faiss.normalize_L2(x)
    return x


def nearest(queries: np.ndarray, keys: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """Exact cosine kNN of L2-normalised rows: (similarities, ids), both (Q, k), best first."""
    return faiss.knn(queries, keys, k, metric=faiss.METRIC_INNER_PRODUCT)


def retrieval_accuracy(src, tgt) -> Tuple[float, float]:
    """``src[i]`` and ``tgt[i]`` embed translations of each other; returns (src->tgt, tgt->src)
    precision at 1."""
    src, tgt = normalised(src), normalised(tgt)
    gold = np.arange(len(src))
    forward = nearest(src, tgt, 1)[1][:, 0]
    backward = nearest(tgt, src, 1)[1][:, 0]
    return float(np.mean(forward == gold)), float(np.mean(backward == gold))
