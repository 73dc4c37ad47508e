"""Chunk sizing and the inline-vs-pool cost model (requirement R2, decision D4).

Two questions every operation asks before it dispatches anything:

1. *How big is a task?*  :func:`chunk_size` - R2's ``max(1, total // (workers * 4))``,
   never fewer than :data:`MIN_ITEMS_PER_CHUNK` items per task unless the whole input
   is smaller than ``MIN_ITEMS_PER_CHUNK * workers``, and (when the per-item cost is
   known) large enough that one task's work amortises one round trip through the pool.
2. *Is the pool worth it at all?*  :func:`choose_path` compares the estimated
   in-process time with the estimated pooled time (fixed round-trip overhead + work
   divided by the workers that can really run in parallel + per-item transfer cost);
   :func:`choose_matmul_path` is R4's rule for matrix products.

What an item costs is estimated (a declared cost) or measured: :class:`ThreadTimer`
times a probe in one thread and :meth:`Timing.cost` splits its wall time into CPU and
waiting, the one measurement ``map`` and the pipeline share.
"""
from __future__ import annotations

import math
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["MIN_ITEMS_PER_CHUNK", "Cost", "chunk_size", "chunk_bounds", "balanced_bounds",
           "split_bounds", "choose_path", "choose_matmul_path", "Timing", "ThreadTimer",
           "ExecutionMode", "Path"]

#: R2: no task carries fewer items than this unless the input is tiny.
MIN_ITEMS_PER_CHUNK = 100
#: A task should carry at least this much work to amortise its round trip.
MIN_TASK_SECONDS = 0.002
#: Measured on the 2-core reference machine: submit + result of one task on a warm pool.
POOL_ROUND_TRIP_S = 0.0015

ExecutionMode = Literal["auto", "inline", "pool"]
Path = Literal["inline", "pool"]


@dataclass(frozen=True)
class Cost:
    """Estimated cost of one item.

    Attributes
    ----------
    cpu_s : float
        Seconds of CPU per item (parallelises over at most the machine's cores).
    wait_s : float
        Seconds of waiting per item (sleep, I/O: parallelises over every worker).
    transfer_s : float
        Seconds to move one item to a worker and its result back (pickling); zero
        when data travels through shared memory.
    """

    cpu_s: float = 0.0
    wait_s: float = 0.0
    transfer_s: float = 0.0

    @property
    def total_s(self) -> float:
        """In-process seconds per item."""
        return self.cpu_s + self.wait_s

    def wall_s(self, threads: int = 1) -> float:
        """Wall seconds per item in a worker that overlaps ``threads`` items' waits."""
        return self.cpu_s + self.wait_s / max(1, threads)


def _check_counts(total: int, num_workers: int) -> None:
    for name, value, low in (("total", total, 0), ("num_workers", num_workers, 1)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value!r}")


