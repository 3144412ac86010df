"""The retrieval planner: a batch plan from what the current model retrieves (paper section 2.4).

One re-index, run by the task at the start of every epoch (``--reindex-interval`` updates):

1. sample ``--reindex-shards`` shards (seeded: the same on every rank), give each to one rank,
   balanced by tokens (:mod:`.shard_assignment`), and encode their documents with g: all ranks
   encode batches formed within a shard, and each embedding goes to its shard's rank
   (:mod:`.shard_encoding`; a subclass may rank with other vectors by overriding
   ``embed_shards``, as the lexical planner does);
2. per shard, search each target's nearest same- and cross-language documents (faiss);
3. per shard, threshold the candidate pairs to ``--mono-links`` / ``--cross-links`` links per
   target on average;
4. per shard, grow clusters greedily on the evidence -> target graph, up to ``--max-tokens`` each.

Steps 2-4 run on the rank that owns the shard, and links never leave a shard, so after the
encoding the ranks meet once: every rank all-gathers the others' clusters and report counts
(neither embeddings nor links: O(plan) in all) and puts them in shard order.  Each shard's
result depends on the model, the shard and the seed only, never on the rank or the number of
ranks, so every rank trains on the same plan, whatever the world size.  Each rank logs the
plan's fingerprint; rank 0 reports the slowest rank's seconds per stage and the spread over ranks.
"""

import contextlib
import logging
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from ..data.batch_plan import BatchPlan, Cluster
from ..data.planner_registry import Planner, register_planner
from ..data.random_planner import random_plan
from .candidate_links import CANDIDATES_PER_LINK, shard_candidates
from .cluster_builder import grow_clusters
from .document_encoder import data_parallel
from .link_report import link_matrix, write_link_matrix
from .link_threshold import Links, threshold_links
from .shard_assignment import deal_out
from .shard_encoding import encode_shards

logger = logging.getLogger(__name__)
# fairseq silences INFO on ranks > 0; the plan fingerprint must be visible on every rank
logger.setLevel(logging.INFO)

STAGES = ("encode", "search", "threshold", "batch")


@dataclass
class Reindexing:
    """A plan and how it was made."""

    plan: BatchPlan
    seconds: Dict[str, float]  # per stage, the slowest rank's
    num_documents: int = 0
    num_targets: int = 0
    targets_linked: int = 0  # with at least one link
    targets_used: int = 0  # in a cluster
    mono_links: int = 0
    cross_links: int = 0
    # links whose evidence is a chunk of the target's own article or of one of its translations
    # (metadata "group"): where groups are known, the share that does is a check on retrieval
    mono_links_in_group: int = 0
    cross_links_in_group: int = 0
    targets_with_group_evidence: int = 0  # used targets whose cluster holds a group-mate as evidence
    link_matrix: Optional[np.ndarray] = field(default=None, repr=False)
    # the balance of the work, one entry per rank: tokens of the shards it owns (steps 2-4), its
    # seconds in all stages (the encode stage includes waiting for the exchange)
    rank_tokens: List[int] = field(default_factory=list)
    rank_seconds: List[float] = field(default_factory=list)


@dataclass
class ShardIndex:
    """One shard's re-index as its rank sends it to the others: the clusters and the report's
    counts (additive over shards); the embeddings and links stay on the rank."""

    shard: int
    clusters: List[Cluster]
    counts: Dict[str, int]  # Reindexing's counts, this shard's share
    link_matrix: np.ndarray
    problem: Optional[str]  # shard_problem's
    identical: Tuple[int, Optional[Tuple[int, int]]]  # links between identical vectors: count, an example


@dataclass
class RankIndex:
    """One rank's share of a re-index."""

    shards: List[ShardIndex]
    seconds: Dict[str, float]
    tokens: int


