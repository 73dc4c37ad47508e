"""Map-family operations: equal to the baseline's semantics on both paths (R1-R3, R8, D2, D7).

Oracles are written here, independently of both implementations: the original kernel
``x*x + sin(x)*cos(x)`` per item, ``math.fsum``, ``statistics``.
"""
from __future__ import annotations

import functools
import math
import operator
import random
import statistics as st_lib
import time
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import optimized
import optimized.call
from baseline import data as baseline_data
from optimized.deadline import Deadline
from optimized.errors import ProcessorTimeoutError
from optimized.ops import mapping as mapping_ops
from tests import kernels
from tests.conftest import refuse_dispatch

PATHS = ["inline", "pool"]
MAP_METHODS = ["process_data_spawn_per_item", "process_with_file_based_ipc",
               "process_with_excessive_queue_ops"]


def kernel(x):
    return x * x + math.sin(x) * math.cos(x)


@pytest.fixture(autouse=True)
def _optimized_only(impl: str) -> None:
    if impl != "optimized":
        pytest.skip("equivalence of the optimized paths; the baseline has its own tests")


@pytest.fixture(scope="module", params=PATHS)
def proc(request, module_processor):
    return module_processor(2, 0.0, execution=request.param)


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e150, max_value=1e150)
numbers = st.lists(st.one_of(st.integers(-10**6, 10**6), finite,
                             st.integers(-2**60, 2**60)), max_size=300)
int_lists = st.lists(st.one_of(st.integers(-10**6, 10**6), st.integers(-2**200, 2**200)), max_size=300)


def assert_close_list(got, want):
    assert type(got) is list and len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert type(g) is float, (i, g)
        assert g == pytest.approx(w, rel=1e-12, abs=1e-300), (i, g, w)


# -- the per-item kernel ----------------------------------------------------------------
@pytest.mark.parametrize("method", MAP_METHODS)
def test_fixed_cases_in_input_order(proc, method) -> None:
    data = optimized.generate_test_data(1000) + [-3, 0, 0.5, -0.6, 2.5e10, 7]
    assert_close_list(getattr(proc, method)(data), [kernel(x) for x in data])


@given(data=numbers)
@settings(max_examples=60, deadline=None)
def test_any_numbers_match_the_kernel(proc, data) -> None:
    assert_close_list(proc.process_data_spawn_per_item(data), [kernel(x) for x in data])


def test_huge_ints_stay_exact_through_python_arithmetic(proc) -> None:
    data = [2**60 + 1, -(2**80), 3, 2**53 + 1]
    assert_close_list(proc.process_data_spawn_per_item(data), [kernel(x) for x in data])


def test_empty_and_single_inputs(proc) -> None:
    assert proc.process_data_spawn_per_item([]) == []
    assert proc.process_with_file_based_ipc([], chunk_size=3) == []
    assert proc.process_with_excessive_queue_ops([]) == []
    assert proc.batch_process_with_manager([]) == []
    assert_close_list(proc.process_data_spawn_per_item([7]), [kernel(7)])


def test_numpy_in_numpy_out(proc) -> None:
    x = np.linspace(-5, 5, 1001)
    out = proc.process_data_spawn_per_item(x)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_allclose(out, [kernel(float(v)) for v in x], rtol=1e-12)


def test_cancellation_near_the_kernels_root_is_still_accurate(proc) -> None:
    # x*x + sin(x)cos(x) crosses zero near x = -0.6: relative error is the risk there
    xs = list(np.nextafter(-0.61837 + np.linspace(-1e-6, 1e-6, 201), 0).tolist())
    assert_close_list(proc.process_data_spawn_per_item(xs), [kernel(x) for x in xs])


def test_batches_concatenate_in_batch_order(proc) -> None:
    batches = [[1, 2, 3], [], [4.5], list(range(-100, 100))]
    want = [kernel(x) for b in batches for x in b]
    assert_close_list(proc.batch_process_with_manager(batches), want)


@given(batches=st.lists(st.lists(st.integers(-10**9, 10**9), max_size=40), max_size=12))
@settings(max_examples=40, deadline=None)
def test_any_batches(proc, batches) -> None:
    assert_close_list(proc.batch_process_with_manager(batches), [kernel(x) for b in batches for x in b])


# -- sum ---------------------------------------------------------------------------------
@given(data=int_lists)
@settings(max_examples=60, deadline=None)
def test_sum_of_ints_is_exact(proc, data) -> None:
    got = proc.parallel_sum_spawn_many(data)
    assert got == sum(data) and type(got) is int


