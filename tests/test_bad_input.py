"""Bad input as a contract (D2): one table over the constructor and every public method.

Each row names a method, an input class and its documented outcome: either the type
of a result (accepted by design - NaN propagates, bools count as ints as in the
original, a negative prime limit gives ``[]``...) or an exception type plus words its
message must contain. For every row: an error is raised before anything is dispatched
(the backend's ``run``/``submit`` and the shared-memory constructor refuse to be
called), nothing hangs (a 30 s timeout per row), and the processor works afterwards.
The accepted-by-design cases are listed in docs/reliability.md ("Bad input").
"""
from __future__ import annotations

import decimal
import json
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from optimized import OptimizedParallelProcessor
from tests import kernels
from tests.conftest import refuse_dispatch

pytestmark = [pytest.mark.usefixtures("optimized_only"), pytest.mark.timeout(30)]


@dataclass(frozen=True)
class Ok:
    """Accepted: the call returns an instance of ``type``."""

    type: type | tuple[type, ...]


@dataclass(frozen=True)
class Raises:
    """Rejected before any work: ``exc`` whose message contains ``words``."""

    exc: type[BaseException]
    words: str


def _gen() -> Iterator[int]:
    yield 1


class _HoldsALock:
    """A callable that cannot be pickled (it holds a lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def __call__(self, x: Any) -> Any:
        return x


#: Values a "sequence of numbers" argument may be given, by input class.
SEQUENCES: dict[str, Callable[[], Any]] = {
    "None": lambda: None, "empty": lambda: [], "str": lambda: "123", "bytes": lambda: b"12",
    "dict": lambda: {1: 2}, "set": lambda: {1, 2}, "generator": _gen,
    "bools": lambda: [True, False], "nan": lambda: [1.0, math.nan], "inf": lambda: [1.0, math.inf],
    "complex": lambda: [1, 2j], "decimal": lambda: [decimal.Decimal("1.5")],
    "fraction": lambda: [Fraction(1, 3)], "np_scalar": lambda: np.float64(3.0),
    "np_int8": lambda: np.arange(5, dtype=np.int8),
    "np_uint64": lambda: np.array([2**64 - 1, 1], dtype=np.uint64),
    "np_float32": lambda: np.arange(3, dtype=np.float32),
    "np_object": lambda: np.array([1, "a"], dtype=object), "np_2d": lambda: np.ones((2, 2)),
    "np_0d": lambda: np.array(5.0), "beyond_int64": lambda: [2**70], "beyond_float": lambda: [10**400],
    "mixed_int_float": lambda: [1, 2.5, 3], "none_item": lambda: [1, None],
    "str_item": lambda: [1, "2"], "nested": lambda: [[1], [2]], "tuple": lambda: (1.0, 2.0),
    "range": lambda: range(5),
}

_NOT_A_SEQUENCE = Raises(TypeError, "must be a sequence of numbers")
_COMMON: dict[str, Ok | Raises] = {  # outcomes shared by every numeric-sequence method
    "None": _NOT_A_SEQUENCE, "str": Raises(TypeError, "got str"),
    "bytes": Raises(TypeError, "got bytes"), "dict": Raises(TypeError, "got dict"),
    "set": Raises(TypeError, "got set"), "generator": Raises(TypeError, "got generator"),
    "np_scalar": Raises(TypeError, "got float64"),
    "complex": Raises(TypeError, "data[1] must be a real number"),
    "decimal": Raises(TypeError, "data[0] must be a real number"),
    "np_object": Raises(TypeError, "dtype object"),
    "np_2d": Raises(ValueError, "one-dimensional"), "np_0d": Raises(ValueError, "one-dimensional"),
    "none_item": Raises(TypeError, "data[1] must be a real number"),
    "str_item": Raises(TypeError, "data[1] must be a real number"),
    "nested": Raises(TypeError, "data[0] must be a real number"),
}
_MAP = {**_COMMON, "empty": Ok(list), "bools": Ok(list), "nan": Ok(list),
        "inf": Raises(ValueError, "data[1] is inf"), "fraction": Ok(list),
        "np_int8": Ok(np.ndarray), "np_uint64": Ok(np.ndarray), "np_float32": Ok(np.ndarray),
        "beyond_int64": Ok(list), "beyond_float": Raises(OverflowError, "too large"),
        "mixed_int_float": Ok(list), "tuple": Ok(list), "range": Ok(list)}
_NUMBER = (int, float, Fraction)
_SUM = {**_COMMON, **{k: Ok(_NUMBER) for k in (
    "empty", "bools", "nan", "inf", "fraction", "np_int8", "np_uint64", "np_float32",
    "beyond_int64", "beyond_float", "mixed_int_float", "tuple", "range")}}
_STATS = {**_COMMON, **{k: Ok(dict) for k in (
    "bools", "nan", "inf", "fraction", "np_int8", "np_uint64", "np_float32", "beyond_int64",
    "mixed_int_float", "tuple", "range")},
    "empty": Raises(ValueError, "must not be empty"),
    "beyond_float": Raises(OverflowError, "too large for a float")}
_PIPELINE = {**_COMMON, **{k: Ok(list) for k in (
    "empty", "bools", "nan", "inf", "fraction", "np_int8", "np_uint64", "np_float32",
    "beyond_int64", "beyond_float", "mixed_int_float", "tuple", "range")}}

SEQUENCE_METHODS: dict[str, tuple[Callable[[Any, Any], Any], dict[str, Ok | Raises]]] = {
    "process_data_spawn_per_item": (lambda p, d: p.process_data_spawn_per_item(d), _MAP),
    "process_with_file_based_ipc": (lambda p, d: p.process_with_file_based_ipc(d), _MAP),
    "process_with_excessive_queue_ops": (lambda p, d: p.process_with_excessive_queue_ops(d), _MAP),
    "parallel_sum_spawn_many": (lambda p, d: p.parallel_sum_spawn_many(d), _SUM),
    "compute_statistics_sequential": (lambda p, d: p.compute_statistics_sequential(d), _STATS),
    "run_pipeline": (lambda p, d: p.run_pipeline(d), _PIPELINE),
}

Row = tuple[str, str, Callable[[Any], Any], "Ok | Raises"]


def _sequence_rows() -> list[Row]:
    rows: list[Row] = []
    for method, (call, outcomes) in SEQUENCE_METHODS.items():
        assert set(outcomes) == set(SEQUENCES), f"{method}: the table must cover every class"
        for cls, make in SEQUENCES.items():
            rows.append((method, cls, lambda p, c=call, m=make: c(p, m()), outcomes[cls]))
    return rows


def _c(method: str, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
    """``processor.method(*args, **kwargs)``, bound now (a row's call)."""
    return lambda p: getattr(p, method)(*args, **kwargs)


def _A(a: Any) -> Callable[[Any], Any]:
    return lambda p: p.parallel_matrix_multiply(a, [[1], [2]] if _cols(a) == 2 else [[1]])


def _cols(a: Any) -> int:
    try:
        return len(a[0])
    except Exception:
        return 1


#: Rows for the other methods: (method, input class, call, outcome).
OTHER_ROWS: list[Row] = [
    # batch_process_with_manager(data_batches)
    *[("batch_process_with_manager", cls, _c("batch_process_with_manager", v), out)
      for cls, v, out in [
          ("None", None, Raises(TypeError, "sequence of sequences")),
          ("str", "ab", Raises(TypeError, "got str")), ("dict", {1: [1]}, Raises(TypeError, "got dict")),
          ("set", {1}, Raises(TypeError, "got set")), ("ndarray", np.ones((2, 2)), Raises(TypeError, "got ndarray")),
          ("empty", [], Ok(list)), ("empty_batches", [[], []], Ok(list)), ("ragged", [[1], [2, 3]], Ok(list)),
          ("flat", [1, 2], Raises(TypeError, "data_batches[0] must be a sequence")),
          ("str_batch", [[1], "ab"], Raises(TypeError, "data_batches[1]")),
          ("inf", [[1.0], [math.inf]], Raises(ValueError, "data_batches[1][0] is inf")),
          ("none_item", [[1, None]], Raises(TypeError, "data_batches[0][1]")),
          ("complex", [[1j]], Raises(TypeError, "data_batches[0][0]")),
          ("bools", [[True, False]], Ok(list)), ("nan", [[math.nan]], Ok(list)),
          ("beyond_int64", [[2**70]], Ok(list)), ("beyond_float", [[10**400]], Raises(OverflowError, "too large")),
          ("ndarray_batch", [np.arange(3)], Ok(list)), ("generator", _gen(), Raises(TypeError, "got generator")),
          # the batches are checked joined, then one by one only to name the bad item
          ("ndarray_inf", [np.ones(2), np.array([2.0, math.inf])], Raises(ValueError, "data_batches[1][1] is inf")),
          ("ndarray_2d_batch", [[1.0], np.ones((2, 2))], Raises(ValueError, "data_batches[1] must be one-dim")),
          ("object_batch", [np.array([1, 2], dtype=object)], Raises(TypeError, "data_batches[0] must hold")),
          ("late_none", [[1.0]] * 50 + [[2.0, 3.0, None]], Raises(TypeError, "data_batches[50][2]"))]],
    # parallel_matrix_multiply(A, B)
    *[("parallel_matrix_multiply", cls, call, out) for cls, call, out in [
        ("None", _A(None), Raises(TypeError, "A must be a matrix")),
        ("str", _A("12"), Raises(TypeError, "A must be a matrix")),
        ("dict", _A({0: [1]}), Raises(TypeError, "A must be a matrix")),
        ("set", _A({1}), Raises(TypeError, "A must be a matrix")),
        ("generator", _A(_gen()), Raises(TypeError, "A must be a matrix")),
        ("no_rows", _A([]), Raises(ValueError, "A has no rows")),
        ("no_columns", _A([[], []]), Raises(ValueError, "A is 2x0")),
        ("ragged", _A([[1, 2], [3]]), Raises(ValueError, "A is ragged")),
        ("three_d", lambda p: p.parallel_matrix_multiply(np.ones((2, 2, 2)), np.ones((2, 2))),
         Raises(ValueError, "must be a 2-D matrix")),
        ("one_d_array", _A(np.arange(3.0)), Raises(ValueError, "must be a 2-D matrix")),
        ("zero_d_array", _A(np.array(1.0)), Raises(ValueError, "must be a 2-D matrix")),
        ("mismatched", lambda p: p.parallel_matrix_multiply([[1, 2]], [[1, 2]]),
         Raises(ValueError, "A's columns (2) must equal B's rows (1)")),
        ("str_entry", _A([["1"]]), Raises(TypeError, "A[0][0] must be a real number")),
        ("complex_entry", _A([[1j]]), Raises(TypeError, "A[0][0] must be a real number")),
        ("object_array", lambda p: p.parallel_matrix_multiply(np.array([[1, "a"]], dtype=object),
                                                              np.ones((2, 1))),
         Raises(TypeError, "A[0][1] must be a real number")),
        ("bools", _A([[True]]), Ok(list)), ("nan", _A([[math.nan]]), Ok(list)),
        ("beyond_int64", _A([[2**70]]), Ok(list)),
        ("beyond_float_with_floats", _A([[10**400, 1.0]]), Raises(OverflowError, "too large for a float")),
        ("int8_arrays", lambda p: p.parallel_matrix_multiply(np.ones((2, 2), np.int8), np.ones((2, 2), np.int8)),
         Ok(np.ndarray)),
        ("B_None", lambda p: p.parallel_matrix_multiply([[1]], None), Raises(TypeError, "B must be a matrix"))]],
    # parallel_find_primes(limit)
    *[("parallel_find_primes", cls, _c("parallel_find_primes", v), out)
      for cls, v, out in [
          ("None", None, Raises(TypeError, "limit must be an int")),
          ("str", "100", Raises(TypeError, "limit must be an int")),
          ("float", 100.0, Raises(TypeError, "limit must be an int")),
          ("bool", True, Raises(TypeError, "limit must be an int")),
          ("nan", math.nan, Raises(TypeError, "limit must be an int")),
          ("list", [100], Raises(TypeError, "limit must be an int")),
          ("decimal", decimal.Decimal(100), Raises(TypeError, "limit must be an int")),
          ("fraction", Fraction(100), Raises(TypeError, "limit must be an int")),
          ("complex", 100j, Raises(TypeError, "limit must be an int")),
          ("ndarray", np.array([100]), Raises(TypeError, "limit must be an int")),
          ("negative", -5, Ok(list)), ("zero", 0, Ok(list)), ("two", 2, Ok(list)),
          ("np_int64", np.int64(100), Ok(list)), ("huge", 10**30, Raises(MemoryError, "needs about"))]],
    # map_reduce_word_count(text, chunk_size)
    *[("map_reduce_word_count", cls, _c("map_reduce_word_count", v), out)
      for cls, v, out in [
          ("None", None, Raises(TypeError, "text must be a str")),
          ("bytes", b"a b", Raises(TypeError, "text must be a str, got bytes")),
          ("list", ["a"], Raises(TypeError, "text must be a str, got list")),
          ("dict", {"a": 1}, Raises(TypeError, "got dict")), ("int", 5, Raises(TypeError, "got int")),
          ("np_str", np.array(["a b"]), Raises(TypeError, "got ndarray")),
          ("generator", _gen(), Raises(TypeError, "got generator")),
          ("empty", "", Ok(dict)), ("blank", " \t\n", Ok(dict)), ("unicode", "İ ß Σ", Ok(dict))]],
    *[("map_reduce_word_count", f"chunk_size={v!r}",
       _c("map_reduce_word_count", "a b", v), out) for v, out in [
          (0, Raises(ValueError, "chunk_size must be >= 1")), (-1, Raises(ValueError, "chunk_size must be >= 1")),
          (1.5, Raises(TypeError, "chunk_size must be an int")), (True, Raises(TypeError, "chunk_size must be an int")),
          ("10", Raises(TypeError, "chunk_size must be an int")), (None, Raises(TypeError, "chunk_size must be an int")),
          (10**30, Ok(dict))]],
    *[("parallel_sum_spawn_many", f"chunk_size={v!r}",
       _c("parallel_sum_spawn_many", [1, 2], v), out) for v, out in [
          (0, Raises(ValueError, "chunk_size must be >= 1")), (1.5, Raises(TypeError, "chunk_size must be an int")),
          (True, Raises(TypeError, "chunk_size must be an int"))]],
    ("process_with_file_based_ipc", "chunk_size=0", lambda p: p.process_with_file_based_ipc([1], 0),
     Raises(ValueError, "chunk_size must be >= 1")),
    # map(func, items, ...)
    *[("map", cls, call, out) for cls, call, out in [
        ("lambda", lambda p: p.map(lambda x: x, [1, 2]), Ok(list)),  # by value (cloudpickle)
        ("unpicklable_callable", lambda p: p.map(_HoldsALock(), [1, 2]), Raises(TypeError, "cannot pickle '_thread.lock'")),
        ("not_callable", lambda p: p.map(3, [1, 2]), Raises(TypeError, "func must be callable")),
        ("items_None", lambda p: p.map(abs, None), Raises(TypeError, "items must be an iterable of items, got NoneType")),
        ("items_int", lambda p: p.map(abs, 12), Raises(TypeError, "items must be an iterable of items, got int")),
        ("items_str", lambda p: p.map(abs, "12"), Raises(TypeError, "not a str: pass list(items)")),
        ("items_bytes", lambda p: p.map(abs, b"12"), Raises(TypeError, "not a bytes")),
        ("items_dict", lambda p: p.map(abs, {1: 2}), Ok(list)),  # its keys, as Pool.map
        ("items_set", lambda p: p.map(abs, {1, 2}), Ok(list)),
        ("items_generator", lambda p: p.map(abs, _gen()), Ok(list)),  # read into a list first
        ("second_iterable_None", lambda p: p.map(pow, [1], None), Raises(TypeError, "iterables[0] must be an iterable")),
        ("second_iterable_str", lambda p: p.map(pow, [1], "2"), Raises(TypeError, "iterables[0] must be an iterable of items, not a str")),
        ("two_iterables", lambda p: p.map(pow, [1, 2], (3, 4)), Ok(list)),
        ("items_np_0d", lambda p: p.map(abs, np.array(1.0)), Raises(TypeError, "0-d ndarray")),
        ("items_empty", lambda p: p.map(abs, []), Ok(list)),
        ("items_ndarray", lambda p: p.map(abs, np.arange(3)), Ok(list)),
        ("items_mixed", lambda p: p.map(abs, [1, -2.5, Fraction(1, 3), decimal.Decimal(1)]), Ok(list)),
        ("concurrency_unknown", lambda p: p.map(abs, [1], concurrency="fibers"), Raises(ValueError, "concurrency must be one of")),
        ("chunksize_0", lambda p: p.map(abs, [1], chunksize=0), Raises(ValueError, "chunksize must be >= 1")),
        ("chunksize_float", lambda p: p.map(abs, [1], chunksize=1.5), Raises(TypeError, "chunksize must be an int")),
        ("ordered_str", lambda p: p.map(abs, [1], ordered="yes"), Raises(TypeError, "ordered must be True or False")),
        ("cost_negative", lambda p: p.map(abs, [1], cost_per_item_s=-1), Raises(ValueError, "cost_per_item_s")),
        ("cost_nan", lambda p: p.map(abs, [1], cost_per_item_s=math.nan), Raises(ValueError, "cost_per_item_s")),
        ("cost_str", lambda p: p.map(abs, [1], cost_per_item_s="1"), Raises(TypeError, "cost_per_item_s"))]],
    # imap(func, items, ...): rejected when called, before any item is read
    *[("imap", cls, call, out) for cls, call, out in [
        ("generator", lambda p: list(p.imap(abs, _gen())), Ok(list)),
        ("lambda", lambda p: list(p.imap(lambda x: x, [1, 2])), Ok(list)),
        ("unpicklable_callable", lambda p: p.imap(_HoldsALock(), [1, 2]), Raises(TypeError, "cannot pickle '_thread.lock'")),
        ("not_callable", lambda p: p.imap(3, [1, 2]), Raises(TypeError, "func must be callable")),
        ("items_None", lambda p: p.imap(abs, None), Raises(TypeError, "items must be an iterable of items, got NoneType")),
        ("items_str", lambda p: p.imap(abs, "12"), Raises(TypeError, "not a str")),
        ("second_iterable_int", lambda p: p.imap(pow, [1], 2), Raises(TypeError, "iterables[0] must be an iterable")),
        ("chunksize_0", lambda p: p.imap(abs, [1], chunksize=0), Raises(ValueError, "chunksize must be >= 1")),
        ("max_in_flight_0", lambda p: p.imap(abs, [1], max_in_flight=0), Raises(ValueError, "max_in_flight must be >= 1")),
        ("max_in_flight_float", lambda p: p.imap(abs, [1], max_in_flight=2.5), Raises(TypeError, "max_in_flight must be an int")),
        ("ordered_int", lambda p: p.imap(abs, [1], ordered=1), Raises(TypeError, "ordered must be True or False")),
        ("timeout_zero", lambda p: p.imap(abs, [1], timeout=0), Raises(ValueError, "timeout must be a positive")),
        ("timeout_str", lambda p: p.imap(abs, [1], timeout="1"), Raises(TypeError, "timeout must be a number"))]],
    # run_pipeline(data, stages, batch_size, replicas)
    *[("run_pipeline", cls, call, out) for cls, call, out in [
        ("stage_lambda", lambda p: p.run_pipeline([1], [lambda x: x]), Ok(list)),  # by value
        ("stage_unpicklable", lambda p: p.run_pipeline([1], [_HoldsALock()]), Raises(TypeError, "stages[0]")),
        ("stage_unpicklable_named", lambda p: p.run_pipeline([1], [abs, _HoldsALock()]),
         Raises(TypeError, "cannot pickle '_thread.lock'")),
        ("stage_not_callable", lambda p: p.run_pipeline([1], ["x"]), Raises(TypeError, "stages[0] must be a callable")),
        ("second_stage_not_callable", lambda p: p.run_pipeline([1], [abs, 3]), Raises(TypeError, "stages[1]")),
        ("no_stages", lambda p: p.run_pipeline([1], []), Raises(ValueError, "at least one function")),
        ("batch_size_0", lambda p: p.run_pipeline([1], batch_size=0), Raises(ValueError, "batch_size must be >= 1")),
        ("batch_size_float", lambda p: p.run_pipeline([1], batch_size=1.5), Raises(TypeError, "batch_size")),
        ("batch_size_bool", lambda p: p.run_pipeline([1], batch_size=True), Raises(TypeError, "batch_size")),
        ("replicas_zero", lambda p: p.run_pipeline([1], replicas=[0, 1, 1]), Raises(ValueError, "replicas[0]")),
        ("replicas_short", lambda p: p.run_pipeline([1], replicas=[1]), Raises(ValueError, "one count per stage")),
        ("replicas_too_many", lambda p: p.run_pipeline([1], replicas=[5, 5, 5]), Raises(ValueError, "the pool has 2")),
        ("replicas_str", lambda p: p.run_pipeline([1], replicas="111"), Raises(TypeError, "replicas must be")),
        ("replicas_float", lambda p: p.run_pipeline([1], replicas=[1.5, 1, 1]), Raises(TypeError, "replicas[0]")),
        ("user_stage_mixed_items", lambda p: p.run_pipeline(["a", None, 3], [kernels.identity]), Ok(list))]],
    # process_single_item(item)
    *[("process_single_item", cls, _c("process_single_item", v), out)
      for cls, v, out in [
          ("None", None, Raises(TypeError, "item must be a real number")),
          ("str", "1", Raises(TypeError, "item must be a real number")),
          ("list", [1], Raises(TypeError, "item must be a real number")),
          ("complex", 1j, Raises(TypeError, "item must be a real number")),
          ("decimal", decimal.Decimal(1), Raises(TypeError, "item must be a real number")),
          ("ndarray", np.arange(2), Raises(TypeError, "item must be a real number")),
          ("inf", math.inf, Raises(ValueError, "math domain error")),
          ("beyond_float", 10**400, Raises(OverflowError, "too large")),
          ("bool", True, Ok(float)), ("nan", math.nan, Ok(float)), ("fraction", Fraction(1, 3), Ok(float)),
          ("np_scalar", np.float64(2.0), Ok(float)), ("np_0d", np.array(2.0), Ok(float))]],
    # chunk_size(total_items, per_item_cost_s)
    *[("chunk_size", cls, call, out) for cls, call, out in [
        ("negative", lambda p: p.chunk_size(-1), Raises(ValueError, "total_items must be >= 0")),
        ("float", lambda p: p.chunk_size(1.5), Raises(TypeError, "total_items must be an int")),
        ("bool", lambda p: p.chunk_size(True), Raises(TypeError, "total_items must be an int")),
        ("str", lambda p: p.chunk_size("10"), Raises(TypeError, "total_items must be an int")),
        ("cost_nan", lambda p: p.chunk_size(10, math.nan), Raises(ValueError, "per_item_cost_s")),
        ("cost_negative", lambda p: p.chunk_size(10, -1.0), Raises(ValueError, "per_item_cost_s")),
        ("cost_str", lambda p: p.chunk_size(10, "1"), Raises(TypeError, "per_item_cost_s")),
        ("huge", lambda p: p.chunk_size(10**12), Ok(int)), ("np_int", lambda p: p.chunk_size(np.int64(10)), Ok(int))]],
    # the original's worker entry points
    ("find_primes_worker", "str", lambda p: p.find_primes_worker("a", 5), Raises(TypeError, "start must be an int")),
    ("find_primes_worker", "float", lambda p: p.find_primes_worker(1, 5.0), Raises(TypeError, "end must be an int")),
    ("map_reduce_word_count_mapper", "int", lambda p: p.map_reduce_word_count_mapper(5),
     Raises(TypeError, "chunk must be a str")),
]

#: Every timed method, called with a bad ``timeout``.
TIMED: dict[str, Callable[[Any, Any], Any]] = {
    "process_data_spawn_per_item": lambda p, t: p.process_data_spawn_per_item([1.0], timeout=t),
    "process_with_file_based_ipc": lambda p, t: p.process_with_file_based_ipc([1.0], timeout=t),
    "process_with_excessive_queue_ops": lambda p, t: p.process_with_excessive_queue_ops([1.0], timeout=t),
    "compute_statistics_sequential": lambda p, t: p.compute_statistics_sequential([1.0], timeout=t),
    "parallel_sum_spawn_many": lambda p, t: p.parallel_sum_spawn_many([1], timeout=t),
    "batch_process_with_manager": lambda p, t: p.batch_process_with_manager([[1]], timeout=t),
    "parallel_matrix_multiply": lambda p, t: p.parallel_matrix_multiply([[1]], [[1]], timeout=t),
    "parallel_find_primes": lambda p, t: p.parallel_find_primes(10, timeout=t),
    "map_reduce_word_count": lambda p, t: p.map_reduce_word_count("a", timeout=t),
    "run_pipeline": lambda p, t: p.run_pipeline([1], timeout=t),
    "map": lambda p, t: p.map(abs, [1], timeout=t),
}
_BAD_TIMEOUTS = [("str", "5", TypeError), ("bool", True, TypeError), ("list", [1], TypeError),
                 ("zero", 0, ValueError), ("negative", -1, ValueError), ("nan", math.nan, ValueError),
                 ("inf", math.inf, ValueError), ("beyond_float", 10**400, ValueError)]
TIMEOUT_ROWS: list[Row] = [
    (method, f"timeout_{cls}", (lambda c, v: lambda p: c(p, v))(call, value), Raises(exc, "timeout"))
    for method, call in TIMED.items() for cls, value, exc in _BAD_TIMEOUTS]

ROWS = _sequence_rows() + OTHER_ROWS + TIMEOUT_ROWS


@pytest.fixture(scope="module")
def proc(module_processor: Callable[..., Any]) -> Any:
    return module_processor(2)


@pytest.fixture
def refuse_work(monkeypatch: pytest.MonkeyPatch, proc: Any) -> list[str]:
    """Make every way of dispatching work fail loudly; returns what was attempted."""
    return refuse_dispatch(monkeypatch, proc)


@pytest.mark.parametrize(("method", "cls", "call", "outcome"), ROWS,
                         ids=[f"{m}-{c}" for m, c, _, _ in ROWS])
def test_bad_input_contract(request: pytest.FixtureRequest, proc: Any, method: str, cls: str,
                            call: Callable[[Any], Any], outcome: Ok | Raises,
                            record_property: Any) -> None:
    if isinstance(outcome, Raises):
        attempted = request.getfixturevalue("refuse_work")
        with pytest.raises(outcome.exc) as info:
            call(proc)
        assert outcome.words in str(info.value), f"{method}({cls}): {info.value!r}"
        assert attempted == [], f"{method}({cls}) dispatched {attempted} before rejecting"
        request.getfixturevalue("monkeypatch").undo()
    else:
        got = call(proc)
        assert isinstance(got, outcome.type), f"{method}({cls}) returned {type(got).__name__}"
    assert proc.process_data_spawn_per_item([2.0]) == [4.0 + math.sin(2.0) * math.cos(2.0)]
    record_property("reliability", json.dumps({"kind": "bad_input", "method": method, "input": cls,
                                               "outcome": type(outcome).__name__}))


_CTOR_ROWS: list[tuple[str, dict[str, Any], Ok | Raises]] = [
    ("num_workers_zero", {"num_workers": 0}, Raises(ValueError, "num_workers must be >= 1")),
    ("num_workers_negative", {"num_workers": -1}, Raises(ValueError, "num_workers must be >= 1")),
    ("num_workers_float", {"num_workers": 1.5}, Raises(TypeError, "num_workers must be an int")),
    ("num_workers_bool", {"num_workers": True}, Raises(TypeError, "num_workers must be an int")),
    ("num_workers_str", {"num_workers": "4"}, Raises(TypeError, "num_workers must be an int")),
    ("num_workers_huge", {"num_workers": 10**6}, Raises(ValueError, "num_workers must be <= 1024")),
    ("num_workers_beyond_int64", {"num_workers": 10**30}, Raises(ValueError, "num_workers must be <= 1024")),
    ("latency_negative", {"item_latency_s": -1}, Raises(ValueError, "item_latency_s must be finite and >= 0")),
    ("latency_nan", {"item_latency_s": math.nan}, Raises(ValueError, "item_latency_s")),
    ("latency_inf", {"item_latency_s": math.inf}, Raises(ValueError, "item_latency_s")),
    ("latency_str", {"item_latency_s": "0"}, Raises(TypeError, "item_latency_s must be a number")),
    ("latency_bool", {"item_latency_s": True}, Raises(TypeError, "item_latency_s must be a number")),
    ("latency_beyond_float", {"item_latency_s": 10**400}, Raises(ValueError, "too large for a float")),
    ("execution_unknown", {"execution": "fast"}, Raises(ValueError, "execution must be one of")),
    ("start_method_unknown", {"start_method": "thread"}, Raises(ValueError, "start_method must be one of")),
    ("batch_size_zero", {"pipeline_batch_size": 0}, Raises(ValueError, "pipeline_batch_size must be >= 1")),
    ("batch_size_float", {"pipeline_batch_size": 1.5}, Raises(TypeError, "pipeline_batch_size")),
    ("queue_depth_zero", {"pipeline_queue_depth": 0}, Raises(ValueError, "pipeline_queue_depth")),
    ("threshold_negative", {"matmul_parallel_threshold": -1}, Raises(ValueError, "matmul_parallel_threshold")),
    ("verbose_str", {"verbose": "yes"}, Raises(TypeError, "verbose must be True or False")),
    ("progress_int", {"progress": 1}, Raises(TypeError, "progress must be True or False")),
    ("np_int_workers", {"num_workers": np.int64(1)}, Ok(OptimizedParallelProcessor)),
]


@pytest.mark.parametrize(("cls", "kwargs", "outcome"), _CTOR_ROWS, ids=[r[0] for r in _CTOR_ROWS])
def test_constructor_contract(monkeypatch: pytest.MonkeyPatch, cls: str, kwargs: dict[str, Any],
                              outcome: Ok | Raises, record_property: Any) -> None:
    args = {"num_workers": 1, **kwargs}
    if isinstance(outcome, Raises):
        from optimized.backends import local
        started: list[str] = []
        monkeypatch.setattr(local, "ProcessPoolExecutor",
                            lambda *a, **k: started.append("pool") or pytest.fail("pool started"))
        with pytest.raises(outcome.exc) as info:
            OptimizedParallelProcessor(**args)
        assert outcome.words in str(info.value), f"{cls}: {info.value!r}"
        assert started == [], f"{cls}: a pool was started before the error"
    else:
        with OptimizedParallelProcessor(**args) as p:
            assert isinstance(p, outcome.type)
            assert p.parallel_sum_spawn_many([1, 2]) == 3
    record_property("reliability", json.dumps({"kind": "bad_input", "method": "__init__",
                                               "input": cls, "outcome": type(outcome).__name__}))
