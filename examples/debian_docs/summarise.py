"""The tables of a Debian-docs run: the trained model next to its initialisation and baselines.

    python examples/debian_docs/summarise.py --dir OUT --dev DEV_DIR > OUT/results.md

Reads, in OUT (run.sh writes them): retrieval.{trained,init}.json (examples/retrieval_eval,
``--embed-layer all``), retrieval_g/UPDATE.json (g at each kept checkpoint),
checkpoints/reindex/links_gen*.json (each re-index's report), validate.{trained,init}.
{retrieved,shuffled,oracle_retrieved,oracle_shuffled}.log (fairseq-validate --valid-evidence and --valid-planner), translate.block8.json,
translations.block8/ and, with UNBLOCKED=1, translate.block0.json (examples/translate/translate_dev.py
with and without n-gram blocking).
"""

import argparse
import json
from pathlib import Path

from fairseq_logs import read_log
from fairseq_marge.evaluation.dev_sets import read_sentences

PAIRS = ("en-de", "en-fr")
DIRECTIONS = [(pair, d) for pair in PAIRS for d in ("en2xx", "xx2en")]


def direction_label(pair, direction):
    xx = pair.split("-")[1]
    return f"en->{xx}" if direction == "en2xx" else f"{xx}->en"


def retrieval_rows(out: Path, baselines: dict):
    trained, init = (json.loads((out / f"retrieval.{m}.json").read_text()) for m in ("trained", "init"))
    yield (f"Default layer {trained['embed_layer']} (mean of its states, the layer just above g), "
           "faiss kNN.\n")
    yield "| pair | level | direction | trained P@1 | init P@1 | char-3-gram P@1 | random P@1 |"
    yield "|---|---|---|---|---|---|---|"
    for pair in PAIRS:
        for level in ("sent", "doc"):
            for direction in ("en2xx", "xx2en"):
                base = baselines[pair]
                yield (f"| {pair} | {level} | {direction_label(pair, direction)} "
                       f"| {trained[pair][level][f'p1_{direction}']:.3f} "
                       f"| {init[pair][level][f'p1_{direction}']:.3f} "
                       f"| {base[f'{level}_retrieval_char3gram_p1_{direction}']:.3f} "
                       f"| {base[f'random_p1_{level}']:.4f} |")


def sweep_rows(out: Path):
    """Paragraph P@1 and BUCC F1 of g and of every layer's mean, trained / init."""
    trained, init = (json.loads((out / f"retrieval.{m}.json").read_text())["sweep"] for m in ("trained", "init"))
    yield ("| embedding | " + " | ".join(direction_label(p, d) for p, d in DIRECTIONS)
           + " | BUCC F1 en-de | BUCC F1 en-fr |")
    yield "|---" * (len(DIRECTIONS) + 3) + "|"
    for name in trained:
        cells = [f"{trained[name][p]['sent'][f'p1_{d}']:.3f} / {init[name][p]['sent'][f'p1_{d}']:.3f}"
                 for p, d in DIRECTIONS]
        cells += [f"{trained[name][p]['sent']['bucc_f1']:.3f} / {init[name][p]['sent']['bucc_f1']:.3f}"
                  for p in PAIRS]
        yield f"| {'g' if name == 'g' else 'layer ' + name} | " + " | ".join(cells) + " |"


def reindex_reports(out: Path):
    reports = [json.loads(p.read_text()) for p in (out / "checkpoints" / "reindex").glob("links_gen*.json")]
    return sorted(reports, key=lambda r: r["generation"])


def reindex_rows(out: Path):
    """Per re-index: its planner, the share of its links within the target's article group, and
    the dev paragraph P@1 of the g that built it (the checkpoint of the epoch before; epoch 0 is
    the initialisation), on the first paragraphs of each set (run.sh's G_LIMIT)."""
    g_after_epoch = {int(p.stem[5:]): json.loads(p.read_text()) for p in (out / "retrieval_g").glob("epoch*.json")}
    yield ("| re-index | update | planner | cross-language links in group | targets with group evidence | g P@1 "
           + " | ".join(direction_label(p, d) for p, d in DIRECTIONS) + " |")
    yield "|---" * (5 + len(DIRECTIONS)) + "|"
    update = 0
    for report in reindex_reports(out):
        update += report["updates_since_last_index"]
        g = g_after_epoch.get(report["generation"] - 1)
        cells = [f"{g[p]['sent'][f'p1_{d}']:.3f}" if g else "" for p, d in DIRECTIONS]
        yield (f"| {report['generation']} | {update} | {report.get('planner', '')} "
               f"| {report['cross_links_in_group']:.1%} | {report['targets_with_group_evidence']:.1%} | "
               + " | ".join(cells) + " |")


