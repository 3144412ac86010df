"""Attention with a trainable logit bias per (target, key), on SDPA's fused kernels.

The fused kernels of ``F.scaled_dot_product_attention`` accept an additive mask but give it no
gradient, so a bias that must train the relevance model g sends SDPA to its math kernel, which
materialises and keeps the (target tokens x keys) matrix of every head for backward.  Instead,
the bias rides inside the dot product.  With d the head dimension, for target i and key k:

    q'_i = [q_i, sqrt(d) * onehot(i)]     k'_k = [k_k, bias[:, k]]     v'_k = [v_k, 0]

so that q'_i . k'_k / sqrt(d) = q_i . k_k / sqrt(d) + bias[i, k] exactly, and autograd carries
the gradient of the bias through whichever kernel SDPA picks.  The extra columns grow with the
number of targets, so targets are split into blocks, each block with its own columns.

In bf16 and fp16 the bias is centred per target before it is cast (:func:`centred_bias`).

The values' extra columns, zeros for the output, may carry values shared by every target and
head instead (``shared_values``), e.g. one-hot evidence documents: their attention-weighted sums
are each target token's attention mass per document, for no more memory than the output's.
"""

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

# -inf (a masked key) cannot ride in a column: the other targets' zeros would make it 0 x -inf =
# NaN.  A logit of -1e4 weighs exp(-1e4) = 0 in fp32; it is finite in fp16 and bf16, and so are
# the partial products sqrt(d) * -1e4 that the kernels accumulate in fp32.
MASKED = -1e4
# at most this many extra columns per head: a block of 64 targets doubles a head of 64
TARGETS_PER_BLOCK = 64


def centred_bias(bias: Tensor, dtype: torch.dtype) -> Tensor:
    """``bias`` minus each row's mean over its visible keys, cast to ``dtype``; masked keys
    (-inf, or anything at or below MASKED) at MASKED.

    A softmax does not change when a constant is added to its row, so only the differences
    within a row matter, and a half-precision cast keeps them only around 0: beta * f starts at
    about 5 * 0.986 +- 0.01, where bf16's numbers are 0.031 apart (fp16's 0.004), and the cast
    would round the relevance signal away.  The centre is computed in fp32 at least and taken as
    a constant: the softmax gives a per-row constant no gradient.
    """
    bias = bias.to(torch.promote_types(bias.dtype, torch.float32))
    visible = bias > MASKED
    total = torch.where(visible, bias, 0.0).sum(dim=-1, keepdim=True)
    centre = (total / visible.sum(dim=-1, keepdim=True).clamp(min=1)).detach()
    return (bias - centre).clamp(min=MASKED).to(dtype)


def folded_bias_attention(q: Tensor, k: Tensor, v: Tensor, bias: Tensor, dropout_p: float = 0.0,
                          shared_values: Optional[Tensor] = None):
    """softmax(q k^T / sqrt(d) + bias) v for targets that all read the same keys.

    Args:
        q: (B, H, T, d) queries of B targets.
        k, v: (1, H, Lk, d) keys and values, shared by all targets.
        bias: (B, Lk) logits added to target i's scores of key k; -inf masks a key.
        shared_values: (Lk, G) more values, the same for every head.
    Returns:
        (B, H, T, d); with ``shared_values``, also their (B, H, T, G) attention-weighted sums.
    """
    targets, heads, length, d = q.shape
    keys = k.size(2)
    blocks = -(-targets // TARGETS_PER_BLOCK)
    per_block = -(-targets // blocks)  # balanced: the last block is at most blocks - 1 short
    dummies = blocks * per_block - targets
    width = per_block if shared_values is None else max(per_block, shared_values.size(1))
    extra = -(-(d + width) // 8) * 8 - d  # fused kernels want head dims in multiples of 8

    # queries: (B, H, T, d) -> (blocks, H, per_block * T, d + extra), target-major in each block
    q = F.pad(q, (0, 0, 0, 0, 0, 0, 0, dummies))
    q = q.view(blocks, per_block, heads, length, d).transpose(1, 2)
    onehot = torch.eye(per_block, extra, dtype=q.dtype, device=q.device) * math.sqrt(d)
    onehot = onehot[None, None, :, None, :].expand(blocks, heads, per_block, length, extra)
    q = torch.cat([q, onehot], dim=-1).reshape(blocks, heads, per_block * length, d + extra)

    # keys: each block's copy carries that block's biases, one column per target
    bias = F.pad(centred_bias(bias, k.dtype), (0, 0, 0, dummies))
    columns = F.pad(bias.view(blocks, per_block, keys).transpose(1, 2), (0, extra - per_block))
    k = torch.cat([k.expand(blocks, -1, -1, -1), columns[:, None].expand(-1, heads, -1, -1)], dim=-1)
    if shared_values is None:
        v = F.pad(v, (0, extra))
    else:
        shared = F.pad(shared_values.to(v.dtype), (0, extra - shared_values.size(1)))
        v = torch.cat([v, shared[None, None].expand(1, heads, -1, -1)], dim=-1)
    v = v.expand(blocks, -1, -1, -1)

    out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, scale=d**-0.5)

    def per_target(x: Tensor) -> Tensor:
        """(blocks, H, per_block * T, n) -> (B, H, T, n)"""
        x = x.reshape(blocks, heads, per_block, length, -1).transpose(1, 2)
        return x.reshape(blocks * per_block, heads, length, -1)[:targets]

    if shared_values is None:
        return per_target(out[..., :d])
    return per_target(out[..., :d]), per_target(out[..., d : d + shared_values.size(1)])