@register_planner("retrieval")
class RetrievalPlanner(Planner):
    # links between identical vectors (f = 1) are reported as duplicates in the corpus; a
    # subclass whose vectors tie by design (group_oracle: one row per group) turns that off
    identical_vectors_mean_duplicates = True

    def __init__(
        self,
        task,
        *,
        mono_links: float,
        cross_links: float,
        cross_lingual_weight: float,
        shards_per_index: int,
        encode_max_tokens: int,
        cluster_budget: int,
        langs: List[str],
        report_dir: Optional[str] = None,
    ):
        super().__init__(task)
        self.mono_links = mono_links
        self.cross_links = cross_links
        self.cross_lingual_weight = cross_lingual_weight
        self.shards_per_index = shards_per_index
        self.encode_max_tokens = encode_max_tokens
        self.cluster_budget = cluster_budget
        self.langs = langs
        self.report_dir = Path(report_dir) if report_dir else None

    @classmethod
    def from_task(cls, task, report: bool = True) -> "RetrievalPlanner":
        """The planner of ``task``'s options; ``report``: write the re-index reports to the save
        directory's ``reindex/`` (not for a validation plan, which is not a re-index)."""
        cfg = task.cfg
        return cls(
            task,
            mono_links=cfg.mono_links,
            cross_links=cfg.cross_links,
            cross_lingual_weight=cfg.cross_lingual_weight,
            shards_per_index=cfg.reindex_shards,
            encode_max_tokens=cfg.reindex_max_tokens or task.cluster_budget(),
            cluster_budget=task.cluster_budget(),
            langs=task.langs,
            report_dir=os.path.join(cfg.save_dir, "reindex") if report and cfg.save_dir else None,
        )

    def plan(self, dataset, model, generation: int, seed: int, updates_since_last: int) -> BatchPlan:
        """The task's entry point: re-index, report, and return the plan (the same on all ranks)."""
        if model is None:
            raise RuntimeError(f"the {self.name} planner runs after the model is built")
        _, rank, world_size = data_parallel()
        result = self.reindex(dataset, model.encoder, generation, seed)
        if rank == 0:
            self._report(result, generation, updates_since_last=updates_since_last)
        logger.info(f"re-index {generation}: plan fingerprint {result.plan.fingerprint()} "
                    f"(rank {rank} of {world_size})")
        return result.plan

    def report_own_links(self, dataset, model, generation: int, seed: int, planner: str):
        """At a re-index whose plan another ``planner`` builds: what g would have linked, logged
        and written as ``g_links_genN`` (``--report-g-links``); the plan is not used.  Every rank
        must call it (all ranks encode)."""
        result = self.reindex(dataset, model.encoder, generation, seed)
        if data_parallel()[1] == 0:
            self._report(result, generation, plan_by=planner)

    def reindex(self, dataset, encoder, generation: int, seed: int) -> Reindexing:
        """Re-index this rank's share of the sampled shards and gather every rank's: the same
        result on every rank, for any world size (but for the seconds)."""
        group, rank, world_size = data_parallel()
        shards = self._sample_shards(dataset, seed)
        ids = np.fromiter(shards, dtype=np.int64, count=len(shards))
        tokens = np.array([dataset.doc_sizes[docs].sum() for docs in shards.values()], dtype=np.int64)
        owners = deal_out(ids, tokens, world_size)
        owner = {shard: r for r, owned in enumerate(owners) for shard in owned.tolist()}
        mine = owners[rank]
        seconds = defaultdict(float)
        stage = _stage_timer(seconds)
        with stage("encode"):
            vectors = self.embed_shards(dataset, encoder, shards, owner)
        doc_cost = dataset.doc_sizes + 1
        # pop: a shard's vectors are freed once it is indexed
        indexed = [self._index_shard(dataset, shard, shards[shard], vectors.pop(shard), doc_cost, seed, stage)
                   for shard in mine.tolist()]
        local = RankIndex(indexed, dict(seconds), int(tokens[np.isin(ids, mine)].sum()))
        ranks = [local] if world_size == 1 else _all_gather(local, group, world_size)
        return self._assemble(dataset, ranks, generation, seed, log=rank == 0)

    def _index_shard(self, dataset, shard: int, docs: np.ndarray, vectors, doc_cost: np.ndarray,
                     seed: int, stage) -> ShardIndex:
        """Steps 2-4 for one shard's documents ``docs`` (in id order) and their ``vectors``."""
        meta = dataset.metadata[docs]
        k_mono = CANDIDATES_PER_LINK * int(np.ceil(self.mono_links))
        k_cross = CANDIDATES_PER_LINK * int(np.ceil(self.cross_links))
        with stage("search"):
            # a shard has no more candidates than documents: a huge --mono-links allocates no more
            candidates = shard_candidates(docs, vectors, meta["lang"], meta["may_be_target"],
                                          min(k_mono, len(docs)), min(k_cross, len(docs)))
        with stage("threshold"):
            links = threshold_links(candidates, self.mono_links, self.cross_links)
        with stage("batch"):
            clusters = grow_clusters(links, doc_cost, self.cluster_budget, self.cross_lingual_weight,
                                     seed=seed + shard)
        group = np.asarray(dataset.metadata["group"])
        identical = np.flatnonzero(links.score >= 1 - 1e-6)
        example = (int(links.target[identical[0]]), int(links.evidence[identical[0]])) if len(identical) else None
        counts = dict(
            num_documents=len(docs),
            num_targets=int(meta["may_be_target"].sum()),
            targets_linked=len(np.unique(links.target)),
            targets_used=sum(len(c.targets) for c in clusters),
            mono_links=int((~links.cross).sum()),
            cross_links=int(links.cross.sum()),
            **links_in_group(links, group),
            targets_with_group_evidence=targets_with_group_evidence(clusters, group),
        )
        return ShardIndex(
            shard=shard,
            clusters=clusters,
            counts=counts,
            link_matrix=link_matrix(links, np.asarray(dataset.metadata["lang"]), len(self.langs)),
            problem=shard_problem(meta, wants_cross=self.cross_links > 0),
            identical=(len(identical), example),
        )

    def _assemble(self, dataset, ranks: List[RankIndex], generation: int, seed: int, log: bool) -> Reindexing:
        """Every rank's shards in shard order: O(plan) work, whatever the corpus."""
        indexed = sorted((s for r in ranks for s in r.shards), key=lambda s: s.shard)
        clusters = [c for s in indexed for c in s.clusters]
        counts = Counter()
        for s in indexed:
            counts.update(s.counts)
        if log:
            _explain_problems(indexed, generation)
            if self.identical_vectors_mean_duplicates:
                _explain_duplicates(indexed, generation, self.name)
        plan = BatchPlan(clusters, generation)
        if not clusters:
            if log:
                logger.warning(f"re-index {generation}: no target has a link in the sampled shards; "
                               "this epoch trains on a random same-shard plan instead")
            plan = random_plan(dataset, self.cluster_budget, seed, generation)
        num_langs = len(self.langs)
        return Reindexing(
            plan=plan,
            seconds={stage: max(r.seconds.get(stage, 0.0) for r in ranks) for stage in STAGES},
            link_matrix=sum((s.link_matrix for s in indexed), np.zeros((num_langs, num_langs), np.int64)),
            rank_tokens=[r.tokens for r in ranks],
            rank_seconds=[sum(r.seconds.values()) for r in ranks],
            **counts,
        )

    def embed_shards(self, dataset, encoder, shards: Dict[int, np.ndarray], owner: Dict[int, int]):
        """The vectors whose inner products rank evidence within a shard, for each shard this rank
        owns (``owner[shard]``) among ``shards`` (shard -> its documents): L2-normalised g, a
        float32 (len(docs), C) array per shard, encoded by all ranks together (every rank calls
        it).  A subclass may return scipy sparse matrices (searched exactly as well), computed
        for its own shards alone (:func:`own_shards`)."""
        return encode_shards(encoder, dataset, shards, owner, self.encode_max_tokens)

    def _sample_shards(self, dataset, seed: int) -> Dict[int, np.ndarray]:
        """The sampled shards in id order, each with its documents (in id order)."""
        shard_of = np.asarray(dataset.metadata["shard"])
        shards = np.unique(shard_of)
        if 0 < self.shards_per_index < len(shards):
            rng = np.random.default_rng(seed)
            shards = np.sort(rng.choice(shards, self.shards_per_index, replace=False))
        docs = np.flatnonzero(np.isin(shard_of, shards))
        docs = docs[np.argsort(shard_of[docs], kind="stable")]
        starts = np.searchsorted(shard_of[docs], shards)
        return dict(zip(shards.tolist(), np.split(docs, starts[1:])))

    def _report(self, result: Reindexing, generation: int, updates_since_last: int = 0,
                plan_by: Optional[str] = None):
        """Log and write a re-index's statistics; ``plan_by``: another planner made the plan, and
        these are g's own links (``report_own_links``)."""
        per_target = max(result.num_targets, 1)
        seconds = {s: round(result.seconds.get(s, 0.0), 3) for s in STAGES}
        stats = dict(
            planner=self.name,
            generation=generation,
            updates_since_last_index=updates_since_last,
            documents=result.num_documents,
            targets=result.num_targets,
            targets_linked=result.targets_linked,
            targets_used=result.targets_used,
            clusters=len(result.plan),
            mono_links_per_target=round(result.mono_links / per_target, 3),
            cross_links_per_target=round(result.cross_links / per_target, 3),
            mono_links_in_group=round(result.mono_links_in_group / max(result.mono_links, 1), 3),
            cross_links_in_group=round(result.cross_links_in_group / max(result.cross_links, 1), 3),
            targets_with_group_evidence=round(
                result.targets_with_group_evidence / max(result.targets_used, 1), 3),
            seconds=seconds,
            rank_tokens=result.rank_tokens,
            rank_seconds=[round(t, 3) for t in result.rank_seconds],
        )
        if plan_by is None:
            heading = f"re-index {generation} after {updates_since_last} updates ({self.name} planner)"
        else:
            heading = f"re-index {generation}, g's own links (not trained on; the plan is {plan_by}'s)"
            stats.update(planner=plan_by, links_of="g")
        logger.info(
            f"{heading}: {result.num_documents} documents, links per target {stats['mono_links_per_target']} "
            f"same-language + {stats['cross_links_per_target']} cross-language "
            f"({stats['mono_links_in_group']:.1%} / {stats['cross_links_in_group']:.1%} within the "
            "target's article group); "
            f"{result.targets_linked} of {result.num_targets} targets linked, "
            f"{result.targets_used} used "
            f"({100 * result.targets_used / per_target:.1f}%) in {len(result.plan)} clusters, "
            f"{stats['targets_with_group_evidence']:.1%} of them with evidence from their group; "
            "seconds " + ", ".join(f"{s} {t:.2f}" for s, t in seconds.items()) + _balance(result)
        )
        if self.report_dir is not None and result.link_matrix is not None:
            prefix = self.report_dir / f"{'' if plan_by is None else 'g_'}links_gen{generation}"
            write_link_matrix(prefix, result.link_matrix, self.langs, stats)
            logger.info(f"re-index {generation}: language link matrix in {prefix}.json/.png")


