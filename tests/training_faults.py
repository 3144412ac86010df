"""``fairseq-train`` with a fault at an exact point, for the kill, preemption and dying-rank tests.

    python tests/training_faults.py SIGNAL POINT FAIRSEQ_TRAIN_ARGS...

The process sends itself SIGNAL (KILL, TERM, USR1) at POINT:

- ``update:N``: in the middle of update N, after its forward and backward, before the optimizer
  step;
- ``reindex:E``: in the middle of epoch E's re-index, after this rank has encoded its documents
  and before the ranks gather them and search.

Sent from inside, the signal lands exactly there whatever the load of the machine, so a test can
assert where the run stopped.  The line ``fault: SIGNAL at POINT`` goes to stdout first.
:func:`run_training` runs it, or plain fairseq-train, and reads the loss trace.
"""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from fairseq_cli.train import cli_main  # first: it sets up logging as fairseq-train's log has it

from conftest import REPO, fairseq_env  # noqa: E402 (conftest puts the repository on sys.path)
from fairseq_marge.retrieval import document_encoder, retrieval_planner  # noqa: E402
from fairseq_marge.tasks.marge import MargeTask  # noqa: E402

INNER = re.compile(r"\| train_inner \|.* loss=([\d.]+),.* num_updates=(\d+),")


def run_training(args, fault=()):
    """fairseq-train ``args``, or with ``fault = (SIGNAL, POINT)`` this script; returns
    (exit status, {update: loss} of the train_inner lines, log)."""
    if fault:
        command = [sys.executable, __file__, *fault]
    else:
        command = [str(Path(sys.executable).parent / "fairseq-train")]
    proc = subprocess.run([*command, *map(str, args)], cwd=REPO, env=fairseq_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    losses = {int(update): loss for loss, update in INNER.findall(proc.stdout)}
    return proc.returncode, losses, proc.stdout


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


if __name__ == "__main__":
    name, point = sys.argv[1:3]
    signum = signal.Signals["SIG" + name]
    kind, number = point.split(":")
    {"update": at_update, "reindex": at_reindex}[kind](int(number), lambda: fire(signum, point))
    sys.argv = ["fairseq-train", *sys.argv[3:]]
    cli_main()
