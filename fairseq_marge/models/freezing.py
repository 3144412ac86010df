"""Freezing for zero-shot cross-lingual transfer (paper section 6): when a MARGE model is
fine-tuned on one language and applied to others, the word embeddings and the first 4 decoder
layers keep their pre-trained (language-agnostic) values."""

import logging

logger = logging.getLogger(__name__)

PAPER_FROZEN_DECODER_LAYERS = 4


def freeze_for_transfer(model, embeddings: bool, decoder_layers: int) -> None:
    """Stop gradients to the shared token embeddings (also the output projection) and to the
    lowest ``decoder_layers`` decoder layers."""
    if decoder_layers > len(model.decoder.layers):
        raise ValueError(f"--freeze-decoder-layers {decoder_layers}: the decoder has "
                         f"{len(model.decoder.layers)} layers")
    frozen = list(model.decoder.layers[:decoder_layers].parameters())
    if embeddings:
        frozen.append(model.encoder.embed_tokens.weight)
    for parameter in frozen:
        parameter.requires_grad_(False)
    if frozen:
        logger.info(f"frozen for transfer: {sum(p.numel() for p in frozen)} parameters "
                    f"(embeddings: {embeddings}, decoder layers: {decoder_layers})")
