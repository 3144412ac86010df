"""The ``marge`` task's options, checked when the task is set up and when its documents load.

A value out of range would otherwise fail deep inside numpy or faiss (``--mono-links -3``:
"negative dimensions"; ``--retrieve-k 0``: a faiss assert), or train on nothing without saying
so.  Each problem is one line naming the option,
its value and what is allowed.
"""

import logging
import math
from typing import List, Optional

import numpy as np

logger = logging.getLogger(__name__)


class OptionError(ValueError):
    pass


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value) -> bool:
    return _is_number(value) and float(value).is_integer()


# option, config field, what is allowed, test (None: unset, allowed where the text says so)
RANGES = [
    ("--max-doc-tokens", "max_doc_tokens", "a positive integer", lambda v: _is_int(v) and v >= 1),
    ("--max-tokens", "max_tokens", "a positive integer (the tokens of one cluster)",
     lambda v: v is None or (_is_int(v) and v >= 1)),
    ("--reindex-max-tokens", "reindex_max_tokens", "a positive integer, or unset for --max-tokens",
     lambda v: v is None or (_is_int(v) and v >= 1)),
    ("--reindex-shards", "reindex_shards", "0 (all shards) or a positive integer",
     lambda v: _is_int(v) and v >= 0),
    ("--mono-links", "mono_links", "a finite number >= 0 (links per target)", lambda v: _is_number(v) and v >= 0),
    ("--cross-links", "cross_links", "a finite number >= 0 (links per target)", lambda v: _is_number(v) and v >= 0),
    ("--cross-lingual-weight", "cross_lingual_weight", "a finite number > 0", lambda v: _is_number(v) and v > 0),
    ("--retrieve-k", "retrieve_k", "a positive integer (documents per input)", lambda v: _is_int(v) and v >= 1),
]


def check_options(cfg, langs: List[str]):
    """Ranges and types of the task's own options, and the languages they name."""
    for option, name, allowed, ok in RANGES:
        value = getattr(cfg, name)
        if not ok(value):
            raise OptionError(f"{option} {value!r}: must be {allowed}")
    if cfg.source_lang and not cfg.target_lang:
        raise OptionError(f"--source-lang {cfg.source_lang} needs --target-lang: the language to generate")
    # marge_seq2seq's target files may be named otherwise (summaries): its --output-lang is the language
    output_lang = getattr(cfg, "output_lang", None) or cfg.target_lang
    if output_lang and output_lang not in langs:
        option = "--output-lang" if getattr(cfg, "output_lang", None) else "--target-lang"
        hint = ("; --output-lang names it when the files' suffix is not a language"
                if hasattr(cfg, "output_lang") else "")
        raise OptionError(f"{option} {output_lang}: not a language of the data directory "
                          f"(langs.txt lists {', '.join(langs)}){hint}")


def check_options_against_data(cfg, dataset, doc_length: Optional[int] = None):
    """What the options ask of a document split: clusters that fit and, in the training split,
    links its shards can give (more is harmless, the links saturate; the warning says so).
    ``doc_length``: the longest ``--doc-length-schedule`` cuts training documents to."""
    if dataset.split == cfg.train_subset:
        dataset = dataset.truncated(doc_length)
        shard = np.asarray(dataset.metadata["shard"])
        most = max(int(np.unique(shard, return_counts=True)[1].max(initial=0)) - 1, 0)
        for option, links in (("--mono-links", cfg.mono_links), ("--cross-links", cfg.cross_links)):
            if links > most:
                logger.warning(
                    f"{option} {links}: the largest shard of {dataset.split} holds {most + 1} "
                    f"documents, so a target has at most {most} links: every target gets all it can"
                )
    if cfg.max_tokens:
        check_budget(dataset, cfg.max_tokens)


def check_budget(dataset, budget: int):
    """Stop if no target fits in a cluster of ``budget`` tokens; warn with the share left out
    (training goes on with the others: the run is not wrong, only smaller than it looks).

    A target costs its encoder row (for g) and its decoder row, each its length + 1, and needs
    at least one evidence document of its shard: the cluster builder's and the random planner's
    rule (``retrieval/cluster_builder.py``).  The shortest other document of the shard is the
    cheapest evidence, so the share is a lower bound: planners pick the evidence by other rules."""
    cost = dataset.doc_sizes + 1
    need = 2 * cost + cheapest_other_in_shard(cost, np.asarray(dataset.metadata["shard"]))
    targets = np.asarray(dataset.metadata["may_be_target"]) & np.isfinite(need)
    over = targets & (need > budget)
    if not over.any():
        return
    share, least, most = over.sum() / targets.sum(), int(need[targets].min()), int(need[targets].max())
    if share == 1:
        raise OptionError(
            f"--max-tokens {budget}: no target of {dataset.split} fits in a cluster, which holds "
            f"a target twice (its g and its reconstruction) and one evidence document: "
            f"{least} tokens at least here"
        )
    logger.warning(
        f"--max-tokens {budget}: at least {share:.1%} of the targets of {dataset.split} will never "
        f"be trained; a cluster holds a target twice (its g and its reconstruction) and one "
        f"evidence document, {least} to {most} tokens here"
    )


def cheapest_other_in_shard(cost: np.ndarray, shard: np.ndarray) -> np.ndarray:
    """For each document, the lowest ``cost`` among the other documents of its shard (inf if
    it is alone there)."""
    if len(cost) == 0:
        return np.empty(0)
    order = np.lexsort((cost, shard))
    sorted_shard, sorted_cost = shard[order], cost[order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, sorted_shard[1:] != sorted_shard[:-1]])
    counts = np.diff(np.r_[starts, len(order)])
    first = np.repeat(sorted_cost[starts], counts)
    second = np.repeat(np.where(counts > 1, sorted_cost[np.minimum(starts + 1, len(order) - 1)], np.inf), counts)
    cheapest = np.empty(len(cost))
    # the shard's cheapest document is the cheapest evidence for all others; its own is the second
    cheapest[order] = np.where(np.arange(len(order)) == np.repeat(starts, counts), second, first)
    return cheapest
