"""The ``marge`` task: pre-training on retrieval-built clusters, and zero-shot generation.

Training data is a directory of binarized documents with per-document metadata (README, "Data
format").  Each epoch of training is one *batch plan*: ``--reindex-interval`` updates between
two re-indexings.  Generation reads fairseq's usual ``{split}.{src}-{tgt}.{lang}`` pairs and
forces the target-language token as the decoder's first input.
"""

import logging
import os
from dataclasses import dataclass, field
from typing import List, Optional

import torch
from fairseq import utils
from fairseq.data import Dictionary, LanguagePairDataset, PrependTokenDataset, iterators
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from omegaconf import II

from ..data.batch_plan import BatchPlan
from ..data.data_dir_checks import load_dictionary
from ..data.document_dataset import MargeDocumentDataset
from ..data.language_pairs import check_aligned, load_pair_side
from ..data.language_tokens import add_language_tokens, lang_token_index, read_langs
from ..data.plan_agreement import check_plan_agreement
from ..data.plan_iterator import PlanEpochBatchIterator
from ..data.plan_provenance import PlanSources
from ..data.planner_registry import Planner, build_planner, get_planner_class
from ..data.random_planner import random_plan, with_random_evidence
from ..data.truncated_documents import truncate_sample
from ..retrieval import lexical_planner  # noqa: F401  (registers "lexical")
from ..retrieval.retrieval_planner import RetrievalPlanner
from ..inference.blank_inputs import BlankInputCounter, InputsWithoutBlanks
from ..inference.evidence_index import EvidenceIndex
from ..inference.ngram_repeat_block import NoRepeatNGramBlock
from ..inference.retrieval_augmented import RetrievalAugmentedMarge
from ..models.checkpoint_compatibility import check_dictionary_digest, require_marge_model
from .length_schedule import LengthSchedule
from .option_checks import check_options, check_options_against_data
from .planner_schedule import PlannerSchedule
from .preemption import Preemption
from .reindex_schedule import ReindexSchedule
from .spawn_preemption import install as pass_signals_on_in_spawn_mode

logger = logging.getLogger(__name__)

# fairseq-train's spawning parent runs no task code: importing the task is its only hook
pass_signals_on_in_spawn_mode()

VALID_EVIDENCE = ChoiceEnum(["random", "retrieved", "shuffled"])
TRAIN_EVIDENCE = ChoiceEnum(["retrieved", "shuffled"])


@dataclass
class MargeTaskConfig(FairseqDataclass):
    data: Optional[str] = field(
        default=None, metadata={"help": "data directory made by `python -m preprocess`"}
    )
    max_doc_tokens: int = field(
        default=512, metadata={"help": "longest document (in tokens, without EOS) the data may hold"}
    )
    reindex_interval: str = field(
        default="10000",
        metadata={"help": "updates per batch plan: N, or ranges like '0-2000:500,2000-:10000'"},
    )
    planner: str = field(
        default="retrieval",
        metadata={"help": "how clusters are built, a registered planner: 'retrieval' with the current "
                          "model's g (the paper), 'random' same-shard documents (the ablation), "
                          "'lexical' character 3-gram TF-IDF (a bootstrap), or a user-dir's own"},
    )
    planner_schedule: Optional[str] = field(
        default=None,
        metadata={"help": "planners by update range, overriding --planner, e.g. "
                          "'0-3000:lexical,3000-:retrieval' (an epoch uses the one at its first update)"},
    )
    doc_length_schedule: Optional[str] = field(
        default=None,
        metadata={"help": "a document-length curriculum: every training document cut to LENGTH tokens "
                          "by update range, e.g. '0-2000:64,2000-4000:128,4000-:512' (an epoch uses "
                          "the length at its first update, for its plan and its batches)"},
    )
    report_g_links: bool = field(
        default=False,
        metadata={"help": "when another planner builds the plan (lexical, random, a user-dir's), "
                          "also encode with g at each re-index and report the links g would have "
                          "made (reindex/g_links_genN.json); costs one encoding of the sampled shards"},
    )
    valid_evidence: VALID_EVIDENCE = field(
        default="random",
        metadata={"help": "validation clusters: random same-shard documents; 'retrieved': a "
                          "retrieval plan built once with the model as loaded; 'shuffled': that "
                          "plan's targets with random same-shard evidence (the evidence ablation, "
                          "e.g. with fairseq-validate --model-overrides)"},
    )
    valid_planner: str = field(
        default="retrieval",
        metadata={"help": "the planner of the 'retrieved' and 'shuffled' validation plans: 'retrieval' "
                          "(g), 'lexical', or another subclass of the retrieval planner, e.g. "
                          "examples/custom_planner's group_oracle (perfect evidence: the ceiling)"},
    )
    train_evidence: TRAIN_EVIDENCE = field(
        default="retrieved",
        metadata={"help": "ablation: 'shuffled' trains every retrieved cluster's targets on as many "
                          "random same-shard documents (re-indexing still reports what g retrieves)"},
    )
    reindex_shards: int = field(
        default=0, metadata={"help": "shards sampled per re-index; 0 = all"}
    )
    reindex_max_tokens: Optional[int] = field(
        default=None, metadata={"help": "tokens per encoding batch when re-indexing (default: --max-tokens)"}
    )
    mono_links: float = field(
        default=4, metadata={"help": "same-language links per target, on average over a shard"}
    )
    cross_links: float = field(
        default=4, metadata={"help": "cross-language links per target, on average over a shard"}
    )
    cross_lingual_weight: float = field(
        default=100, metadata={"help": "weight of a cross-language link when growing clusters "
                                       "(same-language: 1)"}
    )
    source_lang: Optional[str] = field(
        default=None, metadata={"help": "generation: source language of {split}.{src}-{tgt}.*"}
    )
    target_lang: Optional[str] = field(
        default=None, metadata={"help": "generation: target language, forced as first decoder token"}
    )
    retrieve_from: Optional[str] = field(
        default=None,
        metadata={"help": "generation: retrieve evidence from this binarized document collection "
                          "(a split of the data directory, or a path prefix) and decode from it"},
    )
    retrieve_k: int = field(default=4, metadata={"help": "generation: evidence documents per input"})
    retrieve_skip_input: bool = field(
        default=False, metadata={"help": "generation: decode from the retrieved documents only, not the input"}
    )
    # shared with other config groups
    max_tokens: Optional[int] = II("dataset.max_tokens")
    update_freq: List[int] = II("optimization.update_freq")
    train_subset: str = II("dataset.train_subset")
    gen_subset: str = II("dataset.gen_subset")
    seed: int = II("common.seed")
    save_dir: str = II("checkpoint.save_dir")


