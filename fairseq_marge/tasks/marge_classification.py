"""``marge_classification``: fine-tune a MARGE checkpoint on a text classification set.

Data: ``{split}.tsv`` files of ``label<TAB>text`` lines (labels 0..--num-classes-1) in the task's
data directory, raw text encoded here with the pre-training data's ``sentencepiece.model`` and
``dict.txt`` (``--vocab-dir``, default: the same directory).  The encoder reads
``[BOS] text [EOS]`` and the decoder ``[lang] text [EOS]``, where ``lang`` is ``--input-lang``
(fine-tune on one language, evaluate another with ``--input-lang`` changed: the paper's
zero-shot transfer, with ``--freeze-embeddings --freeze-decoder-layers 4``).

    fairseq-train CLS_DIR --user-dir fairseq_marge --task marge_classification --input-lang en \\
        --num-classes 2 --vocab-dir DATA_DIR --arch marge_classification_tiny \\
        --criterion sentence_prediction --finetune-from-model PRETRAINED.pt ...
"""

import os
from dataclasses import dataclass, field
from typing import Optional

import sentencepiece as spm
import torch
from fairseq.data import (
    Dictionary, IdDataset, ListDataset, NestedDictionaryDataset, NumelDataset, NumSamplesDataset,
    PrependTokenDataset, RawLabelDataset, RightPadDataset,
)
from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import FairseqTask, register_task

from ..data.language_tokens import add_language_tokens, lang_token_index, read_langs
from ..models.freezing import freeze_for_transfer


@dataclass
class MargeClassificationConfig(FairseqDataclass):
    data: Optional[str] = field(default=None, metadata={"help": "directory of {split}.tsv files"})
    vocab_dir: Optional[str] = field(
        default=None, metadata={"help": "pre-training data directory: dict.txt, langs.txt, "
                                        "sentencepiece.model (default: --data)"}
    )
    input_lang: str = field(default="en", metadata={"help": "language of the texts"})
    num_classes: int = field(default=2, metadata={"help": "labels are 0..num_classes-1"})
    freeze_embeddings: bool = field(default=False, metadata={"help": "freeze the word embeddings"})
    freeze_decoder_layers: int = field(default=0, metadata={"help": "freeze the lowest N decoder layers (paper: 4)"})


@register_task("marge_classification", dataclass=MargeClassificationConfig)
class MargeClassificationTask(FairseqTask):
    def __init__(self, cfg, dictionary: Dictionary, sentencepiece: spm.SentencePieceProcessor):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.sentencepiece = sentencepiece
        self.lang_token = lang_token_index(dictionary, cfg.input_lang)

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        vocab_dir = cfg.vocab_dir or cfg.data
        dictionary = Dictionary.load(os.path.join(vocab_dir, "dict.txt"))
        add_language_tokens(dictionary, read_langs(vocab_dir))
        sentencepiece = spm.SentencePieceProcessor(model_file=os.path.join(vocab_dir, "sentencepiece.model"))
        return cls(cfg, dictionary, sentencepiece)

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary

    @property
    def label_dictionary(self):
        """None: labels are class indices (``sentence_prediction`` reads this for its reports)."""
        return None

    def build_model(self, cfg, from_checkpoint=False):
        model = super().build_model(cfg, from_checkpoint)
        model.register_classification_head("sentence_classification_head", num_classes=self.cfg.num_classes)
        freeze_for_transfer(model, self.cfg.freeze_embeddings, self.cfg.freeze_decoder_layers)
        return model

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        path = os.path.join(self.cfg.data, f"{split}.tsv")
        labels, texts = [], []
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                label, text = line.rstrip("\n").split("\t", 1)
                if not 0 <= int(label) < self.cfg.num_classes:
                    raise ValueError(f"{path}:{lineno}: label {label} not in 0..{self.cfg.num_classes - 1}")
                labels.append(int(label))
                texts.append(self.encode(text))
        text = ListDataset(texts, sizes=[len(t) for t in texts])
        src_tokens = PrependTokenDataset(text, self.dictionary.bos())
        pad = self.dictionary.pad()
        self.datasets[split] = NestedDictionaryDataset(
            {
                "id": IdDataset(),
                "net_input": {
                    "src_tokens": RightPadDataset(src_tokens, pad_idx=pad),
                    "src_lengths": NumelDataset(src_tokens, reduce=False),
                    "prev_output_tokens": RightPadDataset(PrependTokenDataset(text, self.lang_token), pad_idx=pad),
                },
                "target": RawLabelDataset(labels),
                "nsentences": NumSamplesDataset(),
                "ntokens": NumelDataset(src_tokens, reduce=True),
            },
            sizes=[src_tokens.sizes],
        )

    def encode(self, text: str) -> torch.Tensor:
        """``pieces [EOS]`` ids of a raw text."""
        pieces = " ".join(self.sentencepiece.encode(text, out_type=str))
        return self.dictionary.encode_line(pieces, add_if_not_exist=False, append_eos=True).long()
