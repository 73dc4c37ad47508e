"""parallel_find_primes: the segmented sieve on both paths, bad input, failure contract, R5 gate.

The oracle is a plain pure-Python Sieve of Eratosthenes written here. Optimized-only
tests run on processors forced to each path (``execution="inline"`` / ``"pool"``, 2
workers) and skip under ``--impl=baseline``; the fixed small cases and the R5 gate run on
both implementations (the baseline's gate inside a time budget, :mod:`tests.budget`).

Speed against the single-process NumPy sieve and the peak memory of the 10**8 run
(parent and workers) are measured by the asv suite (``benchmarks/bench_primes.py``);
the only timed test here is the seed's gate. The memory the parent needs for a large
result is checked against the documented estimate (untimed).
"""
from __future__ import annotations

import math
import statistics
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimized.ops import primes as primes_ops
from optimized.shm import live_segments
from tests.budget import run_within
from tests.conftest import SHM_DIR, record_segments, refuse_dispatch


def oracle(limit: int) -> list[int]:
    """Primes below ``limit``: a textbook pure-Python sieve."""
    if limit < 3:
        return []
    flags = [True] * limit
    flags[0] = flags[1] = False
    for i in range(2, math.isqrt(limit - 1) + 1):
        if flags[i]:
            flags[i * i::i] = [False] * len(range(i * i, limit, i))
    return [i for i, f in enumerate(flags) if f]


# -- fixed cases on both implementations ------------------------------------------------------
@pytest.mark.parametrize("limit", [-5, 0, 1, 2, 3, 10, 100, 500])
def test_small_limits_match_the_oracle(processor: Any, limit: int) -> None:
    got = processor.parallel_find_primes(limit)
    assert got == oracle(limit)
    assert all(type(x) is int for x in got)


# -- known answers, both forced paths -----------------------------------------------------------
def test_known_prime_counts(forced: Any, workloads: Any) -> None:
    counts = workloads.known_answers["prime_counts"]
    for key in sorted(counts, key=int):
        limit = int(key)
        if limit > 10 ** 6:
            continue  # larger: test_known_prime_count_10_million / _100_million (auto)
        got = forced.parallel_find_primes(limit)
        assert len(got) == workloads.prime_count(limit), limit
        assert got == sorted(set(got)) and all(type(x) is int for x in got)
        assert forced.last_metrics.path == forced.execution
    assert got[-1] == 999983 and got[:5] == [2, 3, 5, 7, 11]


def test_known_prime_count_10_million(optimized_only: None, processor: Any, workloads: Any) -> None:
    got = processor.parallel_find_primes(10 ** 7)
    assert len(got) == workloads.prime_count(10 ** 7)
    assert got[-3:] == [9999971, 9999973, 9999991]


@pytest.mark.slow
def test_known_prime_count_100_million(optimized_only: None, make_processor: Any,
                                       workloads: Any) -> None:
    got = make_processor(2).parallel_find_primes(10 ** 8)
    assert len(got) == workloads.prime_count(10 ** 8) and got[-1] == 99999989


def test_edges_around_squares_and_the_wheel(forced: Any) -> None:
    # squares of primes (first composites a base prime must strike), the wheel primes
    # 3..13 (struck by the pre-sieved pattern and restored), the wheel period 15015
    limits = {0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 13, 14, 15, 25, 26, 49, 50, 120, 121, 122,
              168, 169, 170, 289, 290, 361, 362, 30030, 30031, 30032, 45045, 2 ** 16 + 1}
    for limit in sorted(limits):
        assert forced.parallel_find_primes(limit) == oracle(limit), limit


def test_numpy_integer_limit_is_accepted(forced: Any) -> None:
    assert forced.parallel_find_primes(np.int64(30)) == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]


def test_pool_splits_into_several_tasks_in_segment_order(optimized_only: None,
                                                         module_processor: Any) -> None:
    p = module_processor(2, execution="pool")
    got = p.parallel_find_primes(200_003)
    assert got == oracle(200_003)
    m = p.last_metrics
    assert m.tasks >= 2 and m.extra["segments"] >= m.tasks
    assert m.extra["segment_odds"] <= primes_ops.SEGMENT_ODDS


# -- hypothesis ----------------------------------------------------------------------------------
@settings(deadline=None, max_examples=60)
@given(limit=st.integers(-5, 5000))
def test_matches_the_oracle(forced: Any, limit: int) -> None:
    assert forced.parallel_find_primes(limit) == oracle(limit)


