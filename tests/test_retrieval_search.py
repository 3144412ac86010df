"""Search: faiss nearest neighbours with self exclusion, and per-language shard candidates."""

import numpy as np
import pytest

from fairseq_marge.retrieval.candidate_links import shard_candidates
from fairseq_marge.retrieval.neighbour_search import nearest_neighbours


def unit_vectors(n, dim=16, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_neighbours_match_brute_force_and_exclude_self():
    keys = unit_vectors(200)
    queries = np.array([0, 5, 17, 199])
    scores, ids = nearest_neighbours(keys[queries], keys, k=7, query_keys=queries)

    similarity = keys[queries] @ keys.T
    similarity[np.arange(len(queries)), queries] = -np.inf  # f(x, x) = -inf
    expected = np.argsort(-similarity, axis=1)[:, :7]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(similarity, expected, 1), rtol=1e-5)
    assert not (ids == queries[:, None]).any()


def test_identical_documents_find_each_other_not_themselves():
    keys = unit_vectors(10)
    keys[[3, 4, 5]] = keys[3]  # three identical documents: ties with the query itself
    scores, ids = nearest_neighbours(keys[[3, 4, 5]], keys, k=2, query_keys=np.array([3, 4, 5]))
    assert [sorted(row) for row in ids.tolist()] == [[4, 5], [3, 5], [3, 4]]
    np.testing.assert_allclose(scores, 1.0, rtol=1e-5)


def test_fewer_keys_than_k_pads_with_minus_one():
    keys = unit_vectors(3)
    scores, ids = nearest_neighbours(keys[:1], keys, k=5, query_keys=np.array([0]))
    assert sorted(ids[0, :2].tolist()) == [1, 2]
    assert (ids[0, 2:] == -1).all() and np.isneginf(scores[0, 2:]).all()
    scores, ids = nearest_neighbours(keys[:1], keys[:1], k=3, query_keys=np.array([0]))
    assert (ids == -1).all()  # a lone document has no neighbour


def test_shard_candidates_split_same_and_cross_language():
    rng = np.random.default_rng(1)
    n = 60
    docs = np.arange(100, 100 + n)  # dataset ids of the shard's documents
    langs = rng.integers(0, 3, size=n)
    may_be_target = rng.random(n) < 0.7
    embeddings = unit_vectors(n, seed=2)
    c = shard_candidates(docs, embeddings, langs, may_be_target, k_mono=4, k_cross=6)

    assert c.targets.tolist() == docs[may_be_target].tolist()
    lang_of = dict(zip(docs.tolist(), langs.tolist()))
    row_of = {d: i for i, d in enumerate(docs.tolist())}
    for t, mono, cross in zip(c.targets, c.mono_evidence, c.cross_evidence):
        assert all(lang_of[e] == lang_of[t] and e != t for e in mono)
        assert all(lang_of[e] != lang_of[t] for e in cross)
        # cross candidates are the best over *all* other languages: brute force
        others = [d for d in docs if lang_of[d] != lang_of[t]]
        sims = embeddings[[row_of[d] for d in others]] @ embeddings[row_of[t]]
        assert set(cross.tolist()) == set(np.array(others)[np.argsort(-sims)[:6]].tolist())


@pytest.mark.parametrize("n, langs", [(0, []), (1, [0]), (5, [1, 1, 1, 1, 1])])
def test_shard_candidates_degenerate_shards(n, langs):
    """Empty shard, one document, one language: no crash, just no (cross-language) candidates."""
    c = shard_candidates(np.arange(n), unit_vectors(n) if n else np.zeros((0, 16), np.float32),
                         np.array(langs, dtype=np.int16), np.ones(n, bool), k_mono=4, k_cross=4)
    assert len(c.targets) == n
    assert (c.cross_evidence == -1).all()
    assert ((c.mono_evidence >= 0).sum(axis=1) == min(max(n - 1, 0), 4)).all()
