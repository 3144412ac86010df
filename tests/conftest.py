"""Shared fixtures: a tiny synthetic MARGE data directory, written in the plugin's format."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from fairseq.data import Dictionary, indexed_dataset

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fairseq_marge.data.document_metadata import save_metadata  # noqa: E402

LANGS = ["en", "de", "fr"]


def write_split(data_dir: Path, split: str, docs, dictionary, lang, shard, group, may_be_target):
    prefix = str(data_dir / split)
    builder = indexed_dataset.make_builder(prefix + ".bin", impl="mmap", vocab_size=len(dictionary))
    for doc in docs:
        builder.add_item(torch.tensor(doc, dtype=torch.int32))
    builder.finalize(prefix + ".idx")
    save_metadata(prefix, lang, shard, group, may_be_target)


def make_data_dir(data_dir: Path, num_groups=24, num_shards=3, seed=0, vocab=40):
    """Groups of 'translations': each language writes the group's words with its own
    vocabulary offset, so a model can learn cross-lingual correspondences."""
    rng = np.random.default_rng(seed)
    data_dir.mkdir(parents=True, exist_ok=True)
    dictionary = Dictionary()
    for lang in LANGS:
        for w in range(vocab):
            dictionary.add_symbol(f"{lang}{w}")
    dictionary.save(str(data_dir / "dict.txt"))
    (data_dir / "langs.txt").write_text("\n".join(LANGS) + "\n")
    for split, groups in (("train", range(num_groups)), ("valid", range(num_groups, num_groups + 6))):
        docs, lang, shard, group = [], [], [], []
        for g in groups:
            words = rng.integers(0, vocab, size=rng.integers(5, 20))
            for li, code in enumerate(LANGS):
                docs.append([dictionary.index(f"{code}{w}") for w in words] + [dictionary.eos()])
                lang.append(li)
                shard.append(g % num_shards)
                group.append(g)
        write_split(data_dir, split, docs, dictionary, lang, shard, group, np.ones(len(docs), bool))
    for code in ("en", "de"):  # parallel pairs for generation: en and de versions of valid docs
        builder = indexed_dataset.make_builder(
            str(data_dir / f"test.en-de.{code}.bin"), impl="mmap", vocab_size=len(dictionary)
        )
        for doc, li in zip(docs, lang):
            if LANGS[li] == code:
                builder.add_item(torch.tensor(doc, dtype=torch.int32))
        builder.finalize(str(data_dir / f"test.en-de.{code}.idx"))
    return data_dir


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory):
    return make_data_dir(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def trained_checkpoint(tiny_data_dir, tmp_path_factory):
    """14 updates of fairseq-train on the tiny data, re-indexing at updates 0, 4, 8 and 12."""
    save_dir = tmp_path_factory.mktemp("checkpoints")
    run_cli(
        "fairseq-train", tiny_data_dir, "--user-dir", "fairseq_marge", "--task", "marge",
        "--arch", "marge_tiny", "--criterion", "marge", "--max-tokens", "600",
        "--optimizer", "adam", "--lr", "1e-3", "--max-update", "14",
        "--reindex-interval", "0-10:4,10-:8", "--cpu", "--save-dir", save_dir,
        "--log-format", "simple", "--log-interval", "1", "--seed", "3",
    )
    return save_dir / "checkpoint_last.pt"


def run_cli(name, *args):
    """Run one of fairseq's console scripts from this environment; fail with its output."""
    return run_command(Path(sys.executable).parent / name, *args)


def run_command(*command, env=None):
    """Run ``command`` in the repository with the plugin importable; fail with its output."""
    proc = subprocess.run([*map(str, command)], cwd=REPO, env=env or fairseq_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"{command[0]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def fairseq_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def build_task_and_model(data_dir, *extra_args):
    """A ``marge`` task and a ``marge_tiny`` model built through fairseq's own argument parsing."""
    from fairseq_marge.build import build_from_args

    cfg, task, model = build_from_args(
        [data_dir, "--user-dir", str(REPO / "fairseq_marge"), "--task", "marge", "--arch", "marge_tiny",
         "--criterion", "marge", "--max-tokens", "600", "--cpu", "--dropout", "0", *extra_args]
    )
    return task, model, cfg
