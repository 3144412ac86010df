"""Training step time: ``marge`` vs fairseq's ``transformer`` (and ``marge-pytorch``) at equal
dimensions, layers and tokens.

The models train on the same documents, interleaved step by step in one process: MARGE encodes
a cluster's documents as evidence and reconstructs each of them from all the others; the
transformer encodes each document and reconstructs it from its own encoding (an autoencoder of
the same size).  Encoder and decoder tokens are therefore equal, and the remaining difference is
MARGE's own work: cross-attention over every document of the cluster, and the relevance scores.

With ``--marge-pytorch``, the only other public MARGE code (``pip install --no-deps
marge-pytorch==0.2.9 einops``: a benchmark-only install) trains on the same clusters too.  Its
batches give every target its own copy of the evidence, (targets, evidence docs, length), so
each target reads the same documents as in our cluster, but the encoder runs once per target.
Its decoder's self-attention-only base is set to our depth; its cross-attention layers keep
their second feed-forward block.

    python benchmarks/train_throughput.py --data outputs/demo/data-bin --arch marge_tiny [--marge-pytorch] [--math-path]

With ``--math-path``, a copy of the MARGE model with the cross-attention of before the bias
was folded into the dot product (``math_path.py``) trains on the same clusters too.

With ``--bf16``, every model trains as ``fairseq-train --bf16`` trains it: bf16 weights and
products, fairseq's FP16Optimizer updating an fp32 master copy.  With ``--mfu``, the run also
measures the matrix-product peak of the dtype it trains in (``gemm_peak.py``) and reports each
model's FLOP utilisation: 6 x N FLOP per target token (forward and backward; N the parameters a
token is multiplied by, the shared embedding counted once as the output projection), over that
peak.  Attention's own products are left out, so MFU is a lower bound.  Run fp32 and bf16 on a
quiet machine, one after the other.

prints one JSON line with median step times, target tokens/s and their ratios.
"""

import argparse
import copy
import functools
import json
import statistics
import time

import torch
from fairseq import models, options
from fairseq.data import data_utils
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq.optim.fp16_optimizer import FP16Optimizer

from fairseq_marge.build import build_from_args
from fairseq_marge.data.random_planner import random_plan
from gemm_peak import cpu_name, peak_flops
from math_path import use_math_path

# fairseq `transformer` flags matching each marge architecture (same dims, layer count, norms)
TRANSFORMER_FLAGS = {
    "marge_tiny": "--encoder-embed-dim 64 --encoder-ffn-embed-dim 128 --encoder-layers 3 "
    "--encoder-attention-heads 4 --decoder-embed-dim 64 --decoder-ffn-embed-dim 128 "
    "--decoder-layers 3 --decoder-attention-heads 4",
    "marge_small": "--encoder-embed-dim 256 --encoder-ffn-embed-dim 1024 --encoder-layers 6 "
    "--encoder-attention-heads 4 --decoder-embed-dim 256 --decoder-ffn-embed-dim 1024 "
    "--decoder-layers 6 --decoder-attention-heads 4",
    "marge_base": "--encoder-embed-dim 768 --encoder-ffn-embed-dim 3072 --encoder-layers 12 "
    "--encoder-attention-heads 12 --decoder-embed-dim 768 --decoder-ffn-embed-dim 3072 "
    "--decoder-layers 16 --decoder-attention-heads 12",
}
MATRIX_PRODUCTS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::_mkldnn_matmul"}
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


def timed_update(optimizer, compute_loss):
    """Seconds of one forward (``compute_loss()``), backward and optimizer step."""
    start = time.perf_counter()
    loss = compute_loss()
    optimizer.zero_grad()
    # fairseq's FP16Optimizer must run the backward itself: it marks the grads for its fp32 copy
    getattr(optimizer, "backward", torch.Tensor.backward)(loss)
    optimizer.step()
    return time.perf_counter() - start


def train_step(model, optimizer, batch, pad):
    def token_nll():
        # log-softmax through the model, as the criteria do: fairseq computes it in fp32 whatever
        # the logits' dtype (in bf16 on a CPU it is also several times slower)
        lprobs = model.get_normalized_probs(model(**batch["net_input"]), log_probs=True)
        return torch.nn.functional.nll_loss(
            lprobs.view(-1, lprobs.size(-1)), batch["target"].view(-1), ignore_index=pad
        )

    return timed_update(optimizer, token_nll)


