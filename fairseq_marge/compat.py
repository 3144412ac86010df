"""Shims that keep fairseq 0.12 (fairseq-fixed) working on numpy 2 and torch >= 2.6, and its
``--bf16`` working off TPUs.

fairseq imports the plugin before it loads any checkpoint, so these run in time for
``fairseq-train``, ``fairseq-generate`` and ``checkpoint_utils`` alike.
"""

import argparse
import collections
import functools
import importlib.util
import logging
import types
import typing

import numpy as np
import omegaconf
import torch

# numpy 2 removed np.compat; fairseq's TokenBlockDataset/LanguagePairDataset bucketing use it.
if not hasattr(np, "compat"):
    np.compat = types.SimpleNamespace(long=np.int64)

# imported after the numpy shim, which must be in place before fairseq's modules load
from fairseq import options as fairseq_options  # noqa: E402
from fairseq.distributed import utils as fairseq_distributed_utils  # noqa: E402

logger = logging.getLogger(__name__)

# torch >= 2.6 loads checkpoints with weights_only=True: allow-list the one non-tensor class
# fairseq checkpoints carry on disk (legacy `args`), instead of turning the check off.
torch.serialization.add_safe_globals([argparse.Namespace])

# In a distributed run fairseq's trainer loads the checkpoint on rank 0 only and sends the loaded
# state to the other ranks with distributed_utils.broadcast_object: torch.save there, torch.load
# (weights_only by default) on the other ranks.  That state is not what is on disk:
# checkpoint_utils.load_checkpoint_to_cpu has made state["cfg"] an omegaconf DictConfig out of a
# plain dict (OmegaConf.create without a dataclass schema, so every leaf is an AnyNode), and
# broadcast_object has put a _TensorPlaceholder in place of each tensor.  The list holds exactly
# the globals the pickle of such a state names (torch.serialization.
# get_unsafe_globals_in_checkpoint), each one needed (leaving out any one fails the load); see
# tests/test_checkpoint_safety.py.  Classes outside it, e.g. os.system, are still refused.
_BROADCAST_STATE_GLOBALS = [
    # broadcast_object's stand-in for each tensor, sent apart (a frozen dataclass of one int)
    fairseq_distributed_utils._TensorPlaceholder,
    # the config tree: DictConfig for each mapping, ListConfig for each list, AnyNode for each leaf
    # (unpickling runs their __setstate__, which only sets attributes: no code from the data)
    omegaconf.DictConfig,
    omegaconf.ListConfig,
    omegaconf.nodes.AnyNode,
    # each node's metadata dataclasses (key, parent flags, types)
    omegaconf.base.Metadata,
    omegaconf.base.ContainerMetadata,
    # values of those metadata fields: ref_type/key_type/element_type typing.Any, object_type dict
    # (DictConfig) or list (ListConfig), key_type int (ListConfig)
    typing.Any,
    dict,
    list,
    int,
    # Metadata.resolver_cache, a defaultdict(dict)
    collections.defaultdict,
]
torch.serialization.add_safe_globals(_BROADCAST_STATE_GLOBALS)


def _bf16_off_tpu(parse_args_and_arch):
    """fairseq 0.12's command line makes ``--bf16`` imply ``--tpu`` (options.py; fairseq issue
    #4696), so that a bf16 run on a CPU or GPU looks for torch_xla's device and fails.  fairseq's
    own config keeps the two apart (``fairseq-hydra-train common.bf16=true`` trains in bf16 on
    the device at hand, with the fp32 master copy of its FP16Optimizer); without torch_xla there
    is no TPU, so here too ``--bf16`` means bf16 on the CPU or GPU."""

    @functools.wraps(parse_args_and_arch)
    def parse(*args, **kwargs):
        parsed = parse_args_and_arch(*args, **kwargs)
        namespace = parsed[0] if isinstance(parsed, tuple) else parsed  # (args, extra) if parse_known
        if getattr(namespace, "bf16", False) and getattr(namespace, "tpu", False) and not _HAS_XLA:
            logger.info("--bf16 without torch_xla: bf16 on this device, not on a TPU")
            namespace.tpu = False
        return parsed

    return parse


# fairseq's command-line scripts import the plugin while they build their parser (get_parser),
# before they call options.parse_args_and_arch, which they look up on the module at that call
_HAS_XLA = importlib.util.find_spec("torch_xla") is not None
fairseq_options.parse_args_and_arch = _bf16_off_tpu(fairseq_options.parse_args_and_arch)

# a truncated or damaged checkpoint file: one line naming it (models/checkpoint_compatibility.py);
# checkpoint_utils' own loader and the trainer look the function up on the module at each call
from fairseq import checkpoint_utils  # noqa: E402

from .models.checkpoint_compatibility import name_damaged_checkpoints  # noqa: E402

checkpoint_utils.load_checkpoint_to_cpu = name_damaged_checkpoints(checkpoint_utils.load_checkpoint_to_cpu)
