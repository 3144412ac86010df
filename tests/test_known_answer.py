"""Known-answer corpora (examples/known_answer/make_corpus.py): every piece and its twin share a
group, cipher twins share no word with their originals, noisy twins are sub-sequences."""

import json
import re
import subprocess
import sys

from conftest import REPO

TEXT = ("The quick brown fox jumps over the lazy dog 42 times, then sleeps. "
        "Press Enter to continue; press Esc (or Ctrl+C) to quit the program now.")


def make(tmp_path, twin, *args):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"lang": "en", "text": TEXT}) + "\n"
                      + json.dumps({"lang": "de", "text": "Nicht englisch."}) + "\n")
    out = tmp_path / f"{twin}.jsonl"
    subprocess.run([sys.executable, REPO / "examples/known_answer/make_corpus.py", "--twin", twin,
                    "--input", source, "--output", out, "--words", "8", *args], check=True,
                   capture_output=True)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    return list(zip(records[::2], records[1::2]))


def test_cipher_twins_keep_everything_but_the_letters(tmp_path):
    pairs = make(tmp_path, "cipher")
    assert len(pairs) == 3  # 24 English words in pieces of 8; the German document is left out
    table = {}
    for original, twin in pairs:
        assert original["group"] == twin["group"] and (original["lang"], twin["lang"]) == ("en", "eo")
        a, b = original["text"], twin["text"]
        assert len(a) == len(b) and re.sub("[A-Za-z]", "", a) == re.sub("[A-Za-z]", "", b)
        for x, y in zip(a, b):
            assert table.setdefault(x, y) == y and x.isupper() == y.isupper()  # one fixed permutation
        words = set(re.findall("[A-Za-z]{3,}", a))
        assert not words & set(re.findall("[A-Za-z]{3,}", b))
    assert len(set(table.values())) == len(table)  # a bijection


def test_noisy_twins_drop_words_in_order(tmp_path):
    pairs = make(tmp_path, "noisy", "--drop", "0.5")
    assert len({o["group"] for o, _ in pairs}) == 3
    dropped = 0
    for original, twin in pairs:
        words, kept = original["text"].split(), iter(original["text"].split())
        assert all(word in kept for word in twin["text"].split())  # a sub-sequence
        dropped += len(words) - len(twin["text"].split())
    assert 0 < dropped < 24
