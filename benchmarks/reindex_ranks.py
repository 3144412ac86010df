"""Re-index work per rank: CPU seconds of each of W gloo ranks re-indexing the same corpus.

    python benchmarks/reindex_ranks.py --ranks 1,2,3 --shard-docs 12000,4000,2000,2000 [--doc-tokens 64]

Writes ``reindex.py``'s synthetic corpus, cut into shards of the given sizes (uneven on purpose),
then for each W starts W processes (gloo, one thread each) that re-index it once with the same
randomly initialised ``marge_tiny``.  Each rank's CPU seconds in the re-index
(``time.process_time``, so that a busy machine does not count) go to one JSON line per W, with
the busiest rank over the mean (the re-index's time over a perfect split of the work), the sum
over ranks against one rank's (the cost of sharing it), the tokens of the shards each rank owns
and the plan fingerprints (one value: the plan does not depend on W).
"""

import argparse
import json
import logging
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from fairseq_marge.build import build_from_args
from fairseq_marge.data.document_metadata import save_metadata
from reindex import REPO, write_corpus  # benchmarks/reindex.py


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", default="1,2,3", help="world sizes, comma-separated")
    parser.add_argument("--shard-docs", default="12000,4000,2000,2000", help="documents per shard")
    parser.add_argument("--doc-tokens", type=int, default=64, help="documents are cut to this length")
    parser.add_argument("--max-tokens", type=int, default=4096, help="cluster budget")
    parser.add_argument("--encode-max-tokens", type=int, default=4096, help="tokens per encoding batch")
    args = parser.parse_args()
    shard_docs = [int(n) for n in args.shard_docs.split(",")]
    with tempfile.TemporaryDirectory() as data_dir:
        size = sum(shard_docs)
        write_corpus(Path(data_dir), argparse.Namespace(size=size, doc_tokens=args.doc_tokens, data=None,
                                                         shard_size=size))
        meta = np.load(Path(data_dir, "train.meta.npy"))
        save_metadata(str(Path(data_dir, "train")), meta["lang"], np.repeat(np.arange(len(shard_docs)), shard_docs),
                      meta["group"], meta["may_be_target"])
        one_rank = None
        for world_size in map(int, args.ranks.split(",")):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            torch.multiprocessing.spawn(reindex_on_rank, nprocs=world_size, args=(world_size, port, data_dir, args))
            ranks = [json.loads(Path(data_dir, f"rank{r}.json").read_text()) for r in range(world_size)]
            cpu = [r["cpu_seconds"] for r in ranks]
            one_rank = one_rank or sum(cpu)
            print(json.dumps({
                "ranks": world_size,
                "shard_docs": shard_docs,
                "cpu_seconds": [round(c, 2) for c in cpu],
                "max_over_mean": round(max(cpu) / np.mean(cpu), 3),
                "sum_over_one_rank": round(sum(cpu) / one_rank, 3),
                "owned_shard_tokens": ranks[0]["rank_tokens"],
                "fingerprints": sorted({r["fingerprint"] for r in ranks}),
            }), flush=True)


def reindex_on_rank(rank, world_size, port, data_dir, args):
    logging.disable(logging.WARNING)
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                         world_size=world_size)
    try:
        torch.manual_seed(0)  # the same model on every rank and every W
        _, task, model = build_from_args([
            data_dir, "--user-dir", str(REPO / "fairseq_marge"), "--task", "marge", "--arch", "marge_tiny",
            "--max-tokens", args.max_tokens, "--reindex-max-tokens", args.encode_max_tokens, "--cpu",
        ])
        task.load_dataset("train")
        torch.distributed.barrier()  # every rank starts with its model built
        start = time.process_time()
        result = task.planner("retrieval").reindex(task.datasets["train"], model.encoder, generation=1, seed=1)
        cpu_seconds = time.process_time() - start
        Path(data_dir, f"rank{rank}.json").write_text(json.dumps(dict(
            cpu_seconds=cpu_seconds, rank_tokens=result.rank_tokens, fingerprint=result.plan.fingerprint())))
    finally:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
