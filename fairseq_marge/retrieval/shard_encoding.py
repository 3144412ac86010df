"""Encode the sampled shards with every rank; each embedding goes to the rank that owns its shard.

Each shard's documents are cut into encoding batches within the shard
(:func:`.document_encoder.token_batches`), so a document is encoded in the same batch, with the
same padding, whatever the number of ranks: its g, to the last bit, does not depend on the world
size.  The batches of all shards are dealt out to the ranks by padded tokens
(:func:`.shard_assignment.deal_out`), each rank encodes its own, and one ``all_to_all`` sends
every embedding to the rank that owns its shard, which searches it.  Every rank knows which
rank encodes each batch and which owns each shard, so no size needs exchanging, and a rank holds
the embeddings of its own shards only, never the whole sample's.
"""

from typing import Dict, List, Tuple

import numpy as np
import torch

from .document_encoder import data_parallel, encode_batches, token_batches
from .shard_assignment import deal_out


def encode_shards(encoder, dataset, shards: Dict[int, np.ndarray], owner: Dict[int, int],
                  max_tokens: int) -> Dict[int, np.ndarray]:
    """L2-normalised g, a float32 (len(docs), C) array, of each shard that this rank owns
    (``owner[shard]``) among ``shards`` (shard -> its documents).  Every rank must call it."""
    group, rank, world_size = data_parallel()
    # one unit of work per encoding batch: (shard, positions into the shard's documents)
    units: List[Tuple[int, np.ndarray]] = [
        (shard, batch) for shard, docs in shards.items() for batch in token_batches(dataset, docs, max_tokens)
    ]
    rows = np.array([len(batch) for _, batch in units], dtype=np.int64)
    padded = rows * np.array([dataset.doc_sizes[shards[shard][batch]].max(initial=0) + 1 for shard, batch in units],
                             dtype=np.int64)
    encoded_by = np.empty(len(units), dtype=np.int64)
    for encoder_rank, batches in enumerate(deal_out(np.arange(len(units)), padded, world_size)):
        encoded_by[batches] = encoder_rank
    sent_to = np.array([owner[shard] for shard, _ in units], dtype=np.int64)

    # what this rank encodes, grouped by the rank it goes to (all_to_all's input order), and what
    # it receives, grouped by the rank that encoded it
    todo = _grouped(np.flatnonzero(encoded_by == rank), by=sent_to)
    incoming = _grouped(np.flatnonzero(sent_to == rank), by=encoded_by)
    docs = np.concatenate([shards[units[u][0]][units[u][1]] for u in todo] or [np.empty(0, np.int64)])
    batches = np.split(np.arange(len(docs)), np.cumsum(rows[todo])[:-1]) if len(todo) else []
    g = encode_batches(encoder, dataset, docs, batches)

    if world_size > 1:
        received = g.new_empty(int(rows[incoming].sum()), g.size(1))
        torch.distributed.all_to_all_single(
            received, g, output_split_sizes=_rows_per_rank(incoming, encoded_by, rows, world_size),
            input_split_sizes=_rows_per_rank(todo, sent_to, rows, world_size), group=group,
        )
        g = received
    g = g.cpu().numpy()

    mine = {shard: np.empty((len(shard_docs), g.shape[1]), dtype=np.float32)
            for shard, shard_docs in shards.items() if owner[shard] == rank}
    row = 0
    for u in incoming:
        shard, batch = units[u]
        mine[shard][batch] = g[row: row + len(batch)]
        row += len(batch)
    return mine


def _grouped(units: np.ndarray, by: np.ndarray) -> np.ndarray:
    """``units`` ordered by the rank ``by[unit]``, in unit order within a rank."""
    return units[np.argsort(by[units], kind="stable")]


def _rows_per_rank(units: np.ndarray, rank_of: np.ndarray, rows: np.ndarray, world_size: int) -> List[int]:
    return np.bincount(rank_of[units], weights=rows[units], minlength=world_size).astype(np.int64).tolist()
