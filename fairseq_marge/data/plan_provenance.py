"""What a batch plan was made from, saved with it in the checkpoint and compared on resume.

A saved plan is a list of document ids: on another corpus (or the same one re-sharded) they
name other documents or none, and under another ``--max-tokens`` its clusters no longer fit.
The iterator keeps the plan of a resumed epoch only if the training data and the options that
shape a plan are those it was made from; otherwise it re-indexes the epoch (one log line says
what changed).  Re-indexing rather than stopping: the changed value is what the user asked for,
and the run loses one re-index, not its progress.
"""

import functools
import hashlib
from typing import Dict, List

import numpy as np

# options that shape a plan: the cluster budget, the retrieval graph, the sampled shards
PLAN_OPTIONS = {
    "--max-tokens": "max_tokens",
    "--mono-links": "mono_links",
    "--cross-links": "cross_links",
    "--cross-lingual-weight": "cross_lingual_weight",
    "--reindex-shards": "reindex_shards",
    "--train-evidence": "train_evidence",
}


class PlanSources:
    """The sources of the plans a task builds over ``dataset``, as strings (stable in a
    checkpoint and readable in a log line)."""

    def __init__(self, task, dataset):
        self.task = task
        self.dataset = dataset

    @functools.cached_property
    def data(self) -> str:
        """The document count and a hash of the sizes and metadata (shards, languages, groups,
        targets): a re-sharded or otherwise rebuilt corpus differs."""
        digest = hashlib.sha1(np.ascontiguousarray(self.dataset.doc_sizes, dtype=np.int64).tobytes())
        digest.update(np.ascontiguousarray(self.dataset.metadata).tobytes())
        return f"{self.dataset.num_documents} documents (hash {digest.hexdigest()[:12]})"

    def of_epoch(self, epoch: int) -> Dict[str, str]:
        cfg, schedule = self.task.cfg, self.task.schedule
        planner = self.task.planner_schedule.planner_at(schedule.epoch_start(epoch))
        options = {option: str(getattr(cfg, name)) for option, name in PLAN_OPTIONS.items()}
        # --doc-length-schedule: the length the epoch's documents are cut to (None: whole)
        length = str(self.task.doc_length(epoch))
        return {"training data": self.data, "planner": planner, "document length": length, **options}


def changed_sources(saved: Dict[str, str], current: Dict[str, str]) -> List[str]:
    """``"name: saved -> current"`` for each source that differs."""
    return [f"{name}: {saved.get(name)} -> {value}" for name, value in current.items()
            if saved.get(name) != value]
