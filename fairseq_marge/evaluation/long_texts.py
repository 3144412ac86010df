"""Translate and embed texts of any length with a hub model: each text is cut into chunks at
line boundaries, the chunks are processed in batches, and the chunk results are merged back."""

from typing import List

import torch
from torch import Tensor

from .chunking import PAPER_CHUNK_TOKENS, chunk_lines


def text_chunks(hub, text: str, max_tokens: int = PAPER_CHUNK_TOKENS) -> List[Tensor]:
    """Encoder inputs (``pieces [EOS]``) of ``text``'s chunks; lines are split on newlines."""
    lines = [hub.apply_bpe(line).split() for line in text.split("\n")]
    return [hub.binarize(" ".join(chunk)) for chunk in chunk_lines(lines, max_tokens)]


def _chunked(hub, texts: List[str], max_tokens: int):
    chunks = [text_chunks(hub, text, max_tokens) for text in texts]
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
    """(N, C): the token-weighted mean of the chunk embeddings, i.e. the mean over all tokens."""
    chunks, owner = _chunked(hub, texts, max_tokens)
    chunk_embeddings = hub.embed_tokens(chunks, layer)
    weights = torch.tensor([len(c) + 1.0 for c in chunks])  # + the BOS
    sums = torch.zeros(len(texts), chunk_embeddings.size(1)).index_add_(
        0, torch.tensor(owner), chunk_embeddings.cpu() * weights[:, None]
    )
    totals = torch.zeros(len(texts)).index_add_(0, torch.tensor(owner), weights)
    return sums / totals[:, None]
