"""Misuse, damaged data directories: each damage stops the load with one line naming the file and
what to rebuild, and the directory is left as it was (loading never writes)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, fairseq_env, make_data_dir
from misuse_helpers import digests, setup_marge


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def drop_last_lines(path, count):
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-count]))


TRUNCATED_BIN = r"train.bin: (\d+) bytes, but \S+/train.idx describes 72 documents in (\d+) bytes"
DAMAGES = {
    "train.bin truncated": (lambda d: truncate(d / "train.bin"), TRUNCATED_BIN, "python -m preprocess all"),
    "train.bin empty": (lambda d: truncate(d / "train.bin", 0), r"train.bin: 0 bytes, but", "python -m preprocess all"),
    "train.idx truncated": (lambda d: truncate(d / "train.idx"),
                            r"train.idx: 445 bytes, but its header announces 72 documents in 890 bytes", "preprocess all"),
    "train.idx cut in its header": (lambda d: truncate(d / "train.idx", 0.01), "train.idx: not an index of fairseq's",
                                    "python -m preprocess all"),
    "train.idx not an index": (lambda d: (d / "train.idx").write_bytes(b"x" * 200), "train.idx: not an index of",
                               "python -m preprocess all"),
    "train.meta.npy truncated": (lambda d: truncate(d / "train.meta.npy"), "train.meta.npy: unreadable",
                                 "python -m preprocess all"),
    "train.meta.npy of another split": (lambda d: shutil.copy(d / "valid.meta.npy", d / "train.meta.npy"),
                                        "train.meta.npy: 18 rows but the split has 72 documents",
                                        "python -m preprocess all"),
    "train.meta.npy missing": (lambda d: (d / "train.meta.npy").unlink(), "train.meta.npy: missing",
                               "python -m preprocess"),
    "dict.txt truncated": (lambda d: drop_last_lines(d / "dict.txt", 30), "train.bin: token id 123, but the dictionary",
                           "has 97 types: the documents were binarized with another dict.txt"),
    "dict.txt malformed": (lambda d: (d / "dict.txt").write_text("en0 1\nen1\n"), "dict.txt: unreadable",
                           "python -m preprocess all"),
    "dict.txt missing": (lambda d: (d / "dict.txt").unlink(), "dict.txt: missing", "python -m preprocess all"),
    "langs.txt short of a language": (lambda d: drop_last_lines(d / "langs.txt", 1),
                                      "train.meta.npy: row 2 has language id 2, but langs.txt lists 2 languages",
                                      "langs.txt is not the one written with this metadata"),
}


@pytest.fixture
def data_dir(tmp_path):
    return make_data_dir(tmp_path / "data")


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_data_directory_names_the_file(data_dir, damage):
    damage_files, *messages = DAMAGES[damage]
    damage_files(data_dir)
    before = digests(data_dir)
    with pytest.raises((ValueError, FileNotFoundError)) as error:
        setup_marge(data_dir)
    assert all(re.search(m, str(error.value)) for m in messages), str(error.value)
    assert "\n" not in str(error.value)
    assert digests(data_dir) == before


def test_misaligned_pair_names_both_sides(data_dir):
    for suffix in ("bin", "idx"):  # the de side of valid's pair becomes the en side's
        shutil.copy(data_dir / f"valid.{suffix}", data_dir / f"test.en-de.de.{suffix}")
    with pytest.raises(ValueError, match=r"test.en-de.en/.de: 6 and 18 lines, but the two sides of a pair align"):
        setup_marge(data_dir, "--source-lang", "en", "--target-lang", "de", load=("test",))


@pytest.mark.parametrize("damaged, message", [
    ("train.bin", TRUNCATED_BIN), ("train.idx", "train.idx: 445 bytes, but its header announces 72 documents"),
])
def test_fairseq_train_on_a_truncated_file_stops_before_training(data_dir, tmp_path, damaged, message):
    truncate(data_dir / damaged)
    before = digests(data_dir)
    proc = subprocess.run(
        [Path(sys.executable).parent / "fairseq-train", data_dir, "--user-dir", "fairseq_marge", "--task", "marge",
         "--arch", "marge_tiny", "--criterion", "marge", "--max-tokens", "600", "--optimizer", "adam",
         "--lr", "1e-3", "--max-update", "2", "--cpu", "--save-dir", tmp_path / "ckpt"],
        cwd=REPO, env=fairseq_env(), capture_output=True, text=True)
    last = proc.stderr.strip().splitlines()[-1]  # no half-built dataset raising again at exit
    assert proc.returncode == 1 and re.search(message, last) and "python -m preprocess all" in last, last
    assert digests(data_dir) == before and not list((tmp_path / "ckpt").glob("*.pt"))
