"""Primes below a limit: a segmented Sieve of Eratosthenes, in-process or on the pool (R5).

Algorithm
    1. The base primes up to ``isqrt(limit - 1)`` come from a plain sequential NumPy
       sieve in the parent, once per call.
    2. Only odd numbers are sieved: index ``i`` of a segment stands for ``2*i + 1``.
       A segment is a boolean array of at most :data:`SEGMENT_ODDS` odd numbers
       (256 KiB: it stays in a core's L2 cache while every base prime crosses it).
       Each base prime ``p`` marks its odd multiples from ``max(p*p, first in the
       segment)`` with one vectorised slice assignment ``seg[start::p] = False``.
    3. The unmarked positions of each segment become a compact integer array (on the
       pool ``uint32`` while ``limit <= 2**32``: half the bytes to send back), appended
       to the result list in segment order with ``list.extend(array.tolist())``, in
       pieces: no per-prime Python loop, no sort (segments are in order).

Paths (D4)
    The cost model (:meth:`Call.choose`) keeps small limits in-process, where the same
    segment kernel runs sequentially (with the deadline checked between segments). On
    the pool, the base primes are copied once into a shared-memory array that every
    task attaches to - never pickled per task - and each task sieves a contiguous run of
    segments (at most :data:`_TASK_NUMBERS` numbers), returning its primes as one array.

The serial part
    Making the Python ints is the one step only the calling process can do, and at
    10**9 it dominates: 50.8 million ints take 1.7-2.0 s on the reference VM, most of it
    page faults of the interpreter's small-object arenas. So it overlaps the sieving:
    :meth:`Call.run_ordered` hands task ``i``'s primes to the list as soon as tasks
    ``0..i`` are back, while the workers go on (``2 x workers`` tasks in flight), in
    pieces short enough that this process's executor thread can receive the next
    results meanwhile. Measured on 2 workers (asv, one run): 10**9 in 2.8 s (the
    parent's appending ~2.2 s of CPU in it), 10**8 in 0.24-0.33 s.

Memory
    The result is a Python list: about ``pi(limit) * 36`` bytes (an 8-byte slot plus a
    28-byte int object per prime) - about 210 MB below 10**8, about 1.8 GB below 10**9 -
    plus, on the pool, the arrays of the tasks in flight (4 bytes per prime; measured:
    the parent grows 1.09-1.12x the list's own size below 10**9). The sieve itself needs
    only one segment per worker. A limit whose estimated result exceeds the memory available
    right now is refused with :class:`MemoryError` before any work starts.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..buffers import opened
from ..call import Call
from ..chunking import Cost, chunk_bounds
from ..validation import check_int_limit

__all__ = ["find_primes", "sieve_single_process", "base_primes", "sieve_odd_range",
           "SEGMENT_ODDS", "estimated_result_bytes"]

#: Odd numbers per segment: a 1 MiB boolean array, one core's L2 cache on the reference
#: machine. Measured per number at 10**9 (3,400 base primes): 2**18 odds 4.2 ns,
#: 2**19 3.2 ns, 2**20 2.3 ns, 2**21 2.1-2.4 ns - below 1 MiB the fixed cost of one
#: slice assignment per base prime and segment dominates, above it cache misses do.
SEGMENT_ODDS = 1 << 20
#: Numbers per pooled task at most (about 60 ms of sieving, ~1.7 million primes at
#: 10**9): the parent starts building the list after the first such task.
_TASK_NUMBERS = 1 << 25
#: Tasks in flight per worker while the parent builds the list (the back-pressure).
#: Few: sieving far ahead only makes the workers take CPU from the parent, the serial
#: step (10**9, 2 workers, 2 cores: 1 per worker 2.3-2.5 s, 2 2.1-2.5 s, 3 2.3-2.6 s).
_TASKS_IN_FLIGHT_PER_WORKER = 2
#: Ints converted per ``tolist()`` piece, then a deadline check: ~2 ms holding the GIL,
#: after which the executor's thread in this process can take it to receive the next
#: task's primes. Measured at 10**9 (2 workers): pieces of 2**18 ints 2.9-3.2 s, 2**16
#: 2.3-2.5 s, 2**14 2.3-2.6 s - with big pieces the results wait in the pipe.
_TO_LIST_PIECE = 1 << 16
#: Measured per-number cost of the segmented sieve, including turning the primes into
#: an array (2-core reference machine); the cost model's input.
_SIEVE_S_PER_NUMBER = 1.2e-9
#: Bytes per prime of the final list (8-byte slot + 28-byte small int) plus the
#: transient arrays while joining.
_BYTES_PER_PRIME = 48
#: Below this limit the memory pre-check is skipped (the result is at most tens of MB).
_MEMORY_CHECK_FROM = 10 ** 7


# -- the sequential sieves ----------------------------------------------------------------
def _whole_sieve(limit: int) -> np.ndarray:
    """Primes below ``limit`` (int64 array) with one odd-only boolean array."""
    if limit <= 2:
        return np.empty(0, dtype=np.int64)
    is_prime = np.ones(limit // 2, dtype=bool)  # index i <-> 2*i + 1 < limit
    is_prime[0] = False  # 1
    for i in range(1, (math.isqrt(limit - 1) - 1) // 2 + 1):
        if is_prime[i]:
            p = 2 * i + 1
            is_prime[p * p // 2::p] = False
    odd = 2 * np.flatnonzero(is_prime) + 1
    return np.concatenate((np.array([2], dtype=np.int64), odd))


def sieve_single_process(limit: int) -> list[int]:
    """Reference for benchmarks: the plain single-process NumPy sieve (odd numbers only).

    Parameters
    ----------
    limit : int
        Exclusive upper bound.

    Returns
    -------
    list of int
        The primes below ``limit``, ascending - the same contract as
        ``parallel_find_primes``, so the two can be timed side by side.

    Raises
    ------
    TypeError
        ``limit`` is not an int (bools rejected).
    """
    return _whole_sieve(check_int_limit(limit)).tolist()


def primes_in_range(start: int, end: int) -> list[int]:
    """The primes ``p`` with ``start <= p < end``, ascending, in this process.

    Sieves every number below ``end`` (no segmenting): meant for the original's
    small per-range helper, not for large limits. Arguments are not validated.

    Parameters
    ----------
    start : int
        Inclusive lower bound (negative counts as 0).
    end : int
        Exclusive upper bound; an empty range gives ``[]``.

    Returns
    -------
    list of int
    """
    if end <= max(start, 2):
        return []
    found = _whole_sieve(end)
    return found[np.searchsorted(found, max(start, 0)):].tolist()


def base_primes(limit: int) -> np.ndarray:
    """The odd primes ``p <= isqrt(limit - 1)``: all a segment below ``limit`` needs.

    Parameters
    ----------
    limit : int
        Exclusive upper bound of the whole sieve.

    Returns
    -------
    numpy.ndarray
        The odd base primes as int64, ascending (empty when ``limit <= 9``).
    """
    if limit <= 9:
        return np.empty(0, dtype=np.int64)
    return _whole_sieve(math.isqrt(limit - 1) + 1)[1:]


#: Odd multiples of these primes repeat with period 3*5*7*11*13 = 15015 odd numbers, so
#: a segment starts as a copy of a precomputed pattern instead of 5 strided passes
#: (the densest ones: they would be ~45% of all marking writes).
_WHEEL_PRIMES = (3, 5, 7, 11, 13)
_WHEEL = 15015
_wheel_pattern = np.empty(0, dtype=bool)


def _pattern(length: int) -> np.ndarray:
    """At least ``length + _WHEEL`` flags: odd index i is False iff 2i+1 has a wheel factor."""
    global _wheel_pattern
    if len(_wheel_pattern) < length + _WHEEL:
        pat = np.ones(max(length, SEGMENT_ODDS) + _WHEEL, dtype=bool)
        for p in _WHEEL_PRIMES:
            pat[(p - 1) // 2::p] = False  # 2i+1 = 0 (mod p)  <=>  i = (p-1)/2 (mod p)
        _wheel_pattern = pat
    return _wheel_pattern


def sieve_odd_range(base: np.ndarray, i_lo: int, i_hi: int, dtype: np.dtype) -> np.ndarray:
    """Primes among the odd numbers ``2*i + 1`` for ``i_lo <= i < i_hi`` (one segment).

    Parameters
    ----------
    base : numpy.ndarray
        Ascending odd primes covering at least ``isqrt(2*i_hi - 1)``.
    i_lo, i_hi : int
        Odd-index bounds of the segment.
    dtype : numpy dtype
        Element type of the returned array (wide enough for ``2*i_hi - 1``).

    Returns
    -------
    numpy.ndarray
        The primes of the segment, ascending.
    """
    n = i_hi - i_lo
    off = i_lo % _WHEEL
    seg = _pattern(n)[off:off + n].copy()
    for p in _WHEEL_PRIMES:  # the pattern struck the wheel primes themselves
        if i_lo <= (p - 1) // 2 < i_hi:
            seg[(p - 1) // 2 - i_lo] = True
    if i_lo == 0:
        seg[0] = False  # 1 is not prime
    first = 2 * i_lo + 1
    k_lo = int(np.searchsorted(base, _WHEEL_PRIMES[-1], side="right"))
    k_hi = int(np.searchsorted(base, math.isqrt(2 * i_hi - 1), side="right"))
    ps = base[k_lo:k_hi]
    if len(ps):
        # First odd multiple of p not below max(p*p, first): p itself is never marked.
        start = np.maximum(ps * ps, -(-first // ps) * ps)
        start += ps * (start % 2 == 0)
        offsets = (start - first) // 2  # odd multiples 2p apart are p indices apart
        for p, j in zip(ps.tolist(), offsets.tolist(), strict=True):
            seg[j::p] = False
    found = np.flatnonzero(seg)  # int64 positions -> the numbers 2*(i_lo + i) + 1, in place
    found += i_lo
    found *= 2
    found += 1
    return found.astype(dtype, copy=False)


def _sieve_segments(base: np.ndarray, i_lo: int, i_hi: int, seg_odds: int,
                    dtype: np.dtype) -> list[np.ndarray]:
    """Sieve ``[i_lo, i_hi)`` segment by segment; each segment's primes, in order."""
    parts = []
    for s in range(i_lo, i_hi, seg_odds):
        parts.append(sieve_odd_range(base, s, min(s + seg_odds, i_hi), dtype))
    return parts


