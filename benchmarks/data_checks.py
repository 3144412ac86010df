"""Load-time data checks: seconds to load and check a split of N synthetic documents.

    python benchmarks/data_checks.py --documents 200000 --doc-tokens 256

Writes a data directory in the plugin's format (a 32k dictionary, so tokens are uint16 as
`python -m preprocess` writes them; document lengths uniform in 1..2 x --doc-tokens), then
times ``MargeDocumentDataset.load`` (every check of fairseq_marge/data/data_dir_checks.py and the
metadata's), the training split's option checks, and the plan-sources hash, each the best of 3
(a cold page cache would add the time to read the files once).  Prints one JSON line.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from fairseq.data import Dictionary, indexed_dataset

from fairseq_marge.data.document_dataset import MargeDocumentDataset
from fairseq_marge.data.document_metadata import save_metadata
from fairseq_marge.data.language_tokens import add_language_tokens
from fairseq_marge.data.plan_provenance import PlanSources
from fairseq_marge.tasks.option_checks import check_budget

LANGS = ["en", "de", "fr"]


def write_split(prefix: str, num_documents: int, doc_tokens: int, vocab: int, shard_size: int):
    rng = np.random.default_rng(0)
    sizes = rng.integers(2, 2 * doc_tokens + 1, num_documents).astype(np.int32)  # EOS included
    tokens = rng.integers(4, vocab, int(sizes.sum()), dtype=np.uint16)
    tokens[np.cumsum(sizes) - 1] = 2  # each document ends in EOS
    tokens.tofile(prefix + ".bin")
    with indexed_dataset.MMapIndexedDataset.Index.writer(prefix + ".idx", np.uint16) as index:
        index.write(sizes)
    docs = np.arange(num_documents)
    save_metadata(prefix, docs % len(LANGS), docs // shard_size, docs // len(LANGS), np.ones(num_documents, bool))
    return int(sizes.sum())


def best_of(runs: int, function):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return round(min(times), 3), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=200_000)
    parser.add_argument("--doc-tokens", type=int, default=256, help="mean tokens per document")
    parser.add_argument("--shard-size", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dictionary = Dictionary()
        for i in range(32_000 - dictionary.nspecial):
            dictionary.add_symbol(f"w{i}")
        lang_tokens = add_language_tokens(dictionary, LANGS)
        prefix = str(Path(tmp) / "train")
        tokens = write_split(prefix, args.documents, args.doc_tokens, 32_000, args.shard_size)
        load_seconds, dataset = best_of(3, lambda: MargeDocumentDataset.load(
            prefix, dictionary, lang_tokens, "train", 2 * args.doc_tokens))
        budget_seconds, _ = best_of(3, lambda: check_budget(dataset, 8 * args.doc_tokens))
        hash_seconds, _ = best_of(3, lambda: PlanSources(None, dataset).data)
    print(json.dumps({"documents": args.documents, "tokens": tokens, "load_and_check_seconds": load_seconds,
                      "budget_check_seconds": budget_seconds, "plan_sources_hash_seconds": hash_seconds}))


if __name__ == "__main__":
    main()
