"""A shared multilingual sentencepiece vocabulary, trained on a temperature-sampled corpus.

As in XLM and mBART, the sentences (lines) sampled from language ``l`` get probability
``p_l ∝ (n_l / N) ** (1 / T)``: ``T = 1`` follows the data, larger ``T`` flattens it, so
small languages get pieces of their own instead of being spelt out in characters.
The sample is at most ``sample_size`` lines (the corpus size, if smaller); small languages
are upsampled by drawing with replacement.
"""

import logging
import re
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
import sentencepiece as spm

from preprocess.document import Document
from preprocess.report import InputError, Report

logger = logging.getLogger(__name__)

# sentencepiece's own check, the one way a corpus and a vocabulary size do not fit under
# hard_vocab_limit=False: it needs one piece per character kept by --character-coverage
_TOO_FEW_PIECES = re.compile(r"Vocabulary size is smaller than required_chars\. (\d+) vs (\d+)")


def language_probabilities(counts: Dict[str, int], temperature: float) -> Dict[str, float]:
    total = sum(counts.values())
    weights = {lang: (n / total) ** (1.0 / temperature) for lang, n in counts.items()}
    norm = sum(weights.values())
    return {lang: w / norm for lang, w in weights.items()}


def sample_sentences(
    documents: Sequence[Document], sample_size: int, temperature: float, seed: int
) -> Dict[str, List[str]]:
    """The training sentences of each language."""
    lines = defaultdict(list)
    for document in documents:
        lines[document.lang].extend(document.text.split("\n"))
    sample_size = min(sample_size, sum(map(len, lines.values())))
    probs = language_probabilities({lang: len(v) for lang, v in lines.items()}, temperature)
    rng = np.random.default_rng(seed)
    sample = {}
    for lang in sorted(lines):
        n = max(1, round(probs[lang] * sample_size))
        picks = rng.choice(len(lines[lang]), size=n, replace=n > len(lines[lang]))
        sample[lang] = [lines[lang][i] for i in picks]
    return sample


def train_sentencepiece(
    documents: Sequence[Document],
    model_prefix: str,
    report: Report,
    vocab_size: int,
    sample_size: int = 1_000_000,
    temperature: float = 2.0,
    character_coverage: float = 0.9995,
    seed: int = 1,
    workers: int = 1,
) -> str:
    """Train a unigram model; return the path of ``{model_prefix}.model``.

    Only ``<unk>`` is reserved: fairseq's Dictionary adds its own ``<s>``, ``<pad>``,
    ``</s>``. The vocabulary size is a soft limit (``hard_vocab_limit=False``), so a small
    corpus gives a smaller vocabulary, with a warning, instead of an error.
    """
    sample = sample_sentences(documents, sample_size, temperature, seed)
    Path(model_prefix).parent.mkdir(parents=True, exist_ok=True)
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=(line for lang in sorted(sample) for line in sample[lang]),
            model_prefix=model_prefix,
            vocab_size=vocab_size,
            model_type="unigram",
            character_coverage=character_coverage,
            hard_vocab_limit=False,
            unk_id=0,
            bos_id=-1,
            eos_id=-1,
            pad_id=-1,
            num_threads=workers,
            minloglevel=1,
        )
    except RuntimeError as e:
        too_few = _TOO_FEW_PIECES.search(str(e))
        if too_few is None:
            raise
        needed = too_few.group(2)
        raise InputError(f"--vocab-size {vocab_size} is too small for the corpus's characters, which need "
                         f"{needed} pieces at --character-coverage {character_coverage}: use --vocab-size "
                         f"{needed} or more, or a lower --character-coverage") from None
    model_path = f"{model_prefix}.model"
    pieces = spm.SentencePieceProcessor(model_file=model_path).get_piece_size()
    if pieces < vocab_size:
        logger.warning(f"--vocab-size {vocab_size}: the corpus has text for {pieces} pieces only, so "
                       f"the vocabulary has {pieces}; add text, or ask for --vocab-size {pieces} or less")
    report.stats["vocab"] = {
        "model": model_path,
        "pieces": pieces,
        "requested_vocab_size": vocab_size,
        "temperature": temperature,
        "sample_sentences_per_lang": {lang: len(lines) for lang, lines in sample.items()},
    }
    return model_path
