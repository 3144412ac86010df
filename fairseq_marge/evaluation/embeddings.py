"""Sentence and document embeddings for cross-lingual retrieval (paper section 6.1).

An embedding is the mean of one encoder layer's states over the tokens of the input,
``[BOS] text [EOS]``; the paper uses the 5th layer and no fine-tuning.  (g(d), the relevance
model's BOS state, is a different vector: it is trained to score documents, not sentences.)
"""

import torch
from torch import Tensor

PAPER_EMBED_LAYER = 5


def resolve_embed_layer(encoder, layer=None) -> int:
    """``layer`` (1-based), or the paper's 5th layer capped at the encoder's depth (tiny models)."""
    num_layers = len(encoder.layers)
    if layer is None:
        return min(PAPER_EMBED_LAYER, num_layers)
    if not 1 <= layer <= num_layers:
        raise ValueError(f"--embed-layer {layer}: the encoder has layers 1..{num_layers}")
    return layer


@torch.no_grad()
def mean_layer_states(encoder, src_tokens: Tensor, layer: int) -> Tensor:
    """(N, C) mean of encoder layer ``layer``'s states over the non-padding tokens of each row."""
    out = encoder(src_tokens, return_all_hiddens=True)
    states = out["encoder_states"][layer - 1]  # (L, N, C)
    keep = src_tokens.ne(encoder.padding_idx).t().unsqueeze(-1).to(states.dtype)
    return (states * keep).sum(dim=0) / keep.sum(dim=0)
