"""Raw-text access to a MARGE checkpoint, in the style of fairseq's BART hub interface::

    from fairseq_marge.models.marge import MargeModel
    marge = MargeModel.from_pretrained("checkpoints", "checkpoint_best.pt", "/data/data-bin")
    marge.translate(["Hello world."], target_lang="de")
    marge.embed(["Hello world.", "Hallo Welt."])          # (2, C) sentence embeddings
    marge.relevance("Hello world.", ["Hallo Welt.", "x"])  # f(x, z) for each z

Texts are raw strings: fairseq's ``sentencepiece`` BPE encodes them with the data directory's
``sentencepiece.model`` and the joint dictionary maps the pieces to ids.  An empty text, or one
longer than the encoder reads, is an error: the model would return a confident answer about
nothing, or fail deep in its position embeddings.  Longer documents go through
:mod:`fairseq_marge.evaluation.long_texts`, which cuts them into chunks as the paper does.
"""

import os
from typing import Callable, List, Optional, Union

import torch
from fairseq import utils
from fairseq.hub_utils import GeneratorHubInterface
from torch import Tensor

from .evaluation.embeddings import EmbedLayer, mean_layer_states, resolve_embed_layer
from .modules.relevance_scorer import RelevanceScorer

Texts = Union[str, List[str]]


class MargeHubInterface(GeneratorHubInterface):
    def __init__(self, cfg, task, model):
        super().__init__(cfg, task, [model])
        self.model = self.models[0]

    def translate(
        self, texts: Texts, target_lang: str, beam: int = 6, no_repeat_ngram_size: int = 8,
        max_len_a: float = 1.2, max_len_b: int = 10, **kwargs
    ):
        """Zero-shot generation in ``target_lang``, whose token is forced as the first decoder
        input; the defaults are the paper's (beam 6, no repeated 8-grams).  Outputs are at most
        ``max_len_a * source tokens + max_len_b`` tokens long, as ``examples/demo/run.sh`` asks
        of fairseq-generate: fairseq's own limit is 200 tokens whatever the input.  ``kwargs``
        are other fairseq generation options (``lenpen``, ``min_len``, ...)."""
        return self.sample(
            texts, beam=beam, no_repeat_ngram_size=no_repeat_ngram_size, max_len_a=max_len_a,
            max_len_b=max_len_b, inference_step_args={"target_lang": target_lang}, **kwargs,
        )

    def encode(self, sentence: str) -> Tensor:
        """``text [EOS]`` ids of one raw text, refused if empty or longer than the encoder reads."""
        if not sentence.strip():
            raise ValueError(f"empty text {sentence!r}: there is nothing to translate, embed or score")
        tokens = super().encode(sentence)
        most = self.max_positions[0] - 1  # the encoder also reads a BOS
        if len(tokens) > most:
            raise ValueError(
                f"a text of {len(tokens)} tokens ({sentence[:40]!r}...): the model reads at most "
                f"{most}; fairseq_marge.evaluation.long_texts (translate_texts, embed_texts) cuts "
                "long texts into 512-token chunks"
            )
        return tokens

    def embed(self, texts: Texts, layer: Optional[EmbedLayer] = None) -> Tensor:
        """(N, C) sentence embeddings: the mean of encoder layer ``layer``'s states (default: the
        layer just above g, as the paper's 5th of 12), or ``"g"``, the L2-normalised relevance
        embedding; (C,) for a single string."""
        if isinstance(texts, str):
            return self.embed([texts], layer)[0]
        return self.embed_tokens([self.encode(t) for t in texts], layer)

    def embed_tokens(self, tokens: List[Tensor], layer: Optional[EmbedLayer] = None) -> Tensor:
        """:meth:`embed` for encoded inputs (``text [EOS]`` ids, as :meth:`encode` returns)."""
        layer = resolve_embed_layer(self.model.encoder, layer)
        return self._map_tokens(tokens, lambda src: mean_layer_states(self.model.encoder, src, layer))

    def relevance(self, x: Texts, z: Texts) -> Tensor:
        """f(x, z) = cos(g(x), g(z)), the relevance score that biases MARGE's cross-attention:
        (|x|, |z|), with the dimension of a single-string argument dropped."""
        def g(texts: List[str]) -> Tensor:
            return self._map_tokens([self.encode(t) for t in texts], self.model.encoder.relevance_embedding)

        f = RelevanceScorer.cosine(g([x] if isinstance(x, str) else x), g([z] if isinstance(z, str) else z))
        return f[0 if isinstance(x, str) else slice(None), 0 if isinstance(z, str) else slice(None)]

    def _build_batches(self, tokens: List[Tensor], skip_invalid_size_inputs: bool):
        """fairseq's batches of encoded inputs.  The task leaves blank inputs (EOS alone) out of
        its batches, as fairseq-interactive's blank lines; the hub answers once per input, so a
        blank one, given as ids rather than text (which :meth:`encode` refuses), is an error."""
        for i, row in enumerate(tokens):
            if row.numel() <= 1:
                raise ValueError(f"empty input {i} (ids {row.tolist()}): there is nothing to translate, embed or score")
        return super()._build_batches(tokens, skip_invalid_size_inputs)

    @torch.no_grad()
    def _map_tokens(self, tokens: List[Tensor], encode: Callable[[Tensor], Tensor]) -> Tensor:
        """Apply ``encode`` to batches of ``[BOS] text [EOS]`` rows; rows come back in input order.
        (The model is in eval mode: fairseq's hub interface prepares it for inference.)"""
        rows = {}
        for batch in self._build_batches(tokens, skip_invalid_size_inputs=False):
            batch = utils.apply_to_sample(lambda t: t.to(self.device), batch)
            for i, row in zip(batch["id"].tolist(), encode(batch["net_input"]["src_tokens"])):
                rows[i] = row
        return torch.stack([rows[i] for i in range(len(tokens))])


def load_checkpoint(path: str, data_dir: str, cpu: bool = False, **overrides) -> MargeHubInterface:
    """The hub interface of one checkpoint file, in eval mode, on the GPU if there is one and
    ``cpu`` is not set: what every evaluation script starts with."""
    from .models.marge import MargeModel

    hub = MargeModel.from_pretrained(
        os.path.dirname(os.path.abspath(path)), os.path.basename(path), os.path.abspath(data_dir),
        **overrides,
    ).eval()
    if torch.cuda.is_available() and not cpu:
        hub.cuda()
    return hub
