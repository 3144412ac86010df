"""Cross-lingual retrieval with a MARGE checkpoint, no fine-tuning (paper section 6.1).

Embeddings are the mean of encoder layer --embed-layer's states (paper: 5).  On each dev pair:
- Tatoeba-style P@1, en->xx and xx->en, over the paragraphs of ``en-xx.sent.tsv`` and over the
  documents of ``en-xx.doc.jsonl`` (documents in 512-token chunks, embeddings averaged);
- BUCC-style mining over the paragraphs with ratio-margin scores (k=4): the pairs are split in
  a "sample" and a "test" half, a third of each side is dropped at random (so a sentence may
  have no translation to find, as in BUCC), the threshold is tuned for F1 on the sample and
  applied to the test half.
Prints one JSON object with the corpus's lexical baselines (dev/baselines.json) next to each.

    python examples/retrieval_eval/evaluate.py --path CKPT --data DATA_DIR --dev DEV_DIR
"""

import argparse
import json

import numpy as np

from fairseq_marge.evaluation import bucc
from fairseq_marge.evaluation.dev_sets import read_baselines, read_documents, read_sentences
from fairseq_marge.evaluation.embeddings import resolve_embed_layer
from fairseq_marge.evaluation.long_texts import embed_texts
from fairseq_marge.evaluation.tatoeba import retrieval_accuracy
from fairseq_marge.hub_interface import load_checkpoint


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", required=True, help="checkpoint file")
    parser.add_argument("--data", required=True, help="data directory (dict.txt, sentencepiece.model)")
    parser.add_argument("--dev", required=True, help="dev directory (en-xx.sent.tsv, en-xx.doc.jsonl)")
    parser.add_argument("--langs", nargs="+", default=["de", "fr"], help="the xx of each en-xx pair")
    parser.add_argument("--embed-layer", type=int, help="encoder layer (default: 5, or the last of a shallower encoder)")
    parser.add_argument("--max-tokens", type=int, default=8000, help="tokens per encoding batch")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cpu", action="store_true")
    args = parser.parse_args()

    hub = load_checkpoint(args.path, args.data, cpu=args.cpu, max_tokens=args.max_tokens)
    baselines = read_baselines(args.dev)
    summary = {"checkpoint": args.path, "embed_layer": resolve_embed_layer(hub.model.encoder, args.embed_layer)}
    for lang in args.langs:
        pair, base = f"en-{lang}", baselines.get(f"en-{lang}", {})
        row = summary[pair] = {}
        for kind, reader in (("sent", read_sentences), ("doc", read_documents)):
            en, xx = reader(args.dev, lang)
            en_emb = embed_texts(hub, en, args.embed_layer).numpy()
            xx_emb = embed_texts(hub, xx, args.embed_layer).numpy()
            en2xx, xx2en = retrieval_accuracy(en_emb, xx_emb)
            row[kind] = {
                "n": len(en),
                "p1_en2xx": round(en2xx, 3),
                "p1_xx2en": round(xx2en, 3),
                "baseline_char3gram_p1_en2xx": base.get(f"{kind}_retrieval_char3gram_p1_en2xx"),
                "baseline_char3gram_p1_xx2en": base.get(f"{kind}_retrieval_char3gram_p1_xx2en"),
                "baseline_random_p1": base.get(f"random_p1_{kind}", round(1 / len(en), 4)),
            }
            if kind == "sent":
                row[kind].update(bucc_f1(en_emb, xx_emb, args.seed))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