def own_shards(shards: Dict[int, np.ndarray], owner: Dict[int, int]) -> Dict[int, np.ndarray]:
    """The shards of ``shards`` that this rank owns, with their documents."""
    rank = data_parallel()[1]
    return {shard: docs for shard, docs in shards.items() if owner[shard] == rank}


def _balance(result: Reindexing) -> str:
    """How evenly the ranks shared the work (the stage seconds above are the slowest rank's)."""
    if len(result.rank_tokens) < 2:
        return ""
    tokens, seconds = result.rank_tokens, result.rank_seconds
    return (f" (slowest rank's); {len(tokens)} ranks, tokens per rank {min(tokens)}-{max(tokens)}, "
            f"seconds per rank {min(seconds):.2f}-{max(seconds):.2f}")


def links_in_group(links: Links, group: np.ndarray) -> Dict[str, int]:
    """Same- and cross-language links whose evidence shares the target's group (its article
    and the article's translations); documents without a group (-1) share none."""
    same = (group[links.target] == group[links.evidence]) & (group[links.target] >= 0)
    return dict(mono_links_in_group=int((same & ~links.cross).sum()),
                cross_links_in_group=int((same & links.cross).sum()))


def targets_with_group_evidence(clusters: List[Cluster], group: np.ndarray) -> int:
    """Targets whose cluster encodes another document of their group (a chunk of the same
    article or a translation): in a known-answer corpus, the targets that can see their twin."""
    count = 0
    for cluster in clusters:
        evidence_groups = group[cluster.evidence]
        for target in cluster.targets:
            mates = (evidence_groups == group[target]) & (cluster.evidence != target)
            count += bool(group[target] >= 0 and mates.any())
    return count


