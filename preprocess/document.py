"""The records that flow through the pipeline, and their JSONL form between steps.

A :class:`Document` is a text as read (``clean`` and ``langid`` write documents in the input
format, so their output is valid input to any later step). A :class:`Chunk` is a piece of a
document of at most ``--max-tokens-per-doc`` sentencepiece pieces: one document of the
binarized dataset.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterable, Iterator, Optional

from preprocess.report import InputError


@dataclass
class Document:
    text: str
    origin: str  # "file:line", named in every message about this document
    doc_id: Optional[str] = None
    lang: Optional[str] = None
    date: Optional[str] = None
    group: Optional[str] = None

    @property
    def key(self) -> str:
        """A stable name for hashing into shards and splits: the ``doc_id``, or else a digest of
        the text.  Not where the document was read: a corpus must get the same shards wherever
        its file lies and whichever step wrote it (texts are unique after ``clean``)."""
        if self.doc_id is not None:
            return self.doc_id
        return "md5:" + hashlib.md5(self.text.encode("utf-8")).hexdigest()


@dataclass
class Chunk:
    pieces: str  # sentencepiece pieces separated by single spaces
    index: int  # position of the chunk in its document
    doc_id: str  # the document's key
    origin: str
    lang: str
    date: Optional[str] = None
    group: Optional[str] = None
    shard: Optional[int] = None
    split: Optional[str] = None
    may_be_target: Optional[bool] = None


def to_json_line(record) -> str:
    """One JSONL line; ``origin`` is not written (the next reader records its own)."""
    values = {k: v for k, v in asdict(record).items() if v is not None and k != "origin"}
    return json.dumps(values, ensure_ascii=False) + "\n"


def write_jsonl(path, records: Iterable) -> int:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(path, "w", encoding="utf-8") as f:
        for record in records:
            f.write(to_json_line(record))
            count += 1
    return count


CHUNK_FIELDS = {f.name for f in fields(Chunk)} - {"origin"}


def read_chunks(path) -> Iterator[Chunk]:
    """Read a chunk file written by the ``chunk`` or ``shard`` step."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            origin = f"{path}:{lineno}"
            try:
                values = json.loads(line)
                yield Chunk(origin=origin, **{k: v for k, v in values.items() if k in CHUNK_FIELDS})
            except (ValueError, TypeError) as e:
                raise InputError(f"{origin}: not a chunk record written by `preprocess chunk`: {e}")
