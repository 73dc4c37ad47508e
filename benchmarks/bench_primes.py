"""Primes below a limit: segmented sieve vs trial division vs a plain NumPy sieve."""
from __future__ import annotations

from .common import (
    IMPLS,
    TWO_CORES,
    OperationBenchmark,
    PeakRssBenchmark,
    gate_size,
    largest_size,
    memory_sizes,
    sizes,
)


class ParallelFindPrimes(OperationBenchmark):
    """``parallel_find_primes(limit)``; size = the limit (primes below it), 4 workers."""

    operation = "parallel_find_primes"
    params = [list(IMPLS), sizes(operation)]
    param_names = ["impl", "size"]

    def time_parallel_find_primes(self, impl: str, size: int) -> None:
        self.fn(*self.args)


class ParallelFindPrimesWorkers(OperationBenchmark):
    """Scaling with the worker count on the pool path, at the R5 gate's limit."""

    operation = "parallel_find_primes"
    params = [["pool"], [gate_size("R5")], [1, 2, 4]]
    param_names = ["impl", "size", "workers"]

    def time_parallel_find_primes(self, impl: str, size: int, workers: int) -> None:
        self.fn(*self.args)


class ParallelFindPrimesTwoCores(OperationBenchmark):
    """Primes below the largest limit (10**8) on 2 workers vs the single-process sieve.

    Issue 4: below 10**8 faster than a single-process NumPy sieve with 2 workers on
    the 2-core machine. ``optimized`` is what a caller gets (``auto`` pools this
    size); ``single`` is the single-process sieve, in the same run.
    """

    operation = "parallel_find_primes"
    params = [["optimized", "single"], [largest_size(operation)], [TWO_CORES]]
    param_names = ["impl", "size", "workers"]

    def time_parallel_find_primes(self, impl: str, size: int, workers: int) -> None:
        self.fn(*self.args)


class ParallelFindPrimesTwoCoresPeakRss(PeakRssBenchmark):
    """Peak RSS (MiB) during one call below 10**8 on 2 workers: parent and largest worker.

    asv's ``peakmem_`` sees the parent only. The parent's figure includes the result
    list (5.76 million Python ints); a worker's should stay small (cache-sized
    segments, one array of primes per task).
    """

    operation = "parallel_find_primes"
    size = largest_size(operation)
    workers = TWO_CORES

    def track_parent_peak_rss(self) -> float:
        return self.peaks().parent_mib

    def track_worker_peak_rss(self) -> float:
        return self.peaks().largest_worker_mib


class ParallelFindPrimesMemory(OperationBenchmark):
    """Peak memory of the calling process; the smallest limit is the trivial-case floor."""

    operation = "parallel_find_primes"
    params = [list(IMPLS), memory_sizes(operation)]
    param_names = ["impl", "size"]

    def peakmem_parallel_find_primes(self, impl: str, size: int) -> None:
        self.fn(*self.args)
