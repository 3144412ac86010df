"""Preemption in fairseq's spawn mode: the parent passes the signal on and exits 75.

Without ``--distributed-no-spawn`` (one SLURM task per node, or ``--distributed-world-size N``
on one machine) fairseq-train's first process only spawns the ranks and waits.  It has no
handler: SIGTERM or SIGUSR1 would kill it, and torch's ``pdeathsig`` would then send SIGINT to
the ranks in the middle of a step, so nothing is saved.  Here the parent passes the signal on to
every rank, which saves and exits 75 (``preemption.py``), waits for them and exits 75 itself.

fairseq's parent runs no task code, so the plugin's import is its only hook: ``install`` wraps
``fairseq.distributed.utils.call_main`` in fairseq-train (and nowhere else), and the wrapper
swaps torch's ``spawn`` for one that keeps its processes within reach of a handler.
"""

import contextlib
import functools
import logging
import os
import signal
import sys

import torch.multiprocessing
from fairseq.distributed import utils as distributed_utils

from .preemption import EXIT_CODE, SIGNALS, fairseq_train_module

logger = logging.getLogger(__name__)

# when the first rank has exited 75, how long the others may take to save and exit before torch
# terminates them: rank 0 writes the checkpoint, which for a large model takes a while
GRACE_SECONDS = 600


def install():
    """In fairseq-train only, and once: its parent process passes SIGTERM/SIGUSR1 on to the
    ranks it spawns."""
    if fairseq_train_module() is None or hasattr(distributed_utils.call_main, "__wrapped__"):
        return
    call_main = distributed_utils.call_main

    @functools.wraps(call_main)
    def call_main_passing_signals_on(cfg, main, **kwargs):
        with spawn_passing_signals_on(cfg):
            return call_main(cfg, main, **kwargs)

    distributed_utils.call_main = call_main_passing_signals_on


@contextlib.contextmanager
def spawn_passing_signals_on(cfg):
    spawn = torch.multiprocessing.spawn

    def spawn_ranks(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
        if nprocs == 0 and cfg.common.cpu:
            # fairseq sizes the spawn by the GPUs it sees; a --cpu run on one machine has a
            # process per rank instead
            nprocs = cfg.distributed_training.distributed_world_size
        context = torch.multiprocessing.start_processes(
            fn, args, nprocs, join=False, daemon=daemon, start_method=start_method
        )
        wait_passing_signals_on(context)

    torch.multiprocessing.spawn = spawn_ranks
    try:
        yield
    finally:
        torch.multiprocessing.spawn = spawn


def wait_passing_signals_on(context):
    """``context.join()`` as torch's ``spawn`` does it, with SIGTERM/SIGUSR1 passed on to every
    rank; exit 75 once all ranks have, after a signal."""
    received = []

    def pass_on(signum, frame):
        received.append(signal.Signals(signum).name)
        for process in context.processes:
            if process.is_alive():
                os.kill(process.pid, signum)

    previous = {s: signal.signal(s, pass_on) for s in SIGNALS}
    try:
        while not context.join(grace_period=GRACE_SECONDS):
            pass
    except torch.multiprocessing.ProcessExitedException:
        # join has waited for every rank (and ended those past the grace period)
        codes = [process.exitcode for process in context.processes]
        if not received or any(code != EXIT_CODE for code in codes):
            raise
        logger.info(f"preemption: {received[0]} passed on to {len(codes)} ranks, all exited "
                    f"{EXIT_CODE}; exiting with status {EXIT_CODE}")
        sys.exit(EXIT_CODE)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
