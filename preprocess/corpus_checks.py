"""What a corpus must hold for a step to go on: checked as early as the counts are known, so that
a corpus that cannot make a data directory stops the run with one line (``error: ...``) saying
what is wrong and what to do, instead of a traceback from deep inside sentencepiece
(``[!sentences_.empty()]``) or a data directory that fairseq-train rejects only after loading it.
"""

from typing import Optional, Sequence

from preprocess.report import InputError, Report

# MARGE reconstructs a target from *other* documents: a lone document has no evidence
MIN_DOCUMENTS = 2


def check_not_empty(paths: Sequence, report: Report):
    """After reading: the input held at least one record."""
    if report.documents_in == 0:
        names = " ".join(map(str, paths))
        raise InputError(f"{names}: no documents (the input is empty): give JSONL with one "
                         '{"text": ...} object per line, or a directory of text files')


def check_documents_left(count: int, report: Report, after: str, minimum: int = MIN_DOCUMENTS,
                         langs: Optional[Sequence[str]] = None):
    """``count`` documents are left ``after`` some step: at least ``minimum``, or say why not."""
    if count >= minimum:
        return
    if count == 0 and langs and report.dropped.get("lang_not_selected"):
        found = report.stats.get("lang_not_selected", {})
        found = ", ".join(f"{lang} {n}" for lang, n in sorted(found.items(), key=lambda x: -x[1]))
        raise InputError(f"--langs {','.join(langs)} keeps none of the documents (their languages: "
                         f"{found}): choose --langs among these")
    dropped = ", ".join(f"{reason} {n}" for reason, n in report.dropped.most_common())
    dropped = f" (dropped: {dropped}; the report's examples name file:line)" if dropped else ""
    if count == 0:
        raise InputError(f"none of the {report.documents_in} input documents is left after {after}"
                         f"{dropped}: fix or add input")
    raise InputError(f"only {count} document is left after {after}{dropped}: MARGE reconstructs each "
                     f"document from other ones, so it needs at least {minimum}: add documents")
