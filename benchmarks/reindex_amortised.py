"""Re-indexing as a share of training wall time, at the paper's interval of 10,000 updates.

In one process, on the same data and model: one re-index of the documents (encode with g,
faiss search, threshold, greedy clusters: exactly what ``fairseq-train`` runs every
``--reindex-interval`` updates), then ``--updates`` training steps (forward, backward, Adam) on
clusters of that plan.  From the measured seconds per document re-indexed and per update:

    share = reindex(N documents) / (reindex(N documents) + interval x update)

for the measured corpus, and the number of documents per re-index at which the share would
reach ``--goal`` (re-index time grows linearly with N, see reindex.py).

    python benchmarks/reindex_amortised.py --data outputs/demo/data-bin --arch marge_tiny
"""

import argparse
import json
import statistics

import torch

from fairseq_marge.build import build_from_args
from train_throughput import train_step


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a marge data directory")
    parser.add_argument("--arch", default="marge_tiny")
    parser.add_argument("--arch-args", default="", help="extra model flags, e.g. '--encoder-layers 4'")
    parser.add_argument("--max-tokens", type=int, default=2048, help="tokens per cluster")
    parser.add_argument("--updates", type=int, default=30, help="training steps to time")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--interval", type=int, default=10000, help="updates between re-indexes")
    parser.add_argument("--goal", type=float, default=0.05)
    args = parser.parse_args()

    torch.manual_seed(0)
    _, task, model = build_from_args(
        [args.data, "--task", "marge", "--arch", args.arch, "--criterion", "marge",
         "--max-tokens", args.max_tokens, "--cpu", *args.arch_args.split()]
    )
    task.load_dataset("train")
    dataset = task.dataset("train")
    reindexing = task.planner("retrieval").reindex(dataset, model.encoder, generation=1, seed=1)
    reindex_s = sum(reindexing.seconds.values())
    per_document_s = reindex_s / reindexing.num_documents

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    pad = task.dictionary.pad()
    clusters = reindexing.plan.clusters[: args.warmup + args.updates]
    steps = [train_step(model.train(), optimizer, dataset.cluster_batch(c.evidence, c.targets), pad)
             for c in clusters][args.warmup:]
    update_s = statistics.mean(steps)
    training_s = args.interval * update_s
    print(json.dumps({
        "arch": args.arch + (f" {args.arch_args}" if args.arch_args else ""),
        "documents": reindexing.num_documents,
        "reindex_seconds": {k: round(v, 2) for k, v in reindexing.seconds.items()},
        "reindex_s": round(reindex_s, 2),
        "reindex_ms_per_document": round(1000 * per_document_s, 3),
        "updates_timed": len(steps),
        "update_s": round(update_s, 4),
        "interval": args.interval,
        "share_of_wall_time": round(reindex_s / (reindex_s + training_s), 4),
        f"documents_per_reindex_at_{args.goal:.0%}": int(args.goal / (1 - args.goal) * training_s / per_document_s),
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
