"""The MARGE model (Lewis et al. 2020, "Pre-training via Paraphrasing") and its architectures."""

import os
from dataclasses import dataclass, field
from typing import Optional

from fairseq import utils
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.models import FairseqEncoderDecoderModel, register_model, register_model_architecture
from torch import nn

from .checkpoint_compatibility import check_vocabulary
from .marge_decoder import MargeDecoder
from .marge_encoder import MargeEncoder


@dataclass
class MargeConfig(FairseqDataclass):
    activation_fn: ChoiceEnum(utils.get_available_activation_fns()) = field(
        default="gelu", metadata={"help": "activation function"}
    )
    dropout: float = field(default=0.1, metadata={"help": "dropout probability"})
    attention_dropout: float = field(default=0.0, metadata={"help": "dropout on attention weights"})
    activation_dropout: float = field(default=0.0, metadata={"help": "dropout after the FFN activation"})
    encoder_embed_dim: int = field(default=512, metadata={"help": "model dimension (shared)"})
    encoder_ffn_embed_dim: int = field(default=2048, metadata={"help": "encoder FFN dimension"})
    encoder_layers: int = field(default=6, metadata={"help": "encoder layers"})
    encoder_attention_heads: int = field(default=8, metadata={"help": "encoder attention heads"})
    encoder_normalize_before: bool = field(default=True, metadata={"help": "pre-norm encoder layers"})
    relevance_layers: int = field(
        default=4, metadata={"help": "g(d) = BOS state after this many encoder layers (paper: 4)"}
    )
    beta_init: float = field(
        default=1.0, metadata={"help": "initial beta, the trainable scale of f in cross-attention"}
    )
    detach_relevance: bool = field(
        default=False,
        metadata={"help": "ablation: no gradient from the cross-attention bias into g (f is still used)"},
    )
    decoder_self_layers: int = field(
        default=2, metadata={"help": "decoder layers without cross-attention at its base (paper: 4)"}
    )
    decoder_self_ffn_embed_dim: int = field(
        default=2048, metadata={"help": "FFN dimension of the self-attention-only decoder layers"}
    )
    decoder_layers: int = field(default=6, metadata={"help": "decoder layers with cross-attention"})
    decoder_ffn_embed_dim: int = field(
        default=2048, metadata={"help": "FFN dimension of the cross-attention decoder layers"}
    )
    decoder_attention_heads: int = field(default=8, metadata={"help": "decoder attention heads"})
    decoder_normalize_before: bool = field(default=True, metadata={"help": "pre-norm decoder layers"})
    layernorm_embedding: bool = field(default=True, metadata={"help": "layer norm on embeddings"})
    no_scale_embedding: bool = field(default=False, metadata={"help": "do not scale embeddings by sqrt(d)"})
    max_source_positions: int = field(default=1024, metadata={"help": "max encoder input length"})
    max_target_positions: int = field(default=1024, metadata={"help": "max decoder input length"})
    dictionary_digest: Optional[str] = field(
        default=None,
        metadata={"help": "set when the model is built: a digest of the dictionary it is trained on, "
                          "saved in its checkpoints and compared with the data directory's when one loads"},
    )


