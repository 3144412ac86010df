"""Peak memory and time of one training step (forward + backward) against the cluster size,
with the folded bias (now) and with the math-kernel cross-attention of before (``math_path.py``).

Each case runs in a fresh process, so that its peak resident memory (``ru_maxrss``: torch's
allocations are invisible to tracemalloc) is its own; the parent watches the child's resident
memory and stops it above ``--limit-gib``, so a case that would not fit is reported, not run.
A cluster of S tokens is S / (2 (L + 1)) random documents of L tokens, each both evidence and
target (as the random planner builds them): S/2 target tokens attend over S/2 evidence keys.

    python benchmarks/cluster_memory.py --data /tmp/f15/data-bin --archs marge_small,marge_base

prints one JSON line per case.
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

POLL_S = 0.05


def one_step(data: str, arch: str, size: int, path: str, doc_tokens: int) -> dict:
    from fairseq_marge.build import build_from_args
    from math_path import use_math_path

    torch.manual_seed(0)
    _, task, model = build_from_args([data, "--task", "marge", "--arch", arch, "--criterion", "marge",
                                      "--max-tokens", size, "--cpu"])
    if path == "math":
        use_math_path(model)
    docs = size // (2 * (doc_tokens + 1))
    d = task.dictionary
    words = torch.randint(d.nspecial, len(d) - len(task.langs), (docs, doc_tokens))  # no [xx]
    words[:, -1] = d.eos()
    lang = torch.full((docs, 1), d.index(f"[{task.langs[0]}]"))  # the decoder's first token
    net_input = {
        "src_tokens": torch.cat([torch.full((docs, 1), d.bos()), words], dim=1),
        "src_lengths": torch.full((docs,), doc_tokens + 1),
        "num_evidence": docs,
        "target_rows": torch.arange(docs),
        "prev_output_tokens": torch.cat([lang, words[:, :-1]], dim=1),
    }
    model.train()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    logits, _ = model(**net_input)
    loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), words.view(-1))
    loss.backward()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"documents": docs, "step_s": round(seconds, 2), "peak_rss_mib": peak // 1024,
            "step_rss_mib": (peak - before) // 1024}


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def run_watched(command, limit_gib: float, limit_s: float) -> dict:
    """The JSON line ``command`` prints last; it is stopped above ``limit_gib`` of resident memory
    or after ``limit_s``, and then, or if it fails, the result says so."""
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    start, peak = time.monotonic(), 0
    while child.poll() is None:
        try:
            peak = max(peak, rss_bytes(child.pid))
        except (FileNotFoundError, StopIteration, ProcessLookupError):
            pass
        over_memory = peak > limit_gib * 2**30
        if over_memory or time.monotonic() - start > limit_s:
            child.kill()
            child.wait()
            stopped = f"over {limit_gib} GiB" if over_memory else f"over {limit_s} s"
            return {"stopped": stopped, "seconds_when_stopped": round(time.monotonic() - start),
                    "peak_rss_mib_when_stopped": peak // 2**20}
        time.sleep(POLL_S)
    out = child.stdout.read().strip().splitlines()
    if child.returncode != 0 or not out:
        return {"failed": child.returncode, "error": child.stderr.read().strip()[-500:]}
    return json.loads(out[-1])


def run_case(args, arch: str, size: int, path: str) -> dict:
    """The case in a child process, stopped above the memory limit or the time limit."""
    case = {"arch": arch, "cluster_tokens": size, "attention": path, "doc_tokens": args.doc_tokens,
            "threads": torch.get_num_threads()}
    command = [sys.executable, __file__, "--data", args.data, "--doc-tokens", str(args.doc_tokens),
               "--case", arch, str(size), path]
    return {**case, **run_watched(command, args.limit_gib, args.limit_s)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="a marge data directory (for its dictionary)")
    parser.add_argument("--archs", default="marge_small,marge_base")
    parser.add_argument("--sizes", default="2048,4096,8192,16384", help="cluster tokens")
    parser.add_argument("--doc-tokens", type=int, default=256)
    parser.add_argument("--limit-gib", type=float, default=16.0)
    parser.add_argument("--limit-s", type=float, default=900.0)
    parser.add_argument("--case", nargs=3, metavar=("ARCH", "SIZE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        arch, size, path = args.case
        print(json.dumps(one_step(args.data, arch, int(size), path, args.doc_tokens)))
        return
    for arch in args.archs.split(","):
        for size in map(int, args.sizes.split(",")):
            for path in ("folded", "math"):  # interleaved, so load on the machine hits both alike
                print(json.dumps(run_case(args, arch, size, path)), flush=True)


if __name__ == "__main__":
    main()
