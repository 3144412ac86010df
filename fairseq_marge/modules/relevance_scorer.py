"""MARGE's relevance model (paper section 2.2).

g(d) is the encoder state of d's first (BOS) token after the first ``relevance_layers`` encoder
layers (computed by :class:`~fairseq_marge.models.marge_encoder.MargeEncoder`, which shares those
layers with reconstruction).  This module turns the g vectors of targets and evidence documents
into f(x, z) = cos(g(x), g(z)) and into the cross-attention bias beta * f with one trainable beta.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class RelevanceScorer(nn.Module):
    def __init__(self, beta_init: float, detach: bool = False):
        """``detach``: the ablation that cuts the reconstruction loss's gradient into g through
        the bias (f still biases attention, but only the shared encoder path trains g)."""
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(float(beta_init)))
        self.detach = detach

    @staticmethod
    def cosine(g_targets: Tensor, g_evidence: Tensor) -> Tensor:
        """f: (B, C) x (M, C) -> (B, M) cosine similarities, in fp32 at least (also under fp16)."""
        dtype = torch.promote_types(g_targets.dtype, torch.float32)
        # autocast would run the product in half precision whatever its inputs' dtype
        with torch.autocast(g_targets.device.type, enabled=False):
            return F.normalize(g_targets.to(dtype), dim=-1) @ F.normalize(g_evidence.to(dtype), dim=-1).t()

    def forward(self, g_targets: Tensor, g_evidence: Tensor, same_document: Tensor):
        """
        Returns:
            f: (B, M) cosine similarities with -inf where target i *is* evidence document j
               (paper: f(x, x) = -inf, so a target is never reconstructed from itself).
            bias: (B, M) beta * f, with -inf at the same places.  The mask is applied after the
               product so that a negative beta cannot turn -inf into +inf.
        """
        f = self.cosine(g_targets, g_evidence)
        if self.detach:
            f = f.detach()
        bias = (self.beta * f).masked_fill(same_document, float("-inf"))
        return f.masked_fill(same_document, float("-inf")), bias
