"""``--planner lexical``: clusters from character n-gram TF-IDF similarity, not from g.

Beyond the paper.  At initialisation g finds few translations on real text (the Debian study:
7.5% of cross-language links), so the decoder sees little evidence worth copying and the
reconstruction loss has little to teach g with.  Character 3-grams find the right paragraph
71-82% of the time on the same dev sets.  Starting on lexical clusters
(``--planner-schedule "0-3000:lexical,3000-:retrieval"``) lets the decoder learn to read its
evidence first; g trains all the while through beta * f and takes over at the hand-over.

Everything but the vectors is the retrieval planner's: the shards shared out to the ranks, same-
and cross-language candidates per shard, the global threshold, the budget and the greedy
clusters.  The vectors are scikit-learn's TF-IDF of each document's text (its pieces joined,
sentencepiece's word marks turned back into spaces), L2-normalised, so an inner product is a
cosine.  Links join documents of one shard only, so the TF-IDF is fitted per shard, on the
shard's own documents, by the rank that owns the shard, at every re-index: the idf is the
shard's (what sets one of its documents apart from the others it is searched against), memory is
bounded by the largest shard, and nothing is kept after the re-index (benchmarks/README.md,
"Lexical planner").
"""

from typing import Iterable

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from ..data.planner_registry import register_planner
from .retrieval_planner import RetrievalPlanner, own_shards

SENTENCEPIECE_SPACE = "\u2581"
NGRAM_RANGE = (3, 3)  # as the corpus's char-3-gram baseline


@register_planner("lexical")
class LexicalPlanner(RetrievalPlanner):
    def embed_shards(self, dataset, encoder, shards, owner):
        return {shard: tfidf_vectors(document_texts(dataset, docs))
                for shard, docs in own_shards(shards, owner).items()}


def tfidf_vectors(texts: Iterable[str]):
    """(len(texts), features) L2-normalised character n-gram TF-IDF rows, fitted on ``texts``."""
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAM_RANGE, sublinear_tf=True,
                                 dtype=np.float32)
    return vectorizer.fit_transform(texts)


def document_texts(dataset, docs: np.ndarray):
    """The text of each of ``docs``, from its tokens (the EOS left out)."""
    symbols = np.array(dataset.dictionary.symbols, dtype=object)
    for d in docs:
        pieces = symbols[dataset.tokens[d].numpy()[:-1]]
        yield "".join(pieces).replace(SENTENCEPIECE_SPACE, " ")
