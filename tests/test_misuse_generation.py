"""Misuse, generation and checkpoints: fairseq-generate refuses a language pair the data
directory lacks (listing the ones it has; --gen-subset train too) and a checkpoint that is not a
MARGE model of this dictionary (another size, or the same size in another order) or is cut short,
in one line, instead of translating monolingual documents into themselves or failing on a
state-dict size mismatch.  fairseq-interactive skips blank lines, counting them.  The checkpoint
and the data directory are left as they were."""

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fairseq import options
from fairseq_cli import generate, interactive

from conftest import REPO, fairseq_env, make_data_dir
from fairseq_marge.models.checkpoint_compatibility import CheckpointDamagedError
from misuse_helpers import digests, reordered_dictionary, transformer_checkpoint, truncated_copy
from use_helpers import save_checkpoint

GENERATION = ["--user-dir", REPO / "fairseq_marge", "--task", "marge", "--beam", "2", "--max-len-b", "4",
              "--cpu", "--max-tokens", "2000"]
NO_PAIR = "pairs there: test.en-de; languages: en, de, fr); make it with `python -m preprocess parallel"


@pytest.fixture(scope="module")
def checkpoint(tiny_data_dir, tmp_path_factory):
    return save_checkpoint(tiny_data_dir, tmp_path_factory.mktemp("ckpt") / "model.pt")


def generate_in_process(data_dir, checkpoint, *args):
    parsed = options.parse_args_and_arch(options.get_generation_parser(),
                                         list(map(str, [data_dir, "--path", checkpoint, *GENERATION, *args])))
    generate.main(parsed)


@pytest.mark.parametrize("args, message", [
    (["--source-lang", "en", "--target-lang", "de", "--gen-subset", "valid"], "no valid.en-de pair in"),
    (["--source-lang", "en", "--target-lang", "fr", "--gen-subset", "test"], "no test.en-fr pair in"),
    (["--source-lang", "de", "--target-lang", "en", "--gen-subset", "test"], "no test.de-en pair in"),
    (["--source-lang", "xx", "--target-lang", "de", "--gen-subset", "test"], "no test.xx-de pair in"),
    (["--source-lang", "en", "--target-lang", "de", "--gen-subset", "train"], "no train.en-de pair in"),
], ids=["monolingual-split", "pair-not-binarized", "reversed-pair", "unknown-source", "training-split"])
def test_missing_pair_lists_the_pairs_there_are(tiny_data_dir, checkpoint, args, message):
    with pytest.raises(FileNotFoundError) as error:
        generate_in_process(tiny_data_dir, checkpoint, *args)
    assert message in str(error.value) and NO_PAIR in str(error.value)


def test_unknown_target_language_is_refused_before_loading(tiny_data_dir, checkpoint):
    with pytest.raises(ValueError, match=r"--target-lang xx: not a language of the data directory \(langs.txt lists en, de, fr\)"):
        generate_in_process(tiny_data_dir, checkpoint, "--source-lang", "en", "--target-lang", "xx", "--gen-subset", "test")


def test_interactive_with_unknown_target_language(tiny_data_dir, checkpoint, tmp_path):
    (tmp_path / "input.txt").write_text("en1 en2\n")
    parsed = options.parse_args_and_arch(options.get_interactive_generation_parser(), list(map(str, [
        tiny_data_dir, "--path", checkpoint, "--input", tmp_path / "input.txt", *GENERATION, "--target-lang", "it"])))
    with pytest.raises(ValueError, match="--target-lang it: not a language of the data directory"):
        interactive.main(parsed)


def test_a_fairseq_transformer_checkpoint_is_not_a_marge_model(tiny_data_dir, tmp_path):
    path = transformer_checkpoint(tiny_data_dir, tmp_path / "transformer.pt")
    before = digests(path)
    with pytest.raises(TypeError, match="the model is a TransformerModel, not a MARGE model: the marge task builds --arch marge_"):
        generate_in_process(tiny_data_dir, path, "--source-lang", "en", "--target-lang", "de", "--gen-subset", "test")
    assert digests(path) == before


