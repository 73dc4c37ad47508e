"""parallel_matrix_multiply: exact results, both paths, bad input, failure contract, R4 gate.

Oracles are written here: a pure-Python triple loop with Python ints (exact), and for
floats an exact ``Fraction`` dot product with the classical rounding bound of a
length-``m`` dot product, ``|computed - exact| <= (m + 1) * 2**-52 * sum|a*b|`` - a
bound the original's left-to-right loop meets as well as any BLAS order does.

Optimized-only tests run on processors forced to each path (``execution="inline"``
and ``"pool"``, 2 workers) and skip under ``--impl=baseline``; the fixed small cases
and the R4 gate run on both implementations (the baseline's gate run inside a time
budget, :mod:`tests.budget`).

Speed against plain NumPy is measured by the asv suite (``benchmarks/bench_matrix.py``),
not here: the only timed test is the seed's gate.
"""
from __future__ import annotations

import math
import os
import statistics
import time
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from evaluation.inputs import build_args
from optimized.ops import matrix as matrix_ops
from optimized.shm import live_segments
from tests.budget import run_within
from tests.conftest import SHM_DIR, record_segments, refuse_dispatch

OP = "parallel_matrix_multiply"


# -- oracles ------------------------------------------------------------------------------
def triple_loop(A: list[list[Any]], B: list[list[Any]]) -> list[list[Any]]:
    """The original's arithmetic: ``sum_k A[i][k] * B[k][j]`` in Python (exact for ints)."""
    m = len(B)
    return [[sum((A[i][k] * B[k][j] for k in range(m)), 0) for j in range(len(B[0]))]
            for i in range(len(A))]


def assert_float_product(got: list[list[float]], A: list[list[Any]], B: list[list[Any]]) -> None:
    """Every entry is a float within the dot-product rounding bound of the exact value."""
    m = len(B)
    assert len(got) == len(A) and all(len(row) == len(B[0]) for row in got)
    for i, row in enumerate(got):
        for j, x in enumerate(row):
            assert type(x) is float, f"C[{i}][{j}] is {type(x).__name__}, expected float"
            exact = sum(Fraction(A[i][k]) * Fraction(B[k][j]) for k in range(m))
            scale = sum(abs(Fraction(A[i][k]) * Fraction(B[k][j])) for k in range(m))
            err = abs(Fraction(x) - exact)
            assert err <= (m + 1) * Fraction(1, 2 ** 52) * scale + Fraction(1, 2 ** 1000), (
                f"C[{i}][{j}] = {x!r}, exact {float(exact)!r}, error {float(err):.3g}")


def assert_int_product(got: list[list[Any]], A: list[list[Any]], B: list[list[Any]]) -> None:
    """Exactly the triple loop's Python ints (not numpy ints, not floats)."""
    want = triple_loop(A, B)
    assert got == want
    for i, row in enumerate(got):
        for j, x in enumerate(row):
            assert type(x) is int, f"C[{i}][{j}] is {type(x).__name__}, expected int"


def is_int_matrix(M: list[list[Any]]) -> bool:
    return all(isinstance(x, int) for row in M for x in row)


# -- fixed cases on both implementations ----------------------------------------------------
def test_small_int_case_matches_the_triple_loop(processor: Any) -> None:
    A = [[1, -2], [3, 4], [0, 5]]
    B = [[2, 0, -1, 7], [1, 3, 5, -2]]
    got = processor.parallel_matrix_multiply(A, B)
    assert_int_product(got, A, B)
    assert got == [[0, -6, -11, 11], [10, 12, 17, 13], [5, 15, 25, -10]]


def test_small_float_case_matches_the_exact_product(processor: Any) -> None:
    A = [[0.5, -1.25], [3.0, 1e-3]]
    B = [[2.0, 0.1], [4.0, -0.3]]
    got = processor.parallel_matrix_multiply(A, B)
    assert_float_product(got, A, B)


# -- known answers and kernels on both forced paths -------------------------------------------
def test_100x100_known_answer(forced: Any, workloads: Any) -> None:
    import optimized
    A, B = build_args(workloads.operations[OP], 100, optimized)
    got = forced.parallel_matrix_multiply(A, B)
    corner = workloads.known_answers["matrix_100_corner"]
    assert got[corner["i"]][corner["j"]] == corner["value"]
    # closed form of generate_test_matrix: C[i][j] = (i+1)(j+1) * sum_k (k+1)^2
    s = sum((k + 1) ** 2 for k in range(100))
    assert got == [[(i + 1) * (j + 1) * s for j in range(100)] for i in range(100)]
    assert all(type(x) is int for row in got for x in row)
    m = forced.last_metrics
    assert m.path == forced.execution and m.extra["kernel"] == "int-via-float64"
    assert m.items == 100 * 100


