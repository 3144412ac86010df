"""The feed-forward activation of MARGE's layers, by its fairseq name (``--activation-fn``).

fairseq's ``gelu`` casts its input to fp32 and its output back (written for half-precision
kernels of old); torch's own ``gelu`` computes bf16 and fp16 inputs in fp32 and rounds once,
which gives the same numbers and gradients bit for bit without the two casts of the largest
activation: fwd + bwd 2.7x faster in bf16 on a CPU (``tests/test_bf16_numerics.py``).
"""

from typing import Callable

import torch.nn.functional as F
from fairseq import utils
from torch import Tensor


def get_activation_fn(name: str) -> Callable[[Tensor], Tensor]:
    return F.gelu if name == "gelu" else utils.get_activation_fn(name)
