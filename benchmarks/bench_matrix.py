"""Matrix multiply: list-of-lists in, list-of-lists out (the original's API), exact ints;
and the float64 ndarray product of the pool against plain ``A @ B``."""
from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from .common import (
    IMPLS,
    QUICK,
    TWO_CORES,
    OperationBenchmark,
    at_scale,
    largest_size,
    memory_sizes,
    scale_sizes,
    sizes,
)

#: Seed of the float64 matrices (:func:`float_matrices`).
FLOAT_MATMUL_SEED = 20240601


@functools.lru_cache(maxsize=2)  # the timed size and the warm-up size
def float_matrices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two seeded ``n x n`` float64 ndarrays, entries uniform in ``[0, 1)`` (cached).

    The instances' matrix builder gives integer lists; this is the float64 ndarray
    case of the matrix targets (the pooled product against plain ``A @ B``).
    """
    rng = np.random.default_rng(FLOAT_MATMUL_SEED)
    return rng.random((n, n)), rng.random((n, n))


class ParallelMatrixMultiply(OperationBenchmark):
    """``parallel_matrix_multiply(A, B)`` of two n x n integer lists of lists.

    size = n; ``m[i][j] = (i+1)*(j+1)`` (the instances' builder); the result is exact
    Python ints. ``single`` is the best exact single-process product
    (:func:`~benchmarks.references.exact_matmul`).
    """

    operation = "parallel_matrix_multiply"
    params = [list(IMPLS), sizes(operation)]
    param_names = ["impl", "size"]
    # One round instead of asv's two: the exact 2000 x 2000 integer cases take tens of
    # seconds per call and would otherwise dominate a full run's time budget.
    rounds = 1

    def time_parallel_matrix_multiply(self, impl: str, size: int) -> None:
        self.fn(*self.args)


globals().update(at_scale(ParallelMatrixMultiply))  # ParallelMatrixMultiplyAtScale


class ParallelMatrixMultiplyFloat64(OperationBenchmark):
    """Seeded n x n float64 ndarrays: the pooled product vs plain ``A @ B``.

    ``pool``: row blocks from shared memory on 2 workers, each worker's BLAS capped to
    cores // workers = 1 thread; ``inline``: the processor in-process (NumPy's own
    threads at this size); ``single``: plain ``A @ B`` with NumPy's own BLAS threads,
    in the same run. Two workers because the reference machine has 2 cores: one
    single-threaded BLAS per core uses exactly the cores NumPy's threads use, so the
    ratio pool / single is the price (or gain) of the pool at equal hardware; four as
    its targets ask too (BLAS threads x processes still never exceed the cores). The
    largest instance size (2000) and the scaling size (4000) in full runs; the largest
    quick size on 2 workers in quick mode.
    """

    operation = "parallel_matrix_multiply"
    params = [["pool", "inline", "single"],
              sorted({largest_size(operation), *scale_sizes(operation)}),
              [TWO_CORES] if QUICK else [TWO_CORES, 2 * TWO_CORES]]
    scale_impls = ("pool", "inline", "single")  # this suite is about the 4000 case too
    param_names = ["impl", "size", "workers"]
    rounds = 1

    def inputs(self, size: int) -> tuple[Any, ...]:
        return float_matrices(size)

    def reference(self) -> Callable[..., Any]:
        return operator.matmul

    def time_parallel_matrix_multiply(self, impl: str, size: int, workers: int) -> None:
        self.fn(*self.args)


class ParallelMatrixMultiplyMemory(OperationBenchmark):
    """Peak memory of the calling process; the smallest size is the trivial-case floor."""

    operation = "parallel_matrix_multiply"
    params = [list(IMPLS), memory_sizes(operation)]
    param_names = ["impl", "size"]

    def peakmem_parallel_matrix_multiply(self, impl: str, size: int) -> None:
        self.fn(*self.args)
