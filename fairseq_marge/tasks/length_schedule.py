"""A document-length curriculum: ``--doc-length-schedule``.

Retrieval takes off when the decoder can already read its evidence, and a small decoder learns
to align short documents with their evidence far sooner than long ones (known-answer runs:
12-word twins take off from scratch, 48-word twins do not, but g learned on 12-word pieces
finds 48-word twins at once).  So early epochs may see every document cut to its first
``LENGTH`` tokens, in the grammar of ``--reindex-interval``: ``0-2000:64,2000-4000:128,4000-:512``.
An epoch uses the length in force at its first update, in the three places where a document's
length matters: the clusters' token budget (so short epochs hold more targets per update), the
documents g encodes at the re-index, and the batches trained on
(:mod:`~fairseq_marge.data.truncated_documents`).
"""

from typing import Optional

from .reindex_schedule import update_ranges, value_at


class LengthSchedule:
    def __init__(self, spec: Optional[str]):
        self.ranges = update_ranges(spec, "--doc-length-schedule", "LENGTH", _length) if spec else None

    def length_at(self, update: int) -> Optional[int]:
        """The longest document (tokens without EOS) at ``update``; None: documents are not cut."""
        return None if self.ranges is None else value_at(self.ranges, update)

    def longest(self) -> Optional[int]:
        """The longest any epoch cuts documents to (None: not cut): their size when the budget
        is checked, since the epoch of that length is the one whose clusters hold the fewest."""
        return None if self.ranges is None else max(length for _, _, length in self.ranges)


def _length(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f"document lengths must be positive integers (tokens), not {text!r}")
    return int(text)
