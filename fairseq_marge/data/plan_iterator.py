"""An ``EpochBatchIterator`` whose epochs are batch plans.

One epoch is the stretch of training between two re-indexings: at the start of epoch ``e``
the iterator asks the task for the plan of ``e`` (the task re-indexes with the current model)
and expands it into exactly ``updates(e) * update_freq * world_size`` batches, which fairseq
then shards across ranks as usual: at step ``i`` of the epoch (one batch per rank; ``update_freq``
steps per update) rank ``r`` trains batch ``i * world_size + r``.  fairseq's own shuffle of the
batches is off: the plan's order is already a seeded random one, and fairseq's would depend on
the world size.

The plan of the current epoch is part of :meth:`state_dict`, which fairseq stores in every
checkpoint (``extra_state["train_iterator"]``): a run resumed mid-epoch continues the very same
plan instead of re-indexing with a model that has moved on.  A checkpoint saved while epoch
``e`` re-indexes (a preemption abandoning the re-index) holds epoch ``e`` at its start, so the
resumed run re-indexes.  A run resumed on another world size goes on from the first batch of
the sequence that no rank has trained, for the steps left in the epoch.  A saved plan made from
other training data or plan options than the resumed run's is dropped and the epoch re-indexed
(:mod:`.plan_provenance`).
"""

import logging
from typing import Callable, Dict, Optional

import torch
from fairseq.data import iterators

from .batch_plan import BatchPlan
from .plan_provenance import changed_sources

logger = logging.getLogger(__name__)
# fairseq silences INFO on ranks > 0; what a rank resumes from must be visible on every rank
logger.setLevel(logging.INFO)


