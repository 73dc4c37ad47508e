"""Primes below a limit: segmented sieve vs trial division vs a plain NumPy sieve."""
from __future__ import annotations

from .common import IMPLS, OperationBenchmark, gate_size, memory_sizes, sizes


class ParallelFindPrimes(OperationBenchmark):
    # size = the limit (primes below it)
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


class ParallelFindPrimesMemory(OperationBenchmark):
    """Peak memory of the calling process; the smallest limit is the trivial-case floor."""

    operation = "parallel_find_primes"
    params = [list(IMPLS), memory_sizes(operation)]
    param_names = ["impl", "size"]

    def peakmem_parallel_find_primes(self, impl: str, size: int) -> None:
        self.fn(*self.args)
