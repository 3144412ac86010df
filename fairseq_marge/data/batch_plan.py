"""The batch plan: which documents are encoded as evidence and which are reconstructed, per batch.

MARGE batches are *clusters* of related documents (paper section 2.4): the evidence documents
z_1..z_M are encoded, and the targets x_1..x_B are reconstructed from all of them.  A plan is
the list of clusters of one re-indexing generation.  Planners (:mod:`~fairseq_marge.data
.random_planner`, :mod:`~fairseq_marge.retrieval.retrieval_planner`) produce plans; the
:class:`~fairseq_marge.data.plan_iterator.PlanEpochBatchIterator` turns one plan into one
epoch of fairseq batches and saves it in the checkpoint.

A batch handed to the dataset is a flat array of *item indices*: document ``d`` as evidence is
item ``d`` and as a target it is item ``num_documents + d`` (see ``MargeDocumentDataset``).  This
keeps the dataset stateless, so DataLoader workers never need the plan.
"""

import hashlib
from dataclasses import dataclass
from typing import Dict, List

import numpy as np


@dataclass
class Cluster:
    evidence: np.ndarray  # document ids encoded as evidence
    targets: np.ndarray  # document ids reconstructed from that evidence

    def item_indices(self, num_documents: int) -> np.ndarray:
        return np.concatenate([self.evidence, self.targets + num_documents]).astype(np.int64)


@dataclass
class BatchPlan:
    clusters: List[Cluster]
    generation: int  # how many times the index has been rebuilt when this plan was made

    def __len__(self) -> int:
        return len(self.clusters)

    def num_targets(self) -> int:
        return sum(len(c.targets) for c in self.clusters)

    def epoch_batches(self, num_documents: int, num_batches: int, seed: int) -> List[np.ndarray]:
        """Exactly ``num_batches`` batches: the clusters in a seeded random order, cycled (with a
        fresh order per pass) when the plan has fewer clusters than the epoch needs."""
        if not self.clusters:
            raise ValueError(
                "the batch plan is empty: no cluster has both evidence and a target (each shard "
                "needs two documents that fit in --max-tokens together, counting a target twice)"
            )
        rng = np.random.default_rng(seed)
        order = []
        while len(order) < num_batches:
            order.extend(rng.permutation(len(self.clusters)).tolist())
        return [self.clusters[i].item_indices(num_documents) for i in order[:num_batches]]

    def state_dict(self) -> Dict[str, np.ndarray]:
        """Flat arrays (compact in a checkpoint, no pickled Python objects)."""
        return {
            "generation": self.generation,
            "evidence": np.concatenate([c.evidence for c in self.clusters]),
            "evidence_sizes": np.array([len(c.evidence) for c in self.clusters], dtype=np.int64),
            "targets": np.concatenate([c.targets for c in self.clusters]),
            "target_sizes": np.array([len(c.targets) for c in self.clusters], dtype=np.int64),
        }

    @classmethod
    def from_state_dict(cls, state: Dict[str, np.ndarray]) -> "BatchPlan":
        evidence = np.split(state["evidence"], np.cumsum(state["evidence_sizes"])[:-1])
        targets = np.split(state["targets"], np.cumsum(state["target_sizes"])[:-1])
        clusters = [Cluster(e, t) for e, t in zip(evidence, targets)]
        return cls(clusters=clusters, generation=int(state["generation"]))

    def fingerprint(self) -> str:
        """A hash of the plan's content: equal on every rank of a distributed run."""
        digest = hashlib.sha1()
        for cluster in self.clusters:
            digest.update(np.asarray(cluster.evidence, dtype=np.int64).tobytes())
            digest.update(b"|")
            digest.update(np.asarray(cluster.targets, dtype=np.int64).tobytes())
            digest.update(b"#")
        return digest.hexdigest()
