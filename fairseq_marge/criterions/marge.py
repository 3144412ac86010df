"""The MARGE loss: token NLL of the targets given all evidence (paper eq. 1), with the retrieval
diagnostics a user watches during pre-training."""

import math
from dataclasses import dataclass, field

from fairseq import metrics, utils
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import label_smoothed_nll_loss
from fairseq.dataclass import FairseqDataclass
from omegaconf import II


@dataclass
class MargeCriterionConfig(FairseqDataclass):
    label_smoothing: float = field(default=0.0, metadata={"help": "epsilon for label smoothing, 0 = none"})
    sentence_avg: bool = II("optimization.sentence_avg")


@register_criterion("marge", dataclass=MargeCriterionConfig)
class MargeCriterion(FairseqCriterion):
    """Logs, besides loss/nll/ppl: ``beta``; the mean f over same-language (``f_mono``) and
    cross-language (``f_cross``) target/evidence pairs; ``f_std``, the standard deviation of f
    over a target's evidence, averaged over targets; and, in validation, ``attn_best``, the
    share of the last cross-attention layer's mass that falls on the best-scored document."""

    def __init__(self, task, label_smoothing, sentence_avg):
        super().__init__(task)
        self.eps = label_smoothing
        self.sentence_avg = sentence_avg

    def forward(self, model, sample, reduce=True):
        # the attention on each document costs value columns in the last layer: validation only
        need_attn = not model.training and sample["net_input"].get("target_rows") is not None
        net_output = model(**sample["net_input"], need_attn=need_attn)
        lprobs = model.get_normalized_probs(net_output, log_probs=True)
        target = model.get_targets(sample, net_output)
        loss, nll_loss = label_smoothed_nll_loss(
            lprobs.view(-1, lprobs.size(-1)), target.view(-1), self.eps,
            ignore_index=self.padding_idx, reduce=reduce,
        )
        sample_size = sample["nsentences"] if self.sentence_avg else sample["ntokens"]
        logging_output = {
            "loss": loss.data,
            "nll_loss": nll_loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample["nsentences"],
            "sample_size": sample_size,
            "n_outputs": 1,
            "beta": model.encoder.relevance.beta.detach().item(),
        }
        relevance = net_output[1]["relevance"]
        if relevance:
            logging_output.update(self._relevance_stats(relevance[0], sample))
            document_attn = net_output[1]["document_attn"][0]
            if document_attn is not None:
                logging_output.update(self._attention_on_best(document_attn, relevance[0], target))
        return loss, sample_size, logging_output

    @staticmethod
    def _relevance_stats(f, sample):
        num_evidence = f.size(1)
        evidence_langs = sample["document_langs"][:num_evidence]
        same_lang = sample["target_langs"][:, None] == evidence_langs[None, :]
        valid = f.isfinite()
        f = f.detach().masked_fill(~valid, 0.0)
        mono, cross = valid & same_lang, valid & ~same_lang
        # the spread of f over each target's evidence: a flat f (all pairs alike) biases every
        # document equally, however high its mean
        count = valid.sum(dim=1)
        rows = count > 1
        mean = f.sum(dim=1, keepdim=True) / count.clamp(min=1)[:, None]
        var = ((f - mean).masked_fill(~valid, 0.0) ** 2).sum(dim=1) / (count - 1).clamp(min=1)
        return {
            "f_mono_sum": float(f[mono].sum()), "f_mono_n": int(mono.sum()),
            "f_cross_sum": float(f[cross].sum()), "f_cross_n": int(cross.sum()),
            "f_std_sum": float(var[rows].sqrt().sum()), "f_std_n": int(rows.sum()),
        }

    def _attention_on_best(self, document_attn, f, target):
        """document_attn (B, T, M): each target token's attention on each evidence document."""
        best = f.argmax(dim=1)[:, None, None].expand(-1, document_attn.size(1), 1)
        on_best = document_attn.gather(2, best).squeeze(2)
        tokens = target.ne(self.padding_idx)
        return {"attn_best_sum": float(on_best[tokens].sum()), "attn_best_n": int(tokens.sum())}

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        def total(key):
            return sum(log.get(key, 0) for log in logging_outputs)

        loss_sum, nll_sum = total("loss"), total("nll_loss")
        ntokens, sample_size = total("ntokens"), total("sample_size")
        metrics.log_scalar("loss", loss_sum / sample_size / math.log(2), sample_size, round=3)
        metrics.log_scalar("nll_loss", nll_sum / ntokens / math.log(2), ntokens, round=3)
        metrics.log_derived("ppl", lambda meters: utils.get_perplexity(meters["nll_loss"].avg))
        if total("n_outputs"):
            metrics.log_scalar("beta", total("beta") / total("n_outputs"), round=3)
        for name in ("f_mono", "f_cross", "f_std", "attn_best"):
            count = total(f"{name}_n")
            if count:
                metrics.log_scalar(name, total(f"{name}_sum") / count, count, round=3)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
