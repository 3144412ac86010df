"""Encode: g(d) for every document of a shard, with the model being trained.

The documents are batched by tokens, longest first (an out-of-memory shows on the first batch,
not after an hour), from the documents asked for alone: the retrieval planner forms each
shard's batches within the shard (:mod:`.shard_encoding`), so a document's g is computed in the
same batch, with the same padding, whatever the number of ranks.  The encoder runs in eval mode
(no dropout: the index must not depend on a dropout mask) without gradients, in half precision
(:func:`_half_precision`); its train mode is restored afterwards.
"""

import contextlib

import numpy as np
import torch
import torch.nn.functional as F
from fairseq.data import data_utils, iterators
from fairseq.distributed import utils as distributed_utils
from tqdm import tqdm


def encode_documents(encoder, dataset, docs: np.ndarray, max_tokens: int) -> np.ndarray:
    """L2-normalised g of ``docs`` as a float32 (len(docs), C) array, computed on this rank."""
    return encode_batches(encoder, dataset, docs, token_batches(dataset, docs, max_tokens)).cpu().numpy()


def encode_batches(encoder, dataset, docs: np.ndarray, batches) -> torch.Tensor:
    """L2-normalised g of ``docs``, float32 on the encoder's device, encoded in ``batches``
    (arrays of positions into ``docs``, e.g. :func:`token_batches`')."""
    return _encode(encoder, dataset, docs, batches, show_progress=data_parallel()[1] == 0)


def data_parallel():
    """(group, rank, world size) of data parallelism; also outside a distributed run."""
    if not torch.distributed.is_initialized():
        return None, 0, 1
    group = distributed_utils.get_data_parallel_group()
    return group, distributed_utils.get_rank(group), distributed_utils.get_world_size(group)


def token_batches(dataset, docs: np.ndarray, max_tokens: int):
    """Positions into ``docs`` in batches of at most ``max_tokens`` tokens, padding included,
    longest documents first."""
    lengths = dataset.doc_sizes[docs] + 1  # [BOS] doc [EOS]; doc_sizes count the EOS
    order = np.argsort(-lengths, kind="stable")
    max_tokens = max(max_tokens, int(lengths.max(initial=0)))
    return data_utils.batch_by_size(order, None, num_tokens_vec=lengths[order], max_tokens=max_tokens)


def collate_documents(dataset, docs: np.ndarray) -> torch.Tensor:
    """Encoder input rows ``[BOS] doc [EOS]``, right-padded."""
    bos = torch.tensor([dataset.dictionary.bos()])
    return data_utils.collate_tokens(
        [torch.cat([bos, dataset.tokens[d]]) for d in docs], dataset.dictionary.pad()
    )


@torch.no_grad()
def _encode(encoder, dataset, docs: np.ndarray, batches, show_progress: bool) -> torch.Tensor:
    device = next(encoder.parameters()).device
    embeddings = torch.empty(len(docs), encoder.embed_tokens.embedding_dim, device=device)
    was_training = encoder.training
    encoder.eval()
    try:
        with _half_precision(encoder), tqdm(
            total=len(docs), desc="re-index: encoding", unit="doc", leave=False,
            disable=None if show_progress else True,  # None: only on a terminal
        ) as progress:
            for batch, src_tokens in _collated_in_background(dataset, docs, batches):
                g = encoder.relevance_embedding(src_tokens.to(device))
                embeddings[torch.from_numpy(batch).to(device)] = F.normalize(g.float(), dim=-1)
                progress.update(len(batch))
    finally:
        encoder.train(was_training)
    return embeddings


def _collated_in_background(dataset, docs: np.ndarray, batches):
    """(batch, src_tokens) pairs, collated by a thread while the model runs on the previous
    batch: reading and padding documents would otherwise add a third to a small model's time."""
    collated = ((batch, collate_documents(dataset, docs[batch])) for batch in batches)
    return iterators.BufferedIterator(2, iterators.CountingIterator(collated, total=len(batches)))


def _half_precision(encoder):
    """A model trained in half precision (``--bf16``, ``--fp16``) encodes in its own dtype; an
    fp32 model on a GPU under autocast (g is normalised and searched in fp32 either way).  An
    fp32 model on a CPU stays fp32: there autocast's casts cost small models more than the bf16
    products save (issue 25), and ``--bf16`` is the way to a bf16 re-index."""
    parameter = next(encoder.parameters())
    if parameter.device.type != "cuda" or parameter.dtype != torch.float32:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)
