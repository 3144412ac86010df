"""Model-level checks: g is trained through f, masks, padding, beam reordering, incremental
decoding, validation's attn_best."""

import math

import pytest
import torch

from conftest import build_task_and_model
from fairseq_marge.criterions.marge import MargeCriterion


@pytest.fixture(scope="module")
def task_model(tiny_data_dir):
    torch.manual_seed(0)
    task, model, _ = build_task_and_model(tiny_data_dir)
    task.load_dataset("train")
    return task, model.eval()


def cluster(task, evidence=(0, 1, 2, 3), targets=(1, 4)):
    return task.dataset("train").cluster_batch(list(evidence), list(targets))


def nll(model, sample):
    # not model.get_normalized_probs: fairseq computes it in float32, too coarse for gradcheck
    lprobs = torch.log_softmax(model(**sample["net_input"])[0], dim=-1)
    return -lprobs.gather(-1, sample["target"].unsqueeze(-1)).sum()


def test_reconstruction_loss_gradient_reaches_g_through_f(tiny_data_dir):
    """d loss / d g (through f only) matches finite differences, in float64.  (fairseq's "gelu"
    computes in float32, too coarse for finite differences; gelu_accurate stays in float64.)"""
    torch.manual_seed(0)
    task, model, _ = build_task_and_model(tiny_data_dir, "--activation-fn", "gelu_accurate")
    task.load_dataset("train")
    model = model.eval().double()
    sample = cluster(task)
    g_shift = {}

    def shift_g(module, args):
        g_targets, g_evidence, same = args
        return g_targets + g_shift["t"], g_evidence + g_shift["e"], same

    handle = model.encoder.relevance.register_forward_pre_hook(shift_g)
    try:
        dim = model.encoder.embed_tokens.embedding_dim
        delta_t = torch.zeros(2, dim, dtype=torch.float64, requires_grad=True)
        delta_e = torch.zeros(4, dim, dtype=torch.float64, requires_grad=True)

        def loss(dt, de):
            g_shift["t"], g_shift["e"] = dt, de
            return nll(model, sample)

        assert torch.autograd.gradcheck(loss, (delta_t, delta_e), eps=1e-6, atol=1e-5)
        grad_t, grad_e = torch.autograd.grad(loss(delta_t, delta_e), (delta_t, delta_e))
        assert grad_t.abs().sum() > 0 and grad_e.abs().sum() > 0
    finally:
        handle.remove()


def test_target_never_reads_its_own_document(task_model):
    task, model = task_model
    sample = cluster(task, evidence=(0, 1, 2), targets=(1, 5))
    encoder_out = model.encoder(**{k: v for k, v in sample["net_input"].items() if k != "prev_output_tokens"})
    f = encoder_out["relevance"][0]
    assert torch.isinf(f[0, 1]) and f[0, 1] < 0  # target doc 1 is evidence row 1
    assert torch.isfinite(f[1]).all()  # doc 5 is not evidence
    _, extra = model(**sample["net_input"], need_attn=True)
    assert torch.all(extra["document_attn"][0][0, :, 1] == 0)


def test_attn_best_is_the_attention_on_the_best_scored_document(task_model):
    """The criterion's attn_best against the full softmax of the last cross-attention, every
    head's (T x Lk) matrix of every target: what validation kept before."""
    task, model = task_model
    sample = cluster(task, evidence=(0, 1, 2, 3, 5), targets=(1, 4, 6))
    attention = model.decoder.layers[-1].cross_attn
    inputs = {}
    hook = attention.register_forward_pre_hook(
        lambda module, args, kwargs: inputs.update(query=args[0], **kwargs), with_kwargs=True)
    try:
        with torch.no_grad():
            _, _, logging_output = MargeCriterion(task, 0.0, False)(model, sample)
    finally:
        hook.remove()

    q = attention._split_heads(attention.q_proj(inputs["query"]))  # (B, H, T, d)
    k = attention._split_heads(attention.k_proj(inputs["memory"]))  # (1, H, Lk, d)
    logits = q @ k.transpose(-1, -2) / math.sqrt(attention.head_dim) + inputs["key_bias"][:, None, None]
    probs = logits.softmax(dim=-1).mean(dim=1)  # (B, T, Lk)
    net_input = {k: v for k, v in sample["net_input"].items() if k != "prev_output_tokens"}
    f = model.encoder(**net_input)["relevance"][0]
    best_keys = inputs["key_document"][None, :] == f.argmax(dim=1)[:, None]  # (B, Lk)
    on_best = (probs * best_keys[:, None]).sum(dim=-1)
    tokens = sample["target"].ne(task.dictionary.pad())
    assert logging_output["attn_best_n"] == tokens.sum() > 0
    assert math.isclose(logging_output["attn_best_sum"], on_best[tokens].sum().item(), rel_tol=1e-6)


def test_padding_does_not_change_outputs(task_model):
    task, model = task_model
    sample = cluster(task)
    logits, _ = model(**sample["net_input"])
    net_input = dict(sample["net_input"])
    pad = task.dictionary.pad()
    net_input["src_tokens"] = torch.cat(
        [net_input["src_tokens"], torch.full((net_input["src_tokens"].size(0), 7), pad)], dim=1
    )
    padded_logits, _ = model(**net_input)
    torch.testing.assert_close(padded_logits, logits, rtol=1e-4, atol=1e-4)


def test_reorder_and_incremental_decoding_match_full_forward(task_model):
    task, model = task_model
    sample = cluster(task)
    src = sample["net_input"]["src_tokens"]
    prev = sample["net_input"]["prev_output_tokens"][:1].expand(src.size(0), -1).contiguous()
    encoder_out = model.encoder(src)  # generation layout: each row reads its own document
    new_order = torch.tensor([2, 0, 0, 3, 1])
    full, _ = model.decoder(prev[new_order], model.encoder(src[new_order]))

    reordered = model.encoder.reorder_encoder_out(encoder_out, new_order)
    state = {}
    steps = []
    for t in range(prev.size(1)):
        out, _ = model.decoder(prev[new_order][:, : t + 1], reordered, incremental_state=state)
        steps.append(out)
        if t == 2:  # reorder mid-sequence, as beam search does
            swap = torch.tensor([1, 0, 2, 4, 3])
            reordered = model.encoder.reorder_encoder_out(reordered, swap)
            model.decoder.reorder_incremental_state_scripting(state, swap)
            full, prev, new_order = full[swap], prev, new_order[swap]
            steps = [s[swap] for s in steps]
    torch.testing.assert_close(torch.cat(steps, 1), full, rtol=1e-4, atol=1e-4)
