"""Helpers for the tests of using a trained model (tests/test_use_*.py): a small data directory
in the real format (made by ``python -m preprocess``, with its sentencepiece model), dev sets in
the corpus's format, and a freshly initialised ``marge_tiny`` checkpoint saved as fairseq does."""

import json
from pathlib import Path

import torch
from omegaconf import OmegaConf

from conftest import build_task_and_model
from preprocess.cli import main as preprocess

SENTENCES = {
    "en": ["The printer number {n} is connected to the network.", "Open the menu and choose option {n}."],
    "de": ["Der Drucker Nummer {n} ist mit dem Netzwerk verbunden.", "Öffnen Sie das Menü und wählen Sie Option {n}."],
    "fr": ["L'imprimante numéro {n} est connectée au réseau.", "Ouvrez le menu et choisissez l'option {n}."],
}


def document(lang: str, n: int) -> str:
    return "\n".join(s.format(n=n) for s in SENTENCES[lang])


def make_real_data_dir(root: Path, groups: int = 12) -> Path:
    """``root/data`` (a data directory) and ``root/dev`` (dev sets in
    the corpus's format: ``en-de.sent.tsv``, ``en-de.doc.jsonl``)."""
    corpus, data, dev = root / "corpus.jsonl", root / "data", root / "dev"
    dev.mkdir(parents=True)
    with open(corpus, "w", encoding="utf-8") as f:
        for g in range(groups):
            for lang in SENTENCES:
                record = {"doc_id": f"{g}-{lang}", "group": f"page{g}", "lang": lang, "text": document(lang, g)}
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
    held_out = range(groups, groups + 3)
    with open(dev / "en-de.sent.tsv", "w", encoding="utf-8") as f:
        for n in held_out:
            for en, de in zip(SENTENCES["en"], SENTENCES["de"]):
                f.write(f"f\t{en.format(n=n)}\t{de.format(n=n)}\n")
    with open(dev / "en-de.doc.jsonl", "w", encoding="utf-8") as f:
        for n in held_out:
            f.write(json.dumps({"id": f"de-{n}", "file": "f", "en": document("en", n), "de": document("de", n)}) + "\n")
    preprocess(["all", "--input", str(corpus), "--out", str(data), "--vocab-size", "120", "--num-shards", "2",
                "--valid-fraction", "0.2", "--max-tokens-per-doc", "64"])
    return data


def save_checkpoint(data_dir: Path, path: Path, *extra_args, seed: int = 0) -> Path:
    """A freshly initialised model, saved with the fields fairseq's loader reads."""
    torch.manual_seed(seed)
    task, model, cfg = build_task_and_model(data_dir, *extra_args)
    torch.save({
        "cfg": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
        "model": model.state_dict(),
        "optimizer_history": [{"criterion_name": "MargeCriterion", "optimizer_name": "Adam",
                               "lr_scheduler_state": {"best": None}, "num_updates": 0}],
        "extra_state": {},
    }, path)
    return path
