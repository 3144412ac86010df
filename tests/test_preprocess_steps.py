"""Unit tests of the preprocess steps, on inputs made in the test."""

import json

import pytest

from preprocess.chunk import TextChunker, split_sentences
from preprocess.clean import clean_documents, normalise_text
from preprocess.document import Chunk, Document
from preprocess.langid import identify_languages
from preprocess.languages import base_language, normalise_tag, select_language
from preprocess.reader import read_documents
from preprocess.report import InputError, Report
from preprocess.shard import assign_shards
from preprocess.split import assign_splits
from preprocess.vocab import language_probabilities, train_sentencepiece

ENGLISH = "The printer in the office is connected to the network and prints every document."
GERMAN = "Der Drucker im Büro ist mit dem Netzwerk verbunden und druckt jedes Dokument."


def write_lines(path, lines):
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines))
    return path


def read(paths, on_error="skip"):
    report = Report(on_error)
    return list(read_documents(paths, report)), report


# --- reader -----------------------------------------------------------------------------------


def test_reader_counts_bad_lines_by_reason_with_file_and_line(tmp_path):
    path = write_lines(tmp_path / "in.jsonl", [
        json.dumps({"text": ENGLISH, "id": "a", "lang": "en", "group": 7}),
        '{"text": "unterminated',
        b'{"text": "caf\xe9"}',
        "",
        json.dumps({"lang": "en"}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"text": GERMAN, "lang": ["de"]}),
    ])
    documents, report = read([path])
    assert [(d.doc_id, d.group, d.lang) for d in documents] == [("a", "7", "en")]
    assert report.documents_in == 6  # the blank line is no record
    assert report.dropped == {"malformed_json": 1, "invalid_utf8": 1, "malformed_record": 3}
    assert report.examples["invalid_utf8"][0].startswith(f"{path}:3: invalid UTF-8")
    assert report.examples["malformed_json"][0].startswith(f"{path}:2:")


def test_reader_stops_on_first_bad_line_naming_it(tmp_path):
    path = write_lines(tmp_path / "in.jsonl", [json.dumps({"text": ENGLISH}), b'{"text": "\xff"}'])
    with pytest.raises(InputError, match=rf"^{path}:2: invalid UTF-8.*--on-error skip"):
        read([path], on_error="stop")


def test_reader_reads_a_directory_of_text_files(tmp_path):
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    (tmp_path / "docs" / "a.txt").write_text(ENGLISH)
    (tmp_path / "docs" / "sub" / "b.txt").write_bytes(b"line one\nline \xfe two\n")
    (tmp_path / "docs" / ".hidden").write_text("ignored")
    documents, report = read([tmp_path / "docs"])
    assert [d.doc_id for d in documents] == ["a.txt"]
    assert report.documents_in == 2
    assert report.examples["invalid_utf8"][0].startswith(f"{tmp_path / 'docs' / 'sub' / 'b.txt'}:2:")


# --- clean ------------------------------------------------------------------------------------


def test_normalise_text():
    raw = "  Cafe\u0301\u00a0 au\tlait \x00\r\n\r\n\u2028second\x07 line\ufeff  \n\n"
    assert normalise_text(raw) == "Café au lait\nsecond line"


def test_clean_drops_duplicates_and_empty_texts_and_warns_on_duplicate_ids():
    report = Report("skip")
    documents = [
        Document(ENGLISH, "f:1", doc_id="a"),
        Document("  " + ENGLISH.replace(" ", "  ") + "\n", "f:2", doc_id="b"),  # same after cleaning
        Document(GERMAN, "f:3", doc_id="a"),
        Document("\x00\x01 \n", "f:4", doc_id="c"),
    ]
    kept = list(clean_documents(documents, report, workers=1))
    assert [d.origin for d in kept] == ["f:1", "f:3"]
    assert report.dropped == {"duplicate_text": 1, "empty_text": 1}
    assert report.warnings == {"duplicate_doc_id": 1}
    with pytest.raises(InputError, match="^f:4: empty text"):
        list(clean_documents(documents, Report("stop"), workers=1))


# --- languages --------------------------------------------------------------------------------


@pytest.mark.parametrize("tag, expected", [
    ("de-1996|deu_1996", "de"), ("pt_br", "pt-BR"), ("zh-hant-tw", "zh-Hant-TW"), ("ca-valencia", "ca"),
    ("es|042", "es"), ("EN", "en"), ("und", None), ("und|013", None), ("", None), ("12", None),
    ("es-419", "es-419"),
])
def test_normalise_tag(tag, expected):
    assert normalise_tag(tag) == expected


def test_base_language_and_selection():
    assert base_language("pt-BR") == "pt" and base_language("nb") == "no"
    assert select_language("de-AT", ["de", "en"]) == "de"
    assert select_language("pt-BR", ["pt-BR", "pt"]) == "pt-BR"
    assert select_language("pt", ["pt-BR"]) is None


