"""Zero-shot translation of the dev sets with a MARGE checkpoint, scored with sacreBLEU (BLEU and chrF).

Each paragraph (``en-xx.sent.tsv``) or document (``en-xx.doc.jsonl``) is cut into 512-token
chunks at line boundaries, the chunks are translated with the target language's token forced as
the first decoder input (beam 6, no repeated 8-grams: the paper's settings), and the
sentencepiece-detokenised chunk outputs are joined; BLEU is computed per level over the joined
outputs against the raw references, and printed with sacreBLEU's signature.  Both directions of
each pair are translated; the copy-the-source baseline is scored the same way.

    python examples/translate/translate_dev.py --path CKPT --data DATA_DIR --dev DEV_DIR
"""

import argparse
import json
import os
import time

from sacrebleu.metrics import BLEU, CHRF

from fairseq_marge.evaluation.chunking import PAPER_CHUNK_TOKENS
from fairseq_marge.evaluation.dev_sets import read_baselines, read_documents, read_sentences
from fairseq_marge.evaluation.long_texts import translate_texts
from fairseq_marge.hub_interface import load_checkpoint


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", required=True, help="checkpoint file")
    parser.add_argument("--data", required=True, help="data directory (dict.txt, sentencepiece.model)")
    parser.add_argument("--dev", required=True, help="dev directory (en-xx.sent.tsv, en-xx.doc.jsonl)")
    parser.add_argument("--langs", nargs="+", default=["de", "fr"], help="the xx of each en-xx pair")
    parser.add_argument("--levels", nargs="+", default=["sent", "doc"], choices=["sent", "doc"])
    parser.add_argument("--limit", type=int, help="first N paragraphs / documents of each set")
    parser.add_argument("--chunk-tokens", type=int, default=PAPER_CHUNK_TOKENS)
    parser.add_argument("--beam", type=int, default=6)
    parser.add_argument("--no-repeat-ngram-size", type=int, default=8)
    parser.add_argument("--max-len-a", type=float, default=1.2, help="output <= a * source + b tokens")
    parser.add_argument("--max-len-b", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=4000, help="source tokens per batch")
    parser.add_argument("--outputs", help="write the translations here, one file per set")
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--user-dir", help="the user-dir the checkpoint was trained with (as in fairseq-generate)")
    args = parser.parse_args()

    hub = load_checkpoint(args.path, args.data, cpu=args.cpu, max_tokens=args.max_tokens,
                          **({"user_dir": args.user_dir} if args.user_dir else {}))
    generation = dict(beam=args.beam, no_repeat_ngram_size=args.no_repeat_ngram_size,
                      max_len_a=args.max_len_a, max_len_b=args.max_len_b)
    baselines = read_baselines(args.dev)
    summary = {"checkpoint": args.path, "generation": generation, "limit": args.limit}
    for lang in args.langs:
        base = baselines.get(f"en-{lang}", {})
        for level in args.levels:
            en, xx = (read_sentences if level == "sent" else read_documents)(args.dev, lang, args.limit)
            for src_lang, tgt_lang, sources, references in (("en", lang, en, xx), (lang, "en", xx, en)):
                start = time.perf_counter()
                hypotheses = translate_texts(hub, sources, tgt_lang, args.chunk_tokens, **generation)
                seconds = time.perf_counter() - start
                bleu, chrf = BLEU(), CHRF()
                summary[f"{src_lang}-{tgt_lang}.{level}"] = {
                    "n": len(sources),
                    "bleu": round(bleu.corpus_score(hypotheses, [references]).score, 2),
                    "chrf": round(chrf.corpus_score(hypotheses, [references]).score, 2),
                    "signature": str(bleu.get_signature()),
                    "chrf_signature": str(chrf.get_signature()),
                    "copy_source_bleu": round(BLEU().corpus_score(sources, [references]).score, 2),
                    "copy_source_chrf": round(CHRF().corpus_score(sources, [references]).score, 2),
                    "baseline_copy_source_bleu_full_set": base.get(f"copy_source_bleu_{level}")
                    if src_lang == "en" else None,
                    "seconds": round(seconds, 1),
                    "items_per_second": round(len(sources) / seconds, 2),
                }
                if args.outputs:
                    os.makedirs(args.outputs, exist_ok=True)
                    path = os.path.join(args.outputs, f"{src_lang}-{tgt_lang}.{level}.txt")
                    with open(path, "w", encoding="utf-8") as f:
                        f.writelines(h.replace("\n", " ") + "\n" for h in hypotheses)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
