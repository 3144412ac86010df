"""The corpus's parallel dev sets (``dev/`` of the Debian-docs corpus, or the sample's):
``en-xx.sent.tsv`` (file, en, xx per line), ``en-xx.doc.jsonl`` ({"id", "file", "en", "xx"},
lines separated by newlines) and the lexical baselines in ``baselines.json``."""

import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

Pairs = Tuple[List[str], List[str]]  # English texts, and the other language's, aligned


def read_sentences(dev_dir, lang: str, limit: Optional[int] = None) -> Pairs:
    en, xx = [], []
    with open(Path(dev_dir) / f"en-{lang}.sent.tsv", encoding="utf-8") as f:
        for line in f:
            _, en_text, xx_text = line.rstrip("\n").split("\t")
            en.append(en_text)
            xx.append(xx_text)
    return en[:limit], xx[:limit]


def read_documents(dev_dir, lang: str, limit: Optional[int] = None) -> Pairs:
    with open(Path(dev_dir) / f"en-{lang}.doc.jsonl", encoding="utf-8") as f:
        records = [json.loads(line) for line in f][:limit]
    return [r["en"] for r in records], [r[lang] for r in records]


def read_baselines(dev_dir) -> Dict[str, Dict[str, float]]:
    """``{"en-de": {...}, ...}``, or ``{}`` when the corpus has none."""
    path = Path(dev_dir) / "baselines.json"
    return json.loads(path.read_text()) if path.exists() else {}
