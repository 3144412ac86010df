"""Peak memory and time of one validation step against one training step, by ``--max-tokens``.

Validation's criterion also logs ``attn_best``, the last cross-attention's mass on each target's
best-scored document.  Before (commit ``BEFORE``) the attention module built the (targets, heads,
target tokens, evidence keys) fp32 logits and probabilities for it; now the mass per document
rides in the fused kernel's value columns (``fairseq_marge/modules/folded_bias.py``).  "before"
runs the package as it was at ``BEFORE``, extracted from git into a temporary directory.

A cluster at ``--max-tokens`` S is S / (2 (L + 1)) synthetic documents of L tokens (EOS
included; random words), each both evidence and target, as the random planner builds them.
Each case runs in a fresh process: its ``step RSS`` is its peak resident memory (``ru_maxrss``;
torch's allocations are invisible to tracemalloc) minus its resident memory just before the
step, model and cluster already built.  The training step is forward + backward (no optimizer);
the validation step is ``fairseq``'s: eval mode, no gradients, the criterion with ``attn_best``.

    python benchmarks/validation_memory.py --arch marge_small [--sizes 4096,8192,16384] [--steps train,valid]

prints one JSON line per case.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from cluster_memory import rss_bytes, run_watched

REPO = Path(__file__).resolve().parents[1]
BEFORE = "9e56068"  # the last commit whose validation built the full attention matrix
LANGS = ["en", "de"]
VOCAB = 1000


def write_data(data_dir: Path, documents: int, doc_tokens: int):
    """``documents`` of ``doc_tokens - 1`` random words and EOS, alternately en and de, one shard."""
    from fairseq.data import Dictionary, indexed_dataset
    from fairseq_marge.data.document_metadata import save_metadata

    dictionary = Dictionary()
    for w in range(VOCAB):
        dictionary.add_symbol(f"w{w}")
    dictionary.save(str(data_dir / "dict.txt"))
    (data_dir / "langs.txt").write_text("\n".join(LANGS) + "\n")
    rng = np.random.default_rng(0)
    builder = indexed_dataset.make_builder(str(data_dir / "train.bin"), impl="mmap", vocab_size=len(dictionary))
    for _ in range(documents):
        words = rng.integers(dictionary.nspecial, dictionary.nspecial + VOCAB, doc_tokens - 1)
        builder.add_item(torch.tensor([*words, dictionary.eos()], dtype=torch.int32))
    builder.finalize(str(data_dir / "train.idx"))
    save_metadata(str(data_dir / "train"), np.arange(documents) % len(LANGS), np.zeros(documents, int),
                  np.arange(documents), np.ones(documents, bool))


def one_step(data: str, arch: str, max_tokens: int, step: str, doc_tokens: int) -> dict:
    from fairseq_marge.build import build_from_args

    torch.manual_seed(0)
    cfg, task, model = build_from_args([data, "--task", "marge", "--arch", arch, "--criterion", "marge",
                                        "--max-tokens", max_tokens, "--cpu"])
    criterion = task.build_criterion(cfg.criterion)
    task.load_dataset("train")
    docs = max_tokens // (2 * (doc_tokens + 1))
    sample = task.dataset("train").cluster_batch(list(range(docs)), list(range(docs)))
    before = rss_bytes(os.getpid())
    start = time.perf_counter()
    if step == "train":
        model.train()
        loss, _, logging_output = criterion(model, sample)
        loss.backward()
    else:
        model.eval()
        with torch.no_grad():
            _, _, logging_output = criterion(model, sample)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result = {"documents": docs, "step_s": round(seconds, 2), "peak_rss_mib": peak // 2**20,
              "step_rss_mib": (peak - before) // 2**20}
    if "attn_best_n" in logging_output:
        result["attn_best"] = round(logging_output["attn_best_sum"] / logging_output["attn_best_n"], 6)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="marge_small")
    parser.add_argument("--sizes", default="4096,8192,16384", help="--max-tokens of the cluster")
    parser.add_argument("--doc-tokens", type=int, default=512)
    parser.add_argument("--steps", default="train,valid", help="'valid' runs both before and now")
    parser.add_argument("--limit-gib", type=float, default=16.0)
    parser.add_argument("--limit-s", type=float, default=900.0)
    parser.add_argument("--case", nargs=5, metavar=("DATA", "ARCH", "SIZE", "STEP", "CODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        data, arch, size, step, code = args.case
        sys.path.insert(0, code)  # the package of this case: now's, or before's
        print(json.dumps(one_step(data, arch, int(size), step, args.doc_tokens)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        data, before = Path(tmp) / "data", Path(tmp) / "before"
        data.mkdir()
        before.mkdir()
        write_data(data, max(map(int, args.sizes.split(","))) // (2 * (args.doc_tokens + 1)), args.doc_tokens)
        archive = subprocess.run(["git", "archive", BEFORE, "fairseq_marge"], cwd=REPO, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        cases = [(step, code) for step in args.steps.split(",")
                 for code in ((REPO,) if step == "train" else (REPO, before))]
        for size in map(int, args.sizes.split(",")):
            for step, code in cases:
                case = {"arch": args.arch, "max_tokens": size, "step": step, "doc_tokens": args.doc_tokens,
                        "code": "now" if code == REPO else f"before ({BEFORE})", "threads": torch.get_num_threads()}
                command = [sys.executable, __file__, "--doc-tokens", str(args.doc_tokens),
                           "--case", str(data), args.arch, str(size), step, str(code)]
                print(json.dumps({**case, **run_watched(command, args.limit_gib, args.limit_s)}), flush=True)


if __name__ == "__main__":
    main()