def shard_problem(meta: np.ndarray, wants_cross: bool) -> Optional[str]:
    """Why a shard gives no links, or no cross-language ones (None: nothing to say).  Such shards
    are fine, their targets just sit out; the log says why."""
    if len(meta) == 0:
        return "no document"
    if len(meta) == 1:
        return "one document (no evidence for it)"
    if not meta["may_be_target"].any():
        return "no document that may be a target"
    if wants_cross and len(np.unique(meta["lang"])) == 1:
        return "one language only (no cross-language links)"
    return None


def _explain_problems(indexed: List[ShardIndex], generation: int):
    problems = defaultdict(list)
    for s in indexed:
        if s.problem:
            problems[s.problem].append(s.shard)
    for problem, bad_shards in problems.items():
        examples = ", ".join(map(str, bad_shards[:5])) + (", ..." if len(bad_shards) > 5 else "")
        logger.info(f"re-index {generation}: {len(bad_shards)} shard(s) with {problem}: {examples}")


def _explain_duplicates(indexed: List[ShardIndex], generation: int, planner: str):
    examples = [example for _, example in (s.identical for s in indexed) if example is not None]
    if examples:
        target, evidence = examples[0]
        # the retrieval planner scores with g; a subclass (lexical) with its own vectors
        vectors = "g (f = 1)" if planner == "retrieval" else f"{planner} vectors (cosine 1)"
        logger.info(f"re-index {generation}: {sum(s.identical[0] for s in indexed)} links join documents "
                    f"with identical {vectors}, e.g. target {target} and evidence {evidence}: "
                    "duplicates in the corpus make reconstruction a copy")


def _stage_timer(seconds: Dict[str, float]):
    @contextlib.contextmanager
    def stage(name: str):
        start = time.perf_counter()
        yield
        seconds[name] += time.perf_counter() - start

    return stage


def _all_gather(local: RankIndex, group, world_size: int) -> List[RankIndex]:
    """Every rank's share, in rank order, on every rank."""
    gathered = [None] * world_size
    torch.distributed.all_gather_object(gathered, local, group=group)
    return gathered
