"""The fused multi-document attention against a naive loop over targets, heads and documents."""

import math

import torch

from fairseq_marge.modules.multi_document_attention import MultiDocumentAttention


def naive_attention(module, query, doc_states, doc_lengths, bias):
    """For every target row i, head h: softmax over the real keys of every visible document,
    with bias[i, j] added to all keys of document j (None = not visible)."""
    heads, d = module.num_heads, module.head_dim
    T, B, _ = query.shape
    out = torch.zeros_like(query)
    for i in range(B):
        q = module.q_proj(query[:, i]).view(T, heads, d)
        keys, values, key_bias = [], [], []
        for j, states in enumerate(doc_states):
            if bias[i][j] is None:
                continue
            real = states[: doc_lengths[j]]
            keys.append(module.k_proj(real))
            values.append(module.v_proj(real))
            key_bias.append(torch.full((doc_lengths[j],), 0.0) + bias[i][j])
        if not keys:  # no evidence: zero context
            out[:, i] = module.out_proj(torch.zeros_like(query[:, i]))
            continue
        k = torch.cat(keys).view(-1, heads, d)
        v = torch.cat(values).view(-1, heads, d)
        kb = torch.cat(key_bias)
        rows = []
        for h in range(heads):
            logits = q[:, h] @ k[:, h].t() / math.sqrt(d) + kb
            rows.append(torch.softmax(logits, -1) @ v[:, h])
        out[:, i] = module.out_proj(torch.stack(rows, 1).reshape(T, -1))
    return out


def make_inputs(seed=0, B=3, M=4, L=6, C=16, T=5):
    torch.manual_seed(seed)
    lengths = [6, 2, 4, 1][:M]
    doc_states = [torch.randn(L, C, requires_grad=True) for _ in range(M)]
    f = torch.randn(B, M, requires_grad=True)
    visible = torch.ones(B, M, dtype=torch.bool)
    visible[0, 0] = False  # target 0 is document 0: f(x, x) = -inf
    visible[2, :] = False  # target 2 sees no evidence at all
    query = torch.randn(T, B, C, requires_grad=True)
    return lengths, doc_states, f, visible, query


def fused_inputs(doc_states, lengths, f, visible):
    M, L = len(doc_states), doc_states[0].size(0)
    memory = torch.stack(doc_states).reshape(M * L, 1, -1)
    key_padding = torch.tensor([[k >= n for k in range(L)] for n in lengths]).reshape(1, -1)
    bias = f.masked_fill(~visible, float("-inf")).repeat_interleave(L, dim=1)
    bias = bias.masked_fill(key_padding, float("-inf"))
    has_evidence = bias.isfinite().any(1)
    bias = bias.masked_fill(~has_evidence[:, None], 0.0)
    return memory, torch.zeros(f.size(0), dtype=torch.long), bias, has_evidence


def test_fused_matches_naive_values_and_gradients():
    module = MultiDocumentAttention(16, num_heads=4).eval()
    lengths, doc_states, f, visible, query = make_inputs()
    naive_bias = [[f[i, j] if visible[i, j] else None for j in range(f.size(1))] for i in range(f.size(0))]
    expected = naive_attention(module, query, doc_states, lengths, naive_bias)
    grads_expected = torch.autograd.grad(expected.pow(2).sum(), [query, f, *doc_states])

    for need_weights in (False, True):
        memory, index, bias, has_evidence = fused_inputs(doc_states, lengths, f, visible)
        out, weights = module(query, memory, index, bias, has_evidence, need_weights=need_weights)
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
        grads = torch.autograd.grad(out.pow(2).sum(), [query, f, *doc_states])
        for got, want in zip(grads, grads_expected):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
        if need_weights:
            assert torch.isfinite(weights[:2]).all()


def test_masked_keys_get_no_attention():
    module = MultiDocumentAttention(16, num_heads=4).eval()
    lengths, doc_states, f, visible, query = make_inputs()
    memory, index, bias, has_evidence = fused_inputs(doc_states, lengths, f, visible)
    _, weights = module(query, memory, index, bias, has_evidence, need_weights=True)
    per_key = weights[:2].sum(1)  # rows with evidence, summed over target positions
    assert torch.all(per_key[0, :6] == 0), "target 0 attended to its own document"
    padding = ~bias[:2].isfinite()
    assert torch.all(per_key[padding] == 0), "padding keys got attention"


def test_row_without_evidence_outputs_only_bias_and_finite_gradients():
    module = MultiDocumentAttention(16, num_heads=4).eval()
    lengths, doc_states, f, visible, query = make_inputs()
    memory, index, bias, has_evidence = fused_inputs(doc_states, lengths, f, visible)
    out, _ = module(query, memory, index, bias, has_evidence)
    torch.testing.assert_close(out[:, 2], module.out_proj.bias.expand_as(out[:, 2]))
    grads = torch.autograd.grad(out.sum(), [query, f])
    assert all(torch.isfinite(g).all() for g in grads)
