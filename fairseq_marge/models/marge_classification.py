"""MARGE for classification (paper section 6): the input goes into the encoder *and* the decoder
(``[lang] tokens [EOS]``), and the decoder's final state at the EOS feeds a classification head.

Heads are registered by name, as in fairseq's BART, so ``--criterion sentence_prediction`` and
``--finetune-from-model`` (from a pre-trained ``marge`` checkpoint, which has no heads) work.
"""

import logging

import torch
from fairseq.models import register_model, register_model_architecture
from fairseq.models.bart.model import BARTClassificationHead
from torch import nn

from . import marge
from .marge import MargeConfig, MargeModel

logger = logging.getLogger(__name__)


@register_model("marge_classification", dataclass=MargeConfig)
class MargeClassificationModel(MargeModel):
    def __init__(self, encoder, decoder):
        super().__init__(encoder, decoder)
        self.classification_heads = nn.ModuleDict()

    def register_classification_head(self, name: str, num_classes: int, **unused):
        dim = self.encoder.embed_tokens.embedding_dim
        self.classification_heads[name] = BARTClassificationHead(
            dim, dim, num_classes, activation_fn="tanh", pooler_dropout=self.decoder.dropout_module.p
        )

    def forward(self, src_tokens, src_lengths, prev_output_tokens, features_only=False,
                classification_head_name=None, **kwargs):
        if classification_head_name is None:
            return super().forward(src_tokens, src_lengths, prev_output_tokens, **kwargs)
        encoder_out = self.encoder(src_tokens, src_lengths)
        features, extra = self.decoder(prev_output_tokens, encoder_out=encoder_out, features_only=True)
        last = prev_output_tokens.ne(self.decoder.padding_idx).sum(dim=1) - 1  # the EOS
        sentence = features[torch.arange(features.size(0), device=features.device), last]
        return self.classification_heads[classification_head_name](sentence), extra

    def upgrade_state_dict_named(self, state_dict, name):
        """A checkpoint without (some of) this model's heads keeps their fresh initialisation."""
        super().upgrade_state_dict_named(state_dict, name)
        prefix = f"{name}." if name else ""
        for key, value in self.classification_heads.state_dict().items():
            full_key = f"{prefix}classification_heads.{key}"
            if full_key not in state_dict:
                logger.info(f"{full_key}: not in the checkpoint, newly initialised")
                state_dict[full_key] = value


# the pre-training sizes, under the classification model
for _size in ("tiny", "small", "base", "large"):
    register_model_architecture("marge_classification", f"marge_classification_{_size}")(
        getattr(marge, f"marge_{_size}")
    )