@pytest.mark.parametrize("A, B, kernel", [
    ([[2 ** 26]], [[2 ** 27]], "int-via-float64"),          # bound exactly 2**53: still exact
    ([[2 ** 53 + 1]], [[1]], "int64"),                      # float64 would round this to 2**53
    ([[2 ** 30, 3], [1, 2]], [[2 ** 30, 1], [5, 7]], "int64"),
    ([[-(2 ** 40) - 5, 2 ** 41 + 3]], [[2 ** 20 - 1], [-(2 ** 19)]], "int64"),  # 2+ digits
    ([[1, 1]], [[2 ** 60], [1]], "int64"),                  # no room for a digit: int matmul
    ([[2 ** 62, 2 ** 62]], [[2], [2]], "object"),           # int64 would overflow (2**65)
    ([[-2 ** 63, 1]], [[-1], [0]], "object"),               # -(-2**63) does not fit in int64
    ([[2 ** 70, -1], [3, 2 ** 64]], [[1, 2 ** 65], [-(2 ** 66), 7]], "object"),
    ([[True, False], [True, True]], [[1, 2], [3, 4]], "int-via-float64"),
    # NumPy turns these lists into float64 (no common int type): read as exact ints
    ([[1]], [[0, 2 ** 63 + 1]], "object"),
    ([[-1, 2 ** 63]], [[1], [1]], "object"),
])
def test_integer_kernels_are_exact(forced: Any, A: list, B: list, kernel: str) -> None:
    got = forced.parallel_matrix_multiply(A, B)
    assert_int_product(got, A, B)
    assert forced.last_metrics.extra["kernel"] == kernel


@st.composite
def int64_operands(draw: Any) -> tuple[np.ndarray, np.ndarray]:
    """int64 matrices of any bit widths whose exact product fits int64 (the kernel's bound)."""
    n, m, p = (draw(st.integers(1, 5)) for _ in range(3))
    bits_a, bits_b = draw(st.integers(0, 62)), draw(st.integers(0, 62))
    ints = lambda bits: st.integers(-(2 ** bits), 2 ** bits - 1)  # noqa: E731 - a one-line strategy factory
    a = np.array(draw(st.lists(st.lists(ints(bits_a), min_size=m, max_size=m),
                               min_size=n, max_size=n)), dtype=np.int64)
    b = np.array(draw(st.lists(st.lists(ints(bits_b), min_size=p, max_size=p),
                               min_size=m, max_size=m)), dtype=np.int64)
    bound = max(1, int(np.abs(a.astype(object)).max())) * \
        max(1, int(np.abs(b.astype(object)).max())) * m
    assume(bound < 2 ** 63)
    return a, b


