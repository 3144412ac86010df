"""The relevance bias folded into the dot product against the explicit softmax(q k^T / sqrt(d) + bias) v."""

import math

import pytest
import torch
from torch.profiler import profile

from fairseq_marge.modules import folded_bias
from fairseq_marge.modules.folded_bias import folded_bias_attention
from fairseq_marge.modules.multi_document_attention import MultiDocumentAttention
from fairseq_marge.modules.relevance_scorer import RelevanceScorer

# fp64: the two forms differ only by summation order; fp32: by the kernels' blocking
TOLERANCES = {torch.float64: dict(rtol=1e-10, atol=1e-12), torch.float32: dict(rtol=1e-4, atol=1e-5)}


def explicit(q, k, v, bias):
    logits = q @ k.transpose(-1, -2) / math.sqrt(q.size(-1)) + bias[:, None, None, :]
    return torch.softmax(logits, dim=-1) @ v


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("targets", [3, 70])  # 70: two blocks of 35 targets
def test_folded_matches_explicit_values_and_gradients(dtype, targets):
    torch.manual_seed(0)
    heads, length, keys, d = 2, 5, 40, 12
    q = torch.randn(targets, heads, length, d, dtype=dtype, requires_grad=True)
    k = torch.randn(1, heads, keys, d, dtype=dtype, requires_grad=True)
    v = torch.randn(1, heads, keys, d, dtype=dtype, requires_grad=True)
    bias = (3 * torch.randn(targets, keys, dtype=dtype)).requires_grad_()
    masked = torch.rand(targets, keys) < 0.3
    masked[:, 0] = False  # every target sees a key

    def loss_and_grads(attention):
        mask_bias = bias.masked_fill(masked, float("-inf"))
        out = attention(q, k, v, mask_bias)
        return out, torch.autograd.grad((out * torch.linspace(-1, 1, d, dtype=dtype)).sum(), [q, k, v, bias])

    out, grads = loss_and_grads(folded_bias_attention)
    want, want_grads = loss_and_grads(explicit)
    torch.testing.assert_close(out, want, **TOLERANCES[dtype])
    for got, expected in zip(grads, want_grads):
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got, expected, **TOLERANCES[dtype])
    assert (grads[3][masked] == 0).all()


def module_inputs(dtype, seed=0, targets=4, docs=5, C=32, T=6):
    """A training-layout batch: documents of ``lengths`` keys, target 0 is document 0, target 3
    has no evidence at all (every document masked)."""
    torch.manual_seed(seed)
    lengths = torch.tensor([7, 3, 5, 1, 4])[:docs]
    scorer = RelevanceScorer(beta_init=2.0).to(dtype)
    g_targets = torch.randn(targets, C, dtype=dtype, requires_grad=True)
    g_evidence = torch.randn(docs, C, dtype=dtype, requires_grad=True)
    memory = torch.randn(int(lengths.sum()), 1, C, dtype=dtype, requires_grad=True)
    query = torch.randn(T, targets, C, dtype=dtype, requires_grad=True)
    same_document = torch.zeros(targets, docs, dtype=torch.bool)
    same_document[0, 0] = True
    same_document[3] = True
    return scorer, g_targets, g_evidence, same_document, memory, query, lengths


def naive_module(module, query, memory, key_bias, has_evidence):
    """Per target: explicit attention over the keys it may see (none: zero context)."""
    T, B, C = query.shape
    H, d = module.num_heads, module.head_dim
    k = module.k_proj(memory[:, 0]).view(-1, H, d).transpose(0, 1)
    v = module.v_proj(memory[:, 0]).view(-1, H, d).transpose(0, 1)
    rows = []
    for i in range(B):
        q = module.q_proj(query[:, i]).view(T, H, d).transpose(0, 1)
        if not has_evidence[i]:
            rows.append(module.out_proj(torch.zeros(T, C, dtype=query.dtype)))
            continue
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + key_bias[i], dim=-1)
        rows.append(module.out_proj((probs @ v).transpose(0, 1).reshape(T, C)))
    return torch.stack(rows, dim=1)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_module_and_relevance_gradients_match_naive(dtype):
    scorer, g_t, g_e, same, memory, query, lengths = module_inputs(dtype)
    module = MultiDocumentAttention(32, num_heads=4).to(dtype)
    params = [query, memory, g_t, g_e, scorer.beta, *module.parameters()]

    def run(attention):
        _, bias = scorer(g_t, g_e, same)
        key_bias = bias.repeat_interleave(lengths, dim=1)  # every key of z_j gets bias[i, j]
        has_evidence = key_bias.isfinite().any(dim=1)
        key_bias = key_bias.masked_fill(~has_evidence[:, None], 0.0)
        out = attention(query, memory, key_bias, has_evidence)
        return out, torch.autograd.grad(out.pow(2).sum(), params)

    out, grads = run(lambda *a: module(a[0], a[1], torch.zeros(4, dtype=torch.long), *a[2:])[0])
    want, want_grads = run(lambda *a: naive_module(module, *a))
    torch.testing.assert_close(out, want, **TOLERANCES[dtype])
    for got, expected in zip(grads, want_grads):
        torch.testing.assert_close(got, expected, **TOLERANCES[dtype])
    # the target without evidence reads a zero context
    torch.testing.assert_close(out[:, 3], module.out_proj.bias.expand(6, -1), **TOLERANCES[dtype])