def _sieve_task(base_ref: Any, i_lo: int, i_hi: int, seg_odds: int,
                dtype: str) -> np.ndarray:
    """Worker: sieve a contiguous run of segments against the shared base primes.

    Returns the run's primes as one array: one result transfer per task.
    """
    with opened(base_ref) as base:
        parts = _sieve_segments(base, i_lo, i_hi, seg_odds, np.dtype(dtype))
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


# -- memory -------------------------------------------------------------------------------
def estimated_result_bytes(limit: int) -> int:
    """Upper estimate of the memory the result list of primes below ``limit`` takes.

    Parameters
    ----------
    limit : int
        Exclusive upper bound.

    Returns
    -------
    int
        Bytes: ``1.26 * limit / ln(limit)`` primes (an upper bound of their count)
        times 48 bytes each (list slot, int object, transient join arrays); 0 when
        ``limit <= 2``.
    """
    if limit <= 2:
        return 0
    count = 1.26 * limit / math.log(limit)  # pi(x) < 1.26 x / ln x for x > 1
    return int(count * _BYTES_PER_PRIME)


def _available_memory() -> int | None:
    """Bytes of memory available now (Linux ``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _check_memory(limit: int) -> None:
    """Refuse (before any work) a limit whose result list cannot fit in memory now."""
    if limit < _MEMORY_CHECK_FROM:
        return
    need, have = estimated_result_bytes(limit), _available_memory()
    if have is not None and need > have:
        raise MemoryError(f"limit={limit:,}: the list of primes below it needs about "
                          f"{need / 2**30:.1f} GiB, but only {have / 2**30:.1f} GiB of memory "
                          "is available")


# -- the operation --------------------------------------------------------------------------
def _pool_segment_odds(n_odd: int, num_workers: int) -> int:
    """Odd numbers per pooled segment: cache-sized, yet at least 4 segments per worker."""
    return max(1, min(SEGMENT_ODDS, -(-n_odd // (num_workers * 4))))


def _segments_per_task(call: Call, n_seg: int, seg: int) -> int:
    """Segments per task: a fair share, capped so the parent gets results early.

    At least 4 tasks per worker; at most :data:`_TASK_NUMBERS` numbers per task, so
    the parent starts building the list after one small task instead of after a
    worker's whole share; at least the backend's ``min_task_s`` of work, but never
    more than one worker's share (no worker is left idle).
    """
    share = -(-n_seg // (4 * call.num_workers))
    cap = max(1, _TASK_NUMBERS // (2 * seg))
    floor = math.ceil(call.backend.min_task_s / (2 * seg * _SIEVE_S_PER_NUMBER))
    return max(1, min(floor, -(-n_seg // call.num_workers)), min(share, cap))


def _append(out: list[int], primes: np.ndarray, check: Callable[[], None]) -> None:
    """``out.extend(primes.tolist())`` in pieces, with the deadline checked between them.

    A piece holds the GIL for a few milliseconds only, so the executor's threads in
    this process keep feeding the workers while the list grows.
    """
    for s in range(0, len(primes), _TO_LIST_PIECE):
        check()
        out.extend(primes[s:s + _TO_LIST_PIECE].tolist())


def _find_pooled(call: Call, base: np.ndarray, n_odd: int, dtype: np.dtype,
                 out: list[int]) -> None:
    """Runs of segments on the pool, appended to ``out`` in order as they arrive.

    Building the list of Python ints is the one serial step (CPython objects can only
    be made here); it overlaps the sieving: task ``i``'s primes are appended as soon
    as tasks ``0..i`` are back (:meth:`Call.run_ordered`), while the workers sieve on.
    """
    seg = _pool_segment_odds(n_odd, call.num_workers)
    n_seg = -(-n_odd // seg)
    bounds = [(s_lo * seg, min(s_hi * seg, n_odd))
              for s_lo, s_hi in chunk_bounds(n_seg, _segments_per_task(call, n_seg, seg))]
    window = _TASKS_IN_FLIGHT_PER_WORKER * call.num_workers
    call.recorder.extra.update(segment_odds=seg, segments=n_seg, tasks_in_flight=window)
    with call.backend.share(base, broadcast=True) as shared:  # sent once, read by every task
        tasks = [(shared.reader(), lo, hi, seg, dtype.str) for lo, hi in bounds]
        call.run_ordered(_sieve_task, tasks,
                         lambda primes: _append(out, primes, call.deadline.check),
                         window=window, items_per_task=[2 * (hi - lo) for lo, hi in bounds])


def find_primes(call: Call, limit: int) -> list[int]:
    """All primes below ``limit``, ascending, as Python ints (R5).

    Parameters
    ----------
    call : Call
        The processor's per-call state (mode, deadline, metrics).
    limit : int
        Exclusive upper bound; ``limit <= 2`` (negative included) gives ``[]``.

    Returns
    -------
    list of int
        The primes below ``limit``, ascending.

    Raises
    ------
    TypeError
        ``limit`` is not an int (bools rejected).
    MemoryError
        The result list would not fit in the memory available now (checked from
        ``limit >= 10**7``, before any work starts).
    ProcessorTimeoutError
        The call's timeout expired (checked between segments in-process and while
        the list is built; on the pool the busy workers are terminated).
    WorkerCrashedError
        A worker died on the pool path (the pool is restarted).
    """
    limit = check_int_limit(limit)
    if limit <= 2:  # no primes below: nothing to run anywhere, whatever the mode
        call.recorder.items, call.recorder.path = 0, "inline"
        return []
    _check_memory(limit)
    n_odd = limit // 2  # the odd numbers 1, 3, ... below limit
    path = call.choose(limit, Cost(cpu_s=_SIEVE_S_PER_NUMBER))
    base = base_primes(limit)
    out = [2]
    if path == "inline":  # int64 as found: no conversion, nothing to transfer
        for lo in range(0, n_odd, SEGMENT_ODDS):
            call.deadline.check()
            found = sieve_odd_range(base, lo, min(lo + SEGMENT_ODDS, n_odd), np.dtype(np.int64))
            _append(out, found, call.deadline.check)
    else:  # 4-byte results halve what travels back from the workers
        dtype = np.dtype(np.uint32 if limit <= 2 ** 32 else np.int64)
        _find_pooled(call, base, n_odd, dtype, out)
    call.deadline.check()
    return out
