"""One table of a Debian-docs run: the trained model next to its initialisation and baselines.

    python examples/debian_docs/summarise.py --dir OUT --dev DEV_DIR > OUT/results.md

Reads OUT/retrieval.{trained,init}.json (examples/retrieval_eval/evaluate.py),
OUT/validate.{trained,init}.{retrieved,shuffled}.log (fairseq-validate --valid-evidence ...)
and OUT/translate.trained.json (examples/translate/translate_dev.py).
"""

import argparse
import json
from pathlib import Path

from fairseq_logs import read_log


def retrieval_rows(out: Path, baselines: dict):
    trained, init = (json.loads((out / f"retrieval.{m}.json").read_text()) for m in ("trained", "init"))
    yield "| pair | level | direction | trained P@1 | init P@1 | char-3-gram P@1 | random P@1 |"
    yield "|---|---|---|---|---|---|---|"
    for pair in ("en-de", "en-fr"):
        xx = pair.split("-")[1]
        for level in ("sent", "doc"):
            for direction, label in (("en2xx", f"en->{xx}"), ("xx2en", f"{xx}->en")):
                base = baselines[pair]
                yield (f"| {pair} | {level} | {label} | {trained[pair][level][f'p1_{direction}']:.3f} "
                       f"| {init[pair][level][f'p1_{direction}']:.3f} "
                       f"| {base[f'{level}_retrieval_char3gram_p1_{direction}']:.3f} "
                       f"| {base[f'random_p1_{level}']:.4f} |")


def nll_rows(out: Path):
    yield "| model | NLL, retrieved evidence | NLL, random same-shard evidence | difference |"
    yield "|---|---|---|---|"
    for model in ("trained", "init"):
        nll = {ev: read_log(out / f"validate.{model}.{ev}.log")["valid"][-1]["nll_loss"]
               for ev in ("retrieved", "shuffled")}
        yield (f"| {model} | {nll['retrieved']:.3f} | {nll['shuffled']:.3f} "
               f"| {nll['shuffled'] - nll['retrieved']:+.3f} |")


def translation_rows(out: Path):
    results = json.loads((out / "translate.trained.json").read_text())
    yield "| direction | level | n | BLEU | chrF | copy-source BLEU | copy-source chrF |"
    yield "|---|---|---|---|---|---|---|"
    for key, r in results.items():
        if isinstance(r, dict) and "bleu" in r:
            direction, level = key.split(".")
            yield (f"| {direction} | {level} | {r['n']} | {r['bleu']:.2f} | {r['chrf']:.2f} "
                   f"| {r['copy_source_bleu']:.2f} | {r['copy_source_chrf']:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True, type=Path, help="the run's output directory")
    parser.add_argument("--dev", required=True, type=Path, help="the corpus's dev directory")
    args = parser.parse_args()
    baselines = json.loads((args.dev / "baselines.json").read_text())
    for title, rows in (
        ("Cross-language retrieval (mean-pooled encoder states, faiss kNN)", retrieval_rows(args.dir, baselines)),
        ("Reconstruction NLL of held-out targets (base 2, per token)", nll_rows(args.dir)),
        ("Zero-shot translation (beam 6, no repeated 8-grams, sacreBLEU)", translation_rows(args.dir)),
    ):
        print(f"### {title}\n")
        print("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
