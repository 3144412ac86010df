"""Re-indexing at the paper's scale: a cost model built on this repository's measurements.

MARGE re-indexes every 10k updates: encode the sampled shards with g, search each shard, keep
the top pairs, grow clusters.  This projects one re-index of the paper's run (1,000 shards of
50k-250k chunks of 512 tokens, marge_large, 64 then 2,048 workers) and of this machine's study,
from:

- **measured** per-document costs of the CPU stages, from ``benchmarks/reindex.py``'s JSON lines
  (``--reindex``; the real-length run): threshold and batch run in Python on a rank's CPU
  whatever its accelerator, so their seconds per document carry over; search's measured rate
  (FLOP/s of faiss's exact search on this CPU) is printed as a check on the GPU anchor;
- **anchors** for the GPU stages, each with its source (``GPUS``): a datasheet peak times a
  utilisation.  Encoding is 2 x (g's parameters) FLOP per token plus attention; training is
  6 x parameters FLOP per token (encoder on evidence, decoder and output layer on targets);
- **the paper's** batch shape (``../shared/METHOD.md``): sub-batches of about 2 evidence and 2
  targets per worker per update.

Two layouts: steps 2-4 (search, threshold, batch) on rank 0 alone for every sampled shard, the
way the plugin re-indexed before; and each shard's steps on the rank that owns it, shards
spread over ranks largest first.  Encoding is split evenly over ranks in both.

    python benchmarks/reindex.py --data DATA --sizes 200000 --doc-tokens 512 --threads 1 > reindex.jsonl
    python benchmarks/reindex_amortised.py --data DATA ... > amortised.json
    python benchmarks/scale_projection.py --reindex reindex.jsonl --amortised amortised.json
"""

import argparse
import heapq
import json
import math
from argparse import Namespace

import torch
from fairseq.models import ARCH_CONFIG_REGISTRY

import fairseq_marge  # noqa: F401  (registers the architectures)
from fairseq_marge.models.marge import MargeConfig, MargeModel
from param_count import _VocabOnlyTask

# Datasheet dense peaks in FLOP/s: half precision with tensor cores (training, encoding) and
# fp32 (faiss's exact search).  The paper does not name its GPUs; V100 was the common one then.
GPUS = {
    "v100": {"half": 125e12, "fp32": 15.7e12, "memory_gib": 32,
             "source": "NVIDIA Tesla V100 SXM2 datasheet (2017): 125 TFLOPS tensor, 15.7 TFLOPS fp32"},
    "a100": {"half": 312e12, "fp32": 19.5e12, "memory_gib": 80,
             "source": "NVIDIA A100 datasheet (2020): 312 TFLOPS bf16 tensor, 19.5 TFLOPS fp32"},
}
# Assumed utilisation of those peaks.  The same for training and encoding (both are transformer
# layers on 512-token sequences), so the re-index share depends on it only through the stages
# that do not run on the GPU.  faiss's flat search is one large matrix product per query block.
MODEL_UTILISATION = 0.35
SEARCH_UTILISATION = 0.7

PAPER = {"shards": 1000, "shard_sizes": (50_000, 250_000), "doc_tokens": 512, "interval": 10_000,
         "targets_per_worker": 2, "evidence_per_worker": 2, "links_per_target": 8}


def model_costs(arch: str, vocab: int) -> dict:
    """FLOP per encoded document (g only) and per worker update, from the built model's shapes."""
    args = Namespace()
    ARCH_CONFIG_REGISTRY[arch](args)
    cfg = MargeConfig(**{k: v for k, v in vars(args).items() if k in MargeConfig.__dataclass_fields__})
    with torch.device("meta"):
        model = MargeModel.build_model(cfg, _VocabOnlyTask(vocab))
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    layers = model.encoder.layers
    g_params = sum(count(layer) for layer in layers[: cfg.relevance_layers])
    encoder = sum(count(layer) for layer in layers)
    embedding = model.encoder.embed_tokens.weight.numel()
    decoder = count(model.decoder) - embedding  # the output layer is the tied embedding
    tokens, d = PAPER["doc_tokens"], cfg.encoder_embed_dim
    attention = lambda n_layers: 4 * n_layers * tokens * tokens * d  # noqa: E731  (QK and AV)
    update = (6 * encoder * tokens + 3 * attention(len(layers))) * PAPER["evidence_per_worker"] \
        + (6 * (decoder + embedding) * tokens) * PAPER["targets_per_worker"]
    return {"dim": d, "encode_flop_per_doc": 2 * g_params * tokens + attention(cfg.relevance_layers),
            "update_flop_per_worker": update, "params": count(model)}


def arch_dim(arch: str) -> int:
    args = Namespace()
    ARCH_CONFIG_REGISTRY[arch](args)
    return args.encoder_embed_dim


def measured_cpu_costs(reindex_lines) -> dict:
    """Seconds per document of threshold and batch, and search's FLOP/s, from the largest run."""
    run = max(reindex_lines, key=lambda r: r["documents"])
    n, shard = run["documents"], run["documents"] / run["shards"]
    seconds = run["seconds"]
    dim = arch_dim(run["arch"])
    return {"documents": n, "threshold_s_per_doc": seconds["threshold"] / n,
            "batch_s_per_doc": seconds["batch"] / n,
            "search_flops_cpu": 2 * shard * dim * n / max(seconds["search"], 1e-9)}


