"""Whether a model or checkpoint is one the MARGE tasks can run, said in one line.

fairseq builds whatever architecture a checkpoint names with the task it is given: a plain
``transformer`` checkpoint whose vocabulary happens to match would "translate" under ``--task
marge``, and one of another vocabulary ends in a state-dict size mismatch naming no file.  A
MARGE checkpoint of another dictionary of the same size loads without a mismatch and would read
its embeddings shuffled: a digest of the dictionary, kept in the model's config (so in every
checkpoint saved), tells them apart.  A checkpoint file cut short (a copy or save interrupted)
is named as such, not left to torch's zip or pickle error.
"""

import functools
import hashlib
import logging
import os
import zipfile
from typing import Optional

from fairseq.data import Dictionary

logger = logging.getLogger(__name__)

EMBEDDINGS = "encoder.embed_tokens.weight"


def require_marge_model(model):
    from .marge import MargeModel

    if not isinstance(model, MargeModel):
        raise TypeError(
            f"the model is a {type(model).__name__}, not a MARGE model: the marge task builds "
            "--arch marge_* (marge_tiny, marge_small, marge_base) and loads checkpoints trained with them"
        )
    return model


def check_vocabulary(state_dict, dictionary: Dictionary, prefix: str = ""):
    """The checkpoint's embedding rows are the data directory's dictionary (its ``dict.txt`` and
    one ``[xx]`` token per line of ``langs.txt``)."""
    key = f"{prefix}.{EMBEDDINGS}" if prefix else EMBEDDINGS
    if key in state_dict and state_dict[key].size(0) != len(dictionary):
        raise ValueError(
            f"the checkpoint's vocabulary has {state_dict[key].size(0)} types, the data "
            f"directory's dict.txt and langs.txt make {len(dictionary)}: the model was trained on "
            "another data directory; pass that one (its dict.txt, langs.txt and sentencepiece.model)"
        )


def dictionary_digest(dictionary: Dictionary) -> str:
    """``SIZE:HASH`` of the symbols in id order (counts left out: they do not change the ids)."""
    return f"{len(dictionary)}:{hashlib.sha1(chr(10).join(dictionary.symbols).encode('utf-8')).hexdigest()[:16]}"


def check_dictionary_digest(cfg, dictionary: Dictionary, from_checkpoint: bool):
    """Records the dictionary's digest in a new model's config (``cfg.dictionary_digest``, saved
    in its checkpoints); a checkpoint's must be the data directory's.  Of another size, the
    state dict's own check (:func:`check_vocabulary`) says so when it loads.  A checkpoint saved
    before the digests still loads: its vocabulary size is all there is to check."""
    saved, current = getattr(cfg, "dictionary_digest", None), dictionary_digest(dictionary)
    if saved is None and not from_checkpoint:
        cfg.dictionary_digest = current
    elif saved is None:
        logger.info("the checkpoint has no dictionary digest (saved before they were recorded): "
                    "only its vocabulary size is checked against the data directory")
    elif saved != current and saved.split(":")[0] == current.split(":")[0]:
        raise ValueError(
            f"the checkpoint was trained on another dictionary of the same size ({len(dictionary)} "
            f"types, digest {saved}; the data directory's dict.txt and langs.txt make {current}): "
            "pass the data directory it was trained on (its dict.txt, langs.txt and sentencepiece.model)"
        )


def checkpoint_damage(path: str, error: Exception) -> Optional[str]:
    """What is wrong with the checkpoint file ``path`` that ``torch.load`` failed on, or None when
    the file looks whole (then the error is about something else and is left as it is)."""
    size = os.path.getsize(path)
    if size == 0:
        return "empty (0 bytes)"
    with open(path, "rb") as f:
        zipped = f.read(4) == b"PK\x03\x04"  # torch.save's format since torch 1.6
    if not zipped:  # a legacy pickle: cut short, it ends before its STOP opcode
        return f"truncated ({size} bytes)" if isinstance(error, EOFError) or "truncated" in str(error) else None
    if not zipfile.is_zipfile(path):  # a zip archive's directory is at its end
        return f"truncated ({size} bytes; the end of its zip archive is missing)"
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()  # reads every record: only after a failed load
    except (zipfile.BadZipFile, OSError, EOFError) as problem:
        return f"damaged ({problem})"
    return f"damaged ({bad} fails its checksum)" if bad else None


def name_damaged_checkpoints(load_checkpoint_to_cpu):
    """fairseq's ``checkpoint_utils.load_checkpoint_to_cpu`` (which fairseq-train, -generate,
    -interactive and the hub all load through), failing on a truncated or damaged file with one
    line naming it, instead of torch's zip or pickle error: fairseq-train does not fall back to
    another checkpoint either, so the line says which ones the directory has."""

    @functools.wraps(load_checkpoint_to_cpu)
    def load(path, *args, **kwargs):
        try:
            return load_checkpoint_to_cpu(path, *args, **kwargs)
        except Exception as error:
            problem = checkpoint_damage(path, error) if os.path.isfile(path) else None
            if problem is None:
                raise
            folder = os.path.dirname(os.path.abspath(path))
            others = sorted(f for f in os.listdir(folder) if f.endswith(".pt") and f != os.path.basename(path))
            raise CheckpointDamagedError(
                f"{path}: the checkpoint file is {problem}, as a copy or save cut short leaves it; copy it again or "
                f"load another one (in {folder}: {', '.join(others) or 'no other .pt file'})"
            ) from error

    return load


class CheckpointDamagedError(OSError):
    pass
