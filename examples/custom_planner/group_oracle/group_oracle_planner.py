"""``--planner group_oracle``: every target's evidence is drawn from its own article group.

The metadata's ``group`` joins an article's chunks and their translations, so this planner
retrieves what a perfect retriever would: the upper bound a run with ``retrieval`` can be held
against, on a corpus whose groups are known (``examples/known_answer``).  It only replaces the
vectors that rank evidence: a one-hot row per group, so f is 1 inside a group and 0 across; the
retrieval planner's search, threshold and greedy clusters do the rest.
"""

import numpy as np
import scipy.sparse

from fairseq_marge.data.planner_registry import register_planner
from fairseq_marge.retrieval.retrieval_planner import RetrievalPlanner, own_shards


@register_planner("group_oracle")
class GroupOraclePlanner(RetrievalPlanner):
    identical_vectors_mean_duplicates = False  # every link inside a group has cosine 1

    def embed_shards(self, dataset, encoder, shards, owner):
        """One-hot group rows for each shard this rank owns (no model, no other rank needed)."""
        return {shard: group_rows(dataset, docs) for shard, docs in own_shards(shards, owner).items()}


def group_rows(dataset, docs: np.ndarray):
    group = np.asarray(dataset.metadata["group"])[docs]
    # a document without a group (-1) is a group of its own
    group = np.where(group >= 0, group, group.max(initial=0) + 1 + np.arange(len(docs)))
    _, column = np.unique(group, return_inverse=True)
    ones = np.ones(len(docs), dtype=np.float32)
    return scipy.sparse.csr_matrix((ones, (np.arange(len(docs)), column)))