@settings(deadline=None, max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(i_lo=st.integers(0, 60_000), length=st.integers(1, 3000), seg=st.integers(1, 700))
def test_segments_at_any_offset_and_size(i_lo: int, length: int, seg: int) -> None:
    """The segment kernel alone: any window of odd numbers, cut into any segment size."""
    i_hi = i_lo + length
    base = primes_ops.base_primes(2 * i_hi)
    parts = primes_ops._sieve_segments(base, i_lo, i_hi, seg, np.dtype(np.uint32))
    got = np.concatenate(parts).tolist()
    want = [q for q in oracle(2 * i_hi) if q % 2 and q >= 2 * i_lo + 1]
    assert got == want


def test_single_process_reference_matches_the_oracle() -> None:
    for limit in (-1, 0, 2, 3, 4, 97, 98, 1000, 15015 * 2 + 7):
        assert primes_ops.sieve_single_process(limit) == oracle(limit)


# -- bad input (D2) -------------------------------------------------------------------------------
@pytest.mark.parametrize("limit, message", [
    (1.5, "limit must be an int, got float 1.5"),
    (1e6, "limit must be an int, got float 1000000.0"),
    ("100", "limit must be an int, got str '100'"),
    (None, "limit must be an int, got NoneType None"),
    (True, "limit must be an int, got bool True"),
    (Decimal(10), "limit must be an int, got Decimal"),
    ([100], "limit must be an int, got list"),
])
def test_bad_limit_is_rejected_before_any_work(optimized_only: None, make_processor: Any,
                                               monkeypatch: pytest.MonkeyPatch, limit: Any,
                                               message: str) -> None:
    p = make_processor(2, execution="pool")
    dispatched = refuse_dispatch(monkeypatch, p)
    with pytest.raises(TypeError) as info:
        p.parallel_find_primes(limit)
    assert message in str(info.value)
    assert dispatched == [] and p.last_metrics is None and list(p.metrics_history) == []


def test_negative_and_tiny_limits_dispatch_nothing(forced: Any) -> None:
    for limit in (-10 ** 12, -1, 0, 1, 2):
        assert forced.parallel_find_primes(limit) == []
        assert forced.last_metrics.tasks == 0 and forced.last_metrics.path == "inline"


def test_a_result_too_large_for_memory_is_refused_up_front(optimized_only: None,
                                                           make_processor: Any) -> None:
    p = make_processor(2, execution="pool")
    t0 = time.perf_counter()
    with pytest.raises(MemoryError, match=r"limit=1,000,000,000,000,000,000: the list of primes"):
        p.parallel_find_primes(10 ** 18)
    assert time.perf_counter() - t0 < 1.0 and p.last_metrics is None


# -- failure contract (D11) ----------------------------------------------------------------------
@pytest.fixture
def recorded_segments(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the shared-memory segments the primes module creates during the test."""
    return record_segments(monkeypatch)


def test_timeout_on_the_pool_raises_promptly_and_leaves_nothing(
        optimized_only: None, make_processor: Any, recorded_segments: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the 10**9 result list would need ~2.7 GiB: keep the memory guard out of this test
    monkeypatch.setattr(primes_ops, "_available_memory", lambda: None)
    p = make_processor(2, execution="pool")
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError, match="parallel_find_primes"):
        p.parallel_find_primes(10 ** 9, timeout=0.2)
    elapsed = time.perf_counter() - t0
    assert elapsed < 5.0, f"timeout=0.2 raised only after {elapsed:.2f} s"
    assert len(recorded_segments) == 1  # the base primes were shared ...
    assert [n for n in recorded_segments if (SHM_DIR / n).exists()] == []  # ... and unlinked
    assert not live_segments() & set(recorded_segments)
    assert p.parallel_find_primes(1000) == oracle(1000)  # the processor works afterwards


def test_timeout_inline_is_checked_between_segments(optimized_only: None, make_processor: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(primes_ops, "_available_memory", lambda: None)  # see above
    p = make_processor(2, execution="inline")
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError, match="parallel_find_primes"):
        p.parallel_find_primes(10 ** 9, timeout=0.2)
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.0, f"inline sieve ran {elapsed:.2f} s past a 0.2 s timeout"
    assert p.parallel_find_primes(100) == oracle(100)


# -- R5 gate (both implementations) --------------------------------------------------------------
@pytest.mark.gate
def test_gate_R5_primes_below_one_million_under_500ms(impl: str, make_processor: Any,
                                                       workloads: Any) -> None:
    g = workloads.gate("R5")
    p = make_processor(g.workers, workloads.workloads[g.workload])
    if impl == "optimized":
        p.parallel_find_primes(g.size)  # warm
        times = []
        for _ in range(9):
            t0 = time.perf_counter()
            got = p.parallel_find_primes(g.size)
            times.append(time.perf_counter() - t0)
        secs = statistics.median(times)
    else:
        budget = max(1.0, 3 * g.limit)
        res = run_within(p.parallel_find_primes, (g.size,), budget)
        assert res.finished, (f"R5: primes below {g.size:,} did not finish within its "
                              f"{budget:g} s budget (limit {g.limit:g} s)")
        assert res.error is None, res.error
        secs, got = res.seconds, res.result
    assert len(got) == workloads.prime_count(g.size)
    assert secs < g.limit, f"R5: primes below {g.size:,} took {secs:.3f} s (limit {g.limit:g} s)"


# -- memory of a large result ---------------------------------------------------------------
_PEAK_RESETTABLE = Path("/proc/self/clear_refs").exists()


def _peak_rss_kib() -> int:
    """VmHWM: this process's peak RSS since it started or since the last reset."""
    with open("/proc/self/status", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


@pytest.mark.skipif(not _PEAK_RESETTABLE, reason="needs Linux /proc/self/clear_refs")
def test_parent_memory_of_a_large_call_stays_within_the_documented_estimate(
        optimized_only: None, make_processor: Any, workloads: Any) -> None:
    """The estimate the memory guard refuses limits by bounds what the call really uses.

    At 10**7, the smallest limit the guard checks (peak RSS reset just before the call,
    so only this call's growth counts; pool path, 2 workers).
    """
    limit = primes_ops._MEMORY_CHECK_FROM
    p = make_processor(2, execution="pool")
    p.parallel_find_primes(1000)  # warm: lazy imports are not the call's memory
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")  # VmHWM := current RSS
    base = _peak_rss_kib()
    got = p.parallel_find_primes(limit)
    grown = (_peak_rss_kib() - base) * 1024
    assert len(got) == workloads.prime_count(limit)
    estimate = primes_ops.estimated_result_bytes(limit)
    assert grown <= estimate, (f"primes below {limit:,}: the parent grew {grown / 2**20:.0f} "
                               f"MiB, more than the documented estimate "
                               f"{estimate / 2**20:.0f} MiB")
