"""Binarize a parallel dev/test set for generation, in fairseq's translation naming.

Input: TSV lines ``file<TAB>en<TAB>xx`` (``xx``: the pair's other language), or JSONL
(``.jsonl``) lines ``{"id", "file", "en", "xx"}``, one document per line with its blocks
separated by newlines. Output, in the data directory and with its dictionary:
``{split}.{src}-{tgt}.{src}.bin/.idx`` and ``.{tgt}.bin/.idx``;
``{split}.{src}-{tgt}.{tgt}.txt``, the normalised reference text, one item per line, for BLEU;
``{split}.{src}-{tgt}.ids.txt``, the record each item comes from (``de-3#1``: chunk 1 of
record ``de-3``), to join a document's chunk outputs for document-level BLEU.

A pair longer than ``max_tokens`` pieces on a side is cut into aligned chunks between
lines if both sides have the same number of lines; otherwise it is skipped and counted.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import sentencepiece as spm
from fairseq.data import Dictionary

from preprocess.binarize import MODEL_NAME, make_builder
from preprocess.clean import normalise_text
from preprocess.reader import read_lines
from preprocess.report import Report


@dataclass
class ParallelItem:
    src_pieces: List[str]
    tgt_pieces: List[str]
    reference: str


@dataclass
class ParallelRecord:
    record_id: str
    origin: str
    src: str
    tgt: str


def read_parallel(path: Path, src: str, tgt: str, report: Report) -> Iterator[ParallelRecord]:
    if "en" not in (src, tgt):
        raise ValueError(f"{path}: dev sets pair English with another language; got {src}-{tgt}")
    for lineno, origin, line in read_lines(path, report):
        texts = _parse_jsonl(line, src, tgt) if path.suffix == ".jsonl" else _parse_tsv(line, src, tgt)
        if isinstance(texts, str):
            report.reject("malformed_record", origin, texts)
            continue
        record_id, src_text, tgt_text = texts
        src_text, tgt_text = normalise_text(src_text), normalise_text(tgt_text)
        if not (src_text and tgt_text):
            report.reject("empty_text", origin, "empty text (after normalisation)")
            continue
        yield ParallelRecord(record_id or f"{path.name}:{lineno}", origin, src_text, tgt_text)


def _parse_tsv(line: str, src: str, tgt: str):
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) != 3:
        return f"expected 3 tab-separated fields (file, en, {tgt if src == 'en' else src}), got {len(fields)}"
    texts = {"en": fields[1], (tgt if src == "en" else src): fields[2]}
    return None, texts[src], texts[tgt]


def _parse_jsonl(line: str, src: str, tgt: str):
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        return f"malformed JSON: {e}"
    if not (isinstance(record, dict) and all(isinstance(record.get(lang), str) for lang in (src, tgt))):
        return f"expected a JSON object with string fields {src!r} and {tgt!r}"
    return record.get("id"), record[src], record[tgt]


def aligned_items(
    sp: spm.SentencePieceProcessor, record: ParallelRecord, max_tokens: int
) -> Tuple[List[ParallelItem], Optional[str]]:
    """The items of a record, or ``([], reason)`` when it is too long to cut simply."""
    src_lines, tgt_lines = record.src.split("\n"), record.tgt.split("\n")
    src_pieces, tgt_pieces = sp.encode(src_lines, out_type=str), sp.encode(tgt_lines, out_type=str)
    if sum(map(len, src_pieces)) <= max_tokens and sum(map(len, tgt_pieces)) <= max_tokens:
        return [ParallelItem(sum(src_pieces, []), sum(tgt_pieces, []), " ".join(tgt_lines))], None
    if len(src_lines) != len(tgt_lines):
        return [], "too_long_unaligned"
    items, current = [], ParallelItem([], [], "")
    for s, t, line in zip(src_pieces, tgt_pieces, tgt_lines):
        if len(s) > max_tokens or len(t) > max_tokens:
            return [], "too_long_line"
        if current.reference and (
            len(current.src_pieces) + len(s) > max_tokens or len(current.tgt_pieces) + len(t) > max_tokens
        ):
            items.append(current)
            current = ParallelItem([], [], "")
        current.src_pieces += s
        current.tgt_pieces += t
        current.reference = f"{current.reference} {line}" if current.reference else line
    items.append(current)
    return items, None


def binarize_parallel(
    paths: Sequence, data_dir, split: str, src: str, tgt: str, max_tokens: int, report: Report
) -> Path:
    """Write the pair's files (``paths`` in order) into ``data_dir``; return their common prefix."""
    data_dir = Path(data_dir)
    dictionary = Dictionary.load(str(data_dir / "dict.txt"))
    sp = spm.SentencePieceProcessor(model_file=str(data_dir / MODEL_NAME))
    prefix = data_dir / f"{split}.{src}-{tgt}"
    builders = {lang: make_builder(f"{prefix}.{lang}", dictionary) for lang in (src, tgt)}
    items_written = 0
    references = open(f"{prefix}.{tgt}.txt", "w", encoding="utf-8")
    origins = open(f"{prefix}.ids.txt", "w", encoding="utf-8")
    with references, origins:
        records = (record for path in paths for record in read_parallel(Path(path), src, tgt, report))
        for record in records:
            items, skip_reason = aligned_items(sp, record, max_tokens)
            if skip_reason:
                report.drop(skip_reason, record.origin, f"longer than {max_tokens} pieces")
                continue
            report.documents_out += 1
            for k, item in enumerate(items):
                for lang, pieces in ((src, item.src_pieces), (tgt, item.tgt_pieces)):
                    ids = dictionary.encode_line(" ".join(pieces), add_if_not_exist=False, append_eos=True)
                    builders[lang].add_item(ids)
                references.write(item.reference + "\n")
                origins.write(f"{record.record_id}#{k}\n")
            items_written += len(items)
    for lang, builder in builders.items():
        builder.finalize(f"{prefix}.{lang}.idx")
    report.stats["parallel"] = {"pair": f"{src}-{tgt}", "split": split, "items": items_written}
    return prefix
