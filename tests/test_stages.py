"""Pipeline stage functions, in-process: the default batch stages' exactness, mixing
per-item and batch stages, numeric batch sources and the batch transport.

Expected values come from Python arithmetic on Python numbers (the original's
per-item ``x * 2``, ``x + 10``, ``x * x``), never from the implementation.
"""
from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimized import batches
from optimized.batches import apply_stages, as_list, batch_stage, join_batches, pack, unpack
from optimized.ops.stages import DEFAULT_STAGES, add_ten, double, numeric_source, square

INT64_MAX = 2 ** 63 - 1


def original(data: Any) -> list[Any]:
    """The original's three stages, per item, on Python numbers."""
    return [(y := x * 2 + 10) * y for x in data]


def same(got: list[Any], want: list[Any]) -> bool:
    """Equal item by item, including type (int stays int) and NaN in the same places."""
    if len(got) != len(want):
        return False
    for g, w in zip(got, want, strict=True):
        if type(g) is not type(w):
            return False
        if isinstance(w, float) and math.isnan(w):
            if not math.isnan(g):
                return False
        elif g != w:
            return False
    return True


# -- per-item and batch stages used below (module level: picklable) -----------------------
def negate(x: Any) -> Any:
    return -x


def plus_one(x: Any) -> Any:
    return x + 1


@batch_stage
def reverse_batch(batch: Any) -> Any:
    """A batch stage that is NOT per-item: it would scramble results if misapplied."""
    return list(batch)[::-1]


@batch_stage
def drop_one(batch: Any) -> Any:
    return list(batch)[1:]


@batch_stage
def returns_a_dict(batch: Any) -> Any:
    return {i: x for i, x in enumerate(batch)}


# -- default stages: exactly the original's results ------------------------------------------
@pytest.mark.parametrize("values", [
    [0, 1, -1, 7, 10 ** 6],
    [2 ** 53, -(2 ** 53), 2 ** 62 - 1, -(2 ** 62) + 1],       # beyond double's stage bound
    [3_037_000_499, -3_037_000_499, 3_037_000_489],           # square's bound, before and after +10
    [INT64_MAX, -INT64_MAX - 1, INT64_MAX - 10],              # int64's own edges
    [True, False, True],                                       # bools are the ints 0 and 1
])
def test_int64_batches_equal_python_ints_at_every_bound(values: list[int]) -> None:
    batch = np.array(values, dtype=np.int64)
    assert same(as_list(apply_stages(DEFAULT_STAGES, batch)), original([int(v) for v in values]))


@pytest.mark.parametrize("stage, bound", [(double, INT64_MAX // 2), (add_ten, INT64_MAX - 10),
                                          (square, 3_037_000_499)])
def test_each_stage_vectorises_exactly_up_to_its_bound_and_not_beyond(stage: Any,
                                                                     bound: int) -> None:
    inside = np.array([bound, -bound, 0], dtype=np.int64)
    outside = np.array([bound + 1, 0], dtype=np.int64)
    assert isinstance(stage(inside), np.ndarray)  # NumPy: no element can overflow
    beyond = stage(outside)
    assert isinstance(beyond, list)               # Python ints: exact where int64 would wrap
    assert beyond == [original_stage(stage, bound + 1), original_stage(stage, 0)]


def original_stage(stage: Any, x: int) -> int:
    return {"double": x * 2, "add_ten": x + 10, "square": x * x}[stage.__name__]


def test_float_batches_follow_ieee_like_python_floats() -> None:
    values = [0.5, -2.25, 1e-9, 5e-324, 1e154, 1e200, -1e308, math.inf, -math.inf, math.nan, -0.0]
    got = as_list(apply_stages(DEFAULT_STAGES, np.array(values)))
    assert same(got, original(values))  # overflow -> inf and NaN as in Python, no warning


@settings(max_examples=80, deadline=None)
@given(values=st.lists(st.one_of(st.integers(-2 ** 64, 2 ** 64), st.integers(-5000, 5000)),
                       max_size=60))
def test_int_lists_through_numeric_source_equal_the_original(values: list[int]) -> None:
    source = numeric_source(values)
    items = values if source is None else source
    assert same(as_list(apply_stages(DEFAULT_STAGES, items)), original(values))


@settings(max_examples=80, deadline=None)
@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=60))
def test_float_arrays_equal_the_original(values: list[float]) -> None:
    assert same(as_list(apply_stages(DEFAULT_STAGES, np.array(values, dtype=np.float64))),
                original(values))


def test_list_batches_keep_each_items_own_type() -> None:
    values = [1, 2.5, 2 ** 80, -3]
    assert same(as_list(apply_stages(DEFAULT_STAGES, values)), original(values))


