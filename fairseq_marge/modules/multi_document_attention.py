"""Decoder cross-attention over many evidence documents with a relevance bias (MARGE eq. 2).

Target x_i attends over the concatenated encodings of every evidence document z_1..z_M of its
batch, and every key of document z_j gets the same additive logit bias beta * f(x_i, z_j):

    alpha = softmax_k( q(x_i) . k_k / sqrt(d) + bias[i, k] )

The keys and values ("memory") are stored once per *memory group* and each target row points at
its group with ``memory_index``: in training one group holds all evidence of the batch and every
target points at it; in generation each source document is its own group.  Beam search then only
reorders the small per-row tensors (``memory_index``, ``key_bias``), never the memory, and the
key/value projections of the memory are computed once per decoding run.

In training the bias must carry a gradient into g, which SDPA's fused kernels do not give a
mask; :mod:`.folded_bias` moves it into the dot product instead, so the fused kernels run and
no (target tokens x keys) matrix is kept.  Validation's diagnostic, each target token's
attention on each evidence document, rides in the same kernel call (``key_document``): no such
matrix is built there either, where one per head in fp32 takes gigabytes at ``--max-tokens
16384``.
"""

import math
from typing import Dict, Optional

import torch.nn.functional as F
from fairseq.incremental_decoding_utils import with_incremental_state
from torch import Tensor, nn

from .folded_bias import centred_bias, folded_bias_attention


@with_incremental_state
class MultiDocumentAttention(nn.Module):
    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        self.reset_parameters()

    def reset_parameters(self):
        """As fairseq's ``MultiheadAttention`` (q/k/v: Xavier with gain 1/sqrt(2), as if the three
        were one fused matrix; output: Xavier, zero bias), not ``nn.Linear``'s default."""
        for proj in (self.q_proj, self.k_proj, self.v_proj):
            nn.init.xavier_uniform_(proj.weight, gain=1 / math.sqrt(2))
        nn.init.xavier_uniform_(self.out_proj.weight)
        nn.init.constant_(self.out_proj.bias, 0.0)

    def _split_heads(self, x: Tensor) -> Tensor:
        """(T, B, C) -> (B, H, T, d)"""
        length, batch, _ = x.shape
        return x.view(length, batch, self.num_heads, self.head_dim).permute(1, 2, 0, 3)

    def _memory_keys_values(self, memory: Tensor, incremental_state) -> tuple:
        """Project the memory once per decoding run: it does not change between decoder steps."""
        if incremental_state is not None:
            cached = self.get_incremental_state(incremental_state, "memory_kv")
            if cached is not None:
                return cached["k"], cached["v"]
        k = self._split_heads(self.k_proj(memory))
        v = self._split_heads(self.v_proj(memory))
        if incremental_state is not None:
            self.set_incremental_state(incremental_state, "memory_kv", {"k": k, "v": v})
        return k, v

    def forward(
        self,
        query: Tensor,
        memory: Tensor,
        memory_index: Tensor,
        key_bias: Tensor,
        has_evidence: Tensor,
        incremental_state: Optional[Dict[str, Dict[str, Optional[Tensor]]]] = None,
        key_document: Optional[Tensor] = None,
    ):
        """
        Args:
            query: (T, B, C) decoder states of B target rows.
            memory: (Lk, G, C) encoder states of G memory groups.
            memory_index: (B,) long, the memory group of each target row.
            key_bias: (B, Lk) additive logits: beta * f(x_i, z_j) on the keys of z_j and -inf
                on keys that row i must not see (padding, its own document).  Rows with no
                visible key must hold finite values; ``has_evidence`` zeroes their output.
            has_evidence: (B,) bool, False for rows that see no evidence key at all.
            key_document: (Lk,) long, the evidence document of each key of a single memory
                group (the training layout), to also return each target token's attention on
                each document.
        Returns:
            (T, B, C) attention output and, with ``key_document``, the (B, T, M) fp32
            attention mass of each target token on each of the M documents, averaged over
            heads (else None).
        """
        k, v = self._memory_keys_values(memory, incremental_state)
        q = self._split_heads(self.q_proj(query))
        length, batch = query.shape[:2]
        dropout_p = self.dropout if self.training else 0.0
        document_attn = None
        if key_document is not None:
            if k.size(0) != 1:
                raise ValueError("the attention on each document needs one memory shared by every "
                                 "target (the training layout)")
            # a document's mass is the attention-weighted sum of its one-hot column
            documents = F.one_hot(key_document)
            out, mass = folded_bias_attention(q, k, v, key_bias, dropout_p, shared_values=documents)
            document_attn = mass.float().mean(dim=1)
        elif k.size(0) == 1:
            # one memory shared by every target (training, validation): the bias is trainable and
            # differs per target, so it rides inside the dot product, on the fused kernels
            out = folded_bias_attention(q, k, v, key_bias, dropout_p)
        else:
            # a memory per row (generation): the bias is constant over each row's queries and
            # needs no gradient, so it passes as a broadcast mask the fused kernels accept
            k, v = k.index_select(0, memory_index), v.index_select(0, memory_index)
            mask = centred_bias(key_bias, q.dtype)[:, None, None, :]
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        out = out.permute(2, 0, 1, 3).reshape(length, batch, -1)  # (B, H, T, d) -> (T, B, C)
        out = out * has_evidence[None, :, None].to(out.dtype)
        return self.out_proj(out), document_attn
