"""A corpus of long documents for timing at the paper's document size: each language's documents
of a JSONL corpus joined in file order, ``--join`` at a time, so that ``python -m preprocess``
cuts them into chunks of (nearly) 512 tokens, as it cuts real long documents.

    python benchmarks/long_documents.py examples/sample_corpus/docs.jsonl outputs/long/docs.jsonl
    python -m preprocess all --input outputs/long/docs.jsonl --out outputs/long/data-bin \\
        --vocab-size 4000 --num-shards 4 --valid-fraction 0.02

The sample corpus's own chunks average 200 tokens: a step on them times shorter attention and
more padding than a pre-training step on 512-token chunks.
"""

import argparse
import json
from collections import defaultdict
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="a JSONL corpus (text and lang per line)")
    parser.add_argument("output", help="the JSONL of joined documents to write")
    parser.add_argument("--join", type=int, default=12, help="documents per joined document")
    args = parser.parse_args()
    by_lang = defaultdict(list)
    with open(args.input, encoding="utf-8") as lines:
        for line in lines:
            doc = json.loads(line)
            by_lang[doc["lang"]].append(doc["text"])
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as out:
        for lang, texts in by_lang.items():
            for start in range(0, len(texts), args.join):
                doc = {"doc_id": f"{lang}-{start}", "lang": lang, "text": "\n".join(texts[start:start + args.join])}
                out.write(json.dumps(doc, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
