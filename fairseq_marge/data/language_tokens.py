"""Language-ID tokens: ``[xx]`` symbols appended to the dictionary, as in fairseq's
``multilingual_denoising`` task.  The target's token is MARGE's first decoder input."""

from pathlib import Path
from typing import List

from fairseq.data import Dictionary


def lang_token(lang: str) -> str:
    return f"[{lang}]"


def read_langs(data_dir: str) -> List[str]:
    path = Path(data_dir) / "langs.txt"
    if not path.exists():
        raise FileNotFoundError(f"{path}: missing; it lists the corpus languages, one per line")
    langs = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    for lineno, lang in enumerate(langs, 1):
        if not lang or any(c.isspace() for c in lang):
            raise ValueError(f"{path}:{lineno}: invalid language code {lang!r}")
    if len(set(langs)) != len(langs):
        raise ValueError(f"{path}: duplicate language codes")
    return langs


def add_language_tokens(dictionary: Dictionary, langs: List[str]) -> List[int]:
    """Add one token per language (idempotent); return their indices in ``langs`` order."""
    return [dictionary.add_symbol(lang_token(lang)) for lang in langs]


def lang_token_index(dictionary: Dictionary, lang: str) -> int:
    index = dictionary.index(lang_token(lang))
    if index == dictionary.unk():
        raise ValueError(f"unknown language {lang!r}: {lang_token(lang)} is not in the dictionary")
    return index
