"""Cut ``examples/sample_corpus/`` from the Debian-docs corpus, deterministically.

The corpus is built by the kit described in its README (``build.py``: ``corpus/docs.jsonl``
and ``dev/``). This script keeps complete groups (every language version of a chunk) in
seven languages, picked in a fixed hash order per source until each source's byte budget is
spent, and the first lines of the en-de and en-fr dev sets (already shuffled with a fixed
seed by the corpus builder).

    python examples/sample_corpus/make_sample.py --corpus /work/data/data/debian-docs
"""

import argparse
import hashlib
import json
import shutil
from collections import defaultdict
from itertools import islice
from pathlib import Path

# Sample languages; UDHR tags (``de-1996|deu_1996``) count by their language. Portuguese is
# pt-BR only, so the sample has seven languages.
LANGS = ("en", "de", "fr", "es", "it", "nl", "pt-BR")
REQUIRED = ("en", "de", "fr")  # every sampled group has the dev languages
# Per source: (text bytes to spend, longest document); short documents fit more in the budget.
BUDGETS = {
    "libreoffice-help": (1_400_000, 1500),
    "manpages": (500_000, 1500),
    "debian-handbook": (300_000, 1500),
    "udhr": (150_000, 10_000),
}
DEV_SENTENCES = 200
DEV_DOCUMENTS = 5


def sample_language(tag: str):
    """The sample language of a corpus tag, or None."""
    bcp47 = tag.split("|")[0]
    if bcp47 in LANGS:
        return bcp47
    base = bcp47.split("-")[0]
    return base if base in LANGS and base != "pt" else None


def pick_groups(corpus: Path) -> set:
    sizes, langs, source = defaultdict(list), defaultdict(set), {}
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            lang = sample_language(record["lang"])
            if lang is not None:
                sizes[record["group"]].append(len(record["text"].encode("utf-8")))
                langs[record["group"]].add(lang)
                source[record["group"]] = record["source"]
    candidates = sorted(
        (g for g in sizes if set(REQUIRED) <= langs[g] and max(sizes[g]) <= BUDGETS[source[g]][1]),
        key=lambda g: hashlib.md5(g.encode("utf-8")).hexdigest(),
    )
    spent, picked = defaultdict(int), set()
    for group in candidates:
        if spent[source[group]] + sum(sizes[group]) <= BUDGETS[source[group]][0]:
            spent[source[group]] += sum(sizes[group])
            picked.add(group)
    return picked


def write_documents(corpus: Path, groups: set, out: Path) -> int:
    count = 0
    with open(corpus, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as w:
        for line in f:
            record = json.loads(line)
            if record["group"] in groups and sample_language(record["lang"]) is not None:
                kept = {"doc_id": record["id"], **{k: record[k] for k in ("group", "lang", "source", "text")}}
                w.write(json.dumps(kept, ensure_ascii=False) + "\n")
                count += 1
    return count


def write_dev(dev: Path, out: Path):
    out.mkdir(parents=True, exist_ok=True)
    for pair in ("en-de", "en-fr"):
        for name, n in ((f"{pair}.sent.tsv", DEV_SENTENCES), (f"{pair}.doc.jsonl", DEV_DOCUMENTS)):
            with open(dev / name, encoding="utf-8") as f, open(out / name, "w", encoding="utf-8") as w:
                w.writelines(islice(f, n))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, required=True, help="holds corpus/docs.jsonl and dev/")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    corpus = args.corpus / "corpus" / "docs.jsonl"
    groups = pick_groups(corpus)
    count = write_documents(corpus, groups, args.out / "docs.jsonl")
    write_dev(args.corpus / "dev", args.out / "dev")
    print(f"{count} documents in {len(groups)} groups written to {args.out}")


if __name__ == "__main__":
    main()
