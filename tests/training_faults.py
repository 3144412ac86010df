"""``fairseq-train`` with a fault at an exact point, or recording the batches it trains, for the
kill, preemption, dying-rank and world-size tests.

    python tests/training_faults.py [record] [SIGNAL POINT] FAIRSEQ_TRAIN_ARGS...

``record`` prints ``trained: update U rank R items I,J,...`` for each batch a rank trains (the
item indices of its cluster, sorted).  The process sends itself SIGNAL (KILL, TERM, USR1) at
POINT:

- ``update:N``: in the middle of update N, after its forward and backward, before the optimizer
  step;
- ``reindex:E``: in the middle of epoch E's re-index, after this rank has encoded its first shard
  and before the ranks gather their clusters;
- ``planned:E``: just after epoch E's planner has returned its plan, before the ranks agree
  whether to train on it.

Sent from inside, the signal lands exactly there whatever the load of the machine, so a test can
assert where the run stopped.  The line ``fault: SIGNAL at POINT`` goes to stdout first.
:func:`run_training` runs it, or plain fairseq-train, and reads the loss trace;
:func:`launch_ranks` runs the ranks of a distributed run.
"""

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import torch

from fairseq_cli.train import cli_main  # first: it sets up logging as fairseq-train's log has it

from conftest import REPO, fairseq_env  # noqa: E402 (conftest puts the repository on sys.path)
from fairseq_marge.retrieval import document_encoder, retrieval_planner  # noqa: E402
from fairseq_marge.tasks.marge import MargeTask  # noqa: E402

INNER = re.compile(r"\| train_inner \|.* loss=([\d.]+),.* num_updates=(\d+),")
LOADED = re.compile(r"Loaded checkpoint \S+ \(epoch (\d+) @ (\d+) updates\)")


def tiny_train_args(data_dir, save_dir, updates, *extra):
    """``marge_tiny`` on the tests' tiny data for ``updates`` updates, a re-index every 5, a log
    line per update: the run the kill and preemption tests interrupt."""
    return [
        data_dir, "--user-dir", "fairseq_marge", "--task", "marge", "--arch", "marge_tiny",
        "--criterion", "marge", "--max-tokens", 600, "--optimizer", "adam", "--lr", "1e-3",
        "--max-update", updates, "--reindex-interval", 5, "--seed", 7, "--cpu",
        "--save-dir", save_dir, "--no-epoch-checkpoints", "--disable-validation",
        "--log-format", "simple", "--log-interval", 1, "--num-workers", 0, *extra,
    ]


def uninterrupted_trace(args, updates):
    """{update: loss} of a run that nothing interrupts."""
    returncode, losses, log = run_training(args)
    assert returncode == 0, log[-3000:]
    assert sorted(losses) == list(range(1, updates + 1))
    return losses


TRAINED = re.compile(r"trained: update (\d+) rank (\d+) items ([\d,]+)")


def command(fault=(), record=False):
    if fault or record:
        return [sys.executable, __file__, *(["record"] if record else []), *fault]
    return [str(Path(sys.executable).parent / "fairseq-train")]


def run_training(args, fault=(), record=False):
    """fairseq-train ``args``, or with ``fault = (SIGNAL, POINT)`` or ``record`` this script;
    returns (exit status, {update: loss} of the train_inner lines, log)."""
    proc = subprocess.run([*command(fault, record), *map(str, args)], cwd=REPO, env=fairseq_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    losses = {int(update): loss for loss, update in INNER.findall(proc.stdout)}
    return proc.returncode, losses, proc.stdout


def launch_ranks(args, log_dir, world_size=2, faults=None, record=False):
    """The CPU ranks of one gloo run, one process each (see README, Distributed training);
    ``faults[rank] = (SIGNAL, POINT)`` for a rank with a fault.  Returns [(process, log file)].

    Each rank logs to its own file: a pipe nobody reads would fill and stall the rank."""
    port = free_port()
    env = dict(fairseq_env(), OMP_NUM_THREADS="1")
    ranks = []
    for rank in range(world_size):
        log = Path(log_dir) / f"rank{rank}.log"
        with open(log, "w") as out:
            process = subprocess.Popen(
                [*command((faults or {}).get(rank, ()), record), *map(str, args),
                 "--distributed-world-size", str(world_size), "--distributed-rank", str(rank),
                 "--distributed-init-method", f"tcp://127.0.0.1:{port}", "--distributed-no-spawn",
                 "--distributed-backend", "gloo", "--ddp-backend", "legacy_ddp"],
                stdout=out, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO,
            )
        ranks.append((process, log))
    return ranks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def record_batches():
    train_step = MargeTask.train_step

    def recording_train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        if not ignore_grad:  # not one of fairseq's dummy batches
            rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
            evidence = sample["documents"][: sample["net_input"]["num_evidence"]]
            items = sorted(evidence.tolist() + sample["id"].tolist())
            items = ",".join(map(str, items))
            print(f"trained: update {update_num + 1} rank {rank} items {items}", flush=True)
        return train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad)

    MargeTask.train_step = recording_train_step


def fire(signum: signal.Signals, point: str):
    print(f"fault: {signum.name} at {point}", flush=True)
    os.kill(os.getpid(), signum)


def at_update(update: int, fault):
    train_step = MargeTask.train_step

    def faulty_train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        result = train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad)
        if update_num == update - 1:  # update_num counts the updates done before this one
            fault()
        return result

    MargeTask.train_step = faulty_train_step


def at_reindex(epoch: int, fault):
    reindex, encode = retrieval_planner.RetrievalPlanner.reindex, document_encoder._encode
    current = {}

    def faulty_reindex(self, dataset, encoder, generation, seed):
        current["generation"] = generation  # one re-index per epoch: generation = epoch
        return reindex(self, dataset, encoder, generation, seed)

    def faulty_encode(*args, **kwargs):
        embeddings = encode(*args, **kwargs)
        if current.get("generation") == epoch:
            fault()
        return embeddings

    retrieval_planner.RetrievalPlanner.reindex = faulty_reindex
    document_encoder._encode = faulty_encode


def after_plan(epoch: int, fault):
    plan = retrieval_planner.RetrievalPlanner.plan

    def faulty_plan(self, dataset, model, generation, seed, updates_since_last):
        result = plan(self, dataset, model, generation, seed, updates_since_last)
        if generation == epoch:
            fault()
        return result

    retrieval_planner.RetrievalPlanner.plan = faulty_plan


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[0] == "record":
        record_batches()
        args = args[1:]
    if args[0] in ("KILL", "TERM", "USR1"):
        signum, point = signal.Signals["SIG" + args[0]], args[1]
        kind, number = point.split(":")
        {"update": at_update, "reindex": at_reindex, "planned": after_plan}[kind](int(number), lambda: fire(signum, point))
        args = args[2:]
    sys.argv = ["fairseq-train", *args]
    cli_main()
