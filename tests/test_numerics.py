"""No NaN or inf in the loss or gradients on degenerate clusters (issue: numerics)."""

import pytest
import torch

from conftest import build_task_and_model


@pytest.fixture(scope="module")
def task_model(tiny_data_dir):
    torch.manual_seed(0)
    task, model, _ = build_task_and_model(tiny_data_dir)
    task.load_dataset("train")
    return task, model.train()


def loss_and_grads(model, sample):
    model.zero_grad()
    logits, _ = model(**sample["net_input"])
    loss = torch.nn.functional.cross_entropy(
        logits.view(-1, logits.size(-1)), sample["target"].view(-1), ignore_index=1
    )
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return loss, grads


def assert_finite(loss, grads):
    assert torch.isfinite(loss)
    assert all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize(
    "evidence,targets",
    [
        ([4], [4]),  # the only evidence is the target itself: no linked evidence at all
        ([0, 1], [0, 7]),  # one target without evidence but itself, one with
        ([3, 2], [2, 3]),  # each target sees exactly one document
    ],
)
def test_degenerate_clusters_stay_finite(task_model, evidence, targets):
    task, model = task_model
    assert_finite(*loss_and_grads(model, task.dataset("train").cluster_batch(evidence, targets)))


def test_extreme_beta_and_identical_documents(task_model):
    task, model = task_model
    sample = task.dataset("train").cluster_batch([0, 0, 1], [0, 1])  # a duplicated document
    beta = model.encoder.relevance.beta
    for value in (1e4, -1e4, 0.0):
        with torch.no_grad():
            beta.fill_(value)
        assert_finite(*loss_and_grads(model, sample))
    with torch.no_grad():
        beta.fill_(1.0)


def test_padding_heavy_batch(task_model):
    """A very short document next to a long one: rows that are mostly padding."""
    task, model = task_model
    dataset = task.dataset("train")
    sizes = dataset.doc_sizes
    short, long = int(sizes.argmin()), int(sizes.argmax())
    assert_finite(*loss_and_grads(model, dataset.cluster_batch([short, long], [short, long])))
