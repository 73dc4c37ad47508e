"""Baseline: a faithful re-creation of the slow original parallel processor.

This package is the "before" picture of the benchmark harness. It keeps every
anti-pattern and latent defect of the original ``UnoptimizedParallelProcessor``
on purpose; see :mod:`baseline.processor` for the list of defects. Do not
optimise it.

Public names
------------
UnoptimizedParallelProcessor
    The processor (fork start method only).
generate_test_data, generate_test_matrix, generate_test_text
    The original's test-data generators (see :mod:`baseline.data`).
"""

from __future__ import annotations

from baseline.data import generate_test_data, generate_test_matrix, generate_test_text
from baseline.processor import UnoptimizedParallelProcessor

__all__ = [
    "UnoptimizedParallelProcessor",
    "generate_test_data",
    "generate_test_matrix",
    "generate_test_text",
]
