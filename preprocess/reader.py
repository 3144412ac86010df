"""Read input documents: JSONL files or directories of plain-text files.

JSONL: one object per line with ``text`` and optional ``lang``, ``date``, ``doc_id`` (or
``id``) and ``group`` (shared by the same article in other languages); other fields are
ignored. Directory: every regular file below it (hidden ones excepted) is one document,
its ``doc_id`` the path relative to the directory.

Invalid UTF-8, malformed JSON and records without a text are rejected through
:meth:`Report.reject`: an error naming ``file:line``, or a counted skip (``--on-error``).
Blank lines are no records and are not counted.
"""

import json
from pathlib import Path
from typing import Iterable, Iterator, Optional, Tuple

from tqdm import tqdm

from preprocess.document import Document
from preprocess.report import Report

OPTIONAL_FIELDS = ("lang", "date", "group")


def read_documents(paths: Iterable, report: Report) -> Iterator[Document]:
    for path in map(Path, paths):
        if path.is_dir():
            yield from _read_text_dir(path, report)
        elif path.is_file():
            yield from _read_jsonl(path, report)
        else:
            raise FileNotFoundError(f"{path}: no such file or directory")


def read_lines(path: Path, report: Report) -> Iterator[Tuple[int, str, str]]:
    """``(lineno, "file:line", text)`` of every non-blank line, each counted as one record
    in; a line that is not UTF-8 is rejected here instead."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(tqdm(f, desc=f"read {path.name}", unit="line", mininterval=1.0), 1):
            if not raw.strip():
                continue
            report.documents_in += 1
            origin = f"{path}:{lineno}"
            try:
                yield lineno, origin, raw.decode("utf-8")
            except UnicodeDecodeError as e:
                report.reject("invalid_utf8", origin, f"invalid UTF-8 at byte {e.start}")


def _read_jsonl(path: Path, report: Report) -> Iterator[Document]:
    for _, origin, line in read_lines(path, report):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            report.reject("malformed_json", origin, f"malformed JSON: {e}")
            continue
        document = _document_from_record(record, origin, report)
        if document is not None:
            yield document


def _document_from_record(record, origin: str, report: Report) -> Optional[Document]:
    if not isinstance(record, dict):
        report.reject("malformed_record", origin, f"expected a JSON object, got {type(record).__name__}")
        return None
    if not isinstance(record.get("text"), str):
        report.reject("malformed_record", origin, "no string field 'text'")
        return None
    values = {"doc_id": record.get("doc_id", record.get("id"))}
    values.update((name, record.get(name)) for name in OPTIONAL_FIELDS)
    for name, value in values.items():
        if value is not None and not isinstance(value, (str, int)):
            report.reject("malformed_record", origin, f"field {name!r} must be a string, got {value!r}")
            return None
    strings = {name: None if value is None else str(value) for name, value in values.items()}
    return Document(text=record["text"], origin=origin, **strings)


def _read_text_dir(root: Path, report: Report) -> Iterator[Document]:
    files = sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )
    for path in tqdm(files, desc=f"read {root.name}/", unit="file", mininterval=1.0):
        report.documents_in += 1
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            lineno = data[: e.start].count(b"\n") + 1
            report.reject("invalid_utf8", f"{path}:{lineno}", f"invalid UTF-8 at byte {e.start}")
            continue
        yield Document(text=text, origin=f"{path}:1", doc_id=str(path.relative_to(root)))