# -- mixing per-item and batch stages ------------------------------------------------------------
def test_per_item_and_batch_stages_apply_in_the_given_order() -> None:
    data = [1, 2, 3, 4]
    assert apply_stages([negate, reverse_batch, plus_one], data) == [-3, -2, -1, 0]
    assert as_list(apply_stages([double, negate, plus_one, negate, square],
                                np.array(data))) == [(-(-(x * 2) + 1)) ** 2 for x in data]
    # four per-item stages in a row (composed three at a time) keep their order
    assert apply_stages([negate, plus_one, negate, plus_one], data) == [x for x in data]


def test_per_item_stages_get_python_numbers_from_an_array_batch() -> None:
    seen = apply_stages([type], np.array([1, 2], dtype=np.int64))
    assert seen == [int, int]


@pytest.mark.parametrize("stage, match", [
    (drop_one, r"drop_one must return a list or 1-D ndarray of 3 items .* list of 2 items"),
    (returns_a_dict, r"returns_a_dict must return .* got dict"),
])
def test_a_batch_stage_returning_the_wrong_shape_raises(stage: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        apply_stages([stage], [1, 2, 3])


def test_batch_stage_marks_and_returns_the_same_function() -> None:
    assert batches.is_batch_stage(double) and batches.is_batch_stage(reverse_batch)
    assert not batches.is_batch_stage(negate) and not batches.is_batch_stage(len)
    assert pickle.loads(pickle.dumps(reverse_batch)) is reverse_batch  # still picklable


# -- numeric batch sources ---------------------------------------------------------------------
@pytest.mark.parametrize("data, dtype", [
    ([1, 2, 3], np.int64),
    ([True, 2], np.int64),
    (range(4), np.int64),
    ((INT64_MAX, -INT64_MAX - 1), np.int64),
    (np.array([1, 2], dtype=np.uint8), np.int64),
    (np.array([True]), np.int64),
    (np.array([2 ** 63 - 1], dtype=np.uint64), np.int64),
    (np.array([0.1], dtype=np.float32), np.float64),
    (np.array([0.1]), np.float64),
])
def test_numeric_source_gives_an_exact_int64_or_float64_array(data: Any, dtype: Any) -> None:
    arr = numeric_source(data)
    assert arr is not None and arr.dtype == dtype
    want = data.tolist() if isinstance(data, np.ndarray) else list(data)
    assert arr.tolist() == want  # exact (float32 widens exactly)


@pytest.mark.parametrize("data", [
    [0.5, 1.5],               # a float list may hold ints that must stay ints: kept a list
    [1, 2.5],
    [2 ** 63],                # beyond int64
    [-1, 2 ** 63],
    np.array([2 ** 63], dtype=np.uint64),
    np.zeros((2, 2)),         # not 1-D
    ["a", "b"],
    [1, "a"],
    np.array(["x"]),
    [],                       # float64 by NumPy's default: stays a list (empty either way)
])
def test_numeric_source_refuses_what_an_array_would_change(data: Any) -> None:
    assert numeric_source(data) is None


# -- transport ---------------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [np.arange(5, dtype=np.int64), np.array([0.5, math.inf])])
def test_int64_and_float64_batches_travel_as_raw_bytes_and_come_back_writable(batch: Any) -> None:
    payload = pack(batch)
    assert isinstance(payload, tuple) and payload[1] == batch.tobytes()
    back = unpack(pickle.loads(pickle.dumps(payload)))
    assert back.dtype == batch.dtype and back.tolist() == batch.tolist()
    back[0] = 1  # writable: a user batch stage may work in place


@pytest.mark.parametrize("batch", [[1, "a", (2, 3)], np.array([1, 2], dtype=np.int32),
                                   np.array([[1, 2]], dtype=np.int64)])
def test_other_batches_are_pickled(batch: Any) -> None:
    payload = pack(batch)
    assert isinstance(payload, bytes)
    back = unpack(payload)
    assert type(back) is type(batch) and as_list(back) == as_list(batch)


def test_unpicklable_items_raise_when_packed() -> None:
    with pytest.raises((pickle.PicklingError, TypeError, AttributeError)):
        pack([lambda: 1])


def test_join_batches_keeps_order_across_arrays_and_lists() -> None:
    ints = [np.array([1, 2]), np.array([3])]
    assert join_batches(ints) == [1, 2, 3] and all(type(v) is int for v in join_batches(ints))
    mixed = [np.array([1, 2]), [3, 2 ** 70], np.array([0.5])]
    assert join_batches(mixed) == [1, 2, 3, 2 ** 70, 0.5]
    assert join_batches([]) == []
