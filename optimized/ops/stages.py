"""The original pipeline's three stages, as exact batch stages, and the numeric source.

The default stages, the original's ``x*2``, ``x+10`` and ``x*x``, are batch stages
(:func:`~optimized.batches.batch_stage`) with exactly the original's results: on a
float64 batch NumPy performs the same IEEE-754 operation as Python per element; on an
int64 batch it runs only when the batch's bounds prove that no element can overflow,
and otherwise the batch is computed with Python ints (a list comprehension, as on any
list batch). :func:`numeric_source` decides when a pipeline's data may travel as such
an array at all. How stages are applied and how batches travel:
:mod:`optimized.batches`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..batches import RAW_DTYPES, Stage, batch_stage, python_items

__all__ = ["double", "add_ten", "square", "DEFAULT_STAGES", "numeric_source"]

_INT64_MAX = 2 ** 63 - 1


# -- the default stages (the original's three) --------------------------------------------
def _vectorisable(batch: Any, int_bound: int) -> bool:
    """True if NumPy gives the original's result on ``batch`` exactly.

    float64: always (same IEEE operation per element). int64: when every
    ``|x| <= int_bound``, the stage's own no-overflow bound.
    """
    if not isinstance(batch, np.ndarray):
        return False
    if batch.dtype == np.float64 or batch.size == 0:
        return batch.dtype in RAW_DTYPES
    return batch.dtype == np.int64 and int(batch.max()) <= int_bound \
        and int(batch.min()) >= -int_bound


def _numpy(op: np.ufunc, batch: np.ndarray, other: Any) -> np.ndarray:
    """``op(batch, other)``; a float overflow gives inf silently, as in Python."""
    if batch.dtype.kind == "f":  # (an int64 batch passed its bound: it cannot overflow)
        with np.errstate(over="ignore", invalid="ignore"):
            return op(batch, other)
    return op(batch, other)


@batch_stage
def double(batch: Any) -> Any:
    """Stage 1 of the original pipeline, ``x * 2``, on a whole batch.

    Parameters
    ----------
    batch : list or numpy.ndarray
        The items (a 1-D int64/float64 array or a list of numbers).

    Returns
    -------
    list or numpy.ndarray
        ``x * 2`` per item: an array of the same dtype when NumPy is exact for this
        batch, else a list of Python numbers.
    """
    if _vectorisable(batch, _INT64_MAX // 2):
        return _numpy(np.multiply, batch, 2)
    return [x * 2 for x in python_items(batch)]


@batch_stage
def add_ten(batch: Any) -> Any:
    """Stage 2 of the original pipeline, ``x + 10``, on a whole batch.

    Parameters
    ----------
    batch : list or numpy.ndarray
        The items (a 1-D int64/float64 array or a list of numbers).

    Returns
    -------
    list or numpy.ndarray
        ``x + 10`` per item: an array of the same dtype when NumPy is exact for
        this batch, else a list of Python numbers.
    """
    if _vectorisable(batch, _INT64_MAX - 10):
        return _numpy(np.add, batch, 10)
    return [x + 10 for x in python_items(batch)]


@batch_stage
def square(batch: Any) -> Any:
    """Stage 3 of the original pipeline, ``x * x``, on a whole batch.

    Parameters
    ----------
    batch : list or numpy.ndarray
        The items (a 1-D int64/float64 array or a list of numbers).

    Returns
    -------
    list or numpy.ndarray
        ``x * x`` per item: an array of the same dtype when NumPy is exact for this
        batch, else a list of Python numbers.
    """
    if _vectorisable(batch, 3_037_000_499):  # floor(sqrt(2**63 - 1))
        return _numpy(np.multiply, batch, batch)
    return [x * x for x in python_items(batch)]


#: The original's three stages, used when a pipeline is given ``stages=None``.
DEFAULT_STAGES: tuple[Stage, ...] = (double, add_ten, square)

# -- data ------------------------------------------------------------------------------------
def numeric_source(data: Any, converted: np.ndarray | None = None) -> np.ndarray | None:
    """``data`` as an int64 or float64 array holding exactly its items, else None.

    ndarray: bool and integer dtypes -> int64 (None beyond int64), float dtypes ->
    float64 (exact widening). list/tuple/range: only all-int (or bool) items that
    fit int64; a float list stays a list, because NumPy would turn its int items
    into floats (and the original keeps them ints). ``converted``, if given, is
    ``np.asarray(data)`` already made by the caller's validation (not redone).

    Parameters
    ----------
    data : Any
        The pipeline's input data.
    converted : numpy.ndarray, optional
        ``np.asarray(data)`` if the caller already has it (ignored for ndarray
        ``data``).

    Returns
    -------
    numpy.ndarray or None
        A 1-D int64 or float64 array, or None when no such array holds the items
        exactly (or ``data`` cannot be converted at all).
    """
    if isinstance(data, np.ndarray):
        kind = data.dtype.kind
        if data.ndim != 1 or kind not in "biuf":
            return None
        if kind == "u" and data.size and int(data.max()) > _INT64_MAX:
            return None
        return data.astype(np.int64 if kind in "biu" else np.float64)
    try:
        arr = np.asarray(data) if converted is None else converted
    except (ValueError, TypeError, OverflowError):
        return None
    if arr.ndim != 1 or arr.dtype.kind not in "bi":
        return None
    return arr.astype(np.int64, copy=False)
