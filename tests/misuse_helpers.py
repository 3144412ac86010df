"""Helpers for the misuse tests (tests/test_misuse_*.py): the task of fairseq-train arguments
set up without training, a plain fairseq transformer checkpoint, a data directory of another
dictionary of the same size, a checkpoint cut in half, and file digests that show a failed run
left its inputs and outputs as they were."""

import hashlib
import shutil
from pathlib import Path

import torch
from fairseq import models, options, tasks
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from omegaconf import OmegaConf

from conftest import REPO


def training_cfg(data_dir, *args):
    argv = [data_dir, "--user-dir", REPO / "fairseq_marge", "--task", "marge", "--arch", "marge_tiny",
            "--criterion", "marge", "--max-tokens", "600", "--cpu", *args]
    return convert_namespace_to_omegaconf(options.parse_args_and_arch(options.get_training_parser(), list(map(str, argv))))


def setup_marge(data_dir, *args, load=("train",)):
    """The task of fairseq-train ``args`` (after the tests' usual ones), with ``load`` loaded."""
    task = tasks.setup_task(training_cfg(data_dir, *args).task)
    for split in load:
        task.load_dataset(split)
    return task


def transformer_checkpoint(data_dir, path):
    """A plain fairseq transformer on the data directory's dictionary, saved as fairseq does."""
    cfg = training_cfg(data_dir, "--arch", "transformer", "--encoder-layers", 1, "--decoder-layers", 1,
                       "--encoder-embed-dim", 16, "--decoder-embed-dim", 16, "--encoder-ffn-embed-dim", 16,
                       "--decoder-ffn-embed-dim", 16, "--encoder-attention-heads", 2, "--decoder-attention-heads", 2)
    model = models.build_model(cfg.model, tasks.setup_task(cfg.task))  # fairseq's, not the task's
    torch.save({"cfg": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), "model": model.state_dict(),
                "optimizer_history": [{"criterion_name": "CrossEntropyCriterion", "optimizer_name": "Adam",
                                       "lr_scheduler_state": {"best": None}, "num_updates": 0}],
                "extra_state": {}}, path)
    return path


def digests(*paths):
    """{file: sha1} of ``paths``, a directory standing for the files in it."""
    files = [f for p in map(Path, paths) for f in (sorted(p.iterdir()) if p.is_dir() else [p])]
    return {str(f): hashlib.sha1(f.read_bytes()).hexdigest() for f in files}


def reordered_dictionary(data_dir, path):
    """A copy of ``data_dir`` whose dict.txt lists the same words in reverse order: a dictionary
    of the same size that maps each id to another word."""
    shutil.copytree(data_dir, path)
    lines = (path / "dict.txt").read_text().splitlines()
    (path / "dict.txt").write_text("\n".join(reversed(lines)) + "\n")
    return path


def truncated_copy(path, dest):
    """The first half of the file ``path``, as a copy or save cut short leaves it."""
    data = Path(path).read_bytes()
    Path(dest).write_bytes(data[: len(data) // 2])
    return dest
