"""The fused multi-document attention against a naive loop over targets, heads and documents."""

import math

import pytest
import torch
from torch.profiler import profile

from fairseq_marge.modules import folded_bias
from fairseq_marge.modules.multi_document_attention import MultiDocumentAttention


def naive_attention(module, query, doc_states, doc_lengths, bias):
    """For every target row i, head h: softmax over the real keys of every visible document,
    with bias[i, j] added to all keys of document j (None = not visible).  Also returns the
    (B, T, M) attention mass on each document, averaged over heads."""
    heads, d = module.num_heads, module.head_dim
    T, B, _ = query.shape
    out = torch.zeros_like(query)
    mass = torch.zeros(B, T, len(doc_states))
    for i in range(B):
        q = module.q_proj(query[:, i]).view(T, heads, d)
        docs = [j for j in range(len(doc_states)) if bias[i][j] is not None]
        if not docs:  # no evidence: zero context
            out[:, i] = module.out_proj(torch.zeros_like(query[:, i]))
            continue
        real = [doc_states[j][: doc_lengths[j]] for j in docs]
        k = torch.cat([module.k_proj(r) for r in real]).view(-1, heads, d)
        v = torch.cat([module.v_proj(r) for r in real]).view(-1, heads, d)
        kb = torch.cat([torch.full((doc_lengths[j],), 0.0) + bias[i][j] for j in docs])
        rows = []
        for h in range(heads):
            probs = torch.softmax(q[:, h] @ k[:, h].t() / math.sqrt(d) + kb, -1)
            rows.append(probs @ v[:, h])
            per_doc = [p.sum(-1) for p in probs.split([doc_lengths[j] for j in docs], dim=-1)]
            mass[i][:, docs] += torch.stack(per_doc, dim=-1).detach() / heads
        out[:, i] = module.out_proj(torch.stack(rows, 1).reshape(T, -1))
    return out, mass


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
    """Also the document of each key, padding keys in a group M of their own."""
    M, L = len(doc_states), doc_states[0].size(0)
    memory = torch.stack(doc_states).reshape(M * L, 1, -1)
    key_padding = torch.tensor([[k >= n for k in range(L)] for n in lengths]).reshape(1, -1)
    bias = f.masked_fill(~visible, float("-inf")).repeat_interleave(L, dim=1)
    bias = bias.masked_fill(key_padding, float("-inf"))
    has_evidence = bias.isfinite().any(1)
    bias = bias.masked_fill(~has_evidence[:, None], 0.0)
    key_document = torch.arange(M).repeat_interleave(L).masked_fill(key_padding[0], M)
    return memory, torch.zeros(f.size(0), dtype=torch.long), bias, has_evidence, key_document


@pytest.mark.parametrize("targets_per_block", [64, 2])  # 2: the 3 targets in two blocks
def test_fused_matches_naive_values_gradients_and_document_attention(monkeypatch, targets_per_block):
    monkeypatch.setattr(folded_bias, "TARGETS_PER_BLOCK", targets_per_block)
    module = MultiDocumentAttention(16, num_heads=4).eval()
    lengths, doc_states, f, visible, query = make_inputs()
    naive_bias = [[f[i, j] if visible[i, j] else None for j in range(f.size(1))] for i in range(f.size(0))]
    expected, expected_mass = naive_attention(module, query, doc_states, lengths, naive_bias)
    grads_expected = torch.autograd.grad(expected.pow(2).sum(), [query, f, *doc_states])

    for with_documents in (False, True):
        memory, index, bias, has_evidence, key_document = fused_inputs(doc_states, lengths, f, visible)
        out, mass = module(query, memory, index, bias, has_evidence,
                           key_document=key_document if with_documents else None)
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
        grads = torch.autograd.grad(out.pow(2).sum(), [query, f, *doc_states])
        for got, want in zip(grads, grads_expected):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    # rows with evidence (row 2 has none: its output is zeroed, its mass spread over every key)
    torch.testing.assert_close(mass[:2, :, :4], expected_mass[:2], rtol=0, atol=1e-6)
    assert torch.all(mass[0, :, 0] == 0), "target 0 attended to its own document"
    assert torch.all(mass[:2, :, 4] == 0), "padding keys got attention"


def test_document_attention_builds_no_matrix_of_target_tokens_by_keys():
    """The old path's (B, H, T, Lk) logits and probabilities would be the largest tensors."""
    torch.manual_seed(0)
    module = MultiDocumentAttention(32, num_heads=4).eval()
    B, T, M, L = 4, 32, 5, 40
    query, memory = torch.randn(T, B, 32), torch.randn(M * L, 1, 32)
    key_document = torch.arange(M).repeat_interleave(L)
    bias = torch.randn(B, M)[:, key_document]
    with torch.no_grad(), profile(record_shapes=True) as prof:
        _, mass = module(query, memory, torch.zeros(B, dtype=torch.long), bias,
                         torch.ones(B, dtype=torch.bool), key_document=key_document)
    assert mass.shape == (B, T, M)
    largest = max(math.prod(shape) for e in prof.events() for shape in e.input_shapes if shape)
    assert largest <= B * 4 * T * M * L // 4, largest
    assert "aten::_scaled_dot_product_attention_math" not in {e.name for e in prof.events()}


def test_row_without_evidence_outputs_only_bias_and_finite_gradients():
    module = MultiDocumentAttention(16, num_heads=4).eval()
    lengths, doc_states, f, visible, query = make_inputs()
    memory, index, bias, has_evidence, _ = fused_inputs(doc_states, lengths, f, visible)
    out, _ = module(query, memory, index, bias, has_evidence)
    torch.testing.assert_close(out[:, 2], module.out_proj.bias.expand_as(out[:, 2]))
    grads = torch.autograd.grad(out.sum(), [query, f])
    assert all(torch.isfinite(g).all() for g in grads)
