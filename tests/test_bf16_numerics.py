"""The relevance signal in half precision, at initialisation-like spreads (issue 25).

At initialisation beta * f is about 5 * 0.986 +- 0.01; the differences between documents are
the signal that trains g, and bf16 numbers near 5 are 0.031 apart.  Each half-precision result
is compared with fp64 on the same (rounded) inputs, so only what the half-precision path loses
counts.
"""

import pytest
import torch
from torch import nn

from fairseq_marge.modules.folded_bias import MASKED, centred_bias
from fairseq_marge.modules.multi_document_attention import MultiDocumentAttention

HALF = [torch.bfloat16, torch.float16]
TARGETS, HEADS, LENGTH, HEAD_DIM, DOCS, KEYS_PER_DOC = 4, 4, 8, 16, 8, 8


def init_like_bias(seed=0):
    """(targets, docs) beta * f in fp64 at beta = 5, f = 0.986 +- 0.002, and its keys' view."""
    generator = torch.Generator().manual_seed(seed)
    f = 0.986 + 0.002 * torch.randn(TARGETS, DOCS, generator=generator, dtype=torch.float64)
    bias = 5 * f
    return bias, bias.repeat_interleave(KEYS_PER_DOC, dim=1)


def relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    return ((got.double() - want).norm() / want.norm()).item()


@pytest.mark.parametrize("dtype", HALF)
def test_bias_differences_reach_the_kernel(dtype):
    _, key_bias = init_like_bias()
    want = key_bias - key_bias.mean(dim=1, keepdim=True)
    # the per-row constant is irrelevant to the softmax: compare the differences only
    got = centred_bias(key_bias.float(), dtype).double()
    assert relative_error(got - got.mean(dim=1, keepdim=True), want) < 0.01
    # a plain cast keeps next to nothing of them
    cast = key_bias.to(dtype).double()
    assert relative_error(cast - cast.mean(dim=1, keepdim=True), want) > 0.1


def test_centring_skips_masked_keys_and_keeps_them_masked():
    bias = torch.tensor([[1.0, 3.0, float("-inf"), MASKED], [float("-inf")] * 4, [0.0] * 4])
    for dtype in HALF:
        got = centred_bias(bias, dtype)
        assert got.dtype == dtype and torch.isfinite(got).all()
        masked = torch.tensor(MASKED, dtype=dtype)  # bf16's nearest is -9984
        torch.testing.assert_close(got[0], torch.tensor([-1.0, 1.0, MASKED, MASKED]).to(dtype))
        assert (got[1] == masked).all() and (got[2] == 0).all()


def identity_attention(dtype) -> MultiDocumentAttention:
    """Projections that are identities: the module's output is the attention itself."""
    module = MultiDocumentAttention(HEADS * HEAD_DIM, HEADS)
    for proj in (module.q_proj, module.k_proj, module.v_proj, module.out_proj):
        nn.init.eye_(proj.weight)
        nn.init.zeros_(proj.bias)
    return module.to(dtype)


@pytest.mark.parametrize("layout", ["shared", "per_row"])  # training's folded bias, generation's mask
@pytest.mark.parametrize("dtype,slack", [(torch.bfloat16, 1.1), (torch.float16, 1.2)])
def test_the_bias_adds_no_output_error_of_its_own(dtype, slack, layout):
    """The output's error against fp64, as a share of the bias's whole effect on the output, is
    about the kernel's own error without any bias: 37% against 36% in bf16, 4.6% against 4.5% in
    fp16 (the bias moves the output by about 1% of its size, and the output is rounded to 0.4%
    of it in bf16, 0.05% in fp16).  The bias cast without centring made it 116% and 12%."""
    generator = torch.Generator().manual_seed(0)
    keys = DOCS * KEYS_PER_DOC
    query = torch.randn(LENGTH, TARGETS, HEADS * HEAD_DIM, generator=generator, dtype=torch.float64).to(dtype)
    memory = torch.randn(keys, 1, HEADS * HEAD_DIM, generator=generator, dtype=torch.float64).to(dtype)
    index = torch.zeros(TARGETS, dtype=torch.long)
    if layout == "per_row":
        memory, index = memory.expand(-1, TARGETS, -1), torch.arange(TARGETS)
    has_evidence = torch.ones(TARGETS, dtype=torch.bool)
    half, exact = identity_attention(dtype), identity_attention(torch.float64)
    _, key_bias = init_like_bias()

    def attend(module, bias, dtype):
        return module(query.to(dtype), memory.to(dtype), index, bias, has_evidence)[0].double()

    want, want_unbiased = (attend(exact, b, torch.float64) for b in (key_bias, 0 * key_bias))
    effect = (want - want_unbiased).norm()
    error = (attend(half, key_bias.float(), dtype) - want).norm() / effect
    kernel_error = (attend(half, 0 * key_bias.float(), dtype) - want_unbiased).norm() / effect
    assert error < slack * kernel_error


@pytest.mark.parametrize("dtype", HALF)
def test_relevance_gradient_survives(dtype):
    """dL/d(beta * f) per (target, document) through the module in half precision (weights and
    states in ``dtype``, the bias in fp32 as the scorer gives it) is within 2% of fp64's."""
    torch.manual_seed(0)
    embed_dim, keys = HEADS * HEAD_DIM, DOCS * KEYS_PER_DOC
    module = MultiDocumentAttention(embed_dim, HEADS).to(dtype)
    module64 = MultiDocumentAttention(embed_dim, HEADS)
    module64.load_state_dict(module.state_dict())
    module64.double()
    query = torch.randn(LENGTH, TARGETS, embed_dim).to(dtype)
    memory = torch.randn(keys, 1, embed_dim).to(dtype)
    weights = torch.randn(LENGTH, TARGETS, embed_dim, dtype=torch.float64)
    index, has_evidence = torch.zeros(TARGETS, dtype=torch.long), torch.ones(TARGETS, dtype=torch.bool)

    def bias_gradient(module, query, memory, bias):
        bias = bias.detach().requires_grad_()
        out, _ = module(query, memory, index, bias.repeat_interleave(KEYS_PER_DOC, dim=1), has_evidence)
        (out.double() * weights).sum().backward()
        return bias.grad.double()

    bias, _ = init_like_bias()
    got = bias_gradient(module, query, memory, bias.float())
    want = bias_gradient(module64, query.double(), memory.double(), bias)
    assert relative_error(got, want) < 0.02


@pytest.mark.parametrize("dtype", HALF)
def test_the_layers_gelu_gives_fairseqs_numbers_without_its_casts(dtype, tiny_data_dir):
    """Every MARGE layer's gelu is torch's, which rounds once from fp32 as fairseq's cast-to-fp32
    gelu does: the same outputs and gradients bit for bit, over the range activations take."""
    from fairseq.modules.gelu import gelu as fairseq_gelu

    from conftest import build_task_and_model

    _, model, _ = build_task_and_model(tiny_data_dir)
    layers = [*model.encoder.layers, *model.decoder.layers]
    x = torch.linspace(-12, 12, 200_001, dtype=torch.float64).to(dtype).unique().requires_grad_()
    upstream = torch.randn(x.shape, generator=torch.Generator().manual_seed(0)).to(dtype)
    want = fairseq_gelu(x)
    (want_grad,) = torch.autograd.grad(want, x, upstream)
    for layer in layers:
        got = layer.activation_fn(x)
        (got_grad,) = torch.autograd.grad(got, x, upstream)
        assert torch.equal(got, want) and torch.equal(got_grad, want_grad)
        assert layer.activation_fn is not fairseq_gelu
