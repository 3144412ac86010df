"""``--planner lexical``: clusters from character n-gram TF-IDF similarity, not from g.

Beyond the paper.  At initialisation g finds few translations on real text (the Debian study:
7.5% of cross-language links), so the decoder sees little evidence worth copying and the
reconstruction loss has little to teach g with.  Character 3-grams find the right paragraph
71-82% of the time on the same dev sets.  Starting on lexical clusters
(``--planner-schedule "0-3000:lexical,3000-:retrieval"``) lets the decoder learn to read its
evidence first; g trains all the while through beta * f and takes over at the hand-over.

Everything but the vectors is the retrieval planner's: same- and cross-language candidates per
shard, the global threshold, the budget and the greedy clusters.  The vectors are scikit-learn's
TF-IDF of each document's text (its pieces joined, sentencepiece's word marks turned back into
spaces), L2-normalised, so an inner product is a cosine; they are fitted once on the whole split
and kept, since documents do not change between re-indexes.
"""

import logging

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from tqdm import tqdm

from ..data.planner_registry import register_planner
from .document_encoder import data_parallel
from .retrieval_planner import RetrievalPlanner

logger = logging.getLogger(__name__)

SENTENCEPIECE_SPACE = "\u2581"
NGRAM_RANGE = (3, 3)  # as the corpus's char-3-gram baseline


@register_planner("lexical")
class LexicalPlanner(RetrievalPlanner):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._vectors = {}  # dataset -> its documents' TF-IDF rows (scipy CSR)

    def embed(self, dataset, encoder, docs: np.ndarray):
        if data_parallel()[1] != 0:
            return None  # search runs on rank 0 only
        if dataset not in self._vectors:
            self._vectors[dataset] = tfidf_vectors(dataset)
        return self._vectors[dataset][docs]


def tfidf_vectors(dataset):
    """(N, features) L2-normalised character n-gram TF-IDF rows of every document of ``dataset``."""
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAM_RANGE, sublinear_tf=True,
                                 dtype=np.float32)
    vectors = vectorizer.fit_transform(document_texts(dataset))
    logger.info(f"lexical planner: {vectors.shape[0]} documents, {vectors.shape[1]} character "
                f"{NGRAM_RANGE[0]}-grams, {vectors.nnz / max(vectors.shape[0], 1):.0f} per document")
    return vectors


def document_texts(dataset):
    """The text of each document, from its tokens (the EOS left out)."""
    symbols = np.array(dataset.dictionary.symbols, dtype=object)
    for d in tqdm(range(dataset.num_documents), desc="lexical planner: TF-IDF", unit="doc",
                  leave=False, disable=None):
        pieces = symbols[dataset.tokens[d].numpy()[:-1]]
        yield "".join(pieces).replace(SENTENCEPIECE_SPACE, " ")
