"""Misuse cases at the command line, run against one checkout, and the before/after table (issue 24).

    python benchmarks/misuse_table.py --tree /work/before24 --out misuse_before.json
    python benchmarks/misuse_table.py --tree . --out misuse_after.json
    python benchmarks/misuse_table.py --compare misuse_before.json misuse_after.json > misuse_table.md

Each case is one command (fairseq-train, -generate, -interactive, a ``python -c`` hub call,
examples/retrieval_eval/evaluate.py) on tiny data built under a temporary directory with the
tree's own code (the tests' builders: tests/conftest.py, use_helpers.py, misuse_helpers.py), run
with ``PYTHONPATH=TREE``, one thread.  Recorded: exit status, the last non-empty output line,
seconds, and whether the inputs it was given (data directory, checkpoint) have the same sha1
after the run.  Training cases run 2 updates of marge_tiny.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(,\d+)? \| ")  # fairseq-train's log prefix
LONG = "' '.join(['Open the menu and choose option 7.'] * 120)"


def load_helpers(tree: Path):
    """The tree's test helpers (its conftest puts the tree first on sys.path); the misuse ones a
    tree from before the misuse suite lacks come from this checkout's tests/."""
    sys.path[:0] = [str(tree), str(tree / "tests")]
    sys.path.append(str(HERE / "tests"))
    import conftest, misuse_helpers, test_misuse_data, training_faults, use_helpers  # noqa: E401
    return conftest, misuse_helpers, test_misuse_data.DAMAGES, training_faults.tiny_train_args, use_helpers


def sha1s(*paths):
    files = [f for p in map(Path, paths) if p.exists() for f in (sorted(p.rglob("*")) if p.is_dir() else [p])]
    return {str(f): hashlib.sha1(f.read_bytes()).hexdigest() for f in files if f.is_file()}


