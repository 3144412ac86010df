"""The cross-attention as it was before the relevance bias moved into the dot product: SDPA with
the bias as an additive mask, which sends training to PyTorch's math kernel.  For before/after
benchmarks only, so it is read from git (commit d2cf443) instead of living on in the package."""

import subprocess
import types
from pathlib import Path

from fairseq_marge.modules.multi_document_attention import MultiDocumentAttention

REPO = Path(__file__).resolve().parents[1]
BEFORE = "d2cf443"
FILE = "fairseq_marge/modules/multi_document_attention.py"


def _old_forward():
    source = subprocess.run(["git", "show", f"{BEFORE}:{FILE}"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType("multi_document_attention_before")
    exec(compile(source, f"{BEFORE}:{FILE}", "exec"), module.__dict__)
    return module.MultiDocumentAttention.forward


def use_math_path(model):
    """Give every cross-attention of ``model`` the old forward (same parameters and buffers)."""
    forward = _old_forward()

    def forward_before(self, *args, key_document=None, **kwargs):
        # the old forward predates key_document (validation's attention per document)
        if key_document is not None:
            raise ValueError("the math path benchmarks training steps, which need no attention "
                             "per document")
        return forward(self, *args, **kwargs)

    for module in model.modules():
        if isinstance(module, MultiDocumentAttention):
            module.forward = types.MethodType(forward_before, module)
    return model
