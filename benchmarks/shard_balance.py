"""Per-shard re-index work across ranks: the busiest rank's tokens over the mean.

    python benchmarks/shard_balance.py [--ranks 2,64,2048] [--shards-per-rank 1,4,16] [--data DIR]

Search, thresholds and clusters (and all of the lexical planner's work) run per shard, on the
rank that owns the shard, so that part of a re-index lasts as long as its busiest rank; ``max /
mean`` tokens per rank is its time over a perfect split (1.0 is perfect).  (The encoding, the
rest, is dealt out by batch, not by shard: within one batch of the mean.)  For W ranks and S = W
x ``--shards-per-rank`` sampled shards, averaged over 20 samples, it compares the planner's
assignment (:mod:`fairseq_marge.retrieval.shard_assignment`: longest first to the least loaded
rank) with shards dealt round-robin by id.  (With S >= W no rank is left without a shard: the
first W shards go one to each rank; with S < W, W - S ranks wait.)

Shard sizes: the paper's news shards (50k-250k documents, uniform) and a heavy-tailed
log-normal (sigma 1, so a few shards are ten times the median), both in documents of equal
length; or, with ``--data``, the token counts of a binarized directory's training shards
(sampled with replacement).  Pure arithmetic: seconds on one core.
"""

import argparse
import os

import numpy as np

from fairseq_marge.retrieval.shard_assignment import deal_out

SAMPLES = 20


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", default="2,64,2048")
    parser.add_argument("--shards-per-rank", default="1,4,16")
    parser.add_argument("--data", help="binarized MARGE data directory (default: the two synthetic distributions)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    if args.data:
        distributions = {f"{args.data} shards": data_shard_sampler(args.data)}
    else:
        distributions = {
            "uniform 50k-250k": lambda n: rng.integers(50_000, 250_001, n),
            "log-normal, sigma 1": lambda n: np.maximum(1, rng.lognormal(np.log(100_000), 1.0, n)).astype(np.int64),
        }
    print("| shard sizes | ranks W | shards S | max / mean, longest first | max / mean, round-robin |")
    print("|---|---:|---:|---:|---:|")
    for name, sizes in distributions.items():
        for world_size in map(int, args.ranks.split(",")):
            for per_rank in map(int, args.shards_per_rank.split(",")):
                num_shards = world_size * per_rank
                lpt, round_robin = [], []
                for _ in range(SAMPLES):
                    tokens = sizes(num_shards)
                    ids = np.arange(num_shards)
                    rank_of = np.empty(num_shards, dtype=np.int64)
                    for rank, mine in enumerate(deal_out(ids, tokens, world_size)):
                        rank_of[mine] = rank
                    lpt.append(imbalance(tokens, rank_of, world_size))
                    round_robin.append(imbalance(tokens, ids % world_size, world_size))
                print(f"| {name} | {world_size} | {num_shards} | {np.mean(lpt):.3f} | {np.mean(round_robin):.3f} |")


def imbalance(tokens: np.ndarray, rank_of: np.ndarray, world_size: int) -> float:
    loads = np.bincount(rank_of, weights=tokens, minlength=world_size)
    return float(loads.max() / loads.mean())


def data_shard_sampler(data_dir: str):
    from fairseq.data import data_utils

    sizes = data_utils.load_indexed_dataset(os.path.join(data_dir, "train"), None, "mmap").sizes
    shard = np.load(os.path.join(data_dir, "train.meta.npy"))["shard"]
    per_shard = np.bincount(shard, weights=sizes)
    per_shard = per_shard[per_shard > 0].astype(np.int64)
    rng = np.random.default_rng(0)
    return lambda n: rng.choice(per_shard, n)


if __name__ == "__main__":
    main()
