"""Retrieval at inference (``--retrieve-from``): generate from the input *and* retrieved evidence.

The paper leaves this for future work.  Here every input x is decoded as a pre-training target
would be: its memory is the top-k documents of an :class:`EvidenceIndex` by f(x, z) (plus x
itself, unless ``read_input`` is off), concatenated, with every key of z_j biased by beta * f(x,
z_j).  Each input gets this memory by one call of the encoder in its training layout: the
evidence rows, then x once more as the "target" row whose g the scores use (a separate row, so
x-as-evidence is not masked as "the target's own document").  The groups of a batch are padded
to one length and stacked, one memory group per input, as the generation layout does.
"""

from typing import Dict, List

import torch
from fairseq.data import data_utils
from fairseq.models import FairseqEncoder, FairseqEncoderDecoderModel
from torch import Tensor

from .evidence_index import EvidenceIndex


class RetrievalAugmentedEncoder(FairseqEncoder):
    def __init__(self, encoder, index: EvidenceIndex, k: int, read_input: bool = True):
        super().__init__(encoder.dictionary)
        self.encoder = encoder
        self.index = index
        self.k = k
        self.read_input = read_input
        self.retrieved: List[List[int]] = []  # ids of the last batch's evidence, for inspection

    def forward(self, src_tokens: Tensor, src_lengths=None, **unused) -> Dict[str, List[Tensor]]:
        pad = self.encoder.padding_idx
        _, ids = self.index.search(self.encoder.relevance_embedding(src_tokens), self.k)
        self.retrieved = [[int(d) for d in row if d >= 0] for row in ids]
        groups = []
        for row, evidence_ids in zip(src_tokens, self.retrieved):
            x = row[row.ne(pad)]  # also strips left padding: g reads position 0
            evidence = self.index.documents(evidence_ids) + ([x] if self.read_input else [])
            tokens = data_utils.collate_tokens([t.to(x.device) for t in evidence] + [x], pad)
            groups.append(self.encoder(
                tokens, num_evidence=len(evidence), target_rows=torch.tensor([len(evidence)], device=x.device)
            ))
        return _stack_groups(groups, src_tokens)

    def reorder_encoder_out(self, encoder_out, new_order):
        return self.encoder.reorder_encoder_out(encoder_out, new_order)

    def max_positions(self):
        return self.encoder.max_positions()


def _stack_groups(groups, src_tokens: Tensor) -> Dict[str, List[Tensor]]:
    """One-group memories (Lk_i, 1, C) -> one (max Lk, B, C) memory, row i reading group i."""
    length = max(g["encoder_out"][0].size(0) for g in groups)

    def pad_keys(t: Tensor, value, dim: int) -> Tensor:
        shape = list(t.shape)
        shape[dim] = length - t.size(dim)
        return torch.cat([t, t.new_full(shape, value)], dim=dim)

    return {
        "encoder_out": [torch.cat([pad_keys(g["encoder_out"][0], 0.0, 0) for g in groups], dim=1)],
        "encoder_padding_mask": [torch.cat([pad_keys(g["encoder_padding_mask"][0], True, 1) for g in groups])],
        "memory_index": [torch.arange(len(groups), device=src_tokens.device)],
        "key_bias": [torch.cat([pad_keys(g["key_bias"][0], float("-inf"), 1) for g in groups])],
        "has_evidence": [torch.cat([g["has_evidence"][0] for g in groups])],
        "relevance": [],
        "key_document": [],  # one group per row: there is no shared key -> document map
        "encoder_states": [],
        "src_tokens": [src_tokens],
        "src_lengths": [],
    }


class RetrievalAugmentedMarge(FairseqEncoderDecoderModel):
    """A trained MARGE model whose encoder retrieves its evidence; the decoder is unchanged."""

    def __init__(self, model, index: EvidenceIndex, k: int, read_input: bool = True):
        super().__init__(RetrievalAugmentedEncoder(model.encoder, index, k, read_input), model.decoder)
