"""Preemption: SIGTERM or SIGUSR1 make ``fairseq-train`` save a checkpoint at the next update
boundary and exit with status 75 (``EX_TEMPFAIL`` of sysexits.h: try again later), which a job
script can answer with a requeue (README, "Preemption").

A signal during a re-index drops it: the checkpoint is that of the last update, and the resumed
run re-indexes again with the same model, so it goes on exactly as the uninterrupted run would
have.  A lone process drops it at once.  Ranks must agree: a rank that left a re-index would
leave the others waiting in its collectives (under NCCL a rank blocked in one cannot even run
its handler), so every rank finishes the re-index and the ranks agree after it, as they do after
every update.  The wait is one re-index at most (about a minute at the paper's scale,
``benchmarks/scale_projection.py``).

fairseq 0.12 handles no signal, and no task hook sees the trainer after an update.  So this wraps
``fairseq_cli.train.validate_and_save``, which fairseq-train calls after every update to save a
checkpoint and decide whether to stop, and saves with fairseq's own ``save_checkpoint`` there.
Every rank must stop after the same update: at each boundary the ranks all-reduce the flag.
"""

import functools
import logging
import signal
import sys
import threading
import time
from typing import Callable, Optional

import torch
from fairseq import checkpoint_utils

from ..retrieval.document_encoder import data_parallel

logger = logging.getLogger(__name__)
# fairseq silences INFO on ranks > 0; every rank's log must say why it stopped
logger.setLevel(logging.INFO)

EXIT_CODE = 75
SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class ReindexAbandoned(BaseException):
    """Raised by a lone process's signal handler in the middle of a re-index: a BaseException,
    like KeyboardInterrupt, so that no ``except Exception`` on its way swallows it."""


class Preemption:
    def __init__(self, train_module):
        self.train_module = train_module
        self.signal: Optional[str] = None  # the first signal received
        self.received_at = 0.0
        self.reindexing = False
        self.cfg = self.trainer = None  # known from the first update of this process on
        self.previous_handlers = {}

    @classmethod
    def install(cls) -> Optional["Preemption"]:
        """Handle SIGTERM and SIGUSR1 in fairseq-train's training loop; None in other programs."""
        train_module = fairseq_train_module()
        if train_module is None or threading.current_thread() is not threading.main_thread():
            return None
        preemption = cls(train_module)
        current = train_module.validate_and_save
        validate_and_save = getattr(current, "__wrapped__", current)  # once, also if installed again

        @functools.wraps(validate_and_save)
        def validate_save_and_maybe_exit(cfg, trainer, task, epoch_itr, *args):
            valid_losses, should_stop = validate_and_save(cfg, trainer, task, epoch_itr, *args)
            preemption.at_update_boundary(cfg, trainer, epoch_itr, should_stop)
            return valid_losses, should_stop

        train_module.validate_and_save = validate_save_and_maybe_exit
        preemption.previous_handlers = {s: signal.signal(s, preemption.on_signal) for s in SIGNALS}
        return preemption

    def uninstall(self):
        self.train_module.validate_and_save = self.train_module.validate_and_save.__wrapped__
        for s, handler in self.previous_handlers.items():
            signal.signal(s, handler)

    def on_signal(self, signum, frame):
        if self.signal is None:
            self.signal, self.received_at = signal.Signals(signum).name, time.monotonic()
        if self.reindexing and data_parallel()[2] == 1:
            self.reindexing = False  # raise once: the abandon below must run to its end
            raise ReindexAbandoned()

    def at_update_boundary(self, cfg, trainer, epoch_itr, should_stop: bool):
        self.cfg, self.trainer = cfg, trainer
        if should_stop:  # the run is over, and fairseq has saved its checkpoint
            self.uninstall()
        elif self.signalled_on_any_rank():
            self.save_and_exit(epoch_itr, f"after update {trainer.get_num_updates()}")

    def reindex(self, build_plan: Callable, epoch_itr):
        """``build_plan()``, dropped (and redone on restart) if a signal comes first."""
        try:
            self.reindexing = True
            # a signal since the last update (during validation, say) drops it before it starts
            abandon = self.signalled_on_any_rank()
            if not abandon:
                plan = build_plan()
                abandon = self.signalled_on_any_rank()  # a signal during it, on any rank
        except ReindexAbandoned:  # a lone process's, at once
            abandon = True
        finally:
            self.reindexing = False
        if not abandon:
            return plan
        if self.trainer is None:
            logger.info(f"{self.signal or 'another rank signalled'}: re-index abandoned before the first "
                        f"update of this run, nothing to save: exiting with status {EXIT_CODE}")
            exit_for_requeue()
        self.save_and_exit(epoch_itr, f"after update {self.trainer.get_num_updates()}, re-index abandoned")

    def signalled_on_any_rank(self) -> bool:
        group, _, world_size = data_parallel()
        if world_size == 1:
            return self.signal is not None
        device = "cuda" if torch.distributed.get_backend(group) == "nccl" else "cpu"
        flag = torch.tensor([float(self.signal is not None)], device=device)
        torch.distributed.all_reduce(flag, group=group)
        return flag.item() > 0

    def save_and_exit(self, epoch_itr, where: str):
        source = f"{self.signal} received" if self.signal else "another rank signalled"
        logger.info(f"preemption ({source}): saving a checkpoint {where}")
        checkpoint_utils.save_checkpoint(self.cfg.checkpoint, self.trainer, epoch_itr, None)
        waited = f" {time.monotonic() - self.received_at:.2f} s after {self.signal}" if self.signal else ""
        logger.info(f"preemption: checkpoint saved{waited}; exiting with status {EXIT_CODE}")
        exit_for_requeue()


def exit_for_requeue():
    """Exit with status 75, the process group destroyed first: left to interpreter shutdown, its
    communication threads can outlive their owner, and a rank was seen to abort there
    ("terminate called without an active exception", status -6 instead of 75).  Destroying a
    group is local to the rank: it waits for no peer."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    sys.exit(EXIT_CODE)


def fairseq_train_module():
    """``fairseq_cli.train`` if the running program is fairseq-train (its console script, or
    ``python -m fairseq_cli.train``), else None: a program that trains in-process, a test say,
    keeps its own signal handling."""
    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None) == "fairseq_cli.train":
        return main
    train_module = sys.modules.get("fairseq_cli.train")
    if train_module is not None and getattr(main, "cli_main", None) is train_module.cli_main:
        return train_module
    return None