@settings(deadline=None, max_examples=150)
@given(ops=int64_operands())
def test_digit_split_int_matmul_is_exact(ops: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = ops
    got = matrix_ops.int_matmul(a, b)
    assert got.dtype == np.int64
    assert got.tolist() == (a.astype(object) @ b.astype(object)).tolist()


def test_fractions_use_exact_python_arithmetic(forced: Any) -> None:
    A = [[Fraction(1, 3), 2], [Fraction(-5, 7), 0]]
    B = [[3, Fraction(1, 2)], [Fraction(1, 9), 1]]
    got = forced.parallel_matrix_multiply(A, B)
    assert got == triple_loop(A, B)
    assert got[0][0] == Fraction(11, 9) and isinstance(got[0][0], Fraction)
    assert forced.last_metrics.extra["kernel"] == "object"


def test_huge_float_entries_stay_floats(forced: Any) -> None:
    A = [[1e19, -2.0 ** 70], [3.5, 1.0]]
    got = forced.parallel_matrix_multiply(A, [[1.0], [1.0]])
    assert_float_product(got, A, [[1.0], [1.0]])
    assert forced.last_metrics.extra["kernel"] == "float64"


def test_mixed_int_and_float_lists_give_floats(forced: Any) -> None:
    A = [[1, 2.5], [3, 4]]
    B = [[2, 1], [1, 0]]
    got = forced.parallel_matrix_multiply(A, B)
    assert got == [[4.5, 1.0], [10.0, 3.0]]
    assert all(type(x) is float for row in got for x in row)
    assert forced.last_metrics.extra["kernel"] == "float64"


@pytest.mark.parametrize("dtype, out_dtype", [(np.int32, np.int64), (np.int64, np.int64),
                                               (np.uint8, np.int64), (np.bool_, np.int64),
                                               (np.float32, np.float64), (np.float64, np.float64)])
def test_ndarray_in_gives_ndarray_out(forced: Any, dtype: Any, out_dtype: Any) -> None:
    rng = np.random.default_rng(7)
    a = (rng.integers(0, 50, (5, 3)) if dtype is not np.bool_ else rng.integers(0, 2, (5, 3)))
    b = (rng.integers(0, 50, (3, 4)) if dtype is not np.bool_ else rng.integers(0, 2, (3, 4)))
    A, B = a.astype(dtype), b.astype(dtype)
    got = forced.parallel_matrix_multiply(A, B)
    assert isinstance(got, np.ndarray) and got.dtype == out_dtype and got.shape == (5, 4)
    np.testing.assert_array_equal(got, a.astype(np.int64) @ b.astype(np.int64))
    got[0, 0] = -1  # the caller owns the result: not a view of a (released) shared segment
    assert got.flags.writeable and got.base is None


def test_one_ndarray_operand_gives_ndarray_out(forced: Any) -> None:
    got = forced.parallel_matrix_multiply(np.array([[1, 2], [3, 4]]), [[5], [6]])
    assert isinstance(got, np.ndarray)
    np.testing.assert_array_equal(got, [[17], [39]])


def test_int_ndarray_beyond_int64_gives_exact_object_array(forced: Any) -> None:
    A = np.array([[2 ** 62, 2 ** 62]], dtype=np.int64)
    got = forced.parallel_matrix_multiply(A, np.array([[4], [4]]))
    assert got.dtype == object and got[0, 0] == 2 ** 65 and type(got[0, 0]) is int


def test_non_finite_floats_propagate_like_python(forced: Any) -> None:
    got = forced.parallel_matrix_multiply([[math.inf, 1.0]], [[1.0], [2.0]])
    assert got == [[math.inf]]
    nan = forced.parallel_matrix_multiply([[math.nan, 1.0]], [[1.0], [2.0]])
    assert math.isnan(nan[0][0])


@pytest.mark.parametrize("blas, cores, expected", [
    (2, 2, "inline"),  # this machine: NumPy's BLAS already uses every core
    (1, 2, "pool"),    # a single-threaded BLAS: the workers' cores win
    (2, 8, "pool"),    # more cores behind the backend (a cluster) than the BLAS uses
])
def test_auto_pools_a_large_product_only_where_the_workers_can_win(
        optimized_only: None, make_processor: Any, monkeypatch: pytest.MonkeyPatch,
        blas: int, cores: int, expected: str) -> None:
    p = make_processor(4, 0.0, matmul_parallel_threshold=64)
    monkeypatch.setattr(matrix_ops, "blas_threads", lambda: blas)
    monkeypatch.setattr(p._backend, "cores", cores)
    a = np.arange(80 * 70, dtype=np.float64).reshape(80, 70)
    b = np.ones((70, 30))
    assert np.array_equal(p.parallel_matrix_multiply(a, b), a @ b)
    assert p.last_metrics.path == expected and p.last_metrics.extra["blas_threads"] == blas
    small = p.parallel_matrix_multiply(a[:10, :10], b[:10, :10])  # below the threshold
    assert p.last_metrics.path == "inline" and small.shape == (10, 10)


def test_blas_threads_reads_the_loaded_blas() -> None:
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):
        assert matrix_ops.blas_threads() == 1


def test_row_blocks_cover_every_row_once(forced: Any) -> None:
    blocks = min(2, os.cpu_count() or 1)  # one per worker, at most one per core
    # more workers than rows, a prime row count, and a 1-row matrix: every block boundary
    for n in (1, 2, 3, 7):
        A = [[i * 10 + k for k in range(4)] for i in range(n)]
        B = [[k - j for j in range(3)] for k in range(4)]
        assert_int_product(forced.parallel_matrix_multiply(A, B), A, B)
        if forced.execution == "pool":
            assert forced.last_metrics.extra["row_blocks"] == min(n, blocks)
            assert forced.last_metrics.tasks == min(n, blocks)


