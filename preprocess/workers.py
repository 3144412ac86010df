"""Order-preserving ``map`` over worker processes, with a progress bar."""

import multiprocessing
from typing import Callable, Iterable, Iterator, Optional

from tqdm import tqdm


def parallel_map(
    fn: Callable,
    items: Iterable,
    workers: int,
    desc: str,
    initializer: Optional[Callable] = None,
    initargs: tuple = (),
    total: Optional[int] = None,
    chunksize: int = 64,
) -> Iterator:
    """Yield ``fn(item)`` for each item, in input order.

    ``initializer(*initargs)`` runs once per worker process, to load a model that cannot be
    pickled (fastText, sentencepiece); with ``workers <= 1`` it runs here and nothing forks.
    """
    bar = dict(desc=desc, total=total, unit="doc", mininterval=1.0)
    if workers <= 1:
        if initializer is not None:
            initializer(*initargs)
        yield from tqdm(map(fn, items), **bar)
        return
    with multiprocessing.Pool(workers, initializer, initargs) as pool:
        yield from tqdm(pool.imap(fn, items, chunksize), **bar)
