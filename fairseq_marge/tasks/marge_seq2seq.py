"""``marge_seq2seq``: fine-tune a MARGE checkpoint on a generation task (translation,
summarisation): the input goes into the encoder and the output comes from the decoder, whose
first input is the output language's token, as in pre-training and zero-shot generation.

Data: fairseq's ``{split}.{src}-{tgt}.{src|tgt}.bin/.idx`` pairs in the pre-training data
directory's dictionary (``python -m preprocess parallel`` writes them).  ``--source-lang`` and
``--target-lang`` name the files; ``--output-lang`` is the output's language when the target
suffix is not one (summarisation: ``--source-lang doc --target-lang sum --output-lang en``).

    fairseq-train DATA_DIR --user-dir fairseq_marge --task marge_seq2seq --source-lang de \\
        --target-lang en --arch marge_tiny --criterion label_smoothed_cross_entropy \\
        --finetune-from-model PRETRAINED.pt --freeze-embeddings --freeze-decoder-layers 4 ...
"""

from dataclasses import dataclass, field
from typing import Optional

from fairseq import utils
from fairseq.data import BaseWrapperDataset
from fairseq.tasks import register_task

from ..data.language_tokens import lang_token_index
from ..models.freezing import freeze_for_transfer
from .marge import MargeTask, MargeTaskConfig


class OutputLanguageDataset(BaseWrapperDataset):
    """A ``LanguagePairDataset`` whose decoder input starts with the output language's token:
    fairseq starts ``prev_output_tokens`` with EOS (targets are right-padded, so it is column 0)."""

    def __init__(self, dataset, lang_token: int):
        super().__init__(dataset)
        self.lang_token = lang_token

    def collater(self, samples):
        batch = self.dataset.collater(samples)
        if batch:
            batch["net_input"]["prev_output_tokens"][:, 0] = self.lang_token
        return batch


@dataclass
class MargeSeq2SeqConfig(MargeTaskConfig):
    output_lang: Optional[str] = field(
        default=None, metadata={"help": "language of the outputs (default: --target-lang)"}
    )
    freeze_embeddings: bool = field(default=False, metadata={"help": "freeze the word embeddings"})
    freeze_decoder_layers: int = field(default=0, metadata={"help": "freeze the lowest N decoder layers (paper: 4)"})


@register_task("marge_seq2seq", dataclass=MargeSeq2SeqConfig)
class MargeSeq2SeqTask(MargeTask):
    def build_model(self, cfg, from_checkpoint=False):
        model = super().build_model(cfg, from_checkpoint)
        freeze_for_transfer(model, self.cfg.freeze_embeddings, self.cfg.freeze_decoder_layers)
        return model

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        if not (self.cfg.source_lang and self.cfg.target_lang):
            raise ValueError("marge_seq2seq needs --source-lang and --target-lang")
        data_dir = utils.split_paths(self.cfg.data)[0]
        pair = self._load_pair_dataset(data_dir, split)
        self.datasets[split] = OutputLanguageDataset(pair, self.target_lang_token())

    def target_lang_token(self) -> int:
        return lang_token_index(self.dictionary, self.cfg.output_lang or self.cfg.target_lang)
