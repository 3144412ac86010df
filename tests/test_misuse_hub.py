"""Misuse, the hub and retrieval evaluation: empty or over-long text is an error naming the
problem (not a confident answer about nothing), a checkpoint the data directory cannot run (not
MARGE, another dictionary of another or the same size, a file cut short) says so in one line,
and a dev set with an empty or malformed line stops at its file:line (one too small to mine, at
its file)."""

import json
import shutil
import subprocess
import sys

import pytest
import torch

from conftest import REPO, fairseq_env
from fairseq_marge.evaluation.dev_sets import DevSetError, read_documents, read_sentences
from fairseq_marge.evaluation.long_texts import embed_texts, translate_texts
from fairseq_marge.models.checkpoint_compatibility import CheckpointDamagedError
from fairseq_marge.models.marge import MargeModel
from misuse_helpers import digests, reordered_dictionary, transformer_checkpoint, truncated_copy
from use_helpers import make_real_data_dir, save_checkpoint

LONG = " ".join(["Open the menu and choose option 7."] * 120)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    data = make_real_data_dir(tmp_path_factory.mktemp("hub"))
    save_checkpoint(data, data / "model.pt")
    return data


@pytest.fixture(scope="module")
def hub(data):
    return MargeModel.from_pretrained(str(data), checkpoint_file="model.pt").eval()


@pytest.mark.parametrize("call", [
    lambda hub: hub.translate("", target_lang="de"),
    lambda hub: hub.translate(["Open the menu.", " \n\t"], target_lang="de"),
    lambda hub: hub.embed(""),
    lambda hub: hub.embed(["Open the menu.", "  "]),
    lambda hub: hub.relevance("", ["Open the menu."]),
    lambda hub: hub.relevance("Open the menu.", ["Öffnen Sie das Menü.", ""]),
], ids=["translate", "translate-whitespace", "embed", "embed-batch", "relevance-query", "relevance-candidate"])
def test_empty_text_is_an_error(hub, call):
    with pytest.raises(ValueError, match="empty text .*: there is nothing to translate, embed or score"):
        call(hub)


def test_an_empty_input_given_as_ids_is_an_error(hub):
    """The task leaves blank rows out of its batches (fairseq-interactive); the hub answers once per input."""
    with pytest.raises(ValueError, match=r"empty input 1 \(ids \[2\]\): there is nothing to translate, embed or score"):
        hub.generate([hub.encode("Open the menu."), torch.tensor([hub.task.dictionary.eos()])], beam=1)


@pytest.mark.parametrize("call", [
    lambda hub: hub.translate(LONG, target_lang="de"),
    lambda hub: hub.embed(LONG),
], ids=["translate", "embed"])
def test_over_long_text_is_refused_with_the_limit(hub, call):
    with pytest.raises(ValueError, match=r"a text of \d+ tokens .*: the model reads at most 519; "
                                         r"fairseq_marge.evaluation.long_texts .* cuts long texts into 512-token chunks"):
        call(hub)


def test_long_texts_are_chunked_and_empty_ones_refused(hub):
    assert embed_texts(hub, [LONG]).shape[0] == 1  # what the over-long error points to works
    with pytest.raises(ValueError, match="text 1 is empty"):
        embed_texts(hub, ["Open the menu.", ""])
    with pytest.raises(ValueError, match="text 0 is empty"):
        translate_texts(hub, ["\n"], "de")


def test_unknown_target_language(hub):
    with pytest.raises(ValueError, match=r"unknown language 'xx': \[xx\] is not in the dictionary"):
        hub.translate("Open the menu.", target_lang="xx")


def test_hub_refuses_a_transformer_checkpoint(data, tmp_path):
    shutil.copy(data / "dict.txt", tmp_path / "dict.txt")
    transformer_checkpoint(data, tmp_path / "transformer.pt")
    with pytest.raises(TypeError, match="not a MARGE model"):
        MargeModel.from_pretrained(str(tmp_path), checkpoint_file="transformer.pt", data_name_or_path=str(data))


