"""Training step time: ``marge`` vs fairseq's ``transformer`` at equal dimensions and tokens.

Both models train on the same documents, interleaved step by step in one process: MARGE encodes
a cluster's documents as evidence and reconstructs each of them from all the others; the
transformer encodes each document and reconstructs it from its own encoding (an autoencoder of
the same size).  Encoder and decoder tokens are therefore equal, and the remaining difference is
MARGE's own work: cross-attention over every document of the cluster, and the relevance scores.

    python benchmarks/train_throughput.py --data outputs/demo/data-bin --arch marge_tiny

prints one JSON line with median step times, target tokens/s and their ratio.
"""

import argparse
import json
import statistics
import time

import torch
from fairseq.data import data_utils

from fairseq_marge.build import build_from_args
from fairseq_marge.data.random_planner import random_plan

# fairseq `transformer` flags matching each marge architecture (same dims, layer count, norms)
TRANSFORMER_FLAGS = {
    "marge_tiny": "--encoder-embed-dim 64 --encoder-ffn-embed-dim 128 --encoder-layers 3 "
    "--encoder-attention-heads 4 --decoder-embed-dim 64 --decoder-ffn-embed-dim 128 "
    "--decoder-layers 3 --decoder-attention-heads 4",
    "marge_small": "--encoder-embed-dim 256 --encoder-ffn-embed-dim 1024 --encoder-layers 6 "
    "--encoder-attention-heads 4 --decoder-embed-dim 256 --decoder-ffn-embed-dim 1024 "
    "--decoder-layers 6 --decoder-attention-heads 4",
}
COMMON = ("--share-all-embeddings --encoder-normalize-before --decoder-normalize-before "
          "--encoder-learned-pos --decoder-learned-pos --layernorm-embedding --activation-fn gelu "
          "--dropout 0.1 --max-source-positions 520 --max-target-positions 520")


def autoencoder_batch(marge_batch, dictionary):
    """The same documents as (source, target) pairs for a standard seq2seq model."""
    docs = marge_batch["target"]
    pad, eos = dictionary.pad(), dictionary.eos()
    rows = [d[d.ne(pad)] for d in docs]
    return {
        "net_input": {
            "src_tokens": data_utils.collate_tokens(rows, pad),
            "src_lengths": torch.tensor([len(r) for r in rows]),
            "prev_output_tokens": data_utils.collate_tokens(rows, pad, eos, move_eos_to_beginning=True),
        },
        "target": docs,
    }


def train_step(model, optimizer, batch, pad):
    start = time.perf_counter()
    logits, _ = model(**batch["net_input"])
    loss = torch.nn.functional.cross_entropy(
        logits.view(-1, logits.size(-1)), batch["target"].view(-1), ignore_index=pad
    )
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="a marge data directory")
    parser.add_argument("--arch", default="marge_tiny", choices=sorted(TRANSFORMER_FLAGS))
    parser.add_argument("--max-tokens", type=int, default=4096, help="tokens per cluster")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    torch.manual_seed(0)
    _, task, marge = build_from_args(
        [args.data, "--task", "marge", "--arch", args.arch, "--criterion", "marge",
         "--max-tokens", args.max_tokens, "--cpu"]
    )
    _, _, transformer = build_from_args(
        [args.data, "--task", "marge", "--arch", "transformer", "--max-tokens", args.max_tokens,
         "--cpu", *TRANSFORMER_FLAGS[args.arch].split(), *COMMON.split()]
    )
    task.load_dataset("train")
    dataset = task.dataset("train")
    # reconstruct every document of a cluster from the others: equal tokens for both models
    clusters = random_plan(dataset, args.max_tokens // 2, seed=0).clusters
    clusters = clusters[: args.steps + args.warmup]
    pad = task.dictionary.pad()
    optimizers = {m: torch.optim.Adam(m.parameters(), lr=1e-4) for m in (marge, transformer)}
    times = {"marge": [], "transformer": []}
    tokens = []
    for i, cluster in enumerate(clusters):
        marge_batch = dataset.cluster_batch(cluster.evidence, cluster.evidence)
        pair_batch = autoencoder_batch(marge_batch, task.dictionary)
        step = {
            "marge": train_step(marge.train(), optimizers[marge], marge_batch, pad),
            "transformer": train_step(transformer.train(), optimizers[transformer], pair_batch, pad),
        }
        if i >= args.warmup:
            for name, seconds in step.items():
                times[name].append(seconds)
            tokens.append(marge_batch["ntokens"])
    median = {name: statistics.median(t) for name, t in times.items()}
    tok_per_s = {name: sum(tokens) / sum(t) for name, t in times.items()}
    print(json.dumps({
        "arch": args.arch,
        "steps": len(tokens),
        "target_tokens_per_step": statistics.mean(tokens),
        "evidence_tokens_per_step": statistics.mean(tokens),
        "marge_step_s": round(median["marge"], 4),
        "transformer_step_s": round(median["transformer"], 4),
        "marge_target_tok_per_s": round(tok_per_s["marge"], 1),
        "transformer_target_tok_per_s": round(tok_per_s["transformer"], 1),
        "ratio_marge_vs_transformer_tok_per_s": round(tok_per_s["marge"] / tok_per_s["transformer"], 3),
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
