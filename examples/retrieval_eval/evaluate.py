"""Cross-lingual retrieval with a MARGE checkpoint, no fine-tuning (paper section 6.1).

--embed-layer picks the embedding: an encoder layer's mean state (1..L), g (the relevance
embedding, L2-normalised), or "all" to sweep g and every layer.  By default it is the layer just
above g, as in the paper (g after 4 of 12 layers, embeddings from the 5th).  On each dev pair:
- Tatoeba-style P@1, en->xx and xx->en, over the paragraphs of ``en-xx.sent.tsv`` and over the
  documents of ``en-xx.doc.jsonl`` (documents in 512-token chunks, embeddings averaged);
- BUCC-style mining over the paragraphs with ratio-margin scores (k=4): the pairs are split in
  a "sample" and a "test" half, a third of each side is dropped at random (so a sentence may
  have no translation to find, as in BUCC), the threshold is tuned for F1 on the sample and
  applied to the test half.
Prints one JSON object with the corpus's lexical baselines (dev/baselines.json) next to each.
With "all", its rows are the default layer's, "sweep" holds every embedding's scores, and a
table of them goes to stderr.

    python examples/retrieval_eval/evaluate.py --path CKPT --data DATA_DIR --dev DEV_DIR
"""

import argparse
import json
import sys
from collections import defaultdict

import numpy as np

from fairseq_marge.evaluation import bucc
from fairseq_marge.evaluation.dev_sets import DevSetError, read_baselines, read_documents, read_sentences
from fairseq_marge.evaluation.embeddings import all_embed_layers, resolve_embed_layer
from fairseq_marge.evaluation.long_texts import embed_texts_by_layer
from fairseq_marge.evaluation.tatoeba import retrieval_accuracy
from fairseq_marge.hub_interface import load_checkpoint


# a sample half and a test half, each keeping int(2/3) of its rows per side: 2 + 2 pairs at least
MIN_MINING_PAIRS = 4


