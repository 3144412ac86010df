"""Re-indexing speed: seconds per stage for growing corpora, one JSON line per size.

    python benchmarks/reindex.py --sizes 10000,50000,200000 [--data DIR] [--arch marge_tiny]

For each size N a fresh process (so that peak RSS is the size's own) builds a corpus of N
documents, a randomly initialised model, and runs one re-index of the retrieval planner
(encode, search, threshold, batch) and a bare forward pass of the relevance layers over the
same documents in the same batches (half of them before the re-index, half after, following a
warm-up on every tenth batch).  It prints the seconds per stage, the peak RSS and two
ratios: encode / bare forward (the re-index overhead around the model, goal <= 1.1) and
(search + threshold + batch) / encode (goal <= 0.25).

Corpus: with ``--data`` (a binarized MARGE directory), its training documents in order, repeated
when N exceeds them; otherwise synthetic "translations" (a group's words in each language's own
vocabulary).  Either way documents are cut to ``--doc-tokens`` tokens so that a CPU run takes
minutes, and re-sharded into shards of ``--shard-size`` documents: search is quadratic within a
shard, so a fixed shard size makes the whole re-index linear in N.
"""

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np
import torch
from fairseq.data import Dictionary, data_utils, indexed_dataset

from fairseq_marge.build import build_from_args
from fairseq_marge.data.document_metadata import save_metadata
from fairseq_marge.retrieval.document_encoder import collate_documents, token_batches

REPO = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,50000,200000", help="corpus sizes, comma-separated")
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)  # one size, in a child process
    parser.add_argument("--data", help="binarized MARGE data directory (default: synthetic corpus)")
    parser.add_argument("--arch", default="marge_tiny")
    parser.add_argument("--doc-tokens", type=int, default=64, help="documents are cut to this length")
    parser.add_argument("--shard-size", type=int, default=10000)
    parser.add_argument("--max-tokens", type=int, default=4096, help="cluster budget")
    parser.add_argument("--encode-max-tokens", type=int, default=16384, help="tokens per encoding batch")
    parser.add_argument("--threads", type=int, default=0, help="torch and faiss threads (0: their default)")
    parser.add_argument("--bf16", action="store_true", help="a bf16 model (as fairseq-train --bf16 has): "
                        "g encodes in bf16, the search stays fp32")
    args = parser.parse_args()
    if args.size is not None:
        print(json.dumps(benchmark(args)), flush=True)
        return
    for size in args.sizes.split(","):
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--size", size], check=True)


