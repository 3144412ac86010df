"""A MARGE decoder layer: causal self-attention, optional multi-document cross-attention, FFN.

The paper's decoder starts with layers that have no cross-attention (``cross_attention=False``)
and continues with layers whose cross-attention reads all evidence documents with the
relevance bias (:class:`MultiDocumentAttention`).  fairseq's ``TransformerDecoderLayerBase``
calls its encoder attention with a fixed signature that has no place for that bias, hence this
layer; the self-attention and FFN are fairseq's own building blocks.
"""

from typing import Dict, Optional

from fairseq.modules import LayerNorm, MultiheadAttention
from fairseq.modules.fairseq_dropout import FairseqDropout
from torch import Tensor, nn

from .activation import get_activation_fn
from .multi_document_attention import MultiDocumentAttention


class MargeDecoderLayer(nn.Module):
    def __init__(self, cfg, embed_dim: int, ffn_embed_dim: int, cross_attention: bool):
        super().__init__()
        self.normalize_before = cfg.decoder_normalize_before
        self.dropout_module = FairseqDropout(cfg.dropout, module_name=self.__class__.__name__)
        self.activation_dropout_module = FairseqDropout(
            cfg.activation_dropout, module_name=self.__class__.__name__
        )
        self.activation_fn = get_activation_fn(cfg.activation_fn)
        self.self_attn = MultiheadAttention(
            embed_dim,
            cfg.decoder_attention_heads,
            dropout=cfg.attention_dropout,
            self_attention=True,
        )
        self.self_attn_layer_norm = LayerNorm(embed_dim)
        if cross_attention:
            self.cross_attn = MultiDocumentAttention(
                embed_dim, cfg.decoder_attention_heads, dropout=cfg.attention_dropout
            )
            self.cross_attn_layer_norm = LayerNorm(embed_dim)
        else:
            self.cross_attn = None
        self.fc1 = nn.Linear(embed_dim, ffn_embed_dim)
        self.fc2 = nn.Linear(ffn_embed_dim, embed_dim)
        self.final_layer_norm = LayerNorm(embed_dim)

    def _residual(self, x: Tensor, residual: Tensor, norm: LayerNorm) -> Tensor:
        x = residual + self.dropout_module(x)
        return x if self.normalize_before else norm(x)

    def _pre_norm(self, x: Tensor, norm: LayerNorm) -> Tensor:
        return norm(x) if self.normalize_before else x

    def forward(
        self,
        x: Tensor,
        encoder_out: Dict,
        incremental_state: Optional[Dict[str, Dict[str, Optional[Tensor]]]] = None,
        self_attn_mask: Optional[Tensor] = None,
        self_attn_padding_mask: Optional[Tensor] = None,
        key_document: Optional[Tensor] = None,
    ):
        residual = x
        x = self._pre_norm(x, self.self_attn_layer_norm)
        x, _ = self.self_attn(
            query=x,
            key=x,
            value=x,
            key_padding_mask=self_attn_padding_mask,
            incremental_state=incremental_state,
            need_weights=False,
            attn_mask=self_attn_mask,
        )
        x = self._residual(x, residual, self.self_attn_layer_norm)

        document_attn = None
        if self.cross_attn is not None:
            residual = x
            x, document_attn = self.cross_attn(
                self._pre_norm(x, self.cross_attn_layer_norm),
                memory=encoder_out["encoder_out"][0],
                memory_index=encoder_out["memory_index"][0],
                key_bias=encoder_out["key_bias"][0],
                has_evidence=encoder_out["has_evidence"][0],
                incremental_state=incremental_state,
                key_document=key_document,
            )
            x = self._residual(x, residual, self.cross_attn_layer_norm)

        residual = x
        x = self.activation_fn(self.fc1(self._pre_norm(x, self.final_layer_norm)))
        x = self.fc2(self.activation_dropout_module(x))
        x = self._residual(x, residual, self.final_layer_norm)
        return x, document_attn