def test_a_marge_checkpoint_of_another_dictionary(tiny_data_dir, tmp_path):
    other = make_data_dir(tmp_path / "other", vocab=30)
    path = save_checkpoint(other, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="the checkpoint's vocabulary has 97 types, the data directory's dict.txt "
                                         "and langs.txt make 127: the model was trained on another data directory"):
        generate_in_process(tiny_data_dir, path, "--source-lang", "en", "--target-lang", "de", "--gen-subset", "test")


def test_a_marge_checkpoint_of_another_dictionary_of_the_same_size(tiny_data_dir, tmp_path):
    path = save_checkpoint(reordered_dictionary(tiny_data_dir, tmp_path / "other"), tmp_path / "other.pt")
    before = digests(path, tiny_data_dir)
    with pytest.raises(ValueError, match=r"the checkpoint was trained on another dictionary of the same size "
                                         r"\(127 types, digest 127:[0-9a-f]{16}; the data directory's dict.txt "
                                         r"and langs.txt make 127:[0-9a-f]{16}\): pass the data directory it was trained on"):
        generate_in_process(tiny_data_dir, path, "--source-lang", "en", "--target-lang", "de", "--gen-subset", "test")
    assert digests(path, tiny_data_dir) == before


def test_a_checkpoint_saved_before_dictionary_digests_still_loads(tiny_data_dir, checkpoint, tmp_path, caplog, capsys):
    state = torch.load(checkpoint)
    del state["cfg"]["model"]["dictionary_digest"]
    torch.save(state, tmp_path / "old.pt")
    with caplog.at_level(logging.INFO):
        generate_in_process(tiny_data_dir, tmp_path / "old.pt", "--source-lang", "en", "--target-lang", "de",
                            "--gen-subset", "test")
    assert "the checkpoint has no dictionary digest (saved before they were recorded)" in caplog.text
    assert sum(line.startswith("H-") for line in capsys.readouterr().out.splitlines()) == 6  # test.en-de: 6 lines


def test_a_truncated_checkpoint_is_named(tiny_data_dir, checkpoint, tmp_path):
    path = truncated_copy(checkpoint, tmp_path / "half.pt")
    before = digests(path)
    with pytest.raises(CheckpointDamagedError, match=r"half.pt: the checkpoint file is truncated \(\d+ bytes; the end "
                                                     r"of its zip archive is missing\), as a copy or save cut short"):
        generate_in_process(tiny_data_dir, path, "--source-lang", "en", "--target-lang", "de", "--gen-subset", "test")
    assert digests(path) == before


def test_interactive_skips_blank_lines_and_counts_them(tiny_data_dir, checkpoint, tmp_path, caplog, capsys):
    (tmp_path / "input.txt").write_text("en1 en2\n\n \t \nen3\n")
    parsed = options.parse_args_and_arch(options.get_interactive_generation_parser(), list(map(str, [
        tiny_data_dir, "--path", checkpoint, "--input", tmp_path / "input.txt", *GENERATION, "--target-lang", "de"])))
    with caplog.at_level(logging.WARNING):
        interactive.main(parsed)
    hypotheses = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines() if line.startswith("H-")]
    assert hypotheses == ["H-0", "H-3"]  # numbered by input line: the blank ones have none
    assert "1 blank input line(s) skipped, 2 so far: there is nothing to translate" in caplog.text


def test_fairseq_generate_without_the_pair_exits_with_one_line(tiny_data_dir, checkpoint):
    before = digests(checkpoint, tiny_data_dir)
    proc = subprocess.run(
        [Path(sys.executable).parent / "fairseq-generate", tiny_data_dir, "--path", checkpoint, *GENERATION,
         "--source-lang", "en", "--target-lang", "de", "--gen-subset", "valid"],
        cwd=REPO, env=fairseq_env(), capture_output=True, text=True)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 1 and "no valid.en-de pair in" in last and NO_PAIR in last, last
    assert "BLEU" not in proc.stdout
    assert digests(checkpoint, tiny_data_dir) == before