def build(tree: Path, root: Path):
    """The fixtures every case reads, and the list of cases: (name, command, inputs, how to show it)."""
    conftest, mh, damages, train_args, uh = load_helpers(tree)
    data = conftest.make_data_dir(root / "data")
    real = uh.make_real_data_dir(root / "real")
    foreign, hub_foreign = root / "foreign", root / "hub_foreign"  # checkpoints the data cannot run
    for folder in (root / "ck", foreign, hub_foreign):
        folder.mkdir()
    uh.save_checkpoint(mh.reordered_dictionary(real, root / "real_reordered"), hub_foreign / "same_size.pt")
    ck, real_ck = uh.save_checkpoint(data, root / "ck" / "model.pt"), uh.save_checkpoint(real, real / "model.pt")
    shutil.copy(real / "dict.txt", hub_foreign)  # as tests/test_misuse_hub.py has it
    small = conftest.make_data_dir(root / "small", vocab=30)  # another dictionary size
    for folder, data_dir, other, model in ((foreign, data, small, ck), (hub_foreign, real, data, real_ck)):
        mh.transformer_checkpoint(data_dir, folder / "transformer.pt")
        uh.save_checkpoint(other, folder / "other.pt")
        mh.truncated_copy(model, folder / "half.pt")
    uh.save_checkpoint(mh.reordered_dictionary(data, root / "reordered"), foreign / "same_size.pt")
    mid = root / "mid"
    subprocess.run([BIN / "fairseq-train", *map(str, train_args(data, mid, 3))], cwd=tree, env=ENV, check=True,
                   capture_output=True)
    cases = []
    gen = ["--user-dir", "fairseq_marge", "--task", "marge", "--beam", "2", "--max-len-b", "4", "--cpu",
           "--max-tokens", "2000"]

    def train(name, *extra, data_dir=data, restore=None, updates=2):
        run = root / "runs" / name.replace(" ", "_")
        run.mkdir(parents=True)
        if restore:
            shutil.copy(restore, run / "checkpoint_last.pt")
        resuming = " (resuming checkpoint_last.pt)" if restore else ""
        cases.append((name, ["fairseq-train", *train_args(data_dir, run, updates, *extra)],
                      [data_dir, *([run] if restore else [])], f"fairseq-train {data_dir} ...{resuming} {' '.join(extra)}"))

    def generate(name, *extra, path=ck, data_dir=data):
        cases.append((name, ["fairseq-generate", data_dir, "--path", path, *gen, *extra], [data_dir, path],
                      f"fairseq-generate {data_dir} --path {path} ... {' '.join(map(str, extra))}"))

    def hub(name, expr, file="model.pt", folder=real):
        code = (f"from fairseq_marge.models.marge import MargeModel; import torch; h = MargeModel."
                f"from_pretrained({str(folder)!r}, checkpoint_file={file!r}, data_name_or_path={str(real)!r})"
                f".eval(); print(repr({expr}))")
        shown = f"python -c \"h = MargeModel.from_pretrained(...{file}...); print({expr.replace(LONG, 'LONG')})\""
        cases.append((f"hub: {name}", ["python", "-c", code], [real, folder / file], shown))

    def damaged(name, damage, *extra, tool=train):
        copy = root / "damaged" / name.replace(" ", "_")
        shutil.copytree(data, copy)
        damage(copy)
        tool(f"data: {name}", *extra, data_dir=copy)

    def evaluate(name, sent, doc='{"en": "a b", "de": "c d"}'):
        dev = root / "dev" / name.replace(" ", "_")
        dev.mkdir(parents=True)
        (dev / "en-de.sent.tsv").write_text(sent)
        (dev / "en-de.doc.jsonl").write_text(doc + "\n")
        cases.append((f"eval: {name}", ["python", "examples/retrieval_eval/evaluate.py", "--path", real / "model.pt",
                                        "--data", real, "--dev", dev, "--langs", "de", "--cpu"], [real, dev], None))

    # training options: stop at task setup, or warn and train
    for option in (["--mono-links", "-3"], ["--cross-links", "nan"], ["--cross-lingual-weight", "0"],
                   ["--reindex-shards", "-1"], ["--max-doc-tokens", "0"], ["--reindex-max-tokens", "0"],
                   ["--max-tokens", "10"], ["--reindex-interval", "0"], ["--reindex-interval", "0-10:5,20-:7"],
                   ["--planner", "oracle"], ["--planner-schedule", "0-10:lexical"], ["--target-lang", "xx"],
                   ["--source-lang", "en"], ["--max-tokens", "30"], ["--mono-links", "1e9"]):
        train(" ".join(option), *option)
    # resuming checkpoint_last.pt from 3 updates into a 5-update epoch
    last = mid / "checkpoint_last.pt"
    train("resume: --max-tokens 800 --cross-links 2", "--max-tokens", "800", "--cross-links", "2", restore=last, updates=4)
    train("resume: another corpus", data_dir=conftest.make_data_dir(root / "corpus2", num_groups=20, seed=1),
          restore=last, updates=4)
    train("resume: --reindex-interval 2", "--reindex-interval", "2", restore=last, updates=4)
    train("resume: checkpoint_last.pt truncated", restore=foreign / "half.pt", updates=4)
    # generation
    for split, src, tgt in (("valid", "en", "de"), ("test", "en", "fr"), ("test", "de", "en"), ("test", "xx", "de")):
        generate(f"generate {src}-{tgt} --gen-subset {split}", "--source-lang", src, "--target-lang", tgt,
                 "--gen-subset", split)
    # a document split read as a training epoch's plan: --reindex-interval 5 keeps it to 5 batches, not 10,000
    generate("generate en-de --gen-subset train", "--source-lang", "en", "--target-lang", "de", "--gen-subset", "train",
             "--reindex-interval", "5")
    pair = ["--source-lang", "en", "--target-lang", "de", "--gen-subset", "test"]
    generate("generate --target-lang xx", "--source-lang", "en", "--target-lang", "xx", "--gen-subset", "test")
    generate("generate --retrieve-k 0", *pair, "--retrieve-from", "train", "--retrieve-k", "0")
    for name in ("transformer", "other", "same_size", "half"):
        generate(f"generate: checkpoint {name}.pt", *pair, path=foreign / f"{name}.pt")
    (root / "blank.txt").write_text("en1 en2\n\n \t \nen3\n")
    for name, extra in (("blank lines", ["--target-lang", "de"]), ("--target-lang it", ["--target-lang", "it"])):
        cases.append((f"interactive: {name}", ["fairseq-interactive", data, "--path", ck, "--input", root / "blank.txt",
                                               *gen, *extra], [data, ck],
                       f"fairseq-interactive {data} --path {ck} --input blank.txt ... {' '.join(extra)}"))
    # the hub
    for name, expr in (("translate('')", "h.translate('', target_lang='de')"),
                       ("translate([text, whitespace])", "h.translate(['Open the menu.', ' \\n\\t'], target_lang='de')"),
                       ("embed('')", "h.embed('').shape"),
                       ("relevance('', [text])", "h.relevance('', ['Open the menu.'])"),
                       ("translate(1,500 words)", f"h.translate({LONG}, target_lang='de')"),
                       ("embed(1,500 words)", f"h.embed({LONG}).shape"),
                       ("translate(target_lang='xx')", "h.translate('Open the menu.', target_lang='xx')"),
                       ("generate([EOS ids])", "h.generate([torch.tensor([2])], beam=1, "
                                               "inference_step_args={'target_lang': 'de'})[0][0]['tokens']")):
        hub(name, expr)
    for name in ("transformer", "other", "same_size", "half"):
        hub(f"checkpoint {name}.pt", "h.translate('Open the menu.', target_lang='de')", file=f"{name}.pt",
            folder=hub_foreign)
    # retrieval evaluation: dev sets with a bad line
    good = "f\tOpen the menu.\tÖffnen Sie das Menü.\n"
    evaluate("empty de line", good * 4 + "f\tOpen it.\t\n")  # 4 good pairs: enough to mine
    evaluate("2-field line", good * 4 + "Open it.\tÖffnen.\n")
    evaluate("doc not json", good * 4, doc="{not json")
    evaluate("3-pair dev set", good * 3)
    # damaged data directories
    for name in ("train.bin truncated", "train.idx truncated", "train.idx not an index",
                 "train.meta.npy of another split", "train.meta.npy missing", "dict.txt truncated", "dict.txt missing",
                 "langs.txt short of a language"):
        damaged(name, damages[name][0])
    damaged("test pair misaligned", lambda d: [shutil.copy(d / f"valid.{s}", d / f"test.en-de.de.{s}")
                                               for s in ("bin", "idx")],  # the de side is valid's 18 documents
            *pair, tool=lambda name, *extra, data_dir: generate(name, *extra, data_dir=data_dir))
    return cases