def nll_rows(out: Path):
    """g's plan and the oracle's (every target reads its own article group) link different
    targets, so each is compared with its own targets under random same-shard evidence."""
    yield ("| model | NLL, g's evidence | same targets, random evidence | difference "
           "| NLL, oracle evidence | same targets, random evidence | oracle difference |")
    yield "|---|---|---|---|---|---|---|"
    for model in ("trained", "init"):
        nll = {ev: read_log(out / f"validate.{model}.{ev}.log")["valid"][-1]["nll_loss"]
               for ev in ("retrieved", "shuffled", "oracle_retrieved", "oracle_shuffled")}
        yield (f"| {model} | {nll['retrieved']:.3f} | {nll['shuffled']:.3f} "
               f"| {nll['shuffled'] - nll['retrieved']:+.3f} | {nll['oracle_retrieved']:.3f} "
               f"| {nll['oracle_shuffled']:.3f} | {nll['oracle_shuffled'] - nll['oracle_retrieved']:+.3f} |")


def translation_rows(out: Path):
    blocked = json.loads((out / "translate.block8.json").read_text())
    unblocked_path = out / "translate.block0.json"  # run.sh with UNBLOCKED=1
    unblocked = json.loads(unblocked_path.read_text()) if unblocked_path.exists() else {}
    yield ("| direction | level | n | BLEU | chrF | BLEU, no blocking | chrF, no blocking "
           "| copy-source BLEU | copy-source chrF |")
    yield "|---|---|---|---|---|---|---|---|---|"
    for key, r in blocked.items():
        if isinstance(r, dict) and "bleu" in r:
            direction, level = key.split(".")
            u = unblocked.get(key)
            no_blocking = f"{u['bleu']:.2f} | {u['chrf']:.2f}" if u else "| "
            yield (f"| {direction} | {level} | {r['n']} | {r['bleu']:.2f} | {r['chrf']:.2f} "
                   f"| {no_blocking} | {r['copy_source_bleu']:.2f} | {r['copy_source_chrf']:.2f} |")


def first_outputs(out: Path, dev: Path, count: int = 3):
    """The first paragraphs of each direction: source, reference, what the model wrote."""
    for pair in PAIRS:
        xx = pair.split("-")[1]
        en, xx_texts = read_sentences(dev, xx, limit=count)
        for src, tgt, sources, references in (("en", xx, en, xx_texts), (xx, "en", xx_texts, en)):
            hypotheses = (out / "translations.block8" / f"{src}-{tgt}.sent.txt").read_text().splitlines()
            yield f"**{src}->{tgt}**\n"
            for source, reference, hypothesis in zip(sources, references, hypotheses):
                yield f"- source: {_short(source)}"
                yield f"  - reference: {_short(reference)}"
                yield f"  - model: {_short(hypothesis)}"
            yield ""


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit] + " ..."


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True, type=Path, help="the run's output directory")
    parser.add_argument("--dev", required=True, type=Path, help="the corpus's dev directory")
    args = parser.parse_args()
    baselines = json.loads((args.dev / "baselines.json").read_text())
    for title, rows in (
        ("Retrieval per re-index (links of the plan; g's dev paragraph P@1 at that update)", reindex_rows(args.dir)),
        ("Cross-language retrieval", retrieval_rows(args.dir, baselines)),
        ("Paragraph retrieval by embedding, trained / init (P@1 per direction, BUCC F1)", sweep_rows(args.dir)),
        ("Reconstruction NLL of held-out targets (base 2, per token)", nll_rows(args.dir)),
        ("Zero-shot translation (beam 6, no repeated 8-grams unless said, sacreBLEU)", translation_rows(args.dir)),
        ("What the model writes (first paragraphs of the dev sets)", first_outputs(args.dir, args.dev)),
    ):
        print(f"### {title}\n")
        print("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