# -- hypothesis: equivalence with the oracles -------------------------------------------------
FINITE = dict(allow_nan=False, allow_infinity=False)
ELEMENTS = {
    "small ints": st.integers(-100, 100),
    "ints to 2**40": st.integers(-2 ** 40, 2 ** 40),
    "ints to 2**80": st.integers(-2 ** 80, 2 ** 80),
    "floats": st.floats(-1e6, 1e6, **FINITE),
    "ints and floats": st.one_of(st.integers(-1000, 1000), st.floats(-1e3, 1e3, **FINITE)),
}


@st.composite
def matrix_pairs(draw: Any) -> tuple[list[list[Any]], list[list[Any]]]:
    el = ELEMENTS[draw(st.sampled_from(sorted(ELEMENTS)))]
    n, m, p = (draw(st.integers(1, 6)) for _ in range(3))
    A = draw(st.lists(st.lists(el, min_size=m, max_size=m), min_size=n, max_size=n))
    B = draw(st.lists(st.lists(el, min_size=p, max_size=p), min_size=m, max_size=m))
    return A, B


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(pair=matrix_pairs())
def test_matches_the_oracles(forced: Any, pair: tuple[list, list]) -> None:
    A, B = pair
    got = forced.parallel_matrix_multiply(A, B)
    if is_int_matrix(A) and is_int_matrix(B):
        assert_int_product(got, A, B)
    else:
        assert_float_product(got, A, B)


@settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(pair=matrix_pairs())
def test_ndarray_results_equal_list_results(forced: Any, pair: tuple[list, list]) -> None:
    A, B = pair
    a, b = np.array(A), np.array(B)
    # NumPy itself turns e.g. [[0], [2**63 + 1]] into float64: the processor then gets
    # other numbers, or a float matrix where the lists hold ints ([[0], [2**63 + 2**62]]
    # gets float arithmetic, the lists exact ints). Only inputs NumPy keeps exactly, and
    # of the same kind, compare.
    for M, arr in ((A, a), (B, b)):
        assume(arr.tolist() == M and (arr.dtype.kind in "iu" or not is_int_matrix(M)))
    as_list = forced.parallel_matrix_multiply(A, B)
    arrays = forced.parallel_matrix_multiply(a, b)
    assert isinstance(arrays, np.ndarray)
    assert arrays.tolist() == as_list


# -- bad input (D2): clear error, nothing dispatched --------------------------------------------
SIX = [[1, 2], [3, 4], [5, 6]]  # 3x2


@pytest.mark.parametrize("A, B, exc, message", [
    ([], SIX, ValueError, "A has no rows"),
    (SIX, [], ValueError, "B has no rows"),
    ([[]], SIX, ValueError, "A is 1x0: its rows are empty"),
    (SIX, [[], []], ValueError, "B is 2x0: its rows are empty"),
    ([[1, 2], [3], [4, 5]], [[1], [2]], ValueError, "A is ragged: row 1 has 1 entries"),
    (SIX, [[1, 2], [3, 4, 5]], ValueError, "B is ragged: row 1 has 3 entries but row 0 has 2"),
    ([[1, 2], [3, "x"]], [[1], [2]], TypeError,
     "A[1][1] must be a real number (int or float), got str 'x'"),
    ([[1, None]], [[1], [2]], TypeError,
     "A[0][1] must be a real number (int or float), got NoneType None"),
    ([[1, 2j]], [[1], [2]], TypeError,
     "A[0][1] must be a real number (int or float), got complex 2j"),
    (SIX, [[1, 2], [Fraction(1), [3]]], TypeError, "B[1][1] must be a real number"),
    ([1, 2, 3], SIX, TypeError, "A[0] must be a row (a list of numbers), got int 1"),
    (["ab", "cd"], SIX, TypeError, "A[0] must be a row"),
    ("abc", SIX, TypeError, "A must be a matrix: a list of rows"),
    (None, SIX, TypeError, "A must be a matrix"),
    (SIX, {1: 2}, TypeError, "B must be a matrix"),
    (np.zeros(3), SIX, ValueError, "A must be a 2-D matrix, got an array of shape (3,)"),
    (np.zeros((2, 3, 4)), SIX, ValueError,
     "A must be a 2-D matrix, got an array of shape (2, 3, 4)"),
    (np.zeros((0, 2)), SIX, ValueError, "A has no rows"),
    (SIX, np.zeros((2, 0)), ValueError, "B is 2x0"),
    (np.array([["a", "b"]]), SIX, TypeError,
     "A must hold real numbers (ints or floats), got an array of dtype <U1"),
    (np.ones((1, 2), dtype=complex), SIX, TypeError, "got an array of dtype complex128"),
    ([[1, 2]], [[1, 2, 3, 4]] * 3, ValueError,
     "A is 1x2 but B is 3x4: A's columns (2) must equal B's rows (3)"),
    ([[1, 2, 3]] * 3, [[1, 2]] * 2, ValueError,
     "A is 3x3 but B is 2x2: A's columns (3) must equal B's rows (2)"),
])
def test_bad_input_is_rejected_before_any_work(optimized_only: None, make_processor: Any,
                                               monkeypatch: pytest.MonkeyPatch, A: Any, B: Any,
                                               exc: type, message: str) -> None:
    p = make_processor(2, execution="pool")
    dispatched = refuse_dispatch(monkeypatch, p)
    before = p.last_metrics
    with pytest.raises(exc) as info:
        p.parallel_matrix_multiply(A, B)
    assert message in str(info.value)
    assert dispatched == [] and p.last_metrics is before and list(p.metrics_history) == []