@given(data=st.lists(finite, max_size=300))
@settings(max_examples=60, deadline=None)
def test_sum_of_floats_within_summation_error(proc, data) -> None:
    got = proc.parallel_sum_spawn_many(data, chunk_size=5)
    bound = 1e-12 * math.fsum(abs(x) for x in data) + 1e-300
    assert abs(got - math.fsum(data)) <= bound


def test_sum_known_answer_and_empty(proc, workloads) -> None:
    data = optimized.generate_test_data(100_000)
    assert proc.parallel_sum_spawn_many(data) == workloads.known_answers["sum_1_to_100000"]
    assert proc.parallel_sum_spawn_many([]) == 0


# -- statistics -------------------------------------------------------------------------
@given(data=st.lists(st.one_of(st.integers(-10**9, 10**9), finite), min_size=1, max_size=200))
@example(data=[0, 0, 28793429, -31952284])  # (x - mean) ** 2 != (x - mean) * (x - mean) here
@settings(max_examples=60, deadline=None)
def test_statistics_match_the_baseline_exactly(proc, data) -> None:
    from baseline import UnoptimizedParallelProcessor
    want = UnoptimizedParallelProcessor(2, 0.0).compute_statistics_sequential(list(data))
    assert proc.compute_statistics_sequential(data) == want


def test_statistics_against_the_standard_library(proc) -> None:
    data = [3, 1, 4, 1, 5, 9, 2, 6]
    got = proc.compute_statistics_sequential(data)
    assert got["mean"] == pytest.approx(st_lib.fmean(data), rel=1e-12)
    assert got["variance"] == pytest.approx(st_lib.pvariance(data), rel=1e-12)
    assert got["median"] == st_lib.median(data)


# -- generators ------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 13, 14, 15, 1000])
def test_generators_equal_the_baselines(n) -> None:
    assert optimized.generate_test_data(n) == baseline_data.generate_test_data(n)
    assert optimized.generate_test_text(n) == baseline_data.generate_test_text(n)
    assert optimized.generate_test_matrix(n % 7, n % 5) == baseline_data.generate_test_matrix(n % 7, n % 5)


# -- bad input (D2): clear errors, nothing dispatched -----------------------------------------
@pytest.mark.parametrize("call, exc, match", [
    (lambda p: p.process_data_spawn_per_item([1, "2", 3]), TypeError, r"data\[1\] must be a real number"),
    (lambda p: p.process_data_spawn_per_item("123"), TypeError, "data must be a sequence"),
    (lambda p: p.process_data_spawn_per_item(None), TypeError, "data must be a sequence"),
    (lambda p: p.process_data_spawn_per_item([1, None]), TypeError, r"data\[1\]"),
    (lambda p: p.process_data_spawn_per_item([1.0, float("inf")]), ValueError, r"data\[1\] is inf"),
    (lambda p: p.process_with_file_based_ipc([1], chunk_size=0), ValueError, "chunk_size must be >= 1"),
    (lambda p: p.process_with_file_based_ipc([1], chunk_size=2.5), TypeError, "chunk_size"),
    (lambda p: p.parallel_sum_spawn_many([1, [2]]), TypeError, r"data\[1\]"),
    (lambda p: p.parallel_sum_spawn_many([1], chunk_size=-5), ValueError, "chunk_size"),
    (lambda p: p.compute_statistics_sequential([]), ValueError, "data must not be empty"),
    (lambda p: p.compute_statistics_sequential([1, "x"]), TypeError, r"data\[1\]"),
    (lambda p: p.batch_process_with_manager([[1], [2, "z"]]), TypeError, r"data_batches\[1\]\[1\]"),
    (lambda p: p.batch_process_with_manager(5), TypeError, "data_batches must be a sequence"),
    (lambda p: p.process_data_spawn_per_item(np.array(["a"])), TypeError, "dtype"),
])
def test_bad_input_is_rejected_before_dispatch(proc, monkeypatch, call, exc, match) -> None:
    dispatched = refuse_dispatch(monkeypatch, proc)
    # the in-process path dispatches nothing either way: refuse its kernels too
    for name in ("_kernel_inline", "_sum_left_to_right"):
        monkeypatch.setattr(mapping_ops, name, lambda *a, _n=name: dispatched.append(_n))
    with pytest.raises(exc, match=match):
        call(proc)
    assert dispatched == []


