"""This machine's matrix-product peak in bf16 and fp32, measured in the same run: the denominator
of a model's FLOP utilisation (MFU = model FLOP/s / peak), as ``train_throughput.py --mfu`` uses it.

The peak is the best of a few shapes of a transformer's products (tokens x d x 4d and the like):
on a CPU with AVX512-BF16 or AMX, bf16 products run several times faster than fp32 ones, and a
model's utilisation only means something against the peak of the dtype it computes in.

    python benchmarks/gemm_peak.py [--threads 1]

prints one JSON line: GFLOP/s per dtype and shape, and each dtype's peak.  Time it on a quiet
machine: another job on the same cores lowers the peak and raises every MFU computed from it.
"""

import argparse
import json
import time

import torch

# (rows, inner, columns): tokens x d x d-ish products of marge_tiny..marge_base, at 2k-4k tokens
SHAPES = [(2048, 128, 512), (2048, 256, 1024), (4096, 512, 2048), (4096, 768, 3072)]


def gemm_flops(dtype: torch.dtype, shape, seconds: float = 1.0) -> float:
    """FLOP/s of ``a @ b`` of ``shape`` in ``dtype``: the best of repeated timings over about
    ``seconds`` (the best, not the mean: the peak is what the hardware can do)."""
    rows, inner, columns = shape
    a, b = torch.randn(rows, inner, dtype=dtype), torch.randn(inner, columns, dtype=dtype)
    out = torch.empty(rows, columns, dtype=dtype)
    torch.matmul(a, b, out=out)  # warm-up: kernel selection, page faults
    best, deadline = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        torch.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * rows * inner * columns / best


def cpu_name() -> str:
    """The CPU's model name and its bf16 instructions (AMX tiles run bf16 products several times
    faster than AVX512-BF16): peaks, and every ratio to them, belong to one kind of CPU."""
    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return "unknown"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "unknown")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    return " ".join([name, *sorted(flags & {"amx_bf16", "avx512_bf16"})])


def peak_flops(dtype: torch.dtype, seconds: float = 1.0) -> float:
    return max(gemm_flops(dtype, shape, seconds) for shape in SHAPES)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--seconds", type=float, default=1.0, help="timing per dtype and shape")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = {"cpu": cpu_name(), "threads": torch.get_num_threads()}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        gflops = {"x".join(map(str, shape)): gemm_flops(dtype, shape, args.seconds) / 1e9 for shape in SHAPES}
        result[f"{name}_gflops"] = {shape: round(value, 1) for shape, value in gflops.items()}
        result[f"{name}_peak_gflops"] = round(max(gflops.values()), 1)
    result["bf16_over_fp32"] = round(result["bf16_peak_gflops"] / result["fp32_peak_gflops"], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
