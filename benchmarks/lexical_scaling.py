"""Lexical planner scaling: TF-IDF fit and search CPU seconds, and peak RSS, for growing corpora.

    python benchmarks/lexical_scaling.py --sizes 10000,50000,200000 [--shard-size 200] [--ways per-shard,whole]

For each size N and each way, a fresh process (so that peak RSS is its own) vectorises N
documents cut into shards of ``--shard-size`` and, shard by shard, searches every document's
same- and cross-language candidates as the lexical planner does (``shard_candidates`` with the
default 4 + 4 links per target).  Ways:

- ``per-shard`` (the planner): one TF-IDF fit per shard on the shard's own documents, freed
  with the shard;
- ``whole`` (the planner before issue 23): one fit over all N documents, rows sliced per shard,
  the matrix kept to the end.

Documents: the bundled sample corpus (``examples/sample_corpus/docs.jsonl``, 3,346 real
documents in several languages), cycled; document i of the benchmark is sample document
i mod 3,346, so a shard never holds two copies of one document.  Both ways read the texts from
that one list in memory, so the difference in RSS is the vectors'.  CPU seconds
(``time.process_time``) rather than wall seconds: the machine the table was made on was busy.
Prints one JSON line per size and way.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from fairseq_marge.retrieval.candidate_links import CANDIDATES_PER_LINK, shard_candidates
from fairseq_marge.retrieval.lexical_planner import tfidf_vectors

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample_corpus" / "docs.jsonl"
LINKS_PER_TARGET = 4  # --mono-links and --cross-links' defaults


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,50000,200000", help="corpus sizes, comma-separated")
    parser.add_argument("--shard-size", type=int, default=200)
    parser.add_argument("--ways", default="per-shard,whole", help="per-shard, whole, or both")
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)  # one size and way, in a child
    parser.add_argument("--way", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.size is not None:
        print(json.dumps(benchmark(args.size, args.shard_size, args.way)), flush=True)
        return
    for size in args.sizes.split(","):
        for way in args.ways.split(","):
            subprocess.run([sys.executable, __file__, "--size", size, "--way", way,
                            "--shard-size", str(args.shard_size)], check=True)


def benchmark(size: int, shard_size: int, way: str) -> dict:
    texts, langs = read_sample()
    baseline_rss = peak_rss_mib()
    picks = np.arange(size) % len(texts)

    def shard_texts(rows):
        return (texts[i] for i in picks[rows])

    k = CANDIDATES_PER_LINK * LINKS_PER_TARGET
    fit = search = 0.0
    start = time.process_time()
    if way == "whole":
        vectors = tfidf_vectors(shard_texts(np.arange(size)))
        fit = time.process_time() - start
    for first in range(0, size, shard_size):
        rows = np.arange(first, min(first + shard_size, size))
        start = time.process_time()
        shard_vectors = vectors[rows] if way == "whole" else tfidf_vectors(shard_texts(rows))
        fit += time.process_time() - start
        start = time.process_time()
        shard_candidates(rows, shard_vectors, langs[picks[rows]], np.ones(len(rows), bool),
                         min(k, len(rows)), min(k, len(rows)))
        search += time.process_time() - start
    return {
        "documents": size,
        "way": way,
        "shard_size": shard_size,
        "fit_cpu_seconds": round(fit, 2),
        "search_cpu_seconds": round(search, 2),
        "peak_rss_mib": peak_rss_mib(),
        "rss_before_mib": baseline_rss,
    }


def read_sample():
    records = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    _, langs = np.unique([r["lang"] for r in records], return_inverse=True)
    return [r["text"] for r in records], langs


def peak_rss_mib() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


if __name__ == "__main__":
    main()