@register_model("marge", dataclass=MargeConfig)
class MargeModel(FairseqEncoderDecoderModel):
    """Encoder (also the relevance model) + decoder with multi-document biased cross-attention.

    Encoder and decoder share one joint multilingual dictionary and one embedding matrix,
    which is also the output projection.
    """

    @classmethod
    def build_model(cls, cfg, task):
        dictionary = task.source_dictionary
        embed_tokens = nn.Embedding(len(dictionary), cfg.encoder_embed_dim, dictionary.pad())
        nn.init.normal_(embed_tokens.weight, mean=0, std=cfg.encoder_embed_dim**-0.5)
        nn.init.constant_(embed_tokens.weight[dictionary.pad()], 0)
        encoder = MargeEncoder(cfg, dictionary, embed_tokens)
        decoder = MargeDecoder(cfg, dictionary, embed_tokens)
        return cls(encoder, decoder)

    def forward(
        self,
        src_tokens,
        src_lengths,
        prev_output_tokens,
        num_evidence=None,
        target_rows=None,
        need_attn: bool = False,
        **unused,
    ):
        encoder_out = self.encoder(
            src_tokens, src_lengths, num_evidence=num_evidence, target_rows=target_rows
        )
        return self.decoder(prev_output_tokens, encoder_out=encoder_out, need_attn=need_attn)

    def upgrade_state_dict_named(self, state_dict, name):
        super().upgrade_state_dict_named(state_dict, name)
        check_vocabulary(state_dict, self.encoder.dictionary, name)

    @property
    def beta(self):
        return self.encoder.relevance.beta

    @classmethod
    def from_pretrained(cls, model_name_or_path, checkpoint_file="checkpoint_best.pt",
                        data_name_or_path=".", **kwargs):
        """A :class:`~fairseq_marge.hub_interface.MargeHubInterface` on raw text.

        ``data_name_or_path`` is the data directory (``dict.txt``, ``langs.txt``,
        ``sentencepiece.model``), relative to ``model_name_or_path`` when it starts with ".";
        ``kwargs`` override the checkpoint's configuration, as in fairseq's hub models.
        """
        from fairseq import hub_utils

        from ..hub_interface import MargeHubInterface

        data_dir = (os.path.join(model_name_or_path, data_name_or_path)
                    if data_name_or_path.startswith(".") else data_name_or_path)
        loaded = hub_utils.from_pretrained(
            model_name_or_path, checkpoint_file, data_name_or_path, bpe="sentencepiece",
            sentencepiece_model=os.path.join(data_dir, "sentencepiece.model"), **kwargs,
        )
        return MargeHubInterface(loaded["args"], loaded["task"], loaded["models"][0])


def _set_defaults(args, **defaults):
    for name, value in defaults.items():
        setattr(args, name, getattr(args, name, value))


@register_model_architecture("marge", "marge_tiny")
def marge_tiny(args):
    """For tests and CPU demos."""
    _set_defaults(
        args,
        encoder_embed_dim=64, encoder_ffn_embed_dim=128, encoder_layers=3,
        encoder_attention_heads=4, relevance_layers=2,
        decoder_self_layers=1, decoder_self_ffn_embed_dim=128,
        decoder_layers=2, decoder_ffn_embed_dim=128, decoder_attention_heads=4,
        max_source_positions=520, max_target_positions=520,
    )


@register_model_architecture("marge", "marge_small")
def marge_small(args):
    _set_defaults(
        args,
        encoder_embed_dim=256, encoder_ffn_embed_dim=1024, encoder_layers=6,
        encoder_attention_heads=4, relevance_layers=4,
        decoder_self_layers=2, decoder_self_ffn_embed_dim=1024,
        decoder_layers=4, decoder_ffn_embed_dim=1024, decoder_attention_heads=4,
        max_source_positions=520, max_target_positions=520,
    )


@register_model_architecture("marge", "marge_base")
def marge_base(args):
    _set_defaults(
        args,
        encoder_embed_dim=768, encoder_ffn_embed_dim=3072, encoder_layers=12,
        encoder_attention_heads=12, relevance_layers=4,
        decoder_self_layers=4, decoder_self_ffn_embed_dim=3072,
        decoder_layers=12, decoder_ffn_embed_dim=3072, decoder_attention_heads=12,
    )


@register_model_architecture("marge", "marge_large")
def marge_large(args):
    """The paper's model: encoder 12 x 1024 (FFN 4096); decoder 4 self-attention-only layers
    (FFN 4096) then 12 cross-attention layers with FFN 16536 (sic, paper)."""
    _set_defaults(
        args,
        encoder_embed_dim=1024, encoder_ffn_embed_dim=4096, encoder_layers=12,
        encoder_attention_heads=16, relevance_layers=4,
        decoder_self_layers=4, decoder_self_ffn_embed_dim=4096,
        decoder_layers=12, decoder_ffn_embed_dim=16536, decoder_attention_heads=16,
    )
