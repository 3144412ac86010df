"""Known-answer corpora: every document gets a *twin* in another "language", so the right
evidence for each target is known and retrieval can be scored exactly.

Documents of one language (``--lang``) are cut into pieces of ``--words`` words.  Each piece is
written twice, sharing one ``group`` (so ``--shard-by group`` puts both in one shard):

- as itself, in ``--lang``;
- as its twin, in the twin's label:
  - ``noisy`` (label ``de``): the same words with ``--drop`` of them deleted at random;
  - ``cipher`` (label ``eo``): every letter replaced by a fixed permutation of the alphabet
    (digits, punctuation and spacing kept), so the twin shares no word with its original
    and only a cross-"lingual" retriever can find it.

A retriever's in-group link share is then the share of links that reach the twin, and a
decoder that copies (noisy) or deciphers (cipher) from its evidence beats one that reads
random evidence by a margin that held-out NLL measures.

    python examples/known_answer/make_corpus.py --twin cipher \
        --input data/debian-docs/corpus/docs.jsonl --output outputs/cipher/docs.jsonl
"""

import argparse
import json
import random
import string
import sys
from pathlib import Path

from tqdm import tqdm

TWIN_LANG = {"noisy": "de", "cipher": "eo"}


def pieces(text: str, words: int):
    tokens = text.split()
    for start in range(0, len(tokens), words):
        piece = tokens[start : start + words]
        if len(piece) >= words // 2:  # a short tail would be an easy, unrepresentative twin
            yield " ".join(piece)


def noisy_twin(text: str, drop: float, rng: random.Random) -> str:
    kept = [word for word in text.split() if rng.random() >= drop]
    return " ".join(kept or text.split()[:1])


def cipher_table(seed: int) -> dict:
    letters = list(string.ascii_lowercase)
    shuffled = letters[:]
    random.Random(seed).shuffle(shuffled)
    table = dict(zip(letters, shuffled))
    table.update({a.upper(): b.upper() for a, b in table.items()})
    return str.maketrans(table)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", default="data/debian-docs/corpus/docs.jsonl",
                        help="JSONL with 'text' and 'lang' (default: the corpus ../shared/corpus builds)")
    parser.add_argument("--output", required=True, help="JSONL for `python -m preprocess all`")
    parser.add_argument("--twin", choices=sorted(TWIN_LANG), required=True)
    parser.add_argument("--lang", default="en", help="language of the originals")
    parser.add_argument("--words", type=int, default=48, help="words per piece (document)")
    parser.add_argument("--drop", type=float, default=0.2, help="noisy: share of words deleted")
    parser.add_argument("--max-pieces", type=int, default=0, help="stop after this many pieces (0: all)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    table = cipher_table(args.seed)
    twin_lang = TWIN_LANG[args.twin]
    seen, written, skipped = set(), 0, 0
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    with open(args.input, encoding="utf-8") as src, open(args.output, "w", encoding="utf-8") as out:
        for lineno, line in enumerate(tqdm(src, desc="read", unit="doc", mininterval=1.0), 1):
            record = json.loads(line)
            if record.get("lang") != args.lang:
                continue
            for piece in pieces(record["text"], args.words):
                if piece in seen:  # repeated boilerplate would give a piece several twins
                    skipped += 1
                    continue
                seen.add(piece)
                twin = noisy_twin(piece, args.drop, rng) if args.twin == "noisy" else piece.translate(table)
                group = f"{args.twin}:{written}"
                for lang, text in ((args.lang, piece), (twin_lang, twin)):
                    out.write(json.dumps({"doc_id": f"{group}:{lang}", "group": group, "lang": lang,
                                          "text": text}, ensure_ascii=False) + "\n")
                written += 1
                if written == args.max_pieces:
                    break
            if written == args.max_pieces:
                break
    if not written:
        sys.exit(f"{args.input}: no document with lang {args.lang!r} of at least {args.words // 2} words")
    print(json.dumps({"pairs": written, "duplicate_pieces_skipped": skipped, "twin": args.twin,
                      "twin_lang": twin_lang, "output": args.output}))


if __name__ == "__main__":
    main()
