"""The original's own cost model: exact work counts per size, and ``t = c0 + c1 * W(n)`` (D16).

A power law fitted to the baseline's small, overhead-dominated sizes says nothing about
its seed sizes (measured: primes fitted b=0.82 on 500-10,000 predicted 0.71 s at 10^5;
it took 6.81 s). Here the extrapolation uses the *work* the original's code does at a
size, counted from that code (``baseline/processor.py``), not assumed:

===================================  =====================================================
operation                             work ``W(n)`` (what dominates its time)
===================================  =====================================================
``process_data_spawn_per_item``       processes started: one per item
``process_with_file_based_ipc``       processes started: one per chunk of ``chunk_size``
``process_with_excessive_queue_ops``  queue operations: 4 per item (put, get, put, get)
``compute_statistics_sequential``     Python loop steps: 3 passes of n + the bubble sort's
                                      n(n-1)/2 comparisons
``parallel_sum_spawn_many``           processes started: one per chunk of ``chunk_size``
``batch_process_with_manager``        processes started (one per batch + the Manager) +
                                      Manager round trips (one per item)
``parallel_matrix_multiply``          processes started: one per element (n^2)
``parallel_find_primes``              loop steps on the critical path: trial divisions
                                      ``for d in range(2, m)`` of the slowest of the 4
                                      worker ranges (a prime m costs m-2, a composite its
                                      smallest factor - 1), then the parent's bubble sort
                                      of the pi(n) primes, pi(n)(pi(n)-1)/2 comparisons
``map_reduce_word_count``             processes started: one per chunk of 100 words
``run_pipeline``                      queue operations: items x 3 stages
===================================  =====================================================

The constants ``c0`` (fixed cost) and ``c1`` (seconds per unit of work) are fitted by
least squares (non-negative) to the measured sizes; every fit is checked by hold-out
(:mod:`evaluation.figures.extrapolate` refuses one that mispredicts its largest size by > 50 %).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from ..workloads import Operation

__all__ = ["work_model", "WorkFit", "fit_work", "work", "trial_divisions_critical_path"]

#: The baseline's worker count in the benchmarks and the probe.
BASELINE_WORKERS = 4


def _chunks(op: Operation, default: int) -> Callable[[int], float]:
    chunk = int(dict(op.call).get("chunk_size", default) or default)
    return lambda n: float(math.ceil(n / chunk))


def _division_counts(limit: int) -> np.ndarray:
    """``divs[m]`` = iterations of ``for d in range(2, m)`` the original runs for ``m``."""
    m = np.arange(limit, dtype=np.int64)
    spf = np.zeros(limit, dtype=np.int64)  # smallest prime factor (0: not yet known)
    for p in range(2, math.isqrt(max(limit - 1, 0)) + 1):
        if spf[p] == 0:
            block = spf[p * p::p]
            block[block == 0] = p
    divs = np.where(spf == 0, m - 2, spf - 1)  # primes: every d up to m-1; else stop at spf
    divs[:2] = 0  # m < 2 is skipped
    return divs


def trial_divisions_critical_path(limit: int, workers: int = BASELINE_WORKERS) -> float:
    """Loop steps of ``parallel_find_primes(limit)`` on its critical path (see module doc).

    Parameters
    ----------
    limit : int
        The exclusive bound (the instances' size).
    workers : int
        The original's ``num_workers`` (ranges of ``limit // workers``).

    Returns
    -------
    float
        Trial divisions of the busiest worker range plus the parent's bubble-sort
        comparisons of all the primes found.
    """
    if limit <= 2:
        return 0.0
    divs = _division_counts(limit)
    size = max(1, limit // workers)
    bounds = [(min(w * size, limit), limit if w == workers - 1 else min(w * size + size, limit))
              for w in range(workers)]
    busiest = max(float(divs[lo:hi].sum()) for lo, hi in bounds)
    primes = int(np.count_nonzero((divs == np.arange(limit) - 2)[2:]))
    return busiest + primes * (primes - 1) / 2


def _models(op: Operation) -> dict[str, tuple[str, Callable[[int], float]]]:
    batch = max(1, op.batch_len or 1)
    return {
        "process_data_spawn_per_item": ("processes started (one per item)", float),
        "process_with_file_based_ipc": ("processes started (one per chunk)", _chunks(op, 10)),
        "process_with_excessive_queue_ops": ("queue operations (4 per item)",
                                             lambda n: 4.0 * n),
        "compute_statistics_sequential": ("loop steps (3 passes + bubble-sort comparisons)",
                                          lambda n: 3.0 * n + n * (n - 1) / 2),
        "parallel_sum_spawn_many": ("processes started (one per chunk)", _chunks(op, 5)),
        "batch_process_with_manager": ("processes started + Manager round trips",
                                       lambda n: n + 1.0 + n * batch),
        "parallel_matrix_multiply": ("processes started (one per element)",
                                     lambda n: float(n) * n),
        "parallel_find_primes": ("trial divisions on the critical path + bubble-sort "
                                 "comparisons", trial_divisions_critical_path),
        "map_reduce_word_count": ("processes started (one per 100-word chunk)",
                                  _chunks(op, 100)),
        "run_pipeline": ("queue operations (items x 3 stages)", lambda n: 3.0 * n),
    }


def work_model(op: Operation) -> tuple[str, Callable[[int], float]] | None:
    """``(name, W)`` of ``op``'s work function, or None for an operation without one."""
    return _models(op).get(op.name)


def work(op: Operation, size: int) -> float:
    """``W(size)`` for ``op`` (raises KeyError for an operation without a model)."""
    model = work_model(op)
    if model is None:
        raise KeyError(f"no work model for {op.name}")
    return model[1](int(size))


@dataclass(frozen=True)
class WorkFit:
    """A fitted ``t = c0 + c1 * W(n)``.

    Attributes
    ----------
    model : str
        The work function's name.
    c0, c1 : float
        Fixed seconds, and seconds per unit of work (both >= 0).
    n_points : int
        Sizes fitted.
    size_range : tuple of float
        Smallest and largest size fitted.
    work_fn : callable
        ``W(n)``.
    """

    model: str
    c0: float
    c1: float
    n_points: int
    size_range: tuple[float, float]
    work_fn: Callable[[int], float] = field(repr=False, compare=False)

    def predict(self, size: float) -> float:
        """Predicted seconds at ``size``."""
        return self.c0 + self.c1 * self.work_fn(int(size))


def fit_work(op: Operation, sizes: Iterable[float], times: Iterable[float]) -> WorkFit:
    """Least-squares ``t = c0 + c1 * W(n)`` with ``c0, c1 >= 0``.

    Parameters
    ----------
    op : Operation
        Whose work function to use.
    sizes, times : iterable of float
        Measured points (at least two distinct sizes with different work).

    Returns
    -------
    WorkFit

    Raises
    ------
    ValueError
        No work model, fewer than two distinct work values, or a non-finite time.
    """
    model = work_model(op)
    if model is None:
        raise ValueError(f"no work model for {op.name}")
    name, fn = model
    n = [float(s) for s in sizes]
    t = np.asarray(list(times), dtype=float)
    w = np.asarray([fn(int(s)) for s in n], dtype=float)
    if len(n) != len(t) or not np.isfinite(t).all() or len(set(w)) < 2:
        raise ValueError("need at least two sizes with different work and finite times")
    # Scale the work so the normal equations are well conditioned (W spans 10^1-10^12).
    scale = float(w.max())
    c1, c0 = np.linalg.lstsq(np.column_stack([w / scale, np.ones_like(w)]), t, rcond=None)[0]
    if c0 < 0:  # no fixed cost is negative: fit through the origin
        c0, c1 = 0.0, float((w / scale) @ t / ((w / scale) @ (w / scale)))
    if c1 < 0:  # more work never takes less time: a constant
        c0, c1 = float(t.mean()), 0.0
    return WorkFit(name, float(c0), float(c1) / scale, len(n), (min(n), max(n)), fn)
