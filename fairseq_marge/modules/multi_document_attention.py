"""Decoder cross-attention over many evidence documents with a relevance bias (MARGE eq. 2).

Target x_i attends over the concatenated encodings of every evidence document z_1..z_M of its
batch, and every key of document z_j gets the same additive logit bias beta * f(x_i, z_j):

    alpha = softmax_k( q(x_i) . k_k / sqrt(d) + bias[i, k] )

The keys and values ("memory") are stored once per *memory group* and each target row points at
its group with ``memory_index``: in training one group holds all evidence of the batch and every
target points at it; in generation each source document is its own group.  Beam search then only
reorders the small per-row tensors (``memory_index``, ``key_bias``), never the memory, and the
key/value projections of the memory are computed once per decoding run.
"""

import math
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from fairseq.incremental_decoding_utils import with_incremental_state
from torch import Tensor, nn


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
        need_weights: bool = False,
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
        Returns:
            (T, B, C) attention output and, if ``need_weights``, the (B, T, Lk) attention
            probabilities averaged over heads.
        """
        k, v = self._memory_keys_values(memory, incremental_state)
        q = self._split_heads(self.q_proj(query))
        batch, _, length, _ = q.shape
        bias = key_bias.to(q.dtype)
        shared_memory = k.size(0) == 1
        if shared_memory:
            # one memory shared by every target (training): fold the targets into the query
            # length, so that all of them attend in one (B*T) x Lk product over a single copy
            # of the keys, instead of B broadcast copies that the kernels would materialise
            q = q.transpose(0, 1).reshape(1, self.num_heads, batch * length, self.head_dim)
            bias = bias[:, None, :].expand(-1, length, -1).reshape(1, 1, batch * length, -1)
        else:
            k = k.index_select(0, memory_index)
            v = v.index_select(0, memory_index)
            bias = bias[:, None, None, :]
        dropout_p = self.dropout if self.training else 0.0

        if need_weights:
            logits = torch.matmul(q, k.transpose(-1, -2)) * self.head_dim**-0.5 + bias
            probs = torch.softmax(logits, dim=-1, dtype=torch.float32).to(q.dtype)
            out = torch.matmul(F.dropout(probs, dropout_p, self.training), v)
            weights = probs.mean(dim=1).view(batch, length, -1)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p)
            weights = None
        if shared_memory:  # (1, H, B*T, d) -> (T, B, H, d)
            out = out.view(self.num_heads, batch, length, self.head_dim).permute(2, 1, 0, 3)
        else:  # (B, H, T, d) -> (T, B, H, d)
            out = out.permute(2, 0, 1, 3)
        out = out.reshape(length, batch, -1) * has_evidence[None, :, None].to(out.dtype)
        return self.out_proj(out), weights
