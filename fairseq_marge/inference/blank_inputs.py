"""Raw inputs with nothing in them: fairseq-interactive reads a blank (or whitespace-only) line
as an input of just EOS and, like fairseq's own translation task, would print a confident
"translation" of nothing for it.  Here such a row is left out of the batches with a counted
warning; it keeps its id (fairseq-interactive's S-/H- number is the line's), so the outputs
still align with the input lines, that line's number having none.
"""

import logging

import numpy as np
from fairseq.data import LanguagePairDataset

logger = logging.getLogger(__name__)

# [BOS] EOS: the encoder's BOS (build_dataset_for_inference prepends it) and the line's EOS
BLANK_SIZE = 2


class InputsWithoutBlanks(LanguagePairDataset):
    """A ``LanguagePairDataset`` of inference inputs whose batches leave out blank rows."""

    def ordered_indices(self):
        indices = super().ordered_indices()
        return indices[self.src_sizes[indices] > BLANK_SIZE]


class BlankInputCounter:
    """Counts the blank inputs left out so far, one warning per batch of input lines that has some."""

    def __init__(self):
        self.skipped = 0

    def count(self, sizes) -> None:
        blanks = np.flatnonzero(np.asarray(sizes) <= BLANK_SIZE)
        if len(blanks):
            self.skipped += len(blanks)
            logger.warning(f"{len(blanks)} blank input line(s) skipped, {self.skipped} so far: there is "
                           "nothing to translate (their S-/H- numbers get no output)")
