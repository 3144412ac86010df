"""MARGE's decoder: ``decoder_self_layers`` layers without cross-attention at its base, then
``decoder_layers`` layers whose cross-attention reads every evidence document with the
relevance bias.  Its first input is the target's language token (the data supplies it in
training; the task forces it as ``bos_token`` in generation)."""

import math
from typing import Dict, List, Optional

import torch
from fairseq import utils
from fairseq.models import FairseqIncrementalDecoder
from fairseq.modules import LayerNorm, PositionalEmbedding
from fairseq.modules.fairseq_dropout import FairseqDropout
from torch import Tensor, nn

from ..modules.marge_decoder_layer import MargeDecoderLayer


class MargeDecoder(FairseqIncrementalDecoder):
    def __init__(self, cfg, dictionary, embed_tokens: nn.Embedding):
        super().__init__(dictionary)
        embed_dim = embed_tokens.embedding_dim
        self.padding_idx = embed_tokens.padding_idx
        self.max_target_positions = cfg.max_target_positions
        self.embed_tokens = embed_tokens
        self.embed_scale = 1.0 if cfg.no_scale_embedding else math.sqrt(embed_dim)
        self.embed_positions = PositionalEmbedding(
            cfg.max_target_positions, embed_dim, self.padding_idx, learned=True
        )
        self.layernorm_embedding = LayerNorm(embed_dim) if cfg.layernorm_embedding else None
        self.dropout_module = FairseqDropout(cfg.dropout, module_name=self.__class__.__name__)
        self.layers = nn.ModuleList(
            [
                MargeDecoderLayer(cfg, embed_dim, cfg.decoder_self_ffn_embed_dim, cross_attention=False)
                for _ in range(cfg.decoder_self_layers)
            ]
            + [
                MargeDecoderLayer(cfg, embed_dim, cfg.decoder_ffn_embed_dim, cross_attention=True)
                for _ in range(cfg.decoder_layers)
            ]
        )
        self.layer_norm = LayerNorm(embed_dim) if cfg.decoder_normalize_before else None
        # output projection tied to the (shared) token embeddings
        self.output_projection = nn.Linear(embed_dim, len(dictionary), bias=False)
        self.output_projection.weight = embed_tokens.weight
        self._future_mask = torch.empty(0)

    def forward(
        self,
        prev_output_tokens: Tensor,
        encoder_out: Dict[str, List[Tensor]],
        incremental_state: Optional[Dict[str, Dict[str, Optional[Tensor]]]] = None,
        features_only: bool = False,
        need_attn: bool = False,
        **unused,
    ):
        """``need_attn`` (training layout): ``extra["document_attn"]`` is the last layer's (B, T, M)
        attention of each target token on each evidence document, averaged over heads."""
        x, extra = self.extract_features(prev_output_tokens, encoder_out, incremental_state, need_attn)
        if not features_only:
            x = self.output_layer(x)
        return x, extra

    def extract_features(self, prev_output_tokens, encoder_out, incremental_state=None, need_attn=False):
        positions = self.embed_positions(prev_output_tokens, incremental_state=incremental_state)
        if incremental_state is not None:
            prev_output_tokens = prev_output_tokens[:, -1:]
            positions = positions[:, -1:]
        x = self.embed_scale * self.embed_tokens(prev_output_tokens) + positions
        if self.layernorm_embedding is not None:
            x = self.layernorm_embedding(x)
        x = self.dropout_module(x).transpose(0, 1)  # (T, B, C)

        self_attn_padding_mask = prev_output_tokens.eq(self.padding_idx)
        if not self_attn_padding_mask.any():
            self_attn_padding_mask = None
        self_attn_mask = self.buffered_future_mask(x) if incremental_state is None else None

        key_document = None
        if need_attn:
            if not encoder_out.get("key_document"):
                raise ValueError("need_attn: the attention on each evidence document exists in the "
                                 "training layout only (a cluster's evidence and targets)")
            key_document = encoder_out["key_document"][0]
        document_attn = None
        for i, layer in enumerate(self.layers):
            x, layer_attn = layer(
                x,
                encoder_out,
                incremental_state,
                self_attn_mask=self_attn_mask,
                self_attn_padding_mask=self_attn_padding_mask,
                key_document=key_document if i == len(self.layers) - 1 else None,
            )
            if layer_attn is not None:
                document_attn = layer_attn
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        # "attn" (fairseq's alignment, which the sequence generator reads) is not computed
        extra = {"attn": [None], "document_attn": [document_attn], "relevance": encoder_out["relevance"]}
        return x.transpose(0, 1), extra

    def output_layer(self, features):
        return self.output_projection(features)

    def buffered_future_mask(self, x: Tensor) -> Tensor:
        """Causal mask as a bool tensor (True = masked)."""
        dim = x.size(0)
        if self._future_mask.size(0) < dim or self._future_mask.device != x.device:
            self._future_mask = torch.triu(
                torch.ones(dim, dim, dtype=torch.bool, device=x.device), diagonal=1
            )
        return self._future_mask[:dim, :dim]

    def max_positions(self):
        return self.max_target_positions
