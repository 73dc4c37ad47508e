"""Optimized parallel data processor: a drop-in replacement for the slow original.

>>> from optimized import OptimizedParallelProcessor
>>> with OptimizedParallelProcessor(4) as p:                  # doctest: +SKIP
...     p.parallel_find_primes(1_000_000)[-1]
999983
"""
from .batches import batch_stage
from .data import generate_test_data, generate_test_matrix, generate_test_text
from .errors import (
    ProcessorClosedError,
    ProcessorTimeoutError,
    SharedMemoryFullError,
    WorkerCrashedError,
)
from .metrics import CallMetrics
from .processor import OptimizedParallelProcessor

__all__ = [
    # the processor
    "OptimizedParallelProcessor",
    # its per-call metrics
    "CallMetrics",
    # marks a pipeline stage that takes a whole batch
    "batch_stage",
    # errors
    "ProcessorTimeoutError", "WorkerCrashedError", "ProcessorClosedError", "SharedMemoryFullError",
    # test-data generators (same outputs as the baseline's)
    "generate_test_data", "generate_test_matrix", "generate_test_text",
]