class PlanEpochBatchIterator(iterators.EpochBatchIterator):
    def __init__(
        self,
        dataset,
        plan_for_epoch: Callable[[int], BatchPlan],
        batches_in_epoch: Callable[[int], int],
        preemption=None,  # tasks.preemption.Preemption: a signal abandons a re-index
        plan_sources: Optional[Callable[[int], Dict[str, str]]] = None,  # what a plan is made from
        **kwargs,
    ):
        self.plan_for_epoch = plan_for_epoch
        self.plan_sources = plan_sources
        self.batches_in_epoch = batches_in_epoch
        self.preemption = preemption
        self.plan = None
        self.plan_epoch = None
        self.reindexing_epoch: Optional[int] = None
        # where this run's batches of the epoch start: past the steps a resumed checkpoint had
        # done on another world size (else 0 and 0, and fairseq's offset skips what is done)
        self.plan_start = 0  # in the epoch's batch sequence
        self.steps_before = 0
        super().__init__(dataset, dataset.collater, batch_sampler=self._epoch_batches,
                         disable_shuffling=True, **kwargs)

    def _epoch_batches(self, dataset, epoch):
        if self.plan_epoch != epoch:
            logger.info(f"epoch {epoch}: building the batch plan")
            self.reindexing_epoch = epoch
            try:
                build = lambda: self.plan_for_epoch(epoch)  # noqa: E731
                self.plan = build() if self.preemption is None else self.preemption.reindex(build, self)
            except RuntimeError as e:
                if not torch.distributed.is_initialized():
                    raise
                # most often the error of a collective operation whose peer has died
                raise RuntimeError(
                    f"re-index {epoch} failed on rank {torch.distributed.get_rank()} of "
                    f"{torch.distributed.get_world_size()}: {e}; if another rank has died, its log "
                    "says why"
                ) from e
            finally:
                self.reindexing_epoch = None
            self.plan_epoch = epoch
            self.plan_start, self.steps_before = 0, 0
        # the rest of the epoch's batch sequence, from the first batch not trained
        end = self.plan_start + self.batches_in_epoch(epoch) - self.steps_before * self.num_shards
        return self.plan.epoch_batches(dataset.num_documents, end, seed=self.seed + epoch)[self.plan_start:]

    @property
    def first_batch(self):
        """fairseq collates this for its dummy steps *before* a checkpoint's iterator state is
        loaded; a fixed two-document cluster avoids building (re-indexing) a plan just for it."""
        return self.dataset.cluster_batch(evidence=[0, 1], targets=[1])

    def end_of_epoch(self) -> bool:
        # during a re-index the previous epoch's iterator is exhausted, but this epoch has not begun
        return self.reindexing_epoch is None and super().end_of_epoch()

    def state_dict(self):
        if self.reindexing_epoch is not None:
            return {"version": 2, "epoch": self.reindexing_epoch, "iterations_in_epoch": 0,
                    "shuffle": self.shuffle}
        state = super().state_dict()
        steps = state["iterations_in_epoch"]
        if steps > 0:
            state["plan_epoch"] = self.plan_epoch
            state["plan"] = {
                k: torch.as_tensor(v) for k, v in self.plan.state_dict().items()
            }
            # the epoch's progress whatever the world size
            state["plan_steps"] = self.steps_before + steps
            state["plan_position"] = self.plan_start + steps * self.num_shards
            if self.plan_sources is not None:
                state["plan_sources"] = self.plan_sources(self.plan_epoch)
        return state

    def load_state_dict(self, state_dict):
        if "plan" in state_dict:
            state_dict = self._check_saved_epoch(state_dict)
        if "plan" in state_dict:  # kept: resume on it
            plan = {k: v.numpy() for k, v in state_dict["plan"].items()}
            self.plan = BatchPlan.from_state_dict(plan)
            self.plan_epoch = state_dict["plan_epoch"]
            steps = state_dict.get("plan_steps", state_dict["iterations_in_epoch"])
            position = state_dict.get("plan_position", steps * self.num_shards)
            if position == steps * self.num_shards:  # as if on this world size all along
                state_dict = {**state_dict, "iterations_in_epoch": steps}
            else:  # saved on another world size: this run's batches start after the trained ones
                self.plan_start, self.steps_before = position, steps
                state_dict = {**state_dict, "iterations_in_epoch": 0}
            logger.info(
                f"resuming epoch {self.plan_epoch} on its saved batch plan "
                f"(generation {self.plan.generation}, {len(self.plan)} clusters, "
                f"fingerprint {self.plan.fingerprint()[:12]}) at batch {position} of its "
                f"sequence, rank {self.shard_id} of {self.num_shards}"
            )
        super().load_state_dict(state_dict)

    def _check_saved_epoch(self, state_dict):
        """The state to resume from: as saved, or without its plan if the plan was made from
        other sources (checkpoints from before sources were saved are trusted)."""
        epoch = state_dict["plan_epoch"]
        steps = state_dict.get("plan_steps", state_dict["iterations_in_epoch"])
        epoch_steps = self.batches_in_epoch(epoch) // self.num_shards
        if steps >= epoch_steps:
            # fairseq would stop with "dataloader mismatch, please report this to the fairseq
            # developers"; neither a shorter epoch nor a skipped re-index is what was asked for
            raise ValueError(
                f"the checkpoint is {steps} steps into epoch {epoch}, which lasts {epoch_steps} "
                "steps with this run's --reindex-interval and --update-freq: resume with the "
                "values the checkpoint was saved with (its cfg.task.reindex_interval and "
                "cfg.optimization.update_freq)"
            )
        if "plan_sources" not in state_dict or self.plan_sources is None:
            return state_dict
        changed = changed_sources(state_dict["plan_sources"], self.plan_sources(epoch))
        if not changed:
            return state_dict
        logger.warning(
            f"epoch {epoch}: the saved batch plan was made from other sources ({'; '.join(changed)}); "
            f"dropping it and re-indexing epoch {epoch}, resuming at step {steps} of the epoch"
        )
        kept = {k: v for k, v in state_dict.items() if not k.startswith("plan")}
        return {**kept, "iterations_in_epoch": steps}
