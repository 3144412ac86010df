"""Checkpoints load with torch's weights_only unpickler: only allow-listed classes get through,
from a file and from fairseq's broadcast of rank 0's loaded checkpoint to the other ranks."""

import io
import os

import pytest
import torch
from fairseq import checkpoint_utils
from fairseq.distributed import utils as distributed_utils
from omegaconf import DictConfig, OmegaConf

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


def broadcast_round_trip(state):
    """What fairseq's distributed_utils.broadcast_object does to rank 0's loaded checkpoint on its
    way to the other ranks: tensors split off, the rest torch.save'd, torch.load'ed (weights_only,
    torch's default) there, tensors put back."""
    tensors = []
    buffer = io.BytesIO()
    torch.save(distributed_utils._split_tensors_from_obj(state, tensors), buffer)
    buffer.seek(0)
    return distributed_utils._put_tensors_in_obj(torch.load(buffer, map_location="cpu"), tensors)


def test_loaded_checkpoint_survives_fairseq_broadcast(trained_checkpoint):
    # the loaded state holds the config as an omegaconf DictConfig, which resuming on 2+ ranks sends
    state = checkpoint_utils.load_checkpoint_to_cpu(str(trained_checkpoint))
    assert isinstance(state["cfg"], DictConfig)
    received = broadcast_round_trip(state)
    assert isinstance(received["cfg"], DictConfig)
    assert OmegaConf.to_container(received["cfg"]) == OmegaConf.to_container(state["cfg"])
    assert received["cfg"].optimization.max_update == 14
    assert received["optimizer_history"][-1]["num_updates"] == 14
    for name, tensor in state["model"].items():
        assert torch.equal(received["model"][name], tensor)


def test_broadcast_with_foreign_object_is_refused(trained_checkpoint):
    state = checkpoint_utils.load_checkpoint_to_cpu(str(trained_checkpoint))
    state["cfg"].common.payload = Payload()  # inside the config, which the allow-list lets through
    with pytest.raises(Exception, match="(?s)Weights only load failed.*GLOBAL posix.system"):
        broadcast_round_trip(state)
