"""Cut documents into chunks of at most ``max_tokens`` sentencepiece pieces (MARGE's documents).

Paragraphs (lines) are packed greedily into chunks. A paragraph longer than ``max_tokens``
is cut into sentences, and a sentence still longer into hard ``max_tokens`` slices; both
are counted. Each unit is encoded on its own, which equals encoding the units joined by
spaces: sentencepiece starts every unit with a word boundary.
"""

import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator, List

import sentencepiece as spm

from preprocess.document import Chunk, Document
from preprocess.report import Report
from preprocess.workers import parallel_map

# After Latin/Greek/Cyrillic sentence ends followed by a space, or after CJK ones directly.
SENTENCE_BOUNDARY = re.compile(r"(?<=[.!?;…])\s+|(?<=[。！？；])")


def split_sentences(paragraph: str) -> List[str]:
    return [s for s in SENTENCE_BOUNDARY.split(paragraph) if s.strip()]


@dataclass
class ChunkedText:
    chunks: List[List[str]] = field(default_factory=list)
    sentence_splits: int = 0  # paragraphs cut into sentences
    hard_splits: int = 0  # sentences cut into max_tokens slices


class TextChunker:
    def __init__(self, model_path: str, max_tokens: int):
        self.sp = spm.SentencePieceProcessor(model_file=model_path)
        self.max_tokens = max_tokens

    def __call__(self, text: str) -> ChunkedText:
        result = ChunkedText()
        current: List[str] = []
        for unit in self._units(text, result):
            if current and len(current) + len(unit) > self.max_tokens:
                result.chunks.append(current)
                current = []
            current.extend(unit)
        if current:
            result.chunks.append(current)
        return result

    def _units(self, text: str, result: ChunkedText) -> Iterator[List[str]]:
        paragraphs = text.split("\n")
        for paragraph, pieces in zip(paragraphs, self.sp.encode(paragraphs, out_type=str)):
            if len(pieces) <= self.max_tokens:
                yield pieces
                continue
            result.sentence_splits += 1
            for sentence in self.sp.encode(split_sentences(paragraph), out_type=str):
                if len(sentence) > self.max_tokens:
                    result.hard_splits += 1
                for start in range(0, len(sentence), self.max_tokens):
                    yield sentence[start : start + self.max_tokens]


_chunker = None


def _load_chunker(model_path: str, max_tokens: int):
    global _chunker
    _chunker = TextChunker(model_path, max_tokens)


def _chunk_text(text: str) -> ChunkedText:
    return _chunker(text)


def chunk_documents(
    documents: List[Document], model_path: str, max_tokens: int, report: Report, workers: int
) -> Iterator[Chunk]:
    results = parallel_map(
        _chunk_text, (d.text for d in documents), workers, "chunk", _load_chunker, (model_path, max_tokens),
        len(documents),
    )
    stats = report.stats.setdefault("chunking", {"chunks": 0, "paragraphs_split_into_sentences": 0,
                                                 "sentences_hard_split": 0, "max_tokens_per_doc": max_tokens})
    for document, result in zip(documents, results):
        if not result.chunks:
            report.drop("no_pieces", document.origin, "sentencepiece encodes the text as nothing")
            continue
        stats["paragraphs_split_into_sentences"] += result.sentence_splits
        stats["sentences_hard_split"] += result.hard_splits
        stats["chunks"] += len(result.chunks)
        for index, pieces in enumerate(result.chunks):
            yield Chunk(
                pieces=" ".join(pieces), index=index, doc_id=document.key, origin=document.origin,
                lang=document.lang, date=document.date, group=document.group,
            )