@pytest.mark.parametrize("A, B, shapes", [
    ([], SIX, "(A: 0 rows; B: 3x2)"),
    ([[1, 2], [3], [4, 5]], [[1], [2]], "(A: 3x1-2 (ragged); B: 2x1)"),
    (SIX, [[], []], "(A: 3x2; B: 2x0)"),
    (np.zeros((0, 2)), np.ones((2, 5)), "(A: array of shape (0, 2); B: array of shape (2, 5))"),
])
def test_shape_errors_name_both_operands_shapes(optimized_only: None, processor: Any, A: Any,
                                                B: Any, shapes: str) -> None:
    with pytest.raises(ValueError) as info:
        processor.parallel_matrix_multiply(A, B)
    assert str(info.value).endswith(shapes)


# -- failure contract on the pooled path (D11) -------------------------------------------------
@pytest.fixture
def recorded_segments(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the shared-memory segments the matrix module creates during the test."""
    return record_segments(monkeypatch)


def test_timeout_on_the_pool_raises_promptly_and_leaves_nothing(
        optimized_only: None, make_processor: Any, recorded_segments: list[str]) -> None:
    p = make_processor(2, execution="pool")
    a = np.random.default_rng(1).random((1500, 1500))
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError, match="parallel_matrix_multiply"):
        p.parallel_matrix_multiply(a, a, timeout=0.05)
    elapsed = time.perf_counter() - t0
    assert elapsed < 5.0, f"timeout=0.05 raised only after {elapsed:.2f} s"
    assert len(recorded_segments) == 3  # A, B and the output were shared ...
    assert [n for n in recorded_segments if (SHM_DIR / n).exists()] == []  # ... and unlinked
    assert not live_segments() & set(recorded_segments)
    assert p.parallel_matrix_multiply([[1, 2]], [[3], [4]]) == [[11]]  # usable again
    np.testing.assert_allclose(p.parallel_matrix_multiply(a[:50], a[:, :7]), a[:50] @ a[:, :7])


# -- R4 gate (both implementations) ------------------------------------------------------------
@pytest.mark.gate
def test_gate_R4_matrix_100x100_under_10ms(impl: str, impl_module: Any, make_processor: Any,
                                           workloads: Any) -> None:
    g = workloads.gate("R4")
    A, B = build_args(workloads.operations[OP], g.size, impl_module)
    p = make_processor(g.workers, workloads.workloads[g.workload])
    corner = workloads.known_answers["matrix_100_corner"]
    if impl == "optimized":
        p.parallel_matrix_multiply(A, B)  # warm
        times = []
        for _ in range(21):
            t0 = time.perf_counter()
            got = p.parallel_matrix_multiply(A, B)
            times.append(time.perf_counter() - t0)
        secs = statistics.median(times)
    else:
        budget = max(1.0, 5 * g.limit)
        res = run_within(p.parallel_matrix_multiply, (A, B), budget)
        assert res.finished, (f"R4: {g.size}x{g.size} did not finish within its {budget:g} s "
                              f"budget (limit {g.limit * 1e3:g} ms)")
        assert res.error is None, res.error
        secs, got = res.seconds, res.result
    assert got[corner["i"]][corner["j"]] == corner["value"]
    assert secs < g.limit, (f"R4: {g.size}x{g.size} took {secs * 1e3:.2f} ms "
                            f"(limit {g.limit * 1e3:g} ms)")