# -- exactness at NumPy's integer limits (D7, D8) ----------------------------------------------
@pytest.mark.parametrize("data", [
    np.full(2000, 2**53, dtype=np.int64),            # the sum passes 2**63: no int64 wrap
    np.array([2**62, 2**62], dtype=np.int64),
    np.array([2**60, 3], dtype=np.int64),            # beyond 2**53: Python arithmetic
    [-1, 2**63], (-1, 2**63), [2**64, -(2**64), 5],  # NumPy would make float64 of these
])
def test_ints_beyond_int64_or_float64_stay_exact(proc, data) -> None:
    values = data.tolist() if isinstance(data, np.ndarray) else list(data)
    total = proc.parallel_sum_spawn_many(data)
    assert total == sum(values) and type(total) is int
    got = proc.process_data_spawn_per_item(data)
    got = got.tolist() if isinstance(got, np.ndarray) else got
    assert got == pytest.approx([kernel(x) for x in values], rel=1e-12)


# -- float sums: math.fsum, a documented decision ------------------------------------------
def test_float_sum_is_correctly_rounded_not_left_to_right(proc) -> None:
    data = [1e16, 1.0, -1e16]
    # A left-to-right IEEE sum (the original's on CPython 3.11; 3.12's sum() compensates)
    # loses the 1.0.
    assert functools.reduce(operator.add, data) == 0.0
    assert proc.parallel_sum_spawn_many(data) == 1.0
    assert proc.parallel_sum_spawn_many(np.array(data)) == 1.0


def test_float_sum_stays_correctly_rounded_when_tasks_cancel_each_other(proc) -> None:
    # Chunks of this list round their partial sums (1e16 * k + 1.0 * j is not a double);
    # only exact partials let the final fsum recover the 300.0 the ones add up to.
    data = [1e16] * 300 + [1.0] * 300 + [-1e16] * 300
    assert math.fsum(data) == 300.0
    assert proc.parallel_sum_spawn_many(data) == 300.0
    assert proc.parallel_sum_spawn_many(np.array(data)) == 300.0


@pytest.mark.parametrize("data, want", [
    ([1e308, 1e308], math.inf),              # math.fsum: OverflowError
    ([1e308, 1e308, -1e308], math.inf),      # sum() overflows on the way, as the original
    ([-1e308, -1e308, 1.0], -math.inf),
    ([math.inf, 1.0], math.inf),
])
def test_float_sum_where_fsum_overflows_gives_sums_answer(proc, data, want) -> None:
    assert sum(data) == want
    assert proc.parallel_sum_spawn_many(data) == want
    assert proc.parallel_sum_spawn_many(np.array(data)) == want


def test_float_sum_of_opposite_infinities_is_nan_like_sum(proc) -> None:
    data = [1.0, math.inf, -math.inf]
    assert math.isnan(sum(data))
    assert math.isnan(proc.parallel_sum_spawn_many(data))
    assert math.isnan(proc.parallel_sum_spawn_many(np.array(data)))


# -- timeouts on the in-process path ----------------------------------------------------------
class SlowFraction(Fraction):
    """A real number whose additions take 1 ms: a slow pass of ``sum`` or ``reduce``."""

    def __add__(self, other):
        time.sleep(0.001)
        return Fraction.__add__(self, other)

    def __radd__(self, other):
        time.sleep(0.001)
        return Fraction.__radd__(self, other)


@pytest.fixture(scope="module")
def inline_latency(module_processor):
    """Forced in-process, 10 ms per item: 200 items are 2 s of work."""
    return module_processor(2, 0.01, execution="inline")


INLINE_SLOW_CALLS = {
    "process_data_spawn_per_item": lambda p: p.process_data_spawn_per_item(list(range(200)), timeout=0.2),
    "process_with_file_based_ipc": lambda p: p.process_with_file_based_ipc(np.arange(200.0), timeout=0.2),
    "process_with_excessive_queue_ops":
        lambda p: p.process_with_excessive_queue_ops(list(range(200)), timeout=0.2),
    "batch_process_with_manager": lambda p: p.batch_process_with_manager([[1, 2]] * 100, timeout=0.2),
    "map": lambda p: p.map(kernels.sleep_then_return, [0.01] * 200, timeout=0.2),
    "parallel_sum_spawn_many list":
        lambda p: p.parallel_sum_spawn_many([SlowFraction(i, 3) for i in range(2000)], timeout=0.2),
    "parallel_sum_spawn_many tuple":
        lambda p: p.parallel_sum_spawn_many(tuple(SlowFraction(i, 3) for i in range(2000)), timeout=0.2),
    "compute_statistics_sequential":
        lambda p: p.compute_statistics_sequential([SlowFraction(i, 3) for i in range(2000)], timeout=0.2),
}


