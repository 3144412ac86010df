"""Exact nearest neighbours by inner product, which is f = cos(g(x), g(z)) on L2-normalised g.

``faiss.knn`` scans the keys block by block and keeps one k-heap per query, so memory is
O(queries x k) however many keys there are: the N x N similarity matrix of a shard is never
built (METHOD.md section 7).  With faiss-gpu and CUDA the same exact search runs on the GPU.

Sparse vectors (scipy, e.g. the lexical planner's TF-IDF rows) are searched exactly too, one
block of queries at a time against all keys (a block x keys dense product, then a partial sort).
"""

import functools
from typing import Optional, Tuple

import faiss
import numpy as np
import scipy.sparse
import torch

SPARSE_QUERY_BLOCK = 1024


def use_gpu() -> bool:
    return faiss.get_num_gpus() > 0 and torch.cuda.is_available()


@functools.lru_cache(maxsize=1)
def _gpu_resources():
    return faiss.StandardGpuResources()


def _knn(queries, keys, k: int) -> Tuple[np.ndarray, np.ndarray]:
    if scipy.sparse.issparse(queries):
        return _sparse_knn(queries, keys, k)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    keys = np.ascontiguousarray(keys, dtype=np.float32)
    if use_gpu():
        return faiss.knn_gpu(_gpu_resources(), queries, keys, k, metric=faiss.METRIC_INNER_PRODUCT)
    return faiss.knn(queries, keys, k, metric=faiss.METRIC_INNER_PRODUCT)


def _sparse_knn(queries, keys, k: int) -> Tuple[np.ndarray, np.ndarray]:
    keys_t = scipy.sparse.csr_matrix(keys, dtype=np.float32).T.tocsc()
    scores = np.empty((queries.shape[0], k), dtype=np.float32)
    ids = np.empty((queries.shape[0], k), dtype=np.int64)
    for start in range(0, queries.shape[0], SPARSE_QUERY_BLOCK):
        block = slice(start, start + SPARSE_QUERY_BLOCK)
        products = (scipy.sparse.csr_matrix(queries[block], dtype=np.float32) @ keys_t).toarray()
        top = np.argpartition(-products, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(products, top, axis=1)
        # best first, ties by id: the same order on every run
        order = np.lexsort((top, -top_scores), axis=1)
        ids[block] = np.take_along_axis(top, order, axis=1)
        scores[block] = np.take_along_axis(top_scores, order, axis=1)
    return scores, ids


def nearest_neighbours(
    queries: np.ndarray, keys: np.ndarray, k: int, query_keys: Optional[np.ndarray] = None
) -> Tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``keys`` with the highest inner product with each query, best first.

    ``query_keys[i]`` is the row of ``keys`` that *is* query ``i`` (or -1): a document is never its
    own neighbour (f(x, x) = -inf).  It is excluded by id, not by rank, so that an identical copy
    of the query, which ties with it, is still found.

    Returns ``scores`` (Q, k) float32 and ``ids`` (Q, k) int64; rows with fewer than ``k``
    candidates are padded with score -inf and id -1.
    """
    num_queries = queries.shape[0]
    scores = np.full((num_queries, k), -np.inf, dtype=np.float32)
    ids = np.full((num_queries, k), -1, dtype=np.int64)
    extra = 0 if query_keys is None else 1
    k_search = min(k + extra, keys.shape[0])
    if num_queries == 0 or k_search - extra <= 0:
        return scores, ids
    found_scores, found_ids = _knn(queries, keys, k_search)
    if query_keys is not None:
        drop = found_ids == np.asarray(query_keys)[:, None]
        # a query whose self was crowded out of the list by ties drops its last neighbour instead
        drop[~drop.any(axis=1), -1] = True
        keep = ~drop
        found_scores = found_scores[keep].reshape(num_queries, k_search - 1)
        found_ids = found_ids[keep].reshape(num_queries, k_search - 1)
    found = found_ids.shape[1]
    scores[:, :found], ids[:, :found] = found_scores, found_ids
    return scores, ids
