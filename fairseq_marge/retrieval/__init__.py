"""Retrieval: batch plans from what the model being trained retrieves (paper section 2.4).

One re-index, in data-flow order, one module per step:

- :mod:`.shard_assignment` — which rank re-indexes which of the sampled shards;
- :mod:`.document_encoder` — g(d) for the documents of a shard;
- :mod:`.neighbour_search` — exact inner-product k-NN with faiss (GPU when present);
- :mod:`.candidate_links` — per shard, each target's same- and cross-language candidates;
- :mod:`.link_threshold` — a global threshold per shard: on average N links per target;
- :mod:`.cluster_builder` — greedy clusters on the evidence -> target graph;
- :mod:`.link_report` — the language-to-language link matrix (the paper's Figure 2);
- :mod:`.retrieval_planner` — the steps above per shard on the shard's rank, timed, gathered, logged;
- :mod:`.lexical_planner` — the same with character 3-gram TF-IDF vectors in place of g.
"""