def test_training_runs_the_fused_kernel_with_a_gradient_for_the_bias():
    scorer, g_t, g_e, same, memory, query, lengths = module_inputs(torch.float32)
    module = MultiDocumentAttention(32, num_heads=4).train()
    _, bias = scorer(g_t, g_e, same)
    key_bias = bias.repeat_interleave(lengths, dim=1).masked_fill(same.all(1, keepdim=True), 0.0)
    with profile() as prof:
        out, _ = module(query, memory, torch.zeros(4, dtype=torch.long), key_bias, ~same.all(1))
        out.sum().backward()
    ops = {event.name for event in prof.events()}
    assert "aten::_scaled_dot_product_attention_math" not in ops
    assert g_t.grad.abs().sum() > 0 and scorer.beta.grad != 0


def devices_and_dtypes():
    cases = [pytest.param("cpu", torch.bfloat16, id="cpu-bf16")]
    for dtype in (torch.float16, torch.bfloat16):
        cases.append(pytest.param("cuda", dtype, id=f"cuda-{str(dtype)[6:]}", marks=pytest.mark.skipif(
            not torch.cuda.is_available(), reason="needs CUDA")))
    return cases


@pytest.mark.parametrize("device,dtype", devices_and_dtypes())
def test_autocast_keeps_masked_keys_masked(device, dtype):
    """Under autocast, keys at -inf stay masked even when their values are huge, and nothing
    overflows."""
    scorer, g_t, g_e, same, memory, query, lengths = module_inputs(torch.float32)
    module = MultiDocumentAttention(32, num_heads=4).to(device)
    scorer, g_t, g_e, memory, query = (t.to(device) for t in (scorer, g_t, g_e, memory, query))
    key_document = torch.arange(len(lengths)).repeat_interleave(lengths).to(device)
    poisoned = memory.detach().clone()
    poisoned[key_document == 0] = 300.0  # document 0 is masked for target 0 only

    with torch.autocast(device, dtype=dtype):
        _, bias = scorer(g_t, g_e, same.to(device))
        key_bias = bias[:, key_document]
        has_evidence = key_bias.isfinite().any(dim=1)
        key_bias = key_bias.masked_fill(~has_evidence[:, None], 0.0)
        index = torch.zeros(4, dtype=torch.long, device=device)
        out, _ = module(query, poisoned, index, key_bias, has_evidence)
        out.float().pow(2).sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(g_t.grad).all() and torch.isfinite(query.grad).all()

    # target 0 in fp32 on the keys it may see only
    visible = key_document != 0
    with torch.no_grad():
        want, _ = module(query[:, :1].float(), poisoned[visible], index[:1], key_bias[:1, visible].float(),
                         has_evidence[:1])
    torch.testing.assert_close(out[:, :1].float(), want, rtol=0.05, atol=0.05)


def test_blocks_are_balanced(monkeypatch):
    """B = 70 with blocks of at most 64 is two blocks of 35, not 64 + 6."""
    monkeypatch.setattr(folded_bias, "TARGETS_PER_BLOCK", 64)
    q = torch.randn(70, 1, 2, 8)
    with profile(record_shapes=True) as prof:
        folded_bias_attention(q, torch.randn(1, 1, 3, 8), torch.randn(1, 1, 3, 8), torch.zeros(70, 3))
    shapes = [e.input_shapes[0] for e in prof.events() if e.name == "aten::scaled_dot_product_attention"]
    assert shapes == [[2, 1, 35 * 2, 8 + 40]]


@pytest.mark.parametrize("device,dtype", devices_and_dtypes())
def test_autocast_computes_f_in_fp32(device, dtype):
    g = torch.randn(3, 8, device=device)
    with torch.autocast(device, dtype=dtype):
        assert RelevanceScorer.cosine(g, g).dtype == torch.float32