def benchmark(args) -> dict:
    logging.disable(logging.WARNING)  # stdout is the JSON line; keep stderr for real problems

    if args.threads:
        torch.set_num_threads(args.threads)
        faiss.omp_set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as data_dir:
        corpus = write_corpus(Path(data_dir), args)
        _, task, model = build_from_args([
            data_dir, "--user-dir", str(REPO / "fairseq_marge"), "--task", "marge",
            "--arch", args.arch, "--max-tokens", args.max_tokens,
            "--reindex-max-tokens", args.encode_max_tokens, "--cpu",
        ])
        task.load_dataset("train")
        dataset = task.datasets["train"]
        encoder = model.bfloat16().encoder if args.bf16 else model.encoder
        bare_forward_seconds(encoder, dataset, args.encode_max_tokens, slice(None, None, 10))  # warm-up
        # the bare forward runs half before and half after the re-index, so that a change in the
        # machine's load during the run biases neither side of the ratio
        bare = bare_forward_seconds(encoder, dataset, args.encode_max_tokens, slice(0, None, 2))
        start = time.perf_counter()
        result = task.planner("retrieval").reindex(dataset, encoder, generation=1, seed=1)
        total = time.perf_counter() - start
        bare += bare_forward_seconds(encoder, dataset, args.encode_max_tokens, slice(1, None, 2))

    seconds = {stage: round(result.seconds.get(stage, 0.0), 2) for stage in ("encode", "search", "threshold", "batch")}
    retrieval = seconds["search"] + seconds["threshold"] + seconds["batch"]
    return {
        "documents": args.size,
        "corpus": corpus,
        "arch": args.arch,
        "precision": "bf16" if args.bf16 else "fp32",
        "shards": int(len(np.unique(dataset.metadata["shard"]))),
        "languages": int(len(np.unique(dataset.metadata["lang"]))),
        "mean_doc_tokens": round(float(dataset.doc_sizes.mean()), 1),
        "threads": torch.get_num_threads(),
        "seconds": seconds,
        "reindex_seconds": round(total, 2),
        "bare_forward_seconds": round(bare, 2),
        "encode_over_forward": round(seconds["encode"] / bare, 3),
        "retrieval_over_encode": round(retrieval / seconds["encode"], 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "targets_linked": round(result.targets_linked / max(result.num_targets, 1), 3),
        "targets_used": round(result.targets_used / max(result.num_targets, 1), 3),
        "links_per_target": {
            "same_language": round(result.mono_links / max(result.num_targets, 1), 2),
            "cross_language": round(result.cross_links / max(result.num_targets, 1), 2),
        },
    }


@torch.no_grad()
def bare_forward_seconds(encoder, dataset, max_tokens: int, which: slice) -> float:
    """The relevance layers alone on ``which`` of the re-index's batches, collated beforehand."""
    docs = np.arange(dataset.num_documents)
    batches = token_batches(dataset, docs, max_tokens)[which]
    inputs = [collate_documents(dataset, docs[b]) for b in batches]
    encoder.eval()
    start = time.perf_counter()
    for src_tokens in inputs:
        encoder.relevance_embedding(src_tokens)
    return time.perf_counter() - start


def write_corpus(data_dir: Path, args) -> str:
    n, length = args.size, args.doc_tokens
    if args.data:
        source = data_utils.load_indexed_dataset(os.path.join(args.data, "train"), None, "mmap")
        meta = np.load(os.path.join(args.data, "train.meta.npy"))
        picks = np.arange(n) % len(source)
        dictionary = Dictionary.load(os.path.join(args.data, "dict.txt"))
        docs = (np.append(source[i].numpy()[:-1][:length], dictionary.eos()) for i in picks)
        langs = meta["lang"][picks]
        (data_dir / "langs.txt").write_text(Path(args.data, "langs.txt").read_text())
        repeats = f", each repeated {n / len(source):.2f} times" if n > len(source) else ""
        corpus = f"{args.data} ({len(source)} documents{repeats})"
    else:
        dictionary, docs, langs = synthetic_documents(n, length, seed=args.size)
        (data_dir / "langs.txt").write_text("".join(f"l{i}\n" for i in range(langs.max() + 1)))
        corpus = "synthetic translations"
    dictionary.save(str(data_dir / "dict.txt"))
    prefix = str(data_dir / "train")
    builder = indexed_dataset.make_builder(prefix + ".bin", impl="mmap", vocab_size=len(dictionary))
    for doc in docs:
        builder.add_item(torch.from_numpy(np.asarray(doc, dtype=np.int32)))
    builder.finalize(prefix + ".idx")
    shard = np.arange(n) // args.shard_size
    save_metadata(prefix, langs, shard, np.full(n, -1), np.ones(n, bool))
    return f"{corpus}, cut to {length} tokens, shards of {args.shard_size}"


def synthetic_documents(n: int, length: int, seed: int, num_langs=4, vocab=2000):
    """Groups of 'translations': one word sequence written in each language's own vocabulary."""
    rng = np.random.default_rng(seed)
    dictionary = Dictionary()
    for lang in range(num_langs):
        for word in range(vocab):
            dictionary.add_symbol(f"l{lang}w{word}")
    first_word = dictionary.nspecial
    langs = np.arange(n) % num_langs
    groups = np.arange(n) // num_langs
    lengths = rng.integers(length // 4, length + 1, size=groups.max() + 1)
    words = [rng.integers(0, vocab, size=m) for m in lengths]
    docs = (np.append(first_word + lang * vocab + words[g], dictionary.eos())
            for lang, g in zip(langs, groups))
    return dictionary, docs, langs


if __name__ == "__main__":
    main()
