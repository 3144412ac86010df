"""Normalise texts and remove exact duplicates.

Normalisation: unicode NFC; every line break (CR, CRLF, U+2028, ...) becomes ``\\n``;
control characters and BOMs are deleted; runs of whitespace inside a line become one
space; lines are stripped and empty lines removed. Lines are kept: they are the paragraph
boundaries that chunking cuts on.

De-duplication keeps the first of identical normalised texts (in any language). Repeated
``doc_id`` values are only warned about: the documents differ, the id is the problem.
"""

import hashlib
import re
import unicodedata
from typing import Iterable, Iterator

from preprocess.document import Document
from preprocess.report import Report
from preprocess.workers import parallel_map

LINE_BREAKS = re.compile(r"\r\n|[\r\v\f\x1c-\x1e\x85\u2028\u2029]")
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\ufeff]")
SPACES = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = CONTROL_CHARS.sub("", LINE_BREAKS.sub("\n", text))
    lines = (SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def clean_documents(documents: Iterable[Document], report: Report, workers: int) -> Iterator[Document]:
    """Yield the normalised, de-duplicated documents; empty ones are rejected."""
    seen_texts, seen_ids = set(), set()
    documents = list(documents)
    texts = parallel_map(normalise_text, (d.text for d in documents), workers, "clean", total=len(documents))
    for document, text in zip(documents, texts):
        if document.doc_id is not None:
            if document.doc_id in seen_ids:
                report.warn("duplicate_doc_id", document.origin, f"doc_id {document.doc_id!r} seen before")
            seen_ids.add(document.doc_id)
        if not text:
            report.reject("empty_text", document.origin, "empty text (after normalisation)")
            continue
        digest = hashlib.md5(text.encode("utf-8")).digest()
        if digest in seen_texts:
            report.drop("duplicate_text", document.origin)
            continue
        seen_texts.add(digest)
        document.text = text
        yield document