def run_case(tree: Path, root: Path, command, inputs, shown):
    exe = [str(BIN / command[0]) if command[0] != "python" else sys.executable, *map(str, command[1:])]
    before = sha1s(*inputs)
    start = time.time()
    proc = subprocess.run(exe, cwd=tree, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          stdin=subprocess.DEVNULL)
    lines = [STAMP.sub("", line.strip()) for line in proc.stdout.splitlines() if line.strip()]
    warnings = [line for line in lines if "WARNING" in line and "fairseq_marge" in line]
    show = lambda text: text.replace(str(root), "$T").replace(str(tree) + "/", "")  # noqa: E731
    return {"command": show(shown or " ".join(map(str, command)))[:300], "status": proc.returncode,
            "last": show(lines[-1] if lines else "")[:160], "unchanged": sha1s(*inputs) == before,
            "warning": show(warnings[0])[:160] if warnings else None,
            "seconds": round(time.time() - start, 1)}


def run_tree(tree: Path, out: Path):
    with tempfile.TemporaryDirectory(prefix="misuse_") as tmp:
        root = Path(tmp)
        results = {}
        for name, *case in build(tree, root):
            results[name] = run_case(tree, root, *case)
            r = results[name]
            print(f"{r['seconds']:6.1f}s  {r['status']:3d}  {name}: {r['last'][:100]}", file=sys.stderr, flush=True)
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False))


def verdict(after):
    if after["status"] != 0:
        return "stops"
    return "warns, goes on" if after["warning"] else "goes on"


def compare(before_path, after_path):
    before, after = (json.loads(Path(p).read_text()) for p in (before_path, after_path))
    clean = lambda text: text.replace("|", "/").replace("`", "")  # noqa: E731
    cell = lambda r: (f"{r['status']}: `{clean(r['last'])}`"  # noqa: E731
                      + (f"; warned: `{clean(r['warning'])}`" if r["status"] == 0 and r["warning"] else "")
                      + ("" if r["unchanged"] or r["status"] == 0 else " **(inputs changed)**")) if r else "(no case)"
    print("| case | command | before: status, last line | after: status, last line | after |")
    print("|---|---|---|---|---|")
    for name, a in after.items():
        command = a["command"].replace("|", "/")
        print(f"| {name} | `{command[:160]}` | {cell(before.get(name))} | {cell(a)} | {verdict(a)} |")
    counts = {}
    for a in after.values():
        counts[verdict(a)] = counts.get(verdict(a), 0) + 1
    silent = sum(1 for n, b in before.items() if b["status"] == 0 and after.get(n, {}).get("status", 0) != 0)
    print(f"\n{len(after)} cases; after: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
          + f"; before, exit 0 where after stops: {silent}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, help="the checkout to run the cases against")
    parser.add_argument("--out", type=Path, default=Path("misuse.json"))
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # before torch loads, here too
    ENV = dict(os.environ)
    if args.compare:
        compare(*args.compare)
    else:
        ENV["PYTHONPATH"] = str(args.tree.resolve())
        run_tree(args.tree.resolve(), args.out)
