"""MARGE's encoder: a Transformer encoder that also is the relevance model.

The first ``relevance_layers`` layers give g(d) = the BOS state of document d (paper section
2.2); the remaining layers run on evidence documents only, since targets are encoded just for
their g.  The output dict carries what the multi-document cross-attention needs:

- ``encoder_out`` / ``encoder_padding_mask``: the memory, (Lk, G, C) / (G, Lk), in G groups;
- ``memory_index`` (B,): the group each target row reads;
- ``key_bias`` (B, Lk): beta * f(x_i, z_j) on every key of z_j, -inf on keys row i must not see;
- ``has_evidence`` (B,): False for rows that see no key at all;
- ``relevance`` (B, M): f(x_i, z_j) (training layout only), for logging.

Training (``target_rows`` given): all M evidence documents form one group, their real (not
padding) states concatenated document-major, and every target reads it; ``key_document``
(Lk,) gives the document of each key.
Generation (no ``target_rows``): each source document is its own group read by its own row,
with no relevance bias (there is no target document to score).
"""

import math
from typing import Dict, List, Optional

import torch
from fairseq.models import FairseqEncoder
from fairseq.models.transformer import TransformerConfig
from fairseq.modules import LayerNorm, PositionalEmbedding
from fairseq.modules.transformer_layer import TransformerEncoderLayerBase
from fairseq.modules.fairseq_dropout import FairseqDropout
from torch import Tensor, nn

from ..modules.activation import get_activation_fn
from ..modules.relevance_scorer import RelevanceScorer


