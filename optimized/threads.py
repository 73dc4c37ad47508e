"""Threads inside a pool worker, for items that mostly wait (D13).

R1 makes the process pool the unit of parallelism; a process can only overlap its
own waits (a sleep, a socket, a disk read) with threads. An item that spends 1 ms
waiting and 20 us computing keeps a process idle 98% of the time, so each worker runs
such items on a small, bounded thread pool of its own::

    parent --task (chunk of items, threads=T)--> worker process
                                                   |  ThreadPoolExecutor(T), kept
                                                   |  for the worker's lifetime
                                                   v
                                                 [fn(x) for x in chunk], T at a time,
                                                 results in item order

The thread count comes from the cost model's split of an item's time into CPU and
waiting (:class:`~optimized.chunking.Cost`): the classic ``1 + wait / cpu`` for a pool
whose tasks block, capped at :data:`MAX_THREADS_PER_WORKER`, and 1 - no threads at all -
unless the item is mostly waiting (at least :data:`MIN_WAIT_SHARE` of its time), so
CPU-bound items keep one thread per worker and never contend for the GIL. Threads die
with their worker: a timeout or a crash kills the process, as on the plain path.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .chunking import Cost

__all__ = ["MAX_THREADS_PER_WORKER", "MIN_WAIT_SHARE", "WALL_SCALE_S", "threads_for",
           "threads_for_call", "thread_map"]

#: Upper bound on threads per worker process. Measured on the 2-core reference machine
#: (2,000 items of 1 ms on 4 workers): 16 threads take 40 ms, 32 take 24-28 ms - but
#: then the call's fixed cost (~2.5 ms: dispatch, the slowest worker's tail) is 10-12 %
#: of it, over R3's 10 % IPC share; with 16 it is 5-7 %.
MAX_THREADS_PER_WORKER = 16
#: An item is "mostly waiting" when at least this share of its time is not CPU.
MIN_WAIT_SHARE = 0.75

_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def threads_for(cost: Cost, *, forced: bool = False) -> int:
    """Threads per worker for items of ``cost``: 1 unless they mostly wait.

    Parameters
    ----------
    cost : Cost
        Per-item CPU and waiting seconds (measured or declared).
    forced : bool, default False
        Size the threads from ``cost`` even when the waiting share is small (the
        caller asked for threads).

    Returns
    -------
    int
        ``ceil(1 + wait / cpu)`` bounded to ``[1, MAX_THREADS_PER_WORKER]`` when the
        waiting share is at least :data:`MIN_WAIT_SHARE` (or ``forced``), else 1.
    """
    total = cost.cpu_s + cost.wait_s
    if total <= 0 or (cost.wait_s < MIN_WAIT_SHARE * total and not forced):
        return 1
    if cost.cpu_s <= 0:
        return MAX_THREADS_PER_WORKER
    return max(1, min(MAX_THREADS_PER_WORKER, math.ceil(1 + cost.wait_s / cost.cpu_s)))


#: Threads are sized so that a worker's share of a call lasts about
#: ``sqrt(W * WALL_SCALE_S)``, ``W`` being its items' waits end to end. The call's fixed
#: costs (dispatch, the slowest worker's tail: a few ms, more on a loaded machine) are
#: then a share of it that falls as calls grow. R3's setting (2,000 sleeps of ~1.08 ms
#: on 4 workers: W = 0.54 s) gets 6 threads, ~100 ms, ~3 % overhead (16 threads took
#: 40-70 ms there in CI with 6-16 %: too close to R3's 10 %); short calls still overlap
#: their waits: 100 or 300 such items get 2 or 3 threads, where a floor of 100 ms per
#: worker gave them none and left them slower than the original's process per 10 items.
WALL_SCALE_S = 0.02


def threads_for_call(cost: Cost, n_items: int, num_workers: int, *, forced: bool = False) -> int:
    """:func:`threads_for`, capped to ``ceil(sqrt(W / WALL_SCALE_S))`` (see there).

    Parameters
    ----------
    cost : Cost
        Per-item CPU and waiting seconds.
    n_items : int
        Items in the call.
    num_workers : int
        Pool size.
    forced : bool
        The caller asked for threads (see :func:`threads_for`).

    Returns
    -------
    int
        Threads per worker, >= 1; grows with the call's size, ~ its square root.
    """
    want = threads_for(cost, forced=forced)
    if want <= 1:
        return 1
    per_worker_wait = n_items * cost.wait_s / max(1, num_workers)
    # The 1e-9 keeps an exact square (2,000 x 1 ms / 4 / 20 ms = 25) from rounding up to 6.
    cap = math.ceil(math.sqrt(per_worker_wait / WALL_SCALE_S) - 1e-9)
    return max(1, min(want, cap))


def _threads(n: int) -> ThreadPoolExecutor:
    """This worker's thread pool, resized to ``n`` threads when a call asks for another size."""
    global _pool, _pool_size
    if _pool is None or _pool_size != n:
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool, _pool_size = ThreadPoolExecutor(n, thread_name_prefix="ppd-item"), n
    return _pool


def _run_part(fn: Callable[[Any], Any], part: Sequence[Any], stop: threading.Event) -> list[Any]:
    out = []
    for x in part:
        if stop.is_set():  # another part failed: the chunk's result is its exception
            break
        out.append(fn(x))
    return out


def thread_map(fn: Callable[[Any], Any], items: Sequence[Any], threads: int) -> list[Any]:
    """``[fn(x) for x in items]`` with up to ``threads`` items in flight; same order.

    The items are cut into ``threads`` contiguous parts, one per thread (one hand-off
    per thread, not per item: the thread machinery's CPU stays small beside the
    items' own); the parts' results are joined in order.

    Parameters
    ----------
    fn : callable
        A function of one item.
    items : sequence
        The chunk's items.
    threads : int
        Threads to use; 1 (or a single item) runs in the calling thread.

    Returns
    -------
    list
        ``fn(x)`` for every item, in item order.

    Raises
    ------
    Exception
        The exception of the first failing item in item order; once any item has
        failed, the other threads stop before their next item.
    """
    if threads <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    n = min(threads, len(items))
    stop = threading.Event()
    step, extra = divmod(len(items), n)
    bounds = [(i * step + min(i, extra), (i + 1) * step + min(i + 1, extra)) for i in range(n)]
    futures = [_threads(threads).submit(_run_part, fn, items[lo:hi], stop) for lo, hi in bounds]
    out: list[Any] = []
    error: BaseException | None = None
    for f in futures:  # in part order, so the first failing part's exception wins
        try:
            part = f.result()
        except BaseException as exc:  # noqa: B036 - re-raised below, after stopping the rest
            stop.set()
            error = error or exc
            continue
        out.extend(part)
    if error is not None:
        raise error
    return out
