"""Shims that keep fairseq 0.12 (fairseq-fixed) working on numpy 2 and torch >= 2.6.

fairseq imports the plugin before it loads any checkpoint, so these run in time for
``fairseq-train``, ``fairseq-generate`` and ``checkpoint_utils`` alike.
"""

import argparse
import types

import numpy as np
import torch

# numpy 2 removed np.compat; fairseq's TokenBlockDataset/LanguagePairDataset bucketing use it.
if not hasattr(np, "compat"):
    np.compat = types.SimpleNamespace(long=np.int64)

# torch >= 2.6 loads checkpoints with weights_only=True: allow-list the one non-tensor class
# fairseq checkpoints carry (legacy `args`), instead of turning the check off.
torch.serialization.add_safe_globals([argparse.Namespace])
