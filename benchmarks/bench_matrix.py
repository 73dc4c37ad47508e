"""Matrix multiply: list-of-lists in, list-of-lists out (the original's API), exact ints."""
from __future__ import annotations

from .common import IMPLS, OperationBenchmark, memory_sizes, sizes


class ParallelMatrixMultiply(OperationBenchmark):
    # size = n for n x n matrices m[i][j] = (i+1)*(j+1) (the instances' builder)
    operation = "parallel_matrix_multiply"
    params = [list(IMPLS), sizes(operation)]
    param_names = ["impl", "size"]
    # One round instead of asv's two: the exact 2000 x 2000 integer cases take tens of
    # seconds per call and would otherwise dominate a full run's time budget.
    rounds = 1

    def time_parallel_matrix_multiply(self, impl: str, size: int) -> None:
        self.fn(*self.args)


class ParallelMatrixMultiplyMemory(OperationBenchmark):
    """Peak memory of the calling process; the smallest size is the trivial-case floor."""

    operation = "parallel_matrix_multiply"
    params = [list(IMPLS), memory_sizes(operation)]
    param_names = ["impl", "size"]

    def peakmem_parallel_matrix_multiply(self, impl: str, size: int) -> None:
        self.fn(*self.args)