def test_langid_keeps_given_label_counts_mismatches_and_filters():
    def documents():
        return [
            Document(ENGLISH, "f:1", lang="en"),
            Document(GERMAN, "f:2", lang="en"),  # mislabelled
            Document(GERMAN, "f:3"),  # no label: LID's
            Document("1234 5678 ## 42", "f:4"),  # no label, LID unsure
            Document(ENGLISH, "f:5", lang="tlh"),  # a language LID does not know
            Document(GERMAN, "f:6", lang="de-1996|deu_1996"),
            Document(GERMAN, "f:7", lang="und|013"),  # undetermined: LID's label, no warning
            Document(ENGLISH, "f:8", lang="??"),  # no language tag: LID's label, a warning
        ]

    report = Report()
    kept = identify_languages(documents(), report, workers=1)
    assert [(d.origin, d.lang) for d in kept] == [("f:1", "en"), ("f:2", "en"), ("f:3", "de"), ("f:5", "tlh"),
                                                  ("f:6", "de"), ("f:7", "de"), ("f:8", "en")]
    assert report.dropped == {"lid_low_confidence": 1}
    assert report.warnings == {"lang_mismatch": 2, "invalid_lang_tag": 1}
    assert report.stats["lang_mismatch_pairs"] == {"en->de": 1, "tlh->en": 1}

    report = Report()
    kept = identify_languages(documents(), report, workers=1, langs=["en", "de"], drop_mismatch=True)
    assert [d.origin for d in kept] == ["f:1", "f:3", "f:6", "f:7", "f:8"]
    assert report.dropped == {"lid_low_confidence": 1, "lang_mismatch": 2}


# --- vocab ------------------------------------------------------------------------------------


def test_temperature_sampling_flattens_language_distribution():
    counts = {"en": 900, "de": 90, "fr": 10}
    assert language_probabilities(counts, 1.0) == pytest.approx({"en": 0.9, "de": 0.09, "fr": 0.01})
    flat = language_probabilities(counts, 5.0)
    assert flat["fr"] > 0.1 and sum(flat.values()) == pytest.approx(1.0)


def test_train_sentencepiece_on_a_tiny_corpus(tmp_path):
    documents = [Document(f"{ENGLISH} {i}\n{ENGLISH[::-1]}", "f", lang="en") for i in range(20)]
    documents += [Document(f"{GERMAN} {i}", "f", lang="de") for i in range(3)]
    report = Report()
    model = train_sentencepiece(documents, str(tmp_path / "sp"), report, vocab_size=80, temperature=2.0)
    assert model == f"{tmp_path}/sp.model"
    sample = report.stats["vocab"]["sample_sentences_per_lang"]
    assert sum(sample.values()) == 43 and sample["de"] > 3  # German upsampled, total = corpus lines


# --- chunk ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
    text = "\n".join([ENGLISH, GERMAN] * 5)
    prefix = tmp_path_factory.mktemp("spm") / "sp"
    return train_sentencepiece([Document(text, "f", lang="en")], str(prefix), Report(), vocab_size=60)


def test_split_sentences():
    assert split_sentences("One. Two! Three? 四。五") == ["One.", "Two!", "Three?", "四。", "五"]


def test_chunker_cuts_on_paragraphs_then_sentences_then_hard(spm_model):
    pieces_per_sentence = len(TextChunker(spm_model, max_tokens=1).sp.encode(ENGLISH))
    max_tokens = pieces_per_sentence * 3 // 2  # one sentence fits, two do not
    chunker = TextChunker(spm_model, max_tokens)

    result = chunker(f"{ENGLISH}\n{ENGLISH}\n{ENGLISH}")
    assert len(result.chunks) == 3 and (result.sentence_splits, result.hard_splits) == (0, 0)

    result = chunker(f"{ENGLISH} {ENGLISH} {ENGLISH}")  # one paragraph
    assert len(result.chunks) == 3 and (result.sentence_splits, result.hard_splits) == (1, 0)

    result = chunker(" ".join([ENGLISH.rstrip(".")] * 3))  # one sentence
    assert (result.sentence_splits, result.hard_splits) == (1, 1)
    assert all(len(chunk) <= max_tokens for chunk in result.chunks)
    assert sum(map(len, result.chunks)) == len(chunker.sp.encode(" ".join([ENGLISH.rstrip(".")] * 3)))


# --- shard and split --------------------------------------------------------------------------


def make_chunks():
    chunks = []
    for g in range(30):
        for lang in ("en", "de", "fr"):
            for index in range(1 + g % 3):
                chunks.append(Chunk("▁a", index, f"{g}-{lang}", f"f:{g}", lang, date=f"2020-01-0{1 + g % 4}",
                                    group=f"g{g}" if g % 5 else None))
    return chunks


def test_shard_by_group_keeps_groups_together_and_spreads_the_rest():
    chunks = assign_shards(make_chunks(), "group", 7, "all", seed=1, report=Report())
    shards = {}
    for chunk in chunks:
        if chunk.group is not None:
            shards.setdefault(chunk.group, set()).add(chunk.shard)
    assert all(len(s) == 1 for s in shards.values()) and len(set.union(*shards.values())) > 3
    assert all(c.may_be_target for c in chunks)
    assert all(0 <= c.shard < 7 for c in chunks)


def test_shard_by_date_and_first_chunk_targets():
    chunks = make_chunks()
    chunks[0].date = None  # the whole first document (one chunk) has no date
    report = Report("skip")
    kept = assign_shards(chunks, "date", 1000, "first-chunk", seed=1, report=report)
    assert report.dropped == {"missing_date": 1} and len(kept) == len(chunks) - 1
    assert {c.date: c.shard for c in kept} == {"2020-01-01": 0, "2020-01-02": 1, "2020-01-03": 2, "2020-01-04": 3}
    assert all(c.may_be_target == (c.index == 0) for c in kept)


def test_valid_split_holds_out_whole_groups():
    chunks = assign_splits(make_chunks(), 0.2, seed=1, report=Report())
    sides = {}
    for chunk in chunks:
        sides.setdefault(chunk.group or chunk.doc_id, set()).add(chunk.split)
    assert all(len(s) == 1 for s in sides.values())
    assert sum(s == {"valid"} for s in sides.values()) == 9  # ceil(0.2 * (24 groups + 18 ungrouped docs))
