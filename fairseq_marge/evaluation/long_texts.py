"""Translate and embed texts of any length with a hub model: each text is cut into chunks at
line boundaries, the chunks are processed in batches, and the chunk results are merged back.

A text's embedding from an encoder layer is the mean over all its tokens; its g is the mean of
its chunks' g (see :mod:`.embeddings`), since g describes a chunk as a whole."""

from typing import Dict, List

import torch
from torch import Tensor

from .chunking import PAPER_CHUNK_TOKENS, chunk_lines
from .embeddings import RELEVANCE_EMBEDDING, EmbedLayer, layer_embeddings, resolve_embed_layer


def text_chunks(hub, text: str, max_tokens: int = PAPER_CHUNK_TOKENS) -> List[Tensor]:
    """Encoder inputs (``pieces [EOS]``) of ``text``'s chunks; lines are split on newlines."""
    lines = [hub.apply_bpe(line).split() for line in text.split("\n")]
    return [hub.binarize(" ".join(chunk)) for chunk in chunk_lines(lines, max_tokens)]


def _chunked(hub, texts: List[str], max_tokens: int):
    chunks = [text_chunks(hub, text, max_tokens) for text in texts]
    empty = [i for i, cs in enumerate(chunks) if not cs]
    if empty:  # it would have no embedding (a division by zero) and an empty translation
        raise ValueError(f"text {empty[0]} is empty ({len(empty)} of {len(texts)} texts)")
    owner = [i for i, cs in enumerate(chunks) for _ in cs]
    return [c for cs in chunks for c in cs], owner


def translate_texts(hub, texts: List[str], target_lang: str, max_tokens: int = PAPER_CHUNK_TOKENS,
                    **generation) -> List[str]:
    """Chunks are translated independently and their detokenised outputs joined by a space."""
    chunks, owner = _chunked(hub, texts, max_tokens)
    hypos = hub.generate(chunks, inference_step_args={"target_lang": target_lang}, **generation)
    outputs: List[List[str]] = [[] for _ in texts]
    for i, hypo in zip(owner, hypos):
        outputs[i].append(hub.decode(hypo[0]["tokens"]))
    return [" ".join(parts) for parts in outputs]


def embed_texts(hub, texts: List[str], layer=None, max_tokens: int = PAPER_CHUNK_TOKENS) -> Tensor:
    """(N, C) embeddings of ``texts`` from ``layer`` (see :func:`.embeddings.resolve_embed_layer`)."""
    layer = resolve_embed_layer(hub.model.encoder, layer)
    return embed_texts_by_layer(hub, texts, [layer], max_tokens)[layer]


def embed_texts_by_layer(hub, texts: List[str], layers: List[EmbedLayer],
                         max_tokens: int = PAPER_CHUNK_TOKENS) -> Dict[EmbedLayer, Tensor]:
    """{layer: (N, C)} for each of ``layers``, encoding each chunk once.  A layer's text
    embedding is the token-weighted mean of its chunk embeddings, i.e. the mean over all tokens;
    g's is the plain mean."""
    chunks, owner = _chunked(hub, texts, max_tokens)
    encoder = hub.model.encoder
    # (chunks, len(layers), C); the hub's batching, as hub.embed_tokens uses for a single layer
    chunk_embeddings = hub._map_tokens(chunks, lambda src: layer_embeddings(encoder, src, layers)).cpu()
    lengths = torch.tensor([len(c) + 1.0 for c in chunks])  # + the BOS
    weights = torch.stack(
        [torch.ones_like(lengths) if layer == RELEVANCE_EMBEDDING else lengths for layer in layers], dim=1
    )
    owner = torch.tensor(owner)
    sums = torch.zeros(len(texts), *chunk_embeddings.shape[1:]).index_add_(
        0, owner, chunk_embeddings * weights[..., None]
    )
    totals = torch.zeros(len(texts), len(layers)).index_add_(0, owner, weights)
    means = sums / totals[..., None]
    return {layer: means[:, i] for i, layer in enumerate(layers)}
