"""Sentence and document embeddings for cross-lingual retrieval (paper section 6.1).

An embedding is read from one of the encoder's representations of ``[BOS] text [EOS]``:

- an encoder layer ``1..L``: the mean of that layer's states over the tokens of the input;
- ``"g"``: the relevance embedding g, the BOS state after the first ``relevance_layers`` layers,
  L2-normalised as re-indexing uses it.  It is trained to score documents, not sentences.

The default is the layer just above g (``relevance_layers + 1``, capped at the encoder's depth):
the paper reads g after 4 of 12 layers and embeds sentences with the 5th, without fine-tuning.
"""

from typing import List, Union

import torch
import torch.nn.functional as F
from torch import Tensor

RELEVANCE_EMBEDDING = "g"
EmbedLayer = Union[int, str]  # an encoder layer 1..L, or RELEVANCE_EMBEDDING


def default_embed_layer(encoder) -> int:
    return min(encoder.relevance_layers + 1, len(encoder.layers))


def resolve_embed_layer(encoder, layer=None) -> EmbedLayer:
    """``layer`` as an :data:`EmbedLayer` of ``encoder``: an encoder layer (1-based, an int or a
    string of digits, as a command line gives it), ``"g"``, or None for the default."""
    if layer is None:
        return default_embed_layer(encoder)
    if layer == RELEVANCE_EMBEDDING:
        return layer
    num_layers = len(encoder.layers)
    number = int(layer) if isinstance(layer, str) and layer.isdigit() else layer
    if not (isinstance(number, int) and 1 <= number <= num_layers):
        raise ValueError(
            f"--embed-layer {layer}: expected an encoder layer 1..{num_layers} "
            f"or '{RELEVANCE_EMBEDDING}' (the relevance embedding)"
        )
    return number


def all_embed_layers(encoder) -> List[EmbedLayer]:
    """g, then every encoder layer: a sweep."""
    return [RELEVANCE_EMBEDDING, *range(1, len(encoder.layers) + 1)]


@torch.no_grad()
def layer_embeddings(encoder, src_tokens: Tensor, layers: List[EmbedLayer]) -> Tensor:
    """(N, len(layers), C): each row's embedding for each of ``layers``, from one forward pass;
    fp32 also from a bf16 or fp16 model (means, norms and the search run in fp32)."""
    states = encoder(src_tokens, return_all_hiddens=True)["encoder_states"]  # L x (T, N, C)
    keep = src_tokens.ne(encoder.padding_idx).t().unsqueeze(-1).float()

    def embedding(layer: EmbedLayer) -> Tensor:
        if layer == RELEVANCE_EMBEDDING:
            # the BOS state after layer relevance_layers, which is what relevance_embedding
            # returns (tests/test_embed_layers.py checks it), without a second forward pass
            return F.normalize(states[encoder.relevance_layers - 1][0].float(), dim=-1)
        return (states[layer - 1] * keep).sum(dim=0) / keep.sum(dim=0)

    return torch.stack([embedding(layer) for layer in layers], dim=1)


def mean_layer_states(encoder, src_tokens: Tensor, layer: int) -> Tensor:
    """(N, C) mean of encoder layer ``layer``'s states over the non-padding tokens of each row."""
    return layer_embeddings(encoder, src_tokens, [layer])[:, 0]
