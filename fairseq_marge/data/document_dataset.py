"""Binarized MARGE documents: tokens (fairseq mmap indexed dataset) plus per-document metadata.

Items are *(document, role)* pairs so that a batch of item indices fully describes a cluster
and the dataset needs no plan (DataLoader workers hold a forked copy of the dataset, so any
plan state kept here would go stale after a re-index):

- item ``d`` (``0 <= d < N``): document ``d`` as evidence,
- item ``N + d``: document ``d`` as a target.

A collated batch puts every document that is encoded in ``src_tokens``: the evidence first
(rows ``0..M-1``), then targets that are not also evidence.  Encoder inputs are
``[BOS] doc [EOS]`` (g reads the BOS state); decoder inputs are ``[lang] doc`` and the
reconstruction target is ``doc [EOS]``.
"""

import numpy as np
import torch
from fairseq.data import FairseqDataset, data_utils

from .data_dir_checks import load_tokens
from .document_metadata import load_metadata
from .truncated_documents import TruncatedTokens


class DocumentLengthError(ValueError):
    pass


class MargeDocumentDataset(FairseqDataset):
    def __init__(self, tokens, metadata, dictionary, lang_token_ids, split: str):
        self.tokens = tokens
        self.metadata = metadata
        self.dictionary = dictionary
        self.lang_token_ids = torch.as_tensor(lang_token_ids, dtype=torch.long)
        self.split = split
        self.doc_sizes = np.asarray(tokens.sizes, dtype=np.int64)  # includes the EOS
        self._truncated = {}  # length -> view: one per length, so planners may cache by dataset

    @classmethod
    def load(cls, data_prefix, dictionary, lang_token_ids, split, max_doc_tokens):
        """Load a split and check it up front, so a bad corpus fails here, not mid-run."""
        tokens = load_tokens(data_prefix, dictionary)
        if tokens is None:
            raise FileNotFoundError(f"{data_prefix}.bin/.idx: binarized documents not found")
        metadata = load_metadata(data_prefix, len(tokens), len(lang_token_ids))
        sizes = np.asarray(tokens.sizes)
        too_long = np.flatnonzero(sizes - 1 > max_doc_tokens)
        if len(too_long):
            doc = too_long[0]
            raise DocumentLengthError(
                f"{data_prefix}.bin: document {doc} has {sizes[doc] - 1} tokens, over "
                f"--max-doc-tokens {max_doc_tokens} ({len(too_long)} documents affected); "
                "re-run preprocessing with that chunk size"
            )
        empty = np.flatnonzero(sizes <= 1)
        if len(empty):
            raise DocumentLengthError(f"{data_prefix}.bin: document {empty[0]} is empty")
        return cls(tokens, metadata, dictionary, lang_token_ids, split)

    def truncated(self, length):
        """This split with every document cut to ``length`` tokens plus EOS (the same documents,
        ids and metadata); itself if ``length`` is None."""
        if length is None:
            return self
        if length not in self._truncated:
            tokens = TruncatedTokens(self.tokens, length, self.dictionary.eos())
            self._truncated[length] = MargeDocumentDataset(
                tokens, self.metadata, self.dictionary, self.lang_token_ids, self.split
            )
        return self._truncated[length]

    @property
    def num_documents(self) -> int:
        return len(self.doc_sizes)

    def __len__(self):
        return 2 * self.num_documents

    def __getitem__(self, index):
        doc = index % self.num_documents
        return {"id": index, "doc": doc, "is_target": index >= self.num_documents,
                "tokens": self.tokens[doc]}

    def num_tokens(self, index):
        return int(self.doc_sizes[index % self.num_documents]) + 1

    def size(self, index):
        return self.num_tokens(index)

    def collater(self, samples):
        if not samples:
            return {}
        pad, bos = self.dictionary.pad(), self.dictionary.bos()
        evidence = [s for s in samples if not s["is_target"]]
        targets = [s for s in samples if s["is_target"]]
        row_of = {s["doc"]: row for row, s in enumerate(evidence)}
        encoded = list(evidence)
        for s in targets:
            if s["doc"] not in row_of:
                row_of[s["doc"]] = len(encoded)
                encoded.append(s)

        bos_column = torch.tensor([bos])
        src = [torch.cat([bos_column, s["tokens"]]) for s in encoded]
        langs = torch.as_tensor(self.metadata["lang"][[s["doc"] for s in encoded]], dtype=torch.long)
        target_langs = torch.as_tensor(
            self.metadata["lang"][[s["doc"] for s in targets]], dtype=torch.long
        )
        prev = [
            torch.cat([self.lang_token_ids[lang].view(1), s["tokens"][:-1]])
            for lang, s in zip(target_langs, targets)
        ]
        target = data_utils.collate_tokens([s["tokens"] for s in targets], pad)
        return {
            "id": torch.tensor([s["id"] for s in targets]),
            "nsentences": len(targets),
            "ntokens": int(target.ne(pad).sum()),
            "net_input": {
                "src_tokens": data_utils.collate_tokens(src, pad),
                "src_lengths": torch.tensor([len(t) for t in src]),
                "num_evidence": len(evidence),
                "target_rows": torch.tensor([row_of[s["doc"]] for s in targets]),
                "prev_output_tokens": data_utils.collate_tokens(prev, pad),
            },
            "target": target,
            "documents": torch.tensor([s["doc"] for s in encoded]),
            "document_langs": langs,
            "target_langs": target_langs,
        }

    def cluster_batch(self, evidence, targets):
        """Collate one cluster directly (tests, dummy batches, the hub interface)."""
        n = self.num_documents
        return self.collater([self[d] for d in evidence] + [self[n + d] for d in targets])
