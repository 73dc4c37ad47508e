"""Primes below a limit: segmented sieve vs trial division vs a plain NumPy sieve vs primesieve."""
from __future__ import annotations

import bisect
import importlib.util
import sys

from .common import (
    IMPLS,
    TWO_CORES,
    OperationBenchmark,
    at_scale,
    gate_size,
    largest_size,
    memory_sizes,
    scale_sizes,
    sizes,
)
from .memory import PeakRssBenchmark


class ParallelFindPrimes(OperationBenchmark):
    """``parallel_find_primes(limit)``; size = the limit (primes below it), 4 workers."""

    operation = "parallel_find_primes"
    params = [list(IMPLS), sizes(operation)]
    param_names = ["impl", "size"]

    def time_parallel_find_primes(self, impl: str, size: int) -> None:
        self.fn(*self.args)


globals().update(at_scale(ParallelFindPrimes))  # ParallelFindPrimesAtScale


class ParallelFindPrimesWorkers(OperationBenchmark):
    """Scaling with the worker count on the pool path, at the R5 gate's limit."""

    operation = "parallel_find_primes"
    params = [["pool"], [gate_size("R5")], [1, 2, 4]]
    param_names = ["impl", "size", "workers"]

    def time_parallel_find_primes(self, impl: str, size: int, workers: int) -> None:
        self.fn(*self.args)


#: The limits of the two-core comparison: the largest size every implementation runs
#: (10**8) and the scaling size (10**9; full runs only).
TWO_CORE_LIMITS = sorted({largest_size("parallel_find_primes"),
                          *scale_sizes("parallel_find_primes")})


def primesieve_list(limit: int) -> list[int]:
    """The physical anchor: primesieve's C++ sieve, its primes turned into a Python list.

    ``primesieve.primes`` returns an ``array.array`` of uint64 (no Python int exists
    yet); ``tolist()`` makes the same list of ints that ``parallel_find_primes``
    returns - the part that dominates at 10**9.
    """
    import primesieve  # optional: the benchmark is skipped where it does not import

    return primesieve.primes(limit).tolist() if limit > 2 else []


class ParallelFindPrimesTwoCores(OperationBenchmark):
    """Primes below 10**8 and 10**9 on 2 workers vs the single-process sieve and primesieve.

    Targets: below 10**8 faster than a single-process NumPy sieve with 2 workers on
    the 2-core machine; below 10**9 within 2.5x of ``primesieve_list``
    (the C++ library's sieve plus the list), and at most 11x the 10**8 time.
    ``optimized`` is what a caller gets (``auto`` pools these sizes); the single-process
    sieve runs no workers, so its figures are ParallelFindPrimes' and
    ParallelFindPrimesAtScale's ``single`` points at these limits, in the same run
    (timing it here again cost ~21 s per full run); ``primesieve`` is skipped where the
    package is missing (``pip install primesieve`` builds against Debian's
    ``libprimesieve-dev``).
    """

    operation = "parallel_find_primes"
    params = [["optimized", "primesieve"], TWO_CORE_LIMITS, [TWO_CORES]]
    param_names = ["impl", "size", "workers"]

    def setup(self, impl: str, size: int, workers: int = TWO_CORES) -> None:
        if impl != "primesieve":
            super().setup(impl, size, workers)
            return
        self.processor = None
        if importlib.util.find_spec("primesieve") is None:
            raise NotImplementedError("primesieve is not installed (an optional reference: "
                                      "apt-get install libprimesieve-dev; pip install primesieve)")
        self._budget(impl, size)
        self.fn, self.args = primesieve_list, (size,)
        primesieve_list(1000)  # the import

    def time_parallel_find_primes(self, impl: str, size: int, workers: int) -> None:
        self.fn(*self.args)


def result_list_bytes(primes: list[int]) -> int:
    """What a sorted list of ints holds itself: its slot array plus its int objects.

    ``sys.getsizeof`` of an int depends only on its number of digits, so the ints
    are counted per digit count (bisection on the sorted list), not one by one.
    """
    total, lo = sys.getsizeof(primes), 0
    bits = sys.int_info.bits_per_digit
    while lo < len(primes):
        digits = max(1, -(-primes[lo].bit_length() // bits))
        hi = bisect.bisect_left(primes, 1 << (bits * digits), lo)
        total += (hi - lo) * sys.getsizeof(primes[lo])
        lo = hi
    return total


class ParallelFindPrimesTwoCoresPeakRss(PeakRssBenchmark):
    """Peak RSS during one call on 2 workers at the largest limit (10**9 in full runs).

    asv's ``peakmem_`` sees the parent only. The parent's figure includes the result
    list (50.8 million Python ints below 10**9: 1.83 GB); a worker's should stay
    small (cache-sized segments, one array of primes per task).
    ``track_parent_peak_over_result`` is the parent's growth during the call over
    the list's own size (target: at most 1.3).
    """

    operation = "parallel_find_primes"
    size = max(TWO_CORE_LIMITS)
    workers = TWO_CORES

    def track_parent_peak_rss(self) -> float:
        return self.peaks().parent_mib

    def track_worker_peak_rss(self) -> float:
        return self.peaks().largest_worker_mib

    def track_parent_peak_over_result(self) -> float:
        return self.growth_over_result(result_list_bytes)

    track_parent_peak_over_result.unit = "ratio"  # type: ignore[attr-defined]


class ParallelFindPrimesMemory(OperationBenchmark):
    """Peak memory of the calling process; the smallest limit is the trivial-case floor."""

    operation = "parallel_find_primes"
    params = [list(IMPLS), memory_sizes(operation)]
    param_names = ["impl", "size"]

    def peakmem_parallel_find_primes(self, impl: str, size: int) -> None:
        self.fn(*self.args)