def chunk_size(total: int, num_workers: int, per_item_cost_s: float | None = None, *,
               min_task_s: float = MIN_TASK_SECONDS) -> int:
    """Items per task for ``total`` items over ``num_workers`` workers.

    Parameters
    ----------
    total : int
        Number of items to split (>= 0).
    num_workers : int
        Workers sharing them (>= 1).
    per_item_cost_s : float, optional
        Estimated seconds per item. When given (and > 0), a task is made large enough
        to hold ``min_task_s`` of work, but never larger than one worker's share
        (``ceil(total / num_workers)`` items), so no worker is left idle.
    min_task_s : float, default :data:`MIN_TASK_SECONDS`
        Seconds of work that amortise one task's round trip (the backend's figure:
        a cluster's scheduler costs more per task than the local pool).

    Returns
    -------
    int
        Items per task: ``max(1, total // (num_workers * 4))``, raised to
        :data:`MIN_ITEMS_PER_CHUNK` when ``total >= MIN_ITEMS_PER_CHUNK * num_workers``,
        raised further for cheap items; always >= 1.

    Raises
    ------
    TypeError
        ``total`` or ``num_workers`` is not an int (bools rejected).
    ValueError
        ``total`` < 0 or ``num_workers`` < 1.
    """
    _check_counts(total, num_workers)
    size = max(1, total // (num_workers * 4))
    if total >= MIN_ITEMS_PER_CHUNK * num_workers:
        size = max(size, MIN_ITEMS_PER_CHUNK)
    if per_item_cost_s is not None and per_item_cost_s > 0 and total > 0:
        per_worker = math.ceil(total / num_workers)
        size = max(size, min(math.ceil(min_task_s / per_item_cost_s), per_worker))
    return size


def chunk_bounds(total: int, size: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(total)`` in steps of ``size``.

    Parameters
    ----------
    total : int
        Number of items to cover; ``total <= 0`` gives ``[]``.
    size : int
        Items per range (>= 1); the last range may be shorter.

    Returns
    -------
    list of tuple of int
        Contiguous half-open ``(start, stop)`` index ranges, in order.

    Raises
    ------
    ValueError
        ``size`` < 1.
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size!r}")
    return [(s, min(s + size, total)) for s in range(0, total, size)]


def balanced_bounds(total: int, size: int, num_workers: int) -> list[tuple[int, int]]:
    """Ranges of at least ``size`` items, as many as a multiple of ``num_workers``.

    For items of equal cost (the same wait each): :func:`chunk_bounds` of 300 items in
    tasks of 18 gives 17 tasks, so on 4 workers one of them runs a fifth round while
    the others idle - a quarter of the call. Here the task count is rounded down to a
    multiple of the workers and the items are cut evenly, so every worker runs the
    same number of rounds; no range is shorter than ``size`` (R2's minimums hold).

    Parameters
    ----------
    total : int
        Number of items to cover (>= 0).
    size : int
        Smallest items per range (>= 1), e.g. :func:`chunk_size`.
    num_workers : int
        Workers sharing the ranges (>= 1).

    Returns
    -------
    list of tuple of int
        Contiguous half-open ranges in order; :func:`chunk_bounds` itself when there are
        no more of those than workers (each worker has at most one).
    """
    _check_counts(total, num_workers)
    if size < 1 or -(-total // size) <= num_workers:  # chunk_bounds rejects size < 1
        return chunk_bounds(total, size)
    return split_bounds(total, total // size // num_workers * num_workers)


def split_bounds(total: int, parts: int) -> list[tuple[int, int]]:
    """Cut ``range(total)`` into at most ``parts`` contiguous, near-equal ranges.

    Parameters
    ----------
    total : int
        Number of items to cover.
    parts : int
        Wanted number of ranges; fewer are returned when ``total < parts`` (no range
        is empty), and a ``parts`` below 1 counts as 1.

    Returns
    -------
    list of tuple of int
        Half-open ``(start, stop)`` index ranges in order, whose lengths differ by at
        most one item; ``[]`` when ``total`` is 0.
    """
    parts = max(1, min(parts, total))
    base, extra = divmod(total, parts)
    out, start = [], 0
    for i in range(parts):
        stop = start + base + (1 if i < extra else 0)
        out.append((start, stop))
        start = stop
    return [b for b in out if b[1] > b[0]]


def choose_path(n_items: int, cost: Cost, num_workers: int, mode: ExecutionMode = "auto",
                *, cores: int | None = None, threads_per_worker: int = 1,
                round_trip_s: float = POOL_ROUND_TRIP_S) -> Path:
    """Decide whether ``n_items`` of ``cost`` run in-process or on the pool (D4).

    ``mode`` ``"inline"`` or ``"pool"`` forces the answer; ``"auto"`` takes the path
    with the smaller estimate.

    Parameters
    ----------
    n_items : int
        Number of items the operation will process.
    cost : Cost
        Estimated per-item cost (seconds of CPU, waiting and transfer).
    num_workers : int
        Pool size.
    mode : {"auto", "inline", "pool"}, default "auto"
        The processor's ``execution`` setting; not validated here (any value other
        than ``"auto"`` is returned as is).
    cores : int, optional
        CPU cores to assume; default ``os.cpu_count()``. CPU work parallelises over
        at most ``min(num_workers, cores)`` workers, waiting over all of them.
    threads_per_worker : int, default 1
        Items each worker overlaps (:mod:`optimized.threads`): waiting parallelises
        over ``num_workers * threads_per_worker``.
    round_trip_s : float, default :data:`POOL_ROUND_TRIP_S`
        Fixed cost of using the workers at all (the backend's measured figure).

    Returns
    -------
    {"inline", "pool"}
        ``"inline"`` (run in the calling process) or ``"pool"``. ``"auto"`` always
        gives ``"inline"`` for no items or a single worker.
    """
    if mode != "auto":
        return mode
    if n_items == 0 or num_workers == 1:
        return "inline"
    cores = cores or os.cpu_count() or 1
    inline = n_items * cost.total_s
    cpu_par = max(1, min(num_workers, cores))
    pooled = (round_trip_s + n_items * cost.cpu_s / cpu_par
              + n_items * cost.wait_s / (num_workers * max(1, threads_per_worker))
              + n_items * cost.transfer_s)
    return "pool" if pooled < inline else "inline"


def choose_matmul_path(dims: tuple[int, int, int], threshold: int, num_workers: int,
                       mode: ExecutionMode = "auto", *, cores: int | None = None,
                       blas_threads: Callable[[], int] = lambda: 1) -> Path:
    """R4's rule for an ``(n, m) @ (m, p)`` product, where it pays (D4, D8).

    The pool is worth it only above ``threshold`` (R4: 1000) in some dimension, for
    more than one row, and when the workers have more cores than this process's BLAS
    threads already use in-process (:mod:`optimized.ops.matrix` gives the measured
    reason: two BLAS-bound paths on the same cores, and the pool pays copies).

    Parameters
    ----------
    dims : tuple of int
        ``(n, m, p)``.
    threshold : int
        Largest dimension at or below which a product always runs in-process.
    num_workers : int
        Pool size.
    mode : {"auto", "inline", "pool"}
        ``"inline"``/``"pool"`` force the answer.
    cores : int, optional
        Cores the workers share; default ``os.cpu_count()``.
    blas_threads : callable
        Returns the threads this process's BLAS uses; asked only for a product
        above the threshold (reading it costs a library query).

    Returns
    -------
    {"inline", "pool"}
    """
    if mode != "auto":
        return mode
    n, m, p = dims
    if max(n, m, p) <= threshold or n <= 1 or num_workers <= 1:
        return "inline"
    workers = min(num_workers, cores or os.cpu_count() or 1)
    return "pool" if workers > blas_threads() else "inline"


# -- measured costs -----------------------------------------------------------------------
def _voluntary_switches() -> int:
    """Times this thread gave up the CPU itself (sleep, I/O, a lock) so far."""
    return resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw


@dataclass(frozen=True)
class Timing:
    """What timing some work in one thread showed.

    Attributes
    ----------
    cpu_s : float
        The thread's CPU seconds.
    wall_s : float
        Wall seconds.
    blocked : bool
        Whether the thread gave up the CPU itself meanwhile (a sleep, I/O, a lock).
    """

    cpu_s: float
    wall_s: float
    blocked: bool

    def cost(self, per_item_s: float | None = None, transfer_s: float = 0.0) -> Cost:
        """A per-item :class:`Cost`: ``per_item_s`` of wall split as this timing splits.

        Wall time beyond CPU counts as waiting only if the thread blocked itself: on
        a loaded machine a CPU-bound item is also descheduled - involuntarily - and
        must not pass for one that waits.

        Parameters
        ----------
        per_item_s : float, optional
            Wall seconds of one item; default the whole timing (one item timed).
        transfer_s : float
            The cost's transfer seconds.

        Returns
        -------
        Cost
        """
        wall = self.wall_s if per_item_s is None else per_item_s
        share = min(1.0, self.cpu_s / self.wall_s) if self.blocked and self.wall_s > 0 else 1.0
        return Cost(cpu_s=wall * share, wait_s=wall * (1.0 - share), transfer_s=transfer_s)


class ThreadTimer:
    """Times the calling thread from construction to :meth:`stop`.

    The thread's own CPU clock, not the process's: a worker's other threads (its
    result queue's feeder, its owner watch) must not count as the item's CPU. Each
    clock read is a system call (about 1.5 us), so time a whole probe, not each item.
    """

    def __init__(self) -> None:
        self._switches = _voluntary_switches()
        self._cpu = time.thread_time()
        self._wall = time.perf_counter()

    def stop(self) -> Timing:
        """The timing so far."""
        wall = time.perf_counter() - self._wall
        cpu = time.thread_time() - self._cpu
        return Timing(cpu, wall, _voluntary_switches() > self._switches)
