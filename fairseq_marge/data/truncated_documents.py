"""Documents cut to their first ``length`` tokens, for ``--doc-length-schedule``.

A cut document keeps its EOS: a prefix of ``length`` tokens, then EOS.  Translations and
paraphrases stay roughly aligned when cut, so a cut target's evidence is still its evidence.

Planners see a cut split through :class:`TruncatedTokens` (cluster budgets and g count what the
model will see); training batches are cut in the main process by :func:`truncate_sample`, not by
the dataset, because DataLoader workers hold a copy of the dataset made before the epoch began.
"""

import numpy as np
import torch


class TruncatedTokens:
    """A view of an indexed dataset of documents (each ending in EOS) cut to ``length`` tokens
    plus EOS; ``sizes`` are the cut sizes, so token budgets count what the model will see."""

    def __init__(self, tokens, length: int, eos: int):
        self.tokens, self.length, self.eos = tokens, length, eos
        self.sizes = np.minimum(np.asarray(tokens.sizes), length + 1)

    def __len__(self):
        return len(self.tokens)

    def __getitem__(self, index):
        doc = self.tokens[index]
        if len(doc) <= self.length + 1:
            return doc
        return torch.cat([doc[: self.length], doc.new_tensor([self.eos])])


def truncate_sample(sample, length: int, pad: int, eos: int):
    """A collated training batch (``MargeDocumentDataset.collater``) with every document cut to
    ``length`` tokens plus EOS: what collating the cut documents would have given."""
    net_input = sample["net_input"]
    # encoder rows are [BOS] doc [EOS]: at most BOS + length + EOS
    src_tokens, src_lengths = _cut_rows(net_input["src_tokens"], length + 2, pad, eos)
    target, _ = _cut_rows(sample["target"], length + 1, pad, eos)
    # decoder inputs are [lang] doc without its EOS: the cut doc's first `length` tokens
    prev = net_input["prev_output_tokens"][:, : length + 1]
    return {
        **sample,
        "ntokens": int(target.ne(pad).sum()),
        "net_input": {**net_input, "src_tokens": src_tokens, "src_lengths": src_lengths,
                      "prev_output_tokens": prev},
        "target": target,
    }


def _cut_rows(rows: torch.Tensor, width: int, pad: int, eos: int):
    """Right-padded rows that end in EOS, cut to at most ``width`` columns, EOS last."""
    lengths = rows.ne(pad).sum(dim=1)
    if rows.size(1) <= width:
        return rows, lengths
    rows = rows[:, :width].clone()
    rows[lengths > width, width - 1] = eos
    return rows, lengths.clamp(max=width)