class MargeEncoder(FairseqEncoder):
    def __init__(self, cfg, dictionary, embed_tokens: nn.Embedding):
        super().__init__(dictionary)
        if not 1 <= cfg.relevance_layers <= cfg.encoder_layers:
            raise ValueError(
                f"--relevance-layers {cfg.relevance_layers} must be in 1..--encoder-layers "
                f"({cfg.encoder_layers})"
            )
        self.relevance_layers = cfg.relevance_layers
        embed_dim = embed_tokens.embedding_dim
        self.padding_idx = embed_tokens.padding_idx
        self.max_source_positions = cfg.max_source_positions
        self.embed_tokens = embed_tokens
        self.embed_scale = 1.0 if cfg.no_scale_embedding else math.sqrt(embed_dim)
        self.embed_positions = PositionalEmbedding(
            cfg.max_source_positions, embed_dim, self.padding_idx, learned=True
        )
        self.layernorm_embedding = LayerNorm(embed_dim) if cfg.layernorm_embedding else None
        self.dropout_module = FairseqDropout(cfg.dropout, module_name=self.__class__.__name__)
        layer_cfg = TransformerConfig.from_namespace(cfg)
        self.layers = nn.ModuleList(
            [TransformerEncoderLayerBase(layer_cfg) for _ in range(cfg.encoder_layers)]
        )
        for layer in self.layers:  # fairseq's layer, without its gelu's fp32 round trip
            layer.activation_fn = get_activation_fn(cfg.activation_fn)
        self.layer_norm = LayerNorm(embed_dim) if cfg.encoder_normalize_before else None
        self.relevance = RelevanceScorer(cfg.beta_init, detach=getattr(cfg, "detach_relevance", False))

    def embed(self, src_tokens: Tensor) -> Tensor:
        x = self.embed_scale * self.embed_tokens(src_tokens) + self.embed_positions(src_tokens)
        if self.layernorm_embedding is not None:
            x = self.layernorm_embedding(x)
        return self.dropout_module(x).transpose(0, 1)  # (L, N, C)

    def run_layers(self, x: Tensor, padding_mask: Tensor, layers, states: Optional[List[Tensor]] = None):
        for layer in layers:
            x = layer(x, encoder_padding_mask=padding_mask)
            if states is not None:
                states.append(x)
        return x

    def relevance_embedding(self, src_tokens: Tensor) -> Tensor:
        """g for a batch of ``[BOS] doc [EOS]`` rows: (N, C).  Used by re-indexing."""
        x = self.embed(src_tokens)
        x = self.run_layers(x, src_tokens.eq(self.padding_idx), self.layers[: self.relevance_layers])
        return x[0]

    def forward(
        self,
        src_tokens: Tensor,
        src_lengths: Optional[Tensor] = None,
        num_evidence: Optional[int] = None,
        target_rows: Optional[Tensor] = None,
        return_all_hiddens: bool = False,
    ) -> Dict[str, List[Tensor]]:
        padding_mask = src_tokens.eq(self.padding_idx)
        states: Optional[List[Tensor]] = [] if return_all_hiddens else None
        x = self.embed(src_tokens)
        x = self.run_layers(x, padding_mask, self.layers[: self.relevance_layers], states)
        g = x[0]
        if target_rows is not None:
            # rows after the evidence are targets encoded only for their g
            x, padding_mask = x[:, :num_evidence], padding_mask[:num_evidence]
        x = self.run_layers(x, padding_mask, self.layers[self.relevance_layers :], states)
        if self.layer_norm is not None:
            x = self.layer_norm(x)

        if target_rows is None:
            out = self._per_document_memory(x, padding_mask)
        else:
            out = self._shared_memory(x, padding_mask, g, num_evidence, target_rows)
        out["encoder_states"] = states if states is not None else []
        out["src_tokens"] = [src_tokens]
        out["src_lengths"] = [src_lengths] if src_lengths is not None else []
        return out

    def _per_document_memory(self, x: Tensor, padding_mask: Tensor) -> Dict[str, List[Tensor]]:
        rows = torch.arange(x.size(1), device=x.device)
        key_bias = torch.zeros(padding_mask.shape, dtype=x.dtype, device=x.device)
        return {
            "encoder_out": [x],
            "encoder_padding_mask": [padding_mask],
            "memory_index": [rows],
            "key_bias": [key_bias.masked_fill(padding_mask, float("-inf"))],
            "has_evidence": [~padding_mask.all(dim=1)],
            "relevance": [],
            "key_document": [],
        }

    def _shared_memory(self, x, padding_mask, g, num_evidence, target_rows):
        same_document = target_rows[:, None] == torch.arange(num_evidence, device=x.device)
        f, bias = self.relevance(g.index_select(0, target_rows), g[:num_evidence], same_document)
        # concatenate the evidence without its padding: (L, M, C) -> (Lk, 1, C), document-major;
        # padding would only add keys that every target then has to mask out
        real = ~padding_mask
        memory = x.transpose(0, 1)[real].unsqueeze(1)
        key_document = torch.arange(num_evidence, device=x.device)[:, None].expand_as(real)[real]
        key_bias = bias[:, key_document]
        has_evidence = key_bias.isfinite().any(dim=1)
        # rows that see nothing get a finite dummy bias; the attention zeroes their output
        key_bias = key_bias.masked_fill(~has_evidence[:, None], 0.0)
        return {
            "encoder_out": [memory],
            "encoder_padding_mask": [torch.zeros(1, memory.size(0), dtype=torch.bool, device=x.device)],
            "memory_index": [torch.zeros_like(target_rows)],
            "key_bias": [key_bias],
            "has_evidence": [has_evidence],
            "relevance": [f],
            "key_document": [key_document],
        }

    @torch.jit.export
    def reorder_encoder_out(self, encoder_out: Dict[str, List[Tensor]], new_order: Tensor):
        """Beam search reorders target rows; the memory itself stays where it is."""
        reordered = dict(encoder_out)
        for key in ("memory_index", "key_bias", "has_evidence", "relevance"):
            reordered[key] = [t.index_select(0, new_order) for t in encoder_out[key]]
        return reordered

    def max_positions(self):
        return self.max_source_positions