def busiest_rank(shard_costs, shard_sizes, ranks):
    """Costliest shard first onto the least loaded rank: the busiest rank's (seconds, documents)."""
    load = [(0.0, 0)] * ranks  # a heap of (seconds, documents)
    for cost, size in sorted(zip(shard_costs, shard_sizes), reverse=True):
        seconds, documents = load[0]
        heapq.heapreplace(load, (seconds + cost, documents + size))
    return max(load)


def project(workers: int, gpu: dict, model: dict, cpu: dict, used_share: float, seed: int = 1) -> dict:
    targets = workers * PAPER["targets_per_worker"] * PAPER["interval"]
    documents = targets / used_share  # targets without a link sit out: encode more to feed the interval
    low, high = PAPER["shard_sizes"]
    mean_shard = (low + high) / 2
    sampled = min(PAPER["shards"], math.ceil(documents / mean_shard))
    rng = torch.Generator().manual_seed(seed)
    sizes = (low + torch.rand(sampled, generator=rng) * (high - low)).long().tolist()
    documents = sum(sizes)

    encode = documents * model["encode_flop_per_doc"] / (gpu["half"] * MODEL_UTILISATION) / workers
    search_per_doc_in_shard = lambda size: 2 * size * model["dim"] / (gpu["fp32"] * SEARCH_UTILISATION)  # noqa: E731
    per_shard = lambda size: size * (search_per_doc_in_shard(size) + cpu["threshold_s_per_doc"]  # noqa: E731
                                     + cpu["batch_s_per_doc"])
    costs = [per_shard(size) for size in sizes]
    rank0_alone = sum(costs)
    by_shard, busiest = busiest_rank(costs, sizes, workers)
    update = model["update_flop_per_worker"] / (gpu["half"] * MODEL_UTILISATION)
    training = PAPER["interval"] * update
    embedding_gib = lambda docs: docs * model["dim"] * 4 / 2**30  # noqa: E731  (fp32 vectors)
    return {
        "workers": workers, "sampled_shards": sampled, "documents": documents,
        "encode_s": encode, "steps_2_4_rank0_s": rank0_alone, "steps_2_4_by_shard_s": by_shard,
        "training_s": training,
        "share_rank0": (encode + rank0_alone) / (encode + rank0_alone + training),
        "share_by_shard": (encode + by_shard) / (encode + by_shard + training),
        "rank0_gathered_gib": embedding_gib(documents), "rank_shard_gib": embedding_gib(busiest),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reindex", required=True, help="JSON lines of benchmarks/reindex.py (real lengths)")
    parser.add_argument("--amortised", help="JSON of benchmarks/reindex_amortised.py: this machine's row")
    parser.add_argument("--arch", default="marge_large")
    parser.add_argument("--vocab", type=int, default=250_000)
    parser.add_argument("--gpu", choices=sorted(GPUS), default="v100")
    args = parser.parse_args()

    with open(args.reindex) as f:
        reindex_lines = [json.loads(line) for line in f if line.strip()]
    cpu = measured_cpu_costs(reindex_lines)
    used_share = sum(r["targets_used"] for r in reindex_lines) / len(reindex_lines)
    model = model_costs(args.arch, args.vocab)
    gpu = GPUS[args.gpu]
    print(f"anchors: {gpu['source']}; utilisation {MODEL_UTILISATION} (model), {SEARCH_UTILISATION} (search)")
    print(f"measured here: threshold {cpu['threshold_s_per_doc'] * 1e6:.2f} us/doc, batch "
          f"{cpu['batch_s_per_doc'] * 1e6:.1f} us/doc, CPU search {cpu['search_flops_cpu'] / 1e9:.0f} "
          f"GFLOP/s, targets used {used_share:.2f} (from {cpu['documents']:,} documents)")
    print(f"{args.arch}: {model['params'] / 1e6:.0f}M parameters, encode {model['encode_flop_per_doc'] / 1e9:.1f} "
          f"GFLOP/document, {model['update_flop_per_worker'] / 1e12:.2f} TFLOP per worker update")
    print()
    print("| run | workers | shards sampled | documents | encode | steps 2-4, rank 0 alone | steps 2-4, by shard "
          "| training per interval | re-index share, rank 0 alone | by shard | rank 0 gathers | largest per-rank vectors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for workers in (64, 2048):
        row = project(workers, gpu, model, cpu, used_share)
        print(f"| paper, {args.arch} on {args.gpu} | {workers:,} | {row['sampled_shards']} | {row['documents']:,} "
              f"| {row['encode_s']:.0f} s | {row['steps_2_4_rank0_s']:.0f} s | {row['steps_2_4_by_shard_s']:.0f} s "
              f"| {row['training_s']:.0f} s | {row['share_rank0']:.1%} | {row['share_by_shard']:.1%} "
              f"| {row['rank0_gathered_gib']:.1f} GiB | {row['rank_shard_gib']:.2f} GiB |")
    if args.amortised:
        with open(args.amortised) as f:
            here = json.load(f)
        print(f"| this machine (measured), {here['documents']:,} chunks | 1 | | {here['documents']:,} "
              f"| {here['reindex_seconds']['encode']:.0f} s | | "
              f"{sum(v for k, v in here['reindex_seconds'].items() if k != 'encode'):.1f} s "
              f"| {here['interval'] * here['update_s']:.0f} s | {here['share_of_wall_time']:.1%} | | | |")


if __name__ == "__main__":
    main()
