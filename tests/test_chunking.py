"""Chunk sizing (R2) and the inline-vs-pool cost model (D4), on their boundaries."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimized.chunking import (
    MIN_ITEMS_PER_CHUNK,
    Cost,
    balanced_bounds,
    choose_path,
    chunk_bounds,
    chunk_size,
    split_bounds,
)


@pytest.mark.parametrize("total, workers, expected", [
    (0, 4, 1), (1, 4, 1), (15, 4, 1), (16, 4, 1), (17, 4, 1), (32, 4, 2),
    (399, 4, 24),            # 399 < 100 * 4: the formula alone, max(1, 399 // 16)
    (400, 4, 100),           # 400 >= 100 * 4: at least 100 items per task
    (1600, 4, 100), (1616, 4, 101), (100_000, 4, 6250), (100_000, 1, 25_000),
    (10, 1, 2), (100, 1, 100), (99, 1, 24),
])
def test_chunk_size_follows_r2(total: int, workers: int, expected: int) -> None:
    assert chunk_size(total, workers) == expected


@given(total=st.integers(0, 10**7), workers=st.integers(1, 64),
       cost=st.one_of(st.none(), st.floats(1e-9, 1.0)))
@settings(max_examples=300, deadline=None)
def test_chunk_size_invariants(total: int, workers: int, cost: float | None) -> None:
    size = chunk_size(total, workers, cost)
    assert size >= max(1, total // (workers * 4))
    if total >= MIN_ITEMS_PER_CHUNK * workers:
        assert size >= MIN_ITEMS_PER_CHUNK
    if cost is not None and total >= workers:
        # a known cost never makes tasks so large that a worker is left with nothing
        assert size <= max(-(-total // workers), MIN_ITEMS_PER_CHUNK, total // (workers * 4))


def test_cheap_items_get_bigger_chunks_than_the_formula() -> None:
    assert chunk_size(100_000, 4, 1e-8) > chunk_size(100_000, 4)
    assert chunk_size(100_000, 4, 1e-8) <= 25_000  # still one task per worker at least
    assert chunk_size(2000, 4, 1e-3) == 125          # expensive items: the formula


@pytest.mark.parametrize("total, workers, exc", [
    (-1, 4, ValueError), (10, 0, ValueError), (10, -2, ValueError),
    (True, 4, TypeError), (10, 2.5, TypeError), ("10", 4, TypeError)])
def test_chunk_size_rejects_bad_arguments(total, workers, exc) -> None:
    with pytest.raises(exc, match="total|num_workers"):
        chunk_size(total, workers)


@given(total=st.integers(0, 5000), size=st.integers(1, 700))
def test_chunk_bounds_cover_everything_once(total: int, size: int) -> None:
    bounds = chunk_bounds(total, size)
    covered = [i for lo, hi in bounds for i in range(lo, hi)]
    assert covered == list(range(total))
    assert all(hi - lo <= size for lo, hi in bounds)


@given(total=st.integers(0, 5000), parts=st.integers(1, 70))
def test_split_bounds_near_equal(total: int, parts: int) -> None:
    bounds = split_bounds(total, parts)
    assert [i for lo, hi in bounds for i in range(lo, hi)] == list(range(total))
    if bounds:
        lens = [hi - lo for lo, hi in bounds]
        assert max(lens) - min(lens) <= 1 and len(bounds) <= parts


@given(total=st.integers(0, 20_000), size=st.integers(1, 700), workers=st.integers(1, 16))
@settings(max_examples=300, deadline=None)
def test_balanced_bounds_give_every_worker_the_same_rounds(total: int, size: int,
                                                           workers: int) -> None:
    bounds = balanced_bounds(total, size, workers)
    assert [i for lo, hi in bounds for i in range(lo, hi)] == list(range(total))
    plain = chunk_bounds(total, size)
    if len(plain) <= workers:  # at most one task each: nothing to balance
        assert bounds == plain
    else:
        lens = [hi - lo for lo, hi in bounds]
        assert len(bounds) % workers == 0 and len(bounds) <= len(plain)
        assert min(lens) >= size and max(lens) - min(lens) <= 1  # R2's minimum still holds


def test_balanced_bounds_at_the_latency_rows() -> None:
    # 300 items in R2's tasks of 18 are 17 tasks: one worker of 4 runs a fifth round.
    assert len(chunk_bounds(300, 18)) == 17
    assert [hi - lo for lo, hi in balanced_bounds(300, 18, 4)] == [19] * 12 + [18] * 4
    assert [hi - lo for lo, hi in balanced_bounds(1000, 100, 4)] == [125] * 8


def test_cost_model_prefers_inline_for_cheap_work_and_pool_for_slow_work() -> None:
    assert choose_path(100_000, Cost(cpu_s=3e-8), 4, cores=2) == "inline"
    assert choose_path(2000, Cost(wait_s=1e-3), 4, cores=2) == "pool"
    assert choose_path(10, Cost(wait_s=1e-5), 4, cores=2) == "inline"
    assert choose_path(0, Cost(cpu_s=1.0), 4) == "inline"
    assert choose_path(10**6, Cost(cpu_s=1e-3), 1) == "inline"  # one worker cannot win


def test_forced_modes_override_the_model() -> None:
    assert choose_path(1, Cost(cpu_s=1e-9), 4, "pool") == "pool"
    assert choose_path(10**6, Cost(cpu_s=1.0), 4, "inline") == "inline"