@pytest.mark.parametrize("name", list(INLINE_SLOW_CALLS))
def test_inline_timeout_interrupts_the_work(inline_latency, name) -> None:
    p = inline_latency
    before = p.last_metrics
    t0 = time.perf_counter()
    with pytest.raises(ProcessorTimeoutError) as info:
        INLINE_SLOW_CALLS[name](p)  # about 2 s of work without the checks
    elapsed = time.perf_counter() - t0
    assert isinstance(info.value, TimeoutError) and "timeout=0.2" in str(info.value)
    assert elapsed < 1.5, f"{name}: TimeoutError after {elapsed:.2f} s for timeout=0.2"
    assert p.last_metrics is before  # a timed-out call records no metrics
    assert p.process_data_spawn_per_item([1.0, 2.0], timeout=5) == pytest.approx(
        [kernel(1.0), kernel(2.0)], rel=1e-12)
    assert p.compute_statistics_sequential([3, 1, 2], timeout=5)["median"] == 2


@pytest.fixture
def many_chunks(monkeypatch):
    """Chunks of ~0.1 ms of work (instead of ~20 ms); counts the deadline checks."""
    monkeypatch.setattr(optimized.call, "CHECK_INTERVAL_S", 1e-4)
    checks = []
    real_check = Deadline.check

    def counting_check(self):
        checks.append(1)
        return real_check(self)

    monkeypatch.setattr(Deadline, "check", counting_check)
    return checks


def _varied_floats(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)  # magnitudes over 16 decades: rounding depends on the order
    return [rng.uniform(-1, 1) * 10.0 ** rng.randint(-8, 8) for _ in range(n)]


def test_statistics_in_chunks_stay_bit_identical(inline_proc, many_chunks) -> None:
    data = _varied_floats(50_000, seed=7)
    total = 0
    for x in data:  # the original's loops, written out
        total = total + x
    mean = total / len(data)
    acc = 0
    for x in data:
        acc = acc + (x - mean) * (x - mean)
    ordered = sorted(data)
    median = (ordered[24_999] + ordered[25_000]) / 2
    got = inline_proc.compute_statistics_sequential(data, timeout=60)
    assert len(many_chunks) > 20  # the passes really ran in many chunks
    assert got == {"mean": mean, "variance": acc / len(data), "median": median}


def test_sums_and_maps_in_chunks_equal_the_unchunked_results(inline_proc, many_chunks) -> None:
    floats = _varied_floats(50_000, seed=11)
    ints = [random.Random(5).randint(-2**70, 2**70) for _ in range(20_000)]
    arr = np.array(floats)
    p = inline_proc
    assert p.parallel_sum_spawn_many(floats, timeout=60) == math.fsum(floats)
    assert p.parallel_sum_spawn_many(arr, timeout=60) == math.fsum(floats)
    assert p.parallel_sum_spawn_many(ints, timeout=60) == sum(ints)
    assert p.parallel_sum_spawn_many(tuple(ints), timeout=60) == sum(ints)
    small = np.arange(-10**5, 10**5, dtype=np.int64)
    assert p.parallel_sum_spawn_many(small, timeout=60) == -10**5
    checks_so_far = len(many_chunks)
    assert checks_so_far > 20
    chunked = p.process_data_spawn_per_item(arr, timeout=60)
    assert len(many_chunks) > checks_so_far + 5  # the vector kernel ran in chunks too
    np.testing.assert_array_equal(chunked, p.process_data_spawn_per_item(arr))
    assert p.process_data_spawn_per_item(ints[:2000], timeout=60) == \
        p.process_data_spawn_per_item(ints[:2000])
    assert p.map(abs, ints, timeout=60) == [abs(x) for x in ints]


@pytest.fixture(scope="module")
def inline_proc(module_processor):
    return module_processor(2, 0.0, execution="inline")


# -- the timeout argument itself ------------------------------------------------------------
@pytest.mark.parametrize("bad", ["5", True, False, [1], Fraction(1, 2) + 1j])
def test_timeout_of_the_wrong_type_is_a_type_error(proc, bad) -> None:
    with pytest.raises(TypeError, match="timeout must be a number of seconds"):
        proc.process_data_spawn_per_item([1], timeout=bad)


@pytest.mark.parametrize("bad", [0, -1, -0.5, math.inf, math.nan])
def test_timeout_out_of_range_is_a_value_error(proc, bad) -> None:
    with pytest.raises(ValueError, match="positive, finite"):
        proc.parallel_sum_spawn_many([1], timeout=bad)


def test_timeout_accepts_any_real_number(proc) -> None:
    assert proc.parallel_sum_spawn_many([1, 2], timeout=Fraction(5, 2)) == 3
    assert proc.parallel_sum_spawn_many([1, 2], timeout=np.float64(2.5)) == 3
