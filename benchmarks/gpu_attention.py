"""One marge_base cross-attention (12 heads of 64) on a GPU: forward + backward time and peak
memory, folded bias (now) against the bias as an SDPA mask (before, ``math_path.py``), under
bf16 autocast, for clusters of growing size (S/2 target tokens over S/2 evidence keys, in
documents of 256 tokens).  Not yet run: this repository's machines have no GPU.

    python -m pytest -q tests/test_folded_attention.py   # the CUDA autocast cases run there
    python benchmarks/gpu_attention.py [--sizes 4096,16384,65536] [--dtype bfloat16]

prints one JSON line per case.
"""

import argparse
import json
import time

import torch

from fairseq_marge.modules.multi_document_attention import MultiDocumentAttention
from math_path import use_math_path


def measure(module, query, memory, key_bias, repeats=5):
    index = torch.zeros(query.size(1), dtype=torch.long, device=query.device)
    has_evidence = torch.ones(query.size(1), dtype=torch.bool, device=query.device)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out, _ = module(query, memory, index, key_bias, has_evidence)
        out.float().sum().backward()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times), (torch.cuda.max_memory_allocated() - base) / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="4096,16384,65536")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16"])
    parser.add_argument("--doc-tokens", type=int, default=256)
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    for size in map(int, args.sizes.split(",")):
        docs = size // (2 * args.doc_tokens)
        query = torch.randn(args.doc_tokens, docs, 768, device="cuda", requires_grad=True)
        memory = torch.randn(docs * args.doc_tokens, 1, 768, device="cuda", requires_grad=True)
        f = torch.randn(docs, docs, device="cuda", requires_grad=True)
        same_document = torch.eye(docs, dtype=torch.bool, device="cuda")
        key_bias = f.masked_fill(same_document, float("-inf")).repeat_interleave(args.doc_tokens, dim=1)
        for path in ("folded", "mask"):
            module = MultiDocumentAttention(768, 12).cuda()
            if path == "mask":
                use_math_path(module)
            try:
                with torch.autocast("cuda", dtype=dtype):
                    seconds, mib = measure(module, query, memory, key_bias)
                result = {"fwd_bwd_ms": round(1000 * seconds, 2), "peak_mib": round(mib)}
            except torch.cuda.OutOfMemoryError:
                result = {"out_of_memory": True}
            print(json.dumps({"cluster_tokens": size, "targets": docs, "attention": path,
                              "dtype": args.dtype, **result}), flush=True)
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
