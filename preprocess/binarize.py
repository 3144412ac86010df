"""Write the data directory that the ``marge`` task reads.

``dict.txt`` (every sentencepiece piece, in the model's order, counted over ``train``;
no language tokens: the task appends ``[xx]`` for each line of ``langs.txt``),
``langs.txt``, ``sentencepiece.model``/``.vocab``, and per split ``{split}.bin/.idx``
(fairseq mmap dataset: a document's piece ids then EOS) with ``{split}.meta.npy``
(:mod:`fairseq_marge.data.document_metadata`: language id, shard, group id, target flag).
Group ids number the group strings in order of first appearance, shared by all splits.
"""

import shutil
from collections import Counter, defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np
import sentencepiece as spm
import torch
from fairseq.data import Dictionary, indexed_dataset

from fairseq_marge.data.document_metadata import save_metadata
from preprocess.document import Chunk
from preprocess.report import Report
from preprocess.workers import parallel_map

MODEL_NAME = "sentencepiece.model"


def dictionary_from_sentencepiece(model_path: str) -> Dictionary:
    """fairseq's specials, then the pieces in sentencepiece order (``<unk>`` is fairseq's)."""
    sp = spm.SentencePieceProcessor(model_file=model_path)
    dictionary = Dictionary()
    for i in range(sp.get_piece_size()):
        if not (sp.is_unknown(i) or sp.is_control(i)):
            dictionary.add_symbol(sp.id_to_piece(i), n=0)
    return dictionary


def make_builder(prefix: str, dictionary: Dictionary):
    return indexed_dataset.make_builder(f"{prefix}.bin", impl="mmap", vocab_size=len(dictionary))


def copy_model(model_path: str, out_dir: Path) -> Path:
    """Put the sentencepiece model (and its ``.vocab``, if any) into the data directory."""
    target = out_dir / MODEL_NAME
    source = Path(model_path)
    if not (target.exists() and target.samefile(source)):
        shutil.copyfile(source, target)
        if source.with_suffix(".vocab").exists():
            shutil.copyfile(source.with_suffix(".vocab"), target.with_suffix(".vocab"))
    return target


_dictionary = None


def _load_dictionary(model_path: str):
    global _dictionary
    _dictionary = dictionary_from_sentencepiece(model_path)


def _encode(pieces: str) -> np.ndarray:
    return _dictionary.encode_line(pieces, add_if_not_exist=False, append_eos=True).numpy()


def binarize(chunks: Sequence[Chunk], model_path: str, out_dir, report: Report, workers: int) -> None:
    if not chunks:
        raise ValueError("nothing to binarize: every document was dropped (see the report's counts)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = str(copy_model(model_path, out_dir))
    dictionary = dictionary_from_sentencepiece(model_path)
    encoded = parallel_map(
        _encode, (c.pieces for c in chunks), workers, "binarize", _load_dictionary, (model_path,), len(chunks)
    )
    counts = np.zeros(len(dictionary), dtype=np.int64)
    builders, rows, group_ids = {}, defaultdict(list), {}
    for chunk, ids in zip(chunks, encoded):
        if chunk.split not in builders:
            builders[chunk.split] = make_builder(str(out_dir / chunk.split), dictionary)
        builders[chunk.split].add_item(torch.from_numpy(ids))
        if chunk.split == "train":
            np.add.at(counts, ids, 1)
        group = -1 if chunk.group is None else group_ids.setdefault(chunk.group, len(group_ids))
        rows[chunk.split].append((chunk.lang, chunk.shard, group, chunk.may_be_target, len(ids)))
        if chunk.index == 0:
            report.documents_out += 1

    langs = sorted({row[0] for split_rows in rows.values() for row in split_rows})
    lang_id = {lang: i for i, lang in enumerate(langs)}
    stats = {"dictionary_size": len(dictionary), "languages": len(langs), "groups": len(group_ids)}
    for split, builder in builders.items():
        builder.finalize(str(out_dir / f"{split}.idx"))
        lang, shard, group, target, length = zip(*rows[split])
        save_metadata(str(out_dir / split), [lang_id[x] for x in lang], shard, group, target)
        stats[split] = {"documents": len(lang), "tokens": int(sum(length)), "targets": int(sum(target))}
    dictionary.count = counts.tolist()
    dictionary.save(str(out_dir / "dict.txt"))
    (out_dir / "langs.txt").write_text("".join(f"{lang}\n" for lang in langs), encoding="utf-8")
    stats["unk_tokens_train"] = int(counts[dictionary.unk()])
    per_language = defaultdict(dict)
    for split, split_rows in rows.items():
        for lang, n in Counter(row[0] for row in split_rows).items():
            per_language[lang][split] = n
    stats["documents_per_language"] = {lang: per_language[lang] for lang in langs}
    report.stats["binarized"] = stats
