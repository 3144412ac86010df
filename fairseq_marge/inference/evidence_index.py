"""An index of g over a document collection, for retrieval at inference time.

The paper retrieves evidence only while pre-training; here a binarized collection (a split of a
data directory made by ``python -m preprocess``) is encoded once with the model's relevance
encoder and searched exactly by f = cos(g(x), g(z)) (faiss inner product over L2-normalised g).
"""

from typing import List, Tuple

import faiss
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.document_dataset import MargeDocumentDataset
from ..retrieval.document_encoder import encode_documents


class EvidenceIndex:
    def __init__(self, collection: MargeDocumentDataset, index: faiss.Index):
        self.collection = collection
        self.index = index

    @classmethod
    def build(cls, encoder, collection: MargeDocumentDataset, max_tokens: int) -> "EvidenceIndex":
        g = encode_documents(encoder, collection, np.arange(collection.num_documents), max_tokens)
        index = faiss.IndexFlatIP(g.shape[1])
        index.add(np.ascontiguousarray(g, dtype=np.float32))
        return cls(collection, index)

    def __len__(self) -> int:
        return self.index.ntotal

    def search(self, g_queries: Tensor, k: int) -> Tuple[np.ndarray, np.ndarray]:
        """The ``k`` documents with the highest f for each query g: (scores, ids), both (Q, k)."""
        queries = F.normalize(g_queries.float(), dim=-1).cpu().numpy()
        return self.index.search(queries, min(k, len(self)))

    def documents(self, ids) -> List[Tensor]:
        """Encoder rows ``[BOS] doc [EOS]`` of documents ``ids``."""
        bos = torch.tensor([self.collection.dictionary.bos()])
        return [torch.cat([bos, self.collection.tokens[int(d)]]) for d in ids]
