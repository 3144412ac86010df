"""Search: the candidate evidence of each target of a shard, same-language and cross-language.

The targets of each language are searched twice: against the shard's documents of their own
language and against all the others, rather than once against the whole shard.  At
initialisation g mostly measures lexical overlap (METHOD.md section 2), so a target's nearest
documents over the whole shard are nearly all in its own language and a single k-NN list would
hold no cross-language pair to keep; a k large enough to reach them would have to grow with the
shard.  The two searches cost the same as one (every
target still meets every document of its shard once) and always yield ``k_mono`` same-language
and ``k_cross`` cross-language candidates.

The planner asks for ``CANDIDATES_PER_LINK`` times the links a target should get on average:
the threshold is global over the shard, so a target with many close documents keeps more than
the average, up to its k.
"""

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from .neighbour_search import nearest_neighbours

CANDIDATES_PER_LINK = 4


@dataclass
class Candidates:
    """Row i lists the candidate evidence of ``targets[i]`` (document ids, -1 = none), best first."""

    targets: np.ndarray  # (T,) document ids
    mono_scores: np.ndarray  # (T, k_mono) cosine similarities
    mono_evidence: np.ndarray  # (T, k_mono)
    cross_scores: np.ndarray  # (T, k_cross)
    cross_evidence: np.ndarray  # (T, k_cross)


def shard_candidates(
    docs: np.ndarray,
    embeddings: np.ndarray,
    langs: np.ndarray,
    may_be_target: np.ndarray,
    k_mono: int,
    k_cross: int,
) -> Candidates:
    """``docs`` (n,) are the shard's document ids; ``embeddings`` (n, C) their L2-normalised g,
    ``langs`` and ``may_be_target`` their metadata, all in the same order."""
    target_rows = np.flatnonzero(may_be_target)
    target_langs = langs[target_rows]
    mono = _empty(len(target_rows), k_mono)
    cross = _empty(len(target_rows), k_cross)
    for lang in np.unique(target_langs):
        is_lang = target_langs == lang
        queries = embeddings[target_rows[is_lang]]
        for (scores, ids), k, key_rows, is_self in (
            (mono, k_mono, np.flatnonzero(langs == lang), True),
            (cross, k_cross, np.flatnonzero(langs != lang), False),
        ):
            if k == 0 or len(key_rows) == 0:
                continue  # e.g. a shard of one language has no cross-language candidates
            query_keys = np.searchsorted(key_rows, target_rows[is_lang]) if is_self else None
            found_scores, found_ids = nearest_neighbours(queries, embeddings[key_rows], k, query_keys)
            scores[is_lang], ids[is_lang] = found_scores, _to_rows(found_ids, key_rows)
    return Candidates(
        targets=docs[target_rows],
        mono_scores=mono[0],
        mono_evidence=_to_rows(mono[1], docs),
        cross_scores=cross[0],
        cross_evidence=_to_rows(cross[1], docs),
    )


def _empty(rows: int, k: int) -> Tuple[np.ndarray, np.ndarray]:
    return np.full((rows, k), -np.inf, dtype=np.float32), np.full((rows, k), -1, dtype=np.int64)


def _to_rows(ids: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    """Translate positions into ``mapping``'s values, keeping -1 (no candidate)."""
    return np.where(ids >= 0, mapping[np.maximum(ids, 0)], -1)
