"""``--no-repeat-ngram-size N``: no hypothesis may generate the same N-gram twice.

The paper decodes zero-shot translations with beam 6 and no repeated 8-grams.  fairseq 0.12's
own ``NGramRepeatBlock`` falls back (without its CUDA extension: always on CPU) to Python code
that reads the *end* of the whole token buffer, which is padding until the last step, instead of
the last generated tokens, so it bans nothing (fairseq issues #4709, #5206).  This blocker is a
drop-in replacement, called by ``SequenceGenerator`` with the same arguments, and only reads the
tokens generated up to ``step``; it is vectorised, so it runs on CPU and GPU alike.
"""

import torch
from torch import Tensor, nn


class NoRepeatNGramBlock(nn.Module):
    def __init__(self, no_repeat_ngram_size: int):
        super().__init__()
        self.no_repeat_ngram_size = no_repeat_ngram_size

    def forward(self, tokens: Tensor, lprobs: Tensor, bsz: int, beam_size: int, step: int) -> Tensor:
        """Set ``lprobs[h, t]`` to -inf (in place) wherever token t would end an N-gram that
        hypothesis h already holds.

        Args:
            tokens: (bsz * beam_size, buffer length) hypotheses; positions 0..step are filled
                (position 0: the BOS, here the target-language token), the rest is padding
            lprobs: (bsz * beam_size, vocabulary) scores of the token at position step + 1
        """
        n = self.no_repeat_ngram_size
        prefix = tokens[:, : step + 1]
        if prefix.size(1) < n:  # no complete N-gram yet
            return lprobs
        ngrams = prefix.unfold(1, n, 1)  # (hypos, earlier N-grams, n): a view, no copy
        last = prefix[:, prefix.size(1) - (n - 1) :]  # the N-1 tokens the next one extends
        repeats = (ngrams[:, :, :-1] == last[:, None, :]).all(dim=2)  # (hypos, earlier N-grams)
        # min(score, -inf) bans the token that ends a repeat, min(score, +inf) leaves it alone: a
        # reduction, so a token that ends several earlier N-grams is banned if any one repeats
        # (a plain scatter keeps an arbitrary one of duplicate writes); no (hypos, vocabulary) copy
        inf = torch.tensor(float("inf"), dtype=lprobs.dtype, device=lprobs.device)
        return lprobs.scatter_reduce_(1, ngrams[:, :, -1], torch.where(repeats, -inf, inf), reduce="amin")
