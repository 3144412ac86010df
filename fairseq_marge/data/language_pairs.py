"""Parallel splits for generation and fine-tuning: fairseq's ``{split}.{src}-{tgt}.{lang}.bin/.idx``
files in the data directory (``python -m preprocess parallel`` writes them).

A requested pair that is not there is an error listing the pairs and languages that are:
generating from the monolingual documents instead would score a "translation" of each document
against itself.
"""

import re
from pathlib import Path
from typing import List

from fairseq.data import Dictionary

from .data_dir_checks import REBUILD_PAIR, DataDirectoryError, load_tokens

_PAIR_FILE = re.compile(r"^(?P<split>[^.]+)\.(?P<pair>[^.]+-[^.]+)\.(?P<lang>[^.]+)\.idx$")


def available_pairs(data_dir: str) -> List[str]:
    """``split.src-tgt`` of every pair whose two sides are both in ``data_dir``, sorted."""
    sides = {}
    for path in Path(data_dir).glob("*.idx"):
        match = _PAIR_FILE.match(path.name)
        if match:
            sides.setdefault((match["split"], match["pair"]), set()).add(match["lang"])
    # a language code may hold a '-' (pt-BR): a pair is there when two of its sides spell it
    return sorted(f"{split}.{pair}" for (split, pair), langs in sides.items()
                  if any(f"{a}-{b}" == pair for a in langs for b in langs))


def load_pair_side(data_dir: str, split: str, src: str, tgt: str, lang: str,
                   dictionary: Dictionary, langs: List[str]):
    """The ``lang`` side of the ``split.src-tgt`` pair, checked as documents are."""
    pair = f"{split}.{src}-{tgt}"
    prefix = str(Path(data_dir) / f"{pair}.{lang}")
    tokens = load_tokens(prefix, dictionary, REBUILD_PAIR)
    if tokens is None:
        raise FileNotFoundError(
            f"{prefix}.bin/.idx: no {pair} pair in {data_dir} (pairs there: "
            f"{', '.join(available_pairs(data_dir)) or 'none'}; languages: {', '.join(langs)}); "
            f"make it with `python -m preprocess parallel --data-bin {data_dir} --src {src} "
            f"--tgt {tgt} --split {split} --input FILE`"
        )
    return tokens


def check_aligned(data_dir: str, split: str, src_lang: str, tgt_lang: str, src, tgt):
    if len(src) != len(tgt):
        prefix = Path(data_dir) / f"{split}.{src_lang}-{tgt_lang}"
        raise DataDirectoryError(
            f"{prefix}.{src_lang}/.{tgt_lang}: {len(src)} and {len(tgt)} lines, but the two sides "
            f"of a pair align line by line; {REBUILD_PAIR}"
        )
