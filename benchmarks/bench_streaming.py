"""Streaming: ``imap`` over a generator, beside ``map`` over a list and ``Pool.imap_unordered``.

Every suite streams a cheap item (:func:`halve`: the transport is what is measured, not the
work) from a generator and consumes the results without keeping them (``sum``), on the
pool (``execution="pool"``: ``auto`` would keep such cheap items in-process, and then
nothing would stream through the workers).

- :class:`IMap` (``time_imap``): the public method on its own.
- :class:`StreamingPeers` (``time_stream``): the same items four ways, side by side in
  one run - ``imap`` over a generator, ``map`` over the items as a list (the list is
  built in ``setup``, untimed: the target is imap >= 0.8x its throughput),
  ``imap(ordered=False)`` with a fixed chunksize, and ``multiprocessing.Pool``'s
  ``imap_unordered`` with the same chunksize and worker count.
- :class:`StreamingMemory` (``track_parent_growth_small`` / ``_large``): the parent's
  peak RSS growth (MiB) while it streams 10**6 and 10**7 items: bounded by the in-flight
  window, whatever the input's length (target: < 100 MB at both).
"""
from __future__ import annotations

import multiprocessing as mp
from typing import Any

from .common import (
    GATE_WORKERS,
    QUICK,
    at_point_end,
    close_processor,
    end_of_point,
    kept_processor,
    local_kernel_start_method,
    make_processor,
)
from .memory import peak_rss_during

#: Items streamed by the timed suites (quick runs: a smoke size).
STREAM_ITEMS = 10**5 if QUICK else 10**6
#: Chunksize of the side-by-side ``imap_unordered`` comparison (both sides).
PEER_CHUNKSIZE = 10_000


def halve(x: int) -> int:
    """A trivially cheap item: what streaming costs per item is the transport."""
    return x // 2


def _items(n: int) -> Any:
    return (x for x in range(n))


class IMap:
    """``imap`` over a generator of cheap items, consumed by ``sum`` (nothing kept)."""

    params = [["pool"], [STREAM_ITEMS]]
    param_names = ["impl", "size"]
    timeout = 120.0
    repeat = (2, 5, 3.0)

    def setup(self, impl: str, size: int) -> None:
        self.processor, new = kept_processor(impl, GATE_WORKERS,
                                             start_method=local_kernel_start_method())
        if new:
            sum(self.processor.imap(halve, range(1000)))  # warm pool, untimed

    def time_imap(self, impl: str, size: int) -> None:
        sum(self.processor.imap(halve, _items(size)))


#: ``multiprocessing.Pool`` of :class:`StreamingPeers` in this benchmark process.
_POOLS: list[Any] = []


def _close_pools() -> None:
    while _POOLS:
        pool = _POOLS.pop()
        pool.terminate()
        pool.join()


at_point_end(_close_pools)


class StreamingPeers:
    """The same items four ways, side by side (see the module docstring)."""

    params = [["imap_generator", "map_list", "imap_unordered", "pool_imap_unordered"],
              [STREAM_ITEMS]]
    param_names = ["kind", "size"]
    timeout = 120.0
    repeat = (2, 5, 3.0)

    def setup(self, kind: str, size: int) -> None:
        self.processor: Any = None
        self.pool: Any = None
        self.items = list(range(size))
        method = local_kernel_start_method()
        if kind == "pool_imap_unordered":  # kept for the next sample, as ours is
            if not _POOLS:
                _POOLS.append(mp.get_context(method).Pool(GATE_WORKERS))
                _POOLS[0].map(halve, range(1000))
            self.pool = _POOLS[0]
            return
        self.processor, new = kept_processor("pool", GATE_WORKERS, start_method=method)
        if new:
            sum(self.processor.imap(halve, range(1000)))

    def teardown(self, kind: str, size: int) -> None:
        end_of_point()  # the Pool goes with the point

    def time_stream(self, kind: str, size: int) -> None:
        if kind == "imap_generator":
            sum(self.processor.imap(halve, _items(size)))
        elif kind == "map_list":
            sum(self.processor.map(halve, self.items))
        elif kind == "imap_unordered":
            sum(self.processor.imap(halve, _items(size), ordered=False,
                                    chunksize=PEER_CHUNKSIZE))
        else:
            sum(self.pool.imap_unordered(halve, _items(size), chunksize=PEER_CHUNKSIZE))


class StreamingMemory:
    """The parent's peak RSS growth while it streams items (MiB): 10x the items, same growth."""

    unit = "MiB"
    timeout = 120.0
    number = 1
    repeat = 1
    #: (items of the small case, items of the large case)
    sizes = (10**5, 10**6) if QUICK else (10**6, 10**7)

    def setup(self) -> None:
        self.processor = make_processor("pool", GATE_WORKERS,
                                        start_method=local_kernel_start_method())
        sum(self.processor.imap(halve, range(1000)))

    def teardown(self) -> None:
        close_processor(getattr(self, "processor", None))

    def _growth(self, size: int) -> float:
        peaks = peak_rss_during(self.processor,
                                lambda: sum(self.processor.imap(halve, _items(size))))
        return peaks.parent_mib - peaks.parent_start_mib

    def track_parent_growth_small(self) -> float:
        return self._growth(self.sizes[0])

    def track_parent_growth_large(self) -> float:
        return self._growth(self.sizes[1])
