"""``fairseq-train`` with a fault at an exact point, for the kill, preemption and dying-rank tests.

    python tests/training_faults.py SIGNAL POINT FAIRSEQ_TRAIN_ARGS...

The process sends itself SIGNAL (KILL, TERM, USR1) at POINT:

- ``update:N``: in the middle of update N, after its forward and backward, before the optimizer
  step;
- ``reindex:E``: in the middle of epoch E's re-index, after this rank has encoded its documents
  and before the ranks gather them and search.

Sent from inside, the signal lands exactly there whatever the load of the machine, so a test can
assert where the run stopped.  The line ``fault: SIGNAL at POINT`` goes to stdout first.
"""

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fairseq_cli.train import cli_main  # noqa: E402

from fairseq_marge.retrieval import document_encoder, retrieval_planner  # noqa: E402
from fairseq_marge.tasks.marge import MargeTask  # noqa: E402


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
