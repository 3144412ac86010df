"""The corpus's parallel dev sets (``dev/`` of the Debian-docs corpus, or the sample's):
``en-xx.sent.tsv`` (file, en, xx per line), ``en-xx.doc.jsonl`` ({"id", "file", "en", "xx"},
lines separated by newlines) and the lexical baselines in ``baselines.json``."""

import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

Pairs = Tuple[List[str], List[str]]  # English texts, and the other language's, aligned


class DevSetError(ValueError):
    """A malformed line of a dev set, named by file and line."""


def read_sentences(dev_dir, lang: str, limit: Optional[int] = None) -> Pairs:
    path = Path(dev_dir) / f"en-{lang}.sent.tsv"
    en, xx = [], []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3:
                raise DevSetError(f"{path}:{lineno}: {len(fields)} tab-separated fields, expected 3 (file, en, {lang})")
            en.append(_text(fields[1], path, lineno, "en"))
            xx.append(_text(fields[2], path, lineno, lang))
    return en[:limit], xx[:limit]


def read_documents(dev_dir, lang: str, limit: Optional[int] = None) -> Pairs:
    path = Path(dev_dir) / f"en-{lang}.doc.jsonl"
    en, xx = [], []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                record = json.loads(line)
                en_text, xx_text = record["en"], record[lang]
            except (ValueError, KeyError, TypeError) as error:
                raise DevSetError(f"{path}:{lineno}: not a record with 'en' and '{lang}' texts ({error})") from None
            en.append(_text(en_text, path, lineno, "en"))
            xx.append(_text(xx_text, path, lineno, lang))
    return en[:limit], xx[:limit]


def _text(text, path: Path, lineno: int, lang: str) -> str:
    """An empty text would be embedded as nothing and still take part in retrieval."""
    if not isinstance(text, str) or not text.strip():
        raise DevSetError(f"{path}:{lineno}: empty {lang} text")
    return text


def read_baselines(dev_dir) -> Dict[str, Dict[str, float]]:
    """``{"en-de": {...}, ...}``, or ``{}`` when the corpus has none."""
    path = Path(dev_dir) / "baselines.json"
    return json.loads(path.read_text()) if path.exists() else {}