def model_updates(models, optimizers, marge_batch, dictionary):
    """{model name: a function that trains it one step on this cluster and returns the seconds}."""
    pad = dictionary.pad()
    batches = {"marge": marge_batch, "marge_math_path": marge_batch,
               "transformer": autoencoder_batch(marge_batch, dictionary)}
    updates = {name: functools.partial(train_step, models[name].train(), optimizers[name], batches[name], pad)
               for name in models if name in batches}
    if "marge_pytorch" in models:
        model = models["marge_pytorch"].train()
        batch = marge_pytorch_batch(marge_batch, pad, models["marge"].encoder.embed_tokens.embedding_dim)
        updates["marge_pytorch"] = functools.partial(timed_update, optimizers["marge_pytorch"], lambda: model(**batch))
    return updates


def time_shares(update) -> dict:
    """Shares of one update's CPU time in matrix products, attention kernels and everything else
    (torch.profiler's self time per operator): what bf16's faster products can speed up."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        update()
    seconds = {"matrix_products": 0.0, "attention": 0.0, "other": 0.0}
    for event in profile.key_averages():
        if event.key in MATRIX_PRODUCTS:
            seconds["matrix_products"] += event.self_cpu_time_total
        elif "scaled_dot_product" in event.key or "_efficient_attention" in event.key:
            seconds["attention"] += event.self_cpu_time_total
        else:
            seconds["other"] += event.self_cpu_time_total
    total = sum(seconds.values())
    return {part: round(value / total, 3) for part, value in seconds.items()}


def transformer_like(args, task):
    """fairseq's ``transformer`` with ``args.arch``'s sizes on the marge task's dictionary, built
    by fairseq itself: the marge task builds MARGE models only."""
    parsed = options.parse_args_and_arch(options.get_training_parser(), [
        args.data, "--task", "marge", "--arch", "transformer", "--max-tokens", str(args.max_tokens),
        "--cpu", *TRANSFORMER_FLAGS[args.arch].split(), *COMMON.split()])
    return models.build_model(convert_namespace_to_omegaconf(parsed).model, task)


def build_optimizer(cfg, model, bf16: bool):
    """Adam; with ``bf16``, the model in bf16 and fairseq's FP16Optimizer over it, as fairseq-train
    --bf16 builds them (``cfg``: a config parsed with --bf16 --optimizer adam)."""
    if not bf16:
        return torch.optim.Adam(model.parameters(), lr=1e-4)
    model.to(torch.bfloat16)
    return FP16Optimizer.build_optimizer(cfg, [p for p in model.parameters() if p.requires_grad])


def matmul_params(model) -> int:
    """N of the 6 x N FLOP per token: every parameter but the position embeddings (a lookup); a
    shared token embedding counts once, as the output projection."""
    return sum(p.numel() for name, p in model.named_parameters() if "embed_positions" not in name)


def marge_pytorch_like(cfg, num_tokens: int, pad: int):
    """marge-pytorch's ``Marge`` with the dimensions and layer counts of our model config."""
    try:
        from marge_pytorch import Marge
    except ImportError as e:
        raise SystemExit("--marge-pytorch: pip install --no-deps marge-pytorch==0.2.9 einops") from e
    dim = cfg.encoder_embed_dim
    model = Marge(
        dim=dim, num_tokens=num_tokens, max_seq_len=522,
        enc_depth=cfg.encoder_layers, enc_retrieval_depth=cfg.relevance_layers,
        enc_heads=cfg.encoder_attention_heads,
        # its GEGLU feed-forward is int(mult * 2/3) * dim wide: mult 1.5 x ours gives our width
        enc_ff_mult=cfg.encoder_ffn_embed_dim / dim * 1.5,
        # upstream puts 4 self-attention-only layers under dec_depth - 4 cross-attention layers
        dec_depth=4 + cfg.decoder_layers, dec_heads=cfg.decoder_attention_heads,
        dec_ff_mult=cfg.decoder_ffn_embed_dim / dim * 1.5,
    )
    layers = model.decoder.net.layers
    # the paper's 4 self-attention-only base layers are fixed upstream: use our count
    layers.decoder_head = layers.decoder_head[: cfg.decoder_self_layers]
    model.decoder.ignore_index = model.decoder.pad_value = pad
    return model