def mining_split(n: int, seed: int, keep: float = 2 / 3):
    """(sample, test) halves of ``n`` aligned pairs; in each half the surviving source and
    target rows (independently, a share ``keep`` of each)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    halves = []
    for half in (order[: n // 2], order[n // 2 :]):
        src = np.sort(rng.choice(half, int(len(half) * keep), replace=False))
        tgt = np.sort(rng.choice(half, int(len(half) * keep), replace=False))
        halves.append((src, tgt))
    return halves


def bucc_f1(en_emb, xx_emb, seed: int):
    (sample_src, sample_tgt), (test_src, test_tgt) = mining_split(len(en_emb), seed)

    def candidates_and_gold(src_rows, tgt_rows):
        candidates = bucc.mine(en_emb[src_rows], xx_emb[tgt_rows])
        shared = np.intersect1d(src_rows, tgt_rows)
        gold = set(zip(np.searchsorted(src_rows, shared).tolist(), np.searchsorted(tgt_rows, shared).tolist()))
        return candidates, gold

    threshold = bucc.best_threshold(*candidates_and_gold(sample_src, sample_tgt))
    precision, recall, f1 = bucc.precision_recall_f1(*candidates_and_gold(test_src, test_tgt), threshold)
    return dict(bucc_threshold=round(threshold, 4), bucc_precision=round(precision, 3),
                bucc_recall=round(recall, 3), bucc_f1=round(f1, 3))


def scores(en_emb, xx_emb, kind: str, seed: int):
    """P@1 both ways; for paragraphs, BUCC-style mining too."""
    en2xx, xx2en = retrieval_accuracy(en_emb, xx_emb)
    result = {"p1_en2xx": round(en2xx, 3), "p1_xx2en": round(xx2en, 3)}
    if kind == "sent":
        result.update(bucc_f1(en_emb, xx_emb, seed))
    return result


def evaluate_layers(hub, args, layers):
    """{layer: {pair: {kind: scores}}} and {pair: {kind: number of pairs}}; each text is encoded
    once for all ``layers``."""
    by_layer = {layer: defaultdict(dict) for layer in layers}
    sizes = defaultdict(dict)
    for lang in args.langs:
        pair = f"en-{lang}"
        for kind, reader in (("sent", read_sentences), ("doc", read_documents)):
            if kind not in args.levels:
                continue
            en, xx = reader(args.dev, lang, args.limit)
            if kind == "sent" and len(en) < MIN_MINING_PAIRS:  # else an empty half fails deep in mining
                limited = " under --limit" if args.limit else ""
                raise DevSetError(f"{args.dev}/en-{lang}.sent.tsv: {len(en)} paragraph pair(s){limited}; "
                                  f"BUCC mining needs at least {MIN_MINING_PAIRS} (a sample half to tune its "
                                  "threshold and a test half)")
            sizes[pair][kind] = len(en)
            en_emb, xx_emb = (embed_texts_by_layer(hub, texts, layers) for texts in (en, xx))
            for layer in layers:
                by_layer[layer][pair][kind] = scores(
                    en_emb[layer].numpy(), xx_emb[layer].numpy(), kind, args.seed
                )
    return by_layer, sizes


def with_baselines(layer_scores, sizes, baselines):
    """The top-level rows: a layer's scores with the set's size and the lexical baselines."""
    rows = {}
    for pair, kinds in layer_scores.items():
        base = baselines.get(pair, {})
        rows[pair] = {kind: {
            "n": sizes[pair][kind],
            **result,
            "baseline_char3gram_p1_en2xx": base.get(f"{kind}_retrieval_char3gram_p1_en2xx"),
            "baseline_char3gram_p1_xx2en": base.get(f"{kind}_retrieval_char3gram_p1_xx2en"),
            "baseline_random_p1": base.get(f"random_p1_{kind}", round(1 / sizes[pair][kind], 4)),
        } for kind, result in kinds.items()}
    return rows


def sweep_table(sweep, default: str) -> str:
    """One line per embedding: paragraph P@1 both ways and BUCC F1 for each pair."""
    pairs = list(next(iter(sweep.values())))
    header = ["layer"]
    for pair in pairs:
        xx = pair.split("-")[1]
        header += [f"en->{xx}", f"{xx}->en", f"F1 {pair}"]
    lines = [header]
    for layer, by_pair in sweep.items():
        cells = [layer + (" *" if layer == default else "")]
        for pair in pairs:
            sent = by_pair[pair]["sent"]
            cells += [f"{sent[key]:.3f}" for key in ("p1_en2xx", "p1_xx2en", "bucc_f1")]
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    table = ["  ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in lines]
    return "\n".join(["paragraph retrieval (* = the default layer; g = the relevance embedding)", *table])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", required=True, help="checkpoint file")
    parser.add_argument("--data", required=True, help="data directory (dict.txt, sentencepiece.model)")
    parser.add_argument("--dev", required=True, help="dev directory (en-xx.sent.tsv, en-xx.doc.jsonl)")
    parser.add_argument("--langs", nargs="+", default=["de", "fr"], help="the xx of each en-xx pair")
    parser.add_argument("--embed-layer", help="an encoder layer 1..L, g (the relevance embedding) or all "
                        "(a sweep of g and every layer); default: the layer just above g")
    parser.add_argument("--max-tokens", type=int, default=8000, help="tokens per encoding batch")
    parser.add_argument("--levels", nargs="+", default=["sent", "doc"], choices=["sent", "doc"],
                        help="paragraphs (sent) and/or documents (doc)")
    parser.add_argument("--limit", type=int, help="the first N paragraphs and documents of each set "
                        "(quicker, e.g. for every checkpoint of a run; the baselines stay the full set's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--user-dir", help="the user-dir the checkpoint was trained with (as in fairseq-generate)")
    args = parser.parse_args()

    hub = load_checkpoint(args.path, args.data, cpu=args.cpu, max_tokens=args.max_tokens,
                          **({"user_dir": args.user_dir} if args.user_dir else {}))
    encoder = hub.model.encoder
    sweep = args.embed_layer == "all"
    try:
        reported = resolve_embed_layer(encoder, None if sweep else args.embed_layer)
    except ValueError as error:
        parser.error(str(error))
    try:
        by_layer, sizes = evaluate_layers(hub, args, all_embed_layers(encoder) if sweep else [reported])
    except DevSetError as error:
        sys.exit(f"error: {error}")
    summary = {"checkpoint": args.path, "embed_layer": reported,
               **with_baselines(by_layer[reported], sizes, read_baselines(args.dev))}
    if sweep:
        summary["sweep"] = {str(layer): by_pair for layer, by_pair in by_layer.items()}
        print(sweep_table(summary["sweep"], str(reported)), file=sys.stderr)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
