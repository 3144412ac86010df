"""Checkpoints load with torch's weights_only unpickler: only allow-listed classes get through."""

import os

import pytest
import torch
from fairseq import checkpoint_utils

import fairseq_marge  # noqa: F401  (its allow-list is what makes fairseq checkpoints loadable)


class Payload:
    """Stands for any object a tampered checkpoint could smuggle in."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_fairseq_checkpoint_loads_with_weights_only(trained_checkpoint):
    assert "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD" not in os.environ
    state = checkpoint_utils.load_checkpoint_to_cpu(str(trained_checkpoint))
    assert state["optimizer_history"][-1]["num_updates"] == 14


def test_checkpoint_with_foreign_object_is_refused(trained_checkpoint, tmp_path):
    state = torch.load(trained_checkpoint, weights_only=True)
    state["extra_state"]["payload"] = Payload()
    tampered = tmp_path / "tampered.pt"
    torch.save(state, tampered)
    with pytest.raises(Exception, match="(?s)Weights only load failed.*GLOBAL posix.system"):
        checkpoint_utils.load_checkpoint_to_cpu(str(tampered))
