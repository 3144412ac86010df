"""``marge_evidence_noise``: MARGE pre-training with noisy evidence.

An example of a task built on fairseq_marge in its own user-dir.  While training, a share
``--evidence-noise`` of the evidence documents' tokens is replaced by ``<unk>``, so the decoder
cannot copy the evidence verbatim and has to paraphrase it.  Only the ``train_step`` changes:
the marge task still plans the batches, the marge model and criterion are used as they are.
"""

from dataclasses import dataclass, field

import torch
from fairseq.tasks import register_task

from fairseq_marge.tasks.marge import MargeTask, MargeTaskConfig


@dataclass
class EvidenceNoiseConfig(MargeTaskConfig):
    evidence_noise: float = field(
        default=0.1, metadata={"help": "share of evidence tokens replaced by <unk> in training"}
    )


@register_task("marge_evidence_noise", dataclass=EvidenceNoiseConfig)
class EvidenceNoiseTask(MargeTask):
    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        net_input = sample["net_input"]
        net_input["src_tokens"] = self.add_noise(net_input["src_tokens"], net_input["num_evidence"])
        return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)

    def add_noise(self, src_tokens: torch.Tensor, num_evidence: int) -> torch.Tensor:
        """Replace tokens of the evidence rows (the first ``num_evidence``) but never BOS, EOS or
        padding; the target rows that follow are only read for their g and stay intact."""
        special = (src_tokens == self.dictionary.bos()) | (src_tokens == self.dictionary.eos()) \
            | (src_tokens == self.dictionary.pad())
        noise = torch.rand(src_tokens.shape, device=src_tokens.device) < self.cfg.evidence_noise
        noise[num_evidence:] = False
        return src_tokens.masked_fill(noise & ~special, self.dictionary.unk())