def test_hub_refuses_a_checkpoint_of_another_dictionary(data, tiny_data_dir, tmp_path):
    save_checkpoint(tiny_data_dir, tmp_path / "tiny.pt")
    with pytest.raises(ValueError, match="the checkpoint's vocabulary has 127 types"):
        MargeModel.from_pretrained(str(tmp_path), checkpoint_file="tiny.pt", data_name_or_path=str(data))


def test_hub_refuses_a_checkpoint_of_another_dictionary_of_the_same_size(data, tmp_path):
    save_checkpoint(reordered_dictionary(data, tmp_path / "other"), tmp_path / "other.pt")
    with pytest.raises(ValueError, match="the checkpoint was trained on another dictionary of the same size"):
        MargeModel.from_pretrained(str(tmp_path), checkpoint_file="other.pt", data_name_or_path=str(data))


def test_hub_names_a_truncated_checkpoint(data, tmp_path):
    truncated_copy(data / "model.pt", tmp_path / "half.pt")
    before = digests(tmp_path / "half.pt")
    with pytest.raises(CheckpointDamagedError, match=r"half.pt: the checkpoint file is truncated .*; copy it again "
                                                     r"or load another one \(in .*: no other .pt file\)"):
        MargeModel.from_pretrained(str(tmp_path), checkpoint_file="half.pt", data_name_or_path=str(data))
    assert digests(tmp_path / "half.pt") == before


def dev_dir(tmp_path, sent_lines=None, doc_records=None):
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "en-de.sent.tsv").write_text("".join(sent_lines or ["f\tOpen the menu.\tÖffnen Sie das Menü.\n"]))
    (dev / "en-de.doc.jsonl").write_text("".join(
        (r if isinstance(r, str) else json.dumps(r)) + "\n" for r in doc_records or [{"en": "a b", "de": "c d"}]))
    return dev


@pytest.mark.parametrize("sent_lines, doc_records, reader, message", [
    (["f\ta\tb\n", "f\tOpen the menu.\t\n"], None, read_sentences, "en-de.sent.tsv:2: empty de text"),
    (["f\t   \tb\n"], None, read_sentences, "en-de.sent.tsv:1: empty en text"),
    (["f\ta\tb\n", "a only\tb\n"], None, read_sentences, "en-de.sent.tsv:2: 2 tab-separated fields, expected 3"),
    (None, [{"en": "a", "de": "b"}, {"en": "a"}], read_documents, "en-de.doc.jsonl:2: not a record with 'en' and 'de'"),
    (None, ["{not json"], read_documents, "en-de.doc.jsonl:1: not a record with 'en' and 'de'"),
    (None, [{"en": " \n ", "de": "b"}], read_documents, "en-de.doc.jsonl:1: empty en text"),
], ids=["empty-xx", "whitespace-en", "missing-field", "missing-key", "not-json", "empty-document"])
def test_dev_set_errors_name_file_and_line(tmp_path, sent_lines, doc_records, reader, message):
    with pytest.raises(DevSetError, match=message):
        reader(dev_dir(tmp_path, sent_lines, doc_records), "de")


@pytest.mark.parametrize("sent_lines, message", [
    (["f\tOpen the menu.\tÖffnen Sie das Menü.\n", "f\tOpen it.\t\n"], "en-de.sent.tsv:2: empty de text"),
    (["f\tOpen the menu.\tÖffnen Sie das Menü.\n"] * 3,
     "en-de.sent.tsv: 3 paragraph pair(s); BUCC mining needs at least 4 (a sample half to tune its threshold and a test half)"),
], ids=["bad-line", "too-few-pairs"])
def test_retrieval_eval_stops_at_the_bad_line(data, tmp_path, sent_lines, message):
    dev = dev_dir(tmp_path, sent_lines)
    before = digests(data)
    proc = subprocess.run(
        [sys.executable, "examples/retrieval_eval/evaluate.py", "--path", data / "model.pt", "--data", data,
         "--dev", dev, "--langs", "de", "--cpu"],
        cwd=REPO, env=fairseq_env(), capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1].endswith(message), proc.stderr[-500:]
    assert proc.stdout == "" and digests(data) == before
