"""The ``single`` implementation of every operation: the best single-process code for it.

The policy, for every operation alike: a reference is written here, from the operation's
contract (what the original returns for the same arguments), with the standard tools
for the job - NumPy, ``Counter``, ``sum`` - and never imported from the processor under
test. A yardstick must not move with the code it measures: asv measures every commit
with the benchmark suite of the working tree, so a reference taken from the package
would change with each commit (and vanish on commits that lack it), and a regression in
the package's in-process code would hide in the ratio it is compared by. The exact
integer product below is this suite's own (it checks the processor's, which tests
compare with it too); the processor's copies of these algorithms are its business.

:func:`single_reference` maps an operation to its reference; a benchmark with
``impl="single"`` times it on the very inputs the processors get.
"""
from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["single_reference", "exact_matmul", "numpy_sieve", "counter_word_count"]


def _kernel_values(data: Sequence[float]) -> list[float]:
    """``x*x + sin(x)*cos(x)`` over ``data`` with NumPy; list in, list out."""
    x = np.asarray(data, dtype=np.float64)
    return (x * x + np.sin(x) * np.cos(x)).tolist()


def _kernel_batches(batches: Sequence[Sequence[float]]) -> list[float]:
    return _kernel_values(list(itertools.chain.from_iterable(batches)))


def _numpy_statistics(data: Sequence[float]) -> dict[str, float]:
    x = np.asarray(data, dtype=np.float64)
    return {"mean": float(x.mean()), "variance": float(x.var()), "median": float(np.median(x))}


def _pipeline_in_process(data: Sequence[Any]) -> list[Any]:
    """The default three stages (``x*2``, ``+10``, square) fused in one comprehension."""
    return [y * y for y in (x * 2 + 10 for x in data)]


def _object_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a.astype(object) @ b.astype(object)


def _split_int_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact ``a @ b`` for int64 arrays with float64 BLAS, splitting ``a`` into digits.

    A float64 product is exact while ``inner * max|a| * max|b| < 2**53``. Otherwise
    ``a = hi * 2**k + lo`` with ``0 <= lo < 2**k`` small enough for one exact BLAS call,
    and ``hi`` is handled the same way, recursively.
    """
    inner = a.shape[1]
    max_a = int(np.abs(a).max(initial=0))
    max_b = int(np.abs(b).max(initial=0))
    if inner * max_a * max_b < 2 ** 53:
        return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
    k = ((2 ** 53 - 1) // max(1, inner * max_b)).bit_length() - 1
    if inner * max_a * max_b >= 2 ** 62 or k < 1:  # int64 could overflow: exact objects
        return _object_matmul(a, b)
    lo = a & ((1 << k) - 1)
    hi = a >> k  # arithmetic shift: a == hi * 2**k + lo, also for negative entries
    return (_split_int_matmul(hi, b) << k) + (lo.astype(np.float64) @ b.astype(np.float64)
                                              ).astype(np.int64)


def exact_matmul(A: Any, B: Any) -> list[list[Any]]:
    """Best single-process exact ``A @ B`` for lists of lists (float64 BLAS throughout).

    Floats: one BLAS call. Integers: BLAS on digit splits (exact, see
    :func:`_split_int_matmul`); NumPy's own int64 matmul does not use BLAS and is
    tens of times slower at 2000 x 2000.
    """
    a, b = np.asarray(A), np.asarray(B)
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        return (a.astype(np.float64) @ b.astype(np.float64)).tolist()
    if a.dtype.kind not in "iu" or b.dtype.kind not in "iu":
        return _object_matmul(a, b).tolist()
    return _split_int_matmul(a.astype(np.int64), b.astype(np.int64)).tolist()


def numpy_sieve(limit: int) -> list[int]:
    """Primes below ``limit``: a plain odd-only NumPy Sieve of Eratosthenes."""
    if limit <= 2:
        return []
    odd = np.ones(limit // 2, dtype=bool)  # index i <-> 2*i + 1
    odd[0] = False
    for i in range(1, (math.isqrt(limit - 1) - 1) // 2 + 1):
        if odd[i]:
            p = 2 * i + 1
            odd[p * p // 2::p] = False
    return [2] + (2 * np.flatnonzero(odd) + 1).tolist()


def counter_word_count(text: str) -> dict[str, int]:
    """``Counter(text.split())``, then each distinct token cleaned once (D9) and folded."""
    counts: dict[str, int] = {}
    for token, n in Counter(text.split()).items():
        word = "".join(c.lower() for c in token if c.isalpha())
        if word:
            counts[word] = counts.get(word, 0) + n
    return counts


def single_reference(name: str) -> Callable[..., Any] | None:
    """Best single-process implementation of operation ``name`` (same arguments), or None."""
    refs: dict[str, Callable[[], Callable[..., Any]]] = {
        "process_data_spawn_per_item": lambda: _kernel_values,
        "process_with_file_based_ipc": lambda: _kernel_values,
        "process_with_excessive_queue_ops": lambda: _kernel_values,
        "compute_statistics_sequential": lambda: _numpy_statistics,
        "parallel_sum_spawn_many": lambda: sum,
        "batch_process_with_manager": lambda: _kernel_batches,
        "parallel_matrix_multiply": lambda: exact_matmul,
        "parallel_find_primes": lambda: numpy_sieve,
        "map_reduce_word_count": lambda: counter_word_count,
        "run_pipeline": lambda: _pipeline_in_process,
    }
    make = refs.get(name)
    return make() if make else None

