"""End-to-end tests of ``python -m preprocess``: small corpora made in the test, bad input
included, and the data directory read back the way the ``marge`` task reads it."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import sentencepiece as spm
from fairseq.data import Dictionary, data_utils

from conftest import REPO, fairseq_env, run_cli
from fairseq_marge.data.document_metadata import load_metadata
from preprocess.cli import main

TEMPLATES = {
    "en": ["The printer number {n} in the office is connected to the network.",
           "Open the menu and choose option {n} to save your document as a new file.",
           "This page explains how to configure the keyboard shortcut {n} for the editor."],
    "de": ["Der Drucker Nummer {n} im Büro ist mit dem Netzwerk verbunden.",
           "Öffnen Sie das Menü und wählen Sie die Option {n}, um Ihr Dokument als neue Datei zu speichern.",
           "Diese Seite erklärt, wie man die Tastenkombination {n} für den Editor einrichtet."],
    "fr": ["L'imprimante numéro {n} du bureau est connectée au réseau.",
           "Ouvrez le menu et choisissez l'option {n} pour enregistrer votre document dans un nouveau fichier.",
           "Cette page explique comment configurer le raccourci clavier {n} pour l'éditeur."],
}
MAX_TOKENS = 64


def document_text(lang, group):
    return "\n".join(t.format(n=group * 10 + i) for i, t in enumerate(TEMPLATES[lang]))


def write_jsonl(path, records):
    with open(path, "wb") as f:
        for record in records:
            f.write(record if isinstance(record, bytes) else json.dumps(record, ensure_ascii=False).encode())
            f.write(b"\n")
    return path


def grouped_records(groups=12, langs=("en", "de", "fr")):
    return [{"doc_id": f"{g}-{lang}", "group": f"page{g}", "lang": lang, "text": document_text(lang, g)}
            for g in range(groups) for lang in langs]


def run(*args):
    return main([str(a) for a in args]).as_dict()


def all_args(corpus, out, *extra):
    return ["all", "--input", corpus, "--out", out, "--vocab-size", 150, "--num-shards", 4,
            "--valid-fraction", 0.2, "--max-tokens-per-doc", MAX_TOKENS, *extra]


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    """A run over a corpus with every kind of bad input, under ``--on-error skip``."""
    tmp = tmp_path_factory.mktemp("messy")
    records = grouped_records()
    records += [
        b'{"text": "unterminated',  # line 37
        b'{"text": "caf\xe9 au lait"}',
        {"doc_id": "empty", "text": " \u0000 \n "},
        {"doc_id": "dup", "lang": "en", "text": records[0]["text"]},  # duplicate text
        {"doc_id": "0-en", "lang": "en", "text": "A different text that reuses the id of the first."},
        {"doc_id": "mislabelled", "lang": "fr", "group": "page1", "text": document_text("de", 99)},
        {"doc_id": "klingon", "lang": "tlh", "text": "The ship is ready for battle, captain, and waits."},
        {"doc_id": "unsure", "text": "1234 5678 ## 42"},
        {"doc_id": "long", "lang": "en", "text": " and ".join(TEMPLATES["en"][1].format(n=n).rstrip(".")
                                                             for n in range(20)) + "."},
    ]
    corpus = write_jsonl(tmp / "corpus.jsonl", records)
    out = tmp / "data-bin"
    report = run(*all_args(corpus, out, "--on-error", "skip", "--workers", 1))
    return corpus, out, report


def read_split(out, split):
    dictionary = Dictionary.load(str(out / "dict.txt"))
    langs = (out / "langs.txt").read_text().split()
    dataset = data_utils.load_indexed_dataset(str(out / split), dictionary)
    return dictionary, langs, dataset, load_metadata(str(out / split), len(dataset), len(langs))


def test_every_document_is_output_or_dropped_for_a_reason(messy):
    _, _, report = messy
    documents = report["documents"]
    assert documents["in"] == 12 * 3 + 9
    assert documents["in"] == documents["out"] + sum(documents["dropped"].values())
    assert documents["dropped"] == {"duplicate_text": 1, "empty_text": 1, "invalid_utf8": 1,
                                    "lid_low_confidence": 1, "malformed_json": 1}
    assert report["warnings"] == {"duplicate_doc_id": 1, "lang_mismatch": 2}
    assert report["examples"]["malformed_json"][0].startswith(f"{messy[0]}:37:")
    assert report["chunking"]["sentences_hard_split"] == 1


def test_data_directory_round_trips(messy):
    corpus, out, report = messy
    assert {p.name for p in out.iterdir()} == {
        "dict.txt", "langs.txt", "sentencepiece.model", "sentencepiece.vocab", "report.json",
        "train.bin", "train.idx", "train.meta.npy", "valid.bin", "valid.idx", "valid.meta.npy"}
    sp = spm.SentencePieceProcessor(model_file=str(out / "sentencepiece.model"))
    texts = {document_text(lang, g).replace("\n", " ") for g in range(12) for lang in TEMPLATES}
    decoded, shard_of_group, split_of_group, total = [], {}, {}, 0
    for split in ("train", "valid"):
        dictionary, langs, dataset, meta = read_split(out, split)
        assert langs == ["de", "en", "fr", "tlh"] and not any(s.startswith("[") for s in dictionary.symbols)
        total += len(dataset)
        for i in range(len(dataset)):
            tokens = dataset[i]
            assert tokens[-1] == dictionary.eos() and len(tokens) <= MAX_TOKENS + 1
            decoded.append(sp.decode(dictionary.string(tokens[:-1]).split()))
            group = int(meta["group"][i])
            if group >= 0:
                assert shard_of_group.setdefault(group, meta["shard"][i]) == meta["shard"][i]
                assert split_of_group.setdefault(group, split) == split
        assert meta["may_be_target"].all() and (meta["shard"] < 4).all()
    # a document's chunks are consecutive: joined, they decode to its cleaned text
    assert all(text in " ".join(decoded) for text in texts)
    assert total == report["chunking"]["chunks"]
    assert set(split_of_group.values()) == {"train", "valid"}


def test_on_error_stop_names_file_and_line(tmp_path):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", grouped_records(2) + [b'{"text": 1}'])
    with pytest.raises(SystemExit, match=rf"{corpus}:7: no string field 'text'"):
        run(*all_args(corpus, tmp_path / "out"))


@pytest.mark.parametrize("records, extra, error", [
    ([], ["--on-error", "stop"], r"corpus.jsonl: no documents \(the input is empty\): give JSONL"),
    ([], ["--on-error", "skip"], r"corpus.jsonl: no documents \(the input is empty\): give JSONL"),
    ([b'{"text": "unterminated'] * 3, ["--on-error", "skip"],
     r"none of the 3 input documents is left after cleaning and language ID \(dropped: malformed_json 3;"),
    (grouped_records(2, langs=("en", "de")), ["--langs", "fr"],
     r"--langs fr keeps none of the documents \(their languages: en 2, de 2\): choose --langs among these"),
    (grouped_records(1, langs=("en",)), [], r"only 1 document is left after cleaning and language ID: MARGE "
                                            r"reconstructs each document from other ones, so it needs at least 2"),
    (grouped_records(2), ["--vocab-size", 10], r"--vocab-size 10 is too small for the corpus's characters, "
                                                r"which need \d+ pieces at --character-coverage 0.9995: use"),
], ids=["empty", "empty-skip", "all-dropped", "langs-keep-nothing", "single-document", "vocab-below-alphabet"])
def test_a_corpus_that_cannot_make_a_data_directory_stops_with_one_line(tmp_path, records, extra, error):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", records)
    with pytest.raises(SystemExit, match=f"^error: .*{error}"):
        run(*all_args(corpus, tmp_path / "out", *extra))
    assert not (tmp_path / "out" / "sentencepiece.model").exists(), "checked before training sentencepiece"


def test_bad_corpus_from_the_command_line_exits_non_zero_without_a_traceback(tmp_path):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", [])
    proc = subprocess.run([sys.executable, "-m", "preprocess", *map(str, all_args(corpus, tmp_path / "out"))],
                          cwd=REPO, env=fairseq_env(), capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {corpus}: no documents (the input is empty): give JSONL with one "
        '{"text": ...} object per line, or a directory of text files')


def test_corpus_too_small_for_the_vocabulary_size_warns_and_gives_a_smaller_one(tmp_path, capsys):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", grouped_records(2))
    report = run(*all_args(corpus, tmp_path / "out", "--vocab-size", 32000))
    pieces = report["vocab"]["pieces"]
    assert pieces < 32000
    assert (f"--vocab-size 32000: the corpus has text for {pieces} pieces only, so the vocabulary has "
            f"{pieces}; add text, or ask for --vocab-size {pieces} or less") in capsys.readouterr().err


def test_single_language_corpus_without_labels_or_groups(tmp_path):
    records = [{"text": document_text("en", g)} for g in range(10)]
    corpus = write_jsonl(tmp_path / "corpus.jsonl", records)
    report = run(*all_args(corpus, tmp_path / "out", "--shard-by", "hash"))
    assert report["documents"] == {"in": 10, "out": 10, "dropped": {}}
    dictionary, langs, dataset, meta = read_split(tmp_path / "out", "train")
    assert langs == ["en"] and (meta["group"] == -1).all() and (meta["lang"] == 0).all()


def test_documents_without_id_get_the_same_shard_and_split_wherever_the_corpus_lies(tmp_path):
    """Without a doc_id a document is hashed by its text: not by its file's path, which moved
    from one pytest run to the next and made shard layouts (and a test) a matter of luck."""
    records = [{"text": document_text("en", g)} for g in range(10)]

    def placement(where, records):
        """{(split, a document's tokens): its shard} of ``records`` preprocessed in ``where``."""
        (tmp_path / where).mkdir(parents=True)
        corpus = write_jsonl(tmp_path / where / "corpus.jsonl", records)
        run(*all_args(corpus, tmp_path / where / "out", "--shard-by", "hash", "--num-shards", 8,
                      "--max-tokens-per-doc", 512))  # a chunk per document
        shards = {}
        for split in ("train", "valid"):
            _, _, dataset, meta = read_split(tmp_path / where / "out", split)
            shards.update(((split, tuple(dataset[i].tolist())), int(meta["shard"][i])) for i in range(len(dataset)))
        return shards

    here = placement("a", records)
    assert len(here) == 10 and placement("b/c", records[::-1]) == here


def test_workers_and_single_steps_give_the_same_data(messy, tmp_path):
    corpus, reference, _ = messy
    common = ["--on-error", "skip", "--spm-model", reference / "sentencepiece.model"]
    run(*all_args(corpus, tmp_path / "two-workers", *common, "--workers", 2))

    run("clean", "--input", corpus, "--output", tmp_path / "clean.jsonl", "--on-error", "skip")
    run("langid", "--input", tmp_path / "clean.jsonl", "--output", tmp_path / "lid.jsonl")
    run("chunk", "--input", tmp_path / "lid.jsonl", "--output", tmp_path / "chunks.jsonl",
        "--spm-model", reference / "sentencepiece.model", "--max-tokens-per-doc", MAX_TOKENS)
    run("shard", "--input", tmp_path / "chunks.jsonl", "--output", tmp_path / "sharded.jsonl",
        "--num-shards", 4, "--valid-fraction", 0.2)
    report = run("binarize", "--input", tmp_path / "sharded.jsonl", "--out", tmp_path / "steps",
                 "--spm-model", reference / "sentencepiece.model")
    assert report["documents"]["in"] == report["documents"]["out"]

    for out in (tmp_path / "two-workers", tmp_path / "steps"):
        for name in ("dict.txt", "langs.txt", "train.bin", "train.idx", "valid.bin", "valid.meta.npy"):
            assert (out / name).read_bytes() == (reference / name).read_bytes(), (out, name)


def test_parallel_dev_set(messy, tmp_path):
    _, data_bin, _ = messy
    long_en = "\n".join(document_text("en", g) for g in range(6))
    long_de = "\n".join(document_text("de", g) for g in range(6))
    tsv = tmp_path / "en-de.sent.tsv"
    pairs = [(TEMPLATES["en"][0].format(n=g), TEMPLATES["de"][0].format(n=g)) for g in range(3)]
    tsv.write_text("".join(f"f\t{en}\t{de}\n" for en, de in pairs) + "only\ttwo fields\n")
    docs = write_jsonl(tmp_path / "en-de.doc.jsonl", [
        {"id": "short", "file": "a", "en": TEMPLATES["en"][1].format(n=7), "de": TEMPLATES["de"][1].format(n=7)},
        {"id": "long", "file": "b", "en": long_en, "de": long_de},
        {"id": "unaligned", "file": "c", "en": long_en, "de": long_de.replace("\n", " ", 3)},
    ])
    report = run("parallel", "--input", tsv, "--data-bin", data_bin, "--src", "en", "--tgt", "de",
                 "--split", "test", "--on-error", "skip", "--max-tokens-per-doc", MAX_TOKENS)
    assert report["documents"] == {"in": 4, "out": 3, "dropped": {"malformed_record": 1}}
    report = run("parallel", "--input", docs, "--data-bin", data_bin, "--src", "de", "--tgt", "en",
                 "--split", "testdoc", "--max-tokens-per-doc", MAX_TOKENS)
    assert report["documents"] == {"in": 3, "out": 2, "dropped": {"too_long_unaligned": 1}}

    dictionary = Dictionary.load(str(data_bin / "dict.txt"))
    ids = (data_bin / "testdoc.de-en.ids.txt").read_text().split()
    assert ids[0] == "short#0" and ids[1:] == [f"long#{k}" for k in range(len(ids) - 1)] and len(ids) > 2
    refs = (data_bin / "testdoc.de-en.en.txt").read_text().splitlines()
    assert refs[0] == TEMPLATES["en"][1].format(n=7)
    assert " ".join(refs[1:]) == long_en.replace("\n", " ")
    for lang in ("de", "en"):
        dataset = data_utils.load_indexed_dataset(str(data_bin / f"testdoc.de-en.{lang}"), dictionary)
        assert len(dataset) == len(ids)
        assert all(dataset[i][-1] == dictionary.eos() and len(dataset[i]) <= MAX_TOKENS + 1
                   for i in range(len(dataset)))
    assert (data_bin / "test.en-de.de.txt").read_text().splitlines() == [de for _, de in pairs]


def train_a_few_updates(data_dir, save_dir, max_tokens=300):
    """fairseq-train with two re-indexes on a directory preprocess wrote; its log."""
    result = run_cli(
        "fairseq-train", data_dir, "--user-dir", "fairseq_marge", "--task", "marge",
        "--arch", "marge_tiny", "--criterion", "marge", "--max-tokens", max_tokens,
        "--optimizer", "adam", "--lr", "1e-3", "--max-update", "4", "--reindex-interval", "2",
        "--cpu", "--num-workers", "0", "--save-dir", save_dir, "--no-epoch-checkpoints",
        "--disable-validation", "--log-format", "simple", "--log-interval", "1",
    )
    return result.stdout + result.stderr


@pytest.mark.slow
def test_training_runs_on_what_remains_of_the_messy_corpus(messy, tmp_path):
    _, out, _ = messy
    log = train_a_few_updates(out, tmp_path)
    assert re.search(r"re-index 2 after 2 updates", log)
    assert "num_updates 4" in log and "Traceback" not in log


@pytest.mark.slow
def test_single_language_corpus_in_shards_of_one_document_trains_and_says_why_links_are_missing(tmp_path):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", [{"text": document_text("en", g)} for g in range(6)])
    # one chunk per document (no --max-tokens-per-doc cut), and more shards than documents
    run(*all_args(corpus, tmp_path / "out", "--shard-by", "hash", "--num-shards", 8,
                  "--valid-fraction", 0, "--max-tokens-per-doc", 512))
    shards = np.bincount(read_split(tmp_path / "out", "train")[3]["shard"])
    assert shards.max() >= 2 and (shards == 1).any()  # a cluster to train on, and a lone document
    # whole documents: a cluster of two needs more than the messy corpus's 300 tokens
    log = train_a_few_updates(tmp_path / "out", tmp_path / "save", max_tokens=2048)
    assert re.search(r"re-index 1: \d+ shard\(s\) with one language only", log)
    assert re.search(r"re-index 1: \d+ shard\(s\) with one document \(no evidence for it\)", log)
    assert "num_updates 4" in log and "Traceback" not in log