@register_task("marge", dataclass=MargeTaskConfig)
class MargeTask(FairseqTask):
    def __init__(self, cfg: MargeTaskConfig, dictionary: Dictionary, langs: List[str]):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.langs = langs
        self.lang_token_ids = add_language_tokens(dictionary, langs)
        self.schedule = ReindexSchedule(cfg.reindex_interval)
        self.planner_schedule = PlannerSchedule(cfg.planner, cfg.planner_schedule)
        self.length_schedule = LengthSchedule(cfg.doc_length_schedule)
        self._planners = {}  # name -> planner, built on first use
        self.model = None  # set by build_model: re-indexing encodes with the model in training
        self._retrieval_models = {}  # --retrieve-from: model -> its retrieval-augmented wrapper
        self.blank_inputs = BlankInputCounter()

    @classmethod
    def setup_task(cls, cfg: MargeTaskConfig, **kwargs):
        if cfg.data is None:
            raise ValueError("the marge task needs a data directory (positional DATA argument)")
        data_dir = utils.split_paths(cfg.data)[0]
        dictionary = load_dictionary(data_dir)
        langs = read_langs(data_dir)
        check_options(cfg, langs)
        logger.info(f"dictionary: {len(dictionary)} types; {len(langs)} languages")
        return cls(cfg, dictionary, langs)

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary

    def build_model(self, cfg, from_checkpoint=False):
        self.model = require_marge_model(super().build_model(cfg, from_checkpoint))
        check_dictionary_digest(cfg, self.dictionary, from_checkpoint)
        return self.model

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        data_dir = utils.split_paths(self.cfg.data)[0]
        if self.cfg.source_lang and self.cfg.target_lang:
            pair = f"{split}.{self.cfg.source_lang}-{self.cfg.target_lang}"
            has_pair = os.path.exists(os.path.join(data_dir, f"{pair}.{self.cfg.source_lang}.idx"))
            # only the training split falls back to documents (a generation task loading the
            # documents it retrieves from): another split, or the one fairseq-generate reads
            # (--gen-subset train included), would "translate" each document into itself
            # (data/language_pairs.py lists the pairs there are)
            if has_pair or split != self.cfg.train_subset or split == self.cfg.gen_subset:
                self.datasets[split] = self._load_pair_dataset(data_dir, split)
                return
        self.datasets[split] = MargeDocumentDataset.load(
            os.path.join(data_dir, split),
            self.dictionary,
            self.lang_token_ids,
            split,
            self.cfg.max_doc_tokens,
        )
        logger.info(f"{split}: {self.datasets[split].num_documents} documents")
        check_options_against_data(self.cfg, self.datasets[split], self.length_schedule.longest())

    def _load_pair_dataset(self, data_dir, split):
        src_lang, tgt_lang = self.cfg.source_lang, self.cfg.target_lang
        src, tgt = (load_pair_side(data_dir, split, src_lang, tgt_lang, lang, self.dictionary, self.langs)
                    for lang in (src_lang, tgt_lang))
        check_aligned(data_dir, split, src_lang, tgt_lang, src, tgt)
        src = PrependTokenDataset(src, self.dictionary.bos())
        return LanguagePairDataset(
            src, src.sizes, self.dictionary, tgt, tgt.sizes, self.dictionary, left_pad_source=False
        )

    def build_dataset_for_inference(self, src_tokens, src_lengths, constraints=None):
        """``src_tokens`` are documents ending in EOS; the encoder expects a leading BOS."""
        bos = self.dictionary.bos()
        src_tokens = [torch.cat([torch.tensor([bos]), t]) for t in src_tokens]
        sizes = [len(t) for t in src_tokens]
        self.blank_inputs.count(sizes)  # fairseq-interactive's blank lines: left out, counted
        return InputsWithoutBlanks(
            src_tokens, sizes, self.dictionary, constraints=constraints,
            left_pad_source=False,  # g reads position 0: the BOS
        )

    # ---- batch plans ----------------------------------------------------------------------

    def build_plan(self, dataset: MargeDocumentDataset, epoch: int) -> BatchPlan:
        """The plan of ``epoch``, built from the model as it is now by the planner in force at the
        epoch's first update.  One re-index per epoch, so ``generation = epoch`` counts the
        re-indexes so far, also across a resume."""
        seed = self.cfg.seed + epoch
        name = self.planner_schedule.planner_at(self.schedule.epoch_start(epoch))
        updates_since_last = self.schedule.updates_in_epoch(epoch - 1) if epoch > 1 else 0
        dataset = dataset.truncated(self.doc_length(epoch))
        plan = self.planner(name).plan(
            dataset, self.model, generation=epoch, seed=seed, updates_since_last=updates_since_last
        )
        check_plan_agreement(plan, name, generation=epoch)
        if self.cfg.report_g_links and name != "retrieval":
            self.planner("retrieval").report_own_links(dataset, self.model, epoch, seed, planner=name)
        if self.cfg.train_evidence == "shuffled":
            plan = with_random_evidence(plan, dataset, seed=seed)
        return plan

    def doc_length(self, epoch: int):
        """``--doc-length-schedule``'s length for ``epoch`` (None: documents are not cut)."""
        return self.length_schedule.length_at(self.schedule.epoch_start(epoch))

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        length = self.doc_length(self.schedule.epoch_of(update_num))
        if length is not None and sample:
            sample = truncate_sample(sample, length, self.dictionary.pad(), self.dictionary.eos())
        return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)

    def planner(self, name: str) -> Planner:
        if name not in self._planners:
            self._planners[name] = build_planner(name, self)
        return self._planners[name]

    def valid_plan(self, dataset: MargeDocumentDataset) -> BatchPlan:
        """The fixed plan of a validation split (see ``--valid-evidence``)."""
        if self.cfg.valid_evidence == "random":
            return random_plan(dataset, self.cluster_budget(), seed=self.cfg.seed)
        planner = get_planner_class(self.cfg.valid_planner)
        if not issubclass(planner, RetrievalPlanner):
            raise ValueError(f"--valid-planner {self.cfg.valid_planner}: a validation plan is built "
                             f"once, from the model as loaded, by 'retrieval' or a subclass of it; "
                             f"{planner.__name__} is not one")
        # generation 0 and no report files: this plan is not one of training's re-indexes
        plan = planner.from_task(self, report=False).plan(
            dataset, self.model, generation=0, seed=self.cfg.seed, updates_since_last=0
        )
        if self.cfg.valid_evidence == "shuffled":
            plan = with_random_evidence(plan, dataset, seed=self.cfg.seed)
        return plan

    def cluster_budget(self) -> int:
        if not self.cfg.max_tokens:
            raise ValueError("the marge task builds clusters up to --max-tokens tokens: set it")
        return self.cfg.max_tokens

    def _batches_in_epoch(self, num_shards: int):
        def batches(epoch: int) -> int:
            update_freq = self.cfg.update_freq[min(epoch, len(self.cfg.update_freq)) - 1]
            return self.schedule.updates_in_epoch(epoch) * update_freq * num_shards

        return batches

    def get_batch_iterator(self, dataset, seed=1, num_shards=1, shard_id=0, num_workers=0,
                           epoch=1, data_buffer_size=0, disable_iterator_cache=False, **kwargs):
        if not isinstance(dataset, MargeDocumentDataset):
            # fairseq git-main's batch_by_size drops the last batch when it is not a multiple
            # of --required-batch-size-multiple (default 8): that would silently skip up to 7
            # sentences of a test set, so generation batches are not rounded.
            kwargs["required_batch_size_multiple"] = 1
            return super().get_batch_iterator(
                dataset, seed=seed, num_shards=num_shards, shard_id=shard_id,
                num_workers=num_workers, epoch=epoch, data_buffer_size=data_buffer_size,
                disable_iterator_cache=disable_iterator_cache, **kwargs,
            )
        # fairseq asks again every epoch: hand back the same iterator, or each new one would
        # leak its DataLoader workers (see ../shared/INSTALL.md, plugin rule 3)
        if dataset in self.dataset_to_epoch_iter:
            return self.dataset_to_epoch_iter[dataset]
        common = dict(
            seed=seed, num_shards=num_shards, shard_id=shard_id, num_workers=num_workers,
            epoch=epoch, buffer_size=data_buffer_size, reuse_dataloader=True,
            persistent_workers=True,
        )
        if dataset.split == self.cfg.train_subset:
            epoch_iter = PlanEpochBatchIterator(
                dataset,
                plan_for_epoch=lambda e: self.build_plan(dataset, e),
                plan_sources=PlanSources(self, dataset).of_epoch,  # checked on resume
                batches_in_epoch=self._batches_in_epoch(num_shards),
                preemption=Preemption.install(),  # in fairseq-train: SIGTERM/SIGUSR1 save and exit
                **common,
            )
        else:
            # validation: one fixed plan, every cluster once
            batches = [c.item_indices(dataset.num_documents) for c in self.valid_plan(dataset).clusters]
            epoch_iter = iterators.EpochBatchIterator(
                dataset, dataset.collater, batches, disable_shuffling=True, **common
            )
        self.dataset_to_epoch_iter[dataset] = epoch_iter
        return epoch_iter

    # ---- generation -----------------------------------------------------------------------

    def target_lang_token(self) -> int:
        if not self.cfg.target_lang:
            raise ValueError("generation needs --target-lang: its token starts every output")
        return lang_token_index(self.dictionary, self.cfg.target_lang)

    def inference_step(self, generator, models, sample, prefix_tokens=None, constraints=None,
                       target_lang: Optional[str] = None):
        """``target_lang`` (hub interface) overrides ``--target-lang`` for this call."""
        bos = lang_token_index(self.dictionary, target_lang) if target_lang else self.target_lang_token()
        with torch.no_grad():
            return generator.generate(
                models, sample, prefix_tokens=prefix_tokens, constraints=constraints, bos_token=bos
            )

    def build_generator(self, models, args, **kwargs):
        if self.cfg.retrieve_from:
            models = [self.retrieval_augmented(model) for model in models]
        generator = super().build_generator(models, args, **kwargs)
        # fairseq's own blocker bans nothing without its CUDA extension (ngram_repeat_block.py)
        blocker = getattr(generator, "repeat_ngram_blocker", None)
        if blocker is not None:
            generator.repeat_ngram_blocker = NoRepeatNGramBlock(blocker.no_repeat_ngram_size)
        return generator

    def retrieval_augmented(self, model) -> RetrievalAugmentedMarge:
        """``model`` reading evidence retrieved by its own g; the index is built once per model."""
        if model not in self._retrieval_models:
            data_dir = utils.split_paths(self.cfg.data)[0]
            prefix = os.path.join(data_dir, self.cfg.retrieve_from)
            if not os.path.exists(prefix + ".idx"):
                prefix = self.cfg.retrieve_from
            collection = MargeDocumentDataset.load(
                prefix, self.dictionary, self.lang_token_ids, "retrieve", self.cfg.max_doc_tokens
            )
            # without --max-tokens, one document per encoding batch
            index = EvidenceIndex.build(model.encoder, collection, self.cfg.max_tokens or 0)
            logger.info(f"--retrieve-from {prefix}: {len(index)} documents indexed")
            self._retrieval_models[model] = RetrievalAugmentedMarge(
                model, index, self.cfg.retrieve_k, read_input=not self.cfg.retrieve_skip_input
            )
        return self._retrieval_models[model]
