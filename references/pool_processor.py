"""The original's API on the standard library's ``multiprocessing.Pool``: the obvious fix.

One pool, created once and reused; every parallel method is a ``Pool.starmap`` over a few
chunks per worker (:mod:`references.base`); the matrix product is NumPy's; primes are a
sieve per range; words a ``Counter`` per chunk. Results come back in input order.
"""
from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterable
from typing import Any

from .base import OriginalAPI


class PoolProcessor(OriginalAPI):
    """A ``multiprocessing.Pool`` of ``num_workers`` processes behind the original's methods."""

    def __init__(self, num_workers: int = 4, item_latency_s: float = 0.001) -> None:
        super().__init__(num_workers, item_latency_s)
        self._pool = mp.get_context("fork").Pool(num_workers)

    def _run(self, fn: Callable[..., Any], calls: Iterable[tuple[Any, ...]]) -> list[Any]:
        return self._pool.starmap(fn, list(calls), chunksize=1)  # the calls are chunks

    def cleanup(self) -> None:
        """Stop the pool; remove the files serialize_to_file wrote."""
        self._pool.close()
        self._pool.join()
        super().cleanup()