def marge_pytorch_batch(marge_batch, pad: int, dim: int):
    """Our cluster as marge-pytorch's batch: every target reads all the cluster's documents."""
    docs = marge_batch["target"]
    targets = docs.size(0)
    evidence = docs.unsqueeze(0).expand(targets, -1, -1).contiguous()
    return {
        "evidence": evidence,
        "src_mask": evidence.ne(pad),
        "target": torch.nn.functional.pad(docs, (1, 0), value=pad + 1),  # a first input token
        "tgt_mask": torch.nn.functional.pad(docs.ne(pad), (1, 0), value=True),
        # its training loop reads the targets' embeddings from the index: no gradient
        "target_embeds": torch.nn.functional.normalize(torch.randn(targets, dim), dim=-1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="a marge data directory")
    parser.add_argument("--arch", default="marge_tiny", choices=sorted(TRANSFORMER_FLAGS))
    parser.add_argument("--max-tokens", type=int, default=4096, help="tokens per cluster")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--marge-pytorch", action="store_true", help="also time marge-pytorch 0.2.9")
    parser.add_argument("--math-path", action="store_true", help="also time the cross-attention "
                        "of before the folded bias (math SDPA kernel)")
    parser.add_argument("--bf16", action="store_true", help="train in bf16 as fairseq-train --bf16 does")
    parser.add_argument("--mfu", action="store_true", help="also measure the GEMM peak: model FLOP utilisation")
    parser.add_argument("--breakdown", action="store_true", help="also profile one more step of each model: "
                        "shares of its time in matrix products, attention and the rest")
    args = parser.parse_args()
    if args.bf16 and args.marge_pytorch:
        parser.error("--marge-pytorch trains in fp32 only")

    torch.manual_seed(0)
    precision = ["--bf16", "--optimizer", "adam", "--lr", "1e-4"] if args.bf16 else []
    marge_cfg, task, marge = build_from_args(
        [args.data, "--task", "marge", "--arch", args.arch, "--criterion", "marge",
         "--max-tokens", args.max_tokens, "--cpu", *precision]
    )
    transformer = transformer_like(args, task)
    task.load_dataset("train")
    dataset = task.dataset("train")
    # reconstruct every document of a cluster from the others: equal tokens for both models
    clusters = random_plan(dataset, args.max_tokens // 2, seed=0).clusters
    clusters = clusters[: args.steps + args.warmup]
    pad = task.dictionary.pad()
    models = {"marge": marge, "transformer": transformer}
    if args.math_path:
        models["marge_math_path"] = use_math_path(copy.deepcopy(marge))
    if args.marge_pytorch:
        models["marge_pytorch"] = marge_pytorch_like(marge_cfg.model, len(task.dictionary), pad)
    optimizers = {name: build_optimizer(marge_cfg, m, args.bf16) for name, m in models.items()}
    times = {name: [] for name in models}
    tokens = []
    for i, cluster in enumerate(clusters):
        marge_batch = dataset.cluster_batch(cluster.evidence, cluster.evidence)
        updates = model_updates(models, optimizers, marge_batch, task.dictionary)
        step = {name: update() for name, update in updates.items()}
        if i >= args.warmup:
            for name, seconds in step.items():
                times[name].append(seconds)
            tokens.append(marge_batch["ntokens"])
    median = {name: statistics.median(t) for name, t in times.items()}
    tok_per_s = {name: sum(tokens) / sum(t) for name, t in times.items()}
    result = {
        "arch": args.arch,
        "precision": "bf16" if args.bf16 else "fp32",
        "steps": len(tokens),
        "target_tokens_per_step": statistics.mean(tokens),
        "evidence_tokens_per_step": statistics.mean(tokens),
    }
    for name in models:
        result[f"{name}_step_s"] = round(median[name], 4)
        result[f"{name}_target_tok_per_s"] = round(tok_per_s[name], 1)
        result[f"{name}_params"] = sum(p.numel() for p in models[name].parameters())
    result["ratio_marge_vs_transformer_tok_per_s"] = round(tok_per_s["marge"] / tok_per_s["transformer"], 3)
    if args.math_path:
        result["ratio_marge_math_path_vs_transformer_tok_per_s"] = round(
            tok_per_s["marge_math_path"] / tok_per_s["transformer"], 3)
    if args.marge_pytorch:
        result["ratio_marge_vs_marge_pytorch_step_speed"] = round(median["marge_pytorch"] / median["marge"], 3)
    if args.mfu:
        peak = peak_flops(torch.bfloat16 if args.bf16 else torch.float32)
        result["gemm_peak_gflops"] = round(peak / 1e9, 1)
        for name in ("marge", "transformer"):
            flops = 6 * matmul_params(models[name]) * tok_per_s[name]
            result[f"{name}_gflops"] = round(flops / 1e9, 1)
            result[f"{name}_mfu"] = round(flops / peak, 3)
    if args.breakdown:
        for name, update in model_updates(models, optimizers, marge_batch, task.dictionary).items():
            result[f"{name}_time_shares"] = time_shares(update)
    result["cpu"] = cpu_name()
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
