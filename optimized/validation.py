"""Input checks shared by every operation (D2): fail before any work is dispatched.

Messages name the argument, the offending index or shape, and what was expected.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["check_num_workers", "check_positive_int", "check_sequence", "NumericInput",
           "numeric_input", "check_text", "check_int_limit", "check_worker_limit",
           "check_flag", "check_seconds", "check_iterable", "MAX_WORKERS"]

#: Largest magnitude at which every integer is exactly a float64.
_EXACT_FLOAT_INT = 2 ** 53


def check_num_workers(num_workers: Any, name: str = "num_workers") -> int:
    """A worker count: a positive int (bool rejected).

    Parameters
    ----------
    num_workers : Any
        The value to check (any ``numbers.Integral``, e.g. ``numpy.int64``, is accepted).
    name : str, default "num_workers"
        Argument name for error messages.

    Returns
    -------
    int
        ``num_workers`` as a plain ``int``.

    Raises
    ------
    TypeError
        ``num_workers`` is not an integer, or is a bool.
    ValueError
        ``num_workers`` < 1.
    """
    if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral):
        raise TypeError(f"{name} must be an int >= 1, got {type(num_workers).__name__} "
                        f"{num_workers!r}")
    if num_workers < 1:
        raise ValueError(f"{name} must be >= 1, got {num_workers!r}")
    return int(num_workers)


#: Most worker processes one processor may start: far more than one machine's cores
#: can use, and few enough that a typo (``num_workers=10**6``) fails before any work.
MAX_WORKERS = 1024
#: File descriptors the parent holds per worker (sentinel, pipeline channel, queues),
#: measured at about 4.2 on Linux; rounded up.
_FDS_PER_WORKER = 6


def check_worker_limit(num_workers: int, name: str = "num_workers") -> int:
    """A worker count this machine can start: at most :data:`MAX_WORKERS` and within
    the open-file limit (each worker costs the parent a few file descriptors).

    Parameters
    ----------
    num_workers : int
        A count already checked by :func:`check_num_workers`.
    name : str, default "num_workers"
        Argument name for error messages.

    Returns
    -------
    int
        ``num_workers``, unchanged.

    Raises
    ------
    ValueError
        Too many workers (the message gives the limit and why).
    """
    import resource

    if num_workers > MAX_WORKERS:
        raise ValueError(f"{name} must be <= {MAX_WORKERS} (each worker is a process), "
                         f"got {num_workers:,}")
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    need = 64 + _FDS_PER_WORKER * num_workers
    if soft != resource.RLIM_INFINITY and need > soft:
        raise ValueError(f"{name}={num_workers} needs about {need} open files, but this "
                         f"process may open {soft} (RLIMIT_NOFILE; raise it with `ulimit -n`)")
    return num_workers


def check_flag(value: Any, name: str) -> bool:
    """A bool option (``verbose=``, ``ordered=``): no truthy strings or numbers.

    Raises
    ------
    TypeError
        ``value`` is not a bool.
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def check_iterable(value: Any, name: str) -> Iterator[Any]:
    """An iterator over ``value``'s items (``map``/``imap`` input), never over a string's.

    Parameters
    ----------
    value : iterable
        A list, tuple, range, ndarray, generator, file, dict (its keys), set...
    name : str
        The argument's name, for the error.

    Returns
    -------
    iterator

    Raises
    ------
    TypeError
        ``value`` is not iterable, or is a ``str``/``bytes``/``bytearray``: mapping over
        a string's characters is almost always a mistake (a file name, one line), so
        it must be asked for explicitly (``list(text)``).
    """
    if isinstance(value, (str, bytes, bytearray)):
        raise TypeError(f"{name} must be an iterable of items, not a {type(value).__name__}: "
                        f"pass list({name}) to map over its characters")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        raise TypeError(f"{name} must be an iterable of items, got a 0-d ndarray (a scalar)")
    try:
        return iter(value)
    except TypeError:
        raise TypeError(f"{name} must be an iterable of items, got {type(value).__name__}"
                        ) from None


def check_seconds(value: Any, name: str, *, optional: bool = True) -> float | None:
    """A finite, non-negative number of seconds (None allowed when ``optional``).

    Raises
    ------
    TypeError
        Not a real number (bools and strings rejected).
    ValueError
        Negative, infinite, NaN, or too large for a float.
    """
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number of seconds{' or None' if optional else ''}, "
                        f"got {type(value).__name__} {value!r:.60}")
    try:
        seconds = float(value)
    except OverflowError:
        raise ValueError(f"{name} is too large for a float: {value!r:.40}") from None
    if not 0 <= seconds < math.inf:  # NaN fails both comparisons
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return seconds


def check_positive_int(value: Any, name: str) -> int:
    """A positive int parameter such as ``chunk_size``.

    Parameters
    ----------
    value : Any
        The value to check.
    name : str
        Argument name for error messages.

    Returns
    -------
    int
        ``value`` as a plain ``int`` (>= 1).

    Raises
    ------
    TypeError
        ``value`` is not an integer, or is a bool.
    ValueError
        ``value`` < 1.
    """
    return check_num_workers(value, name)


def check_sequence(data: Any, name: str) -> None:
    """A sized, indexable collection (list, tuple, range, 1-D ndarray).

    Only the container is checked, not its items.

    Parameters
    ----------
    data : Any
        The value to check.
    name : str
        Argument name for error messages.

    Raises
    ------
    ValueError
        ``data`` is an ndarray that is not one-dimensional.
    TypeError
        ``data`` is a ``str`` or ``bytes``, or not a ``collections.abc.Sequence``.
    """
    if isinstance(data, np.ndarray):
        if data.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got an array of shape {data.shape}")
        return
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        raise TypeError(f"{name} must be a sequence of numbers (list, tuple or 1-D ndarray), "
                        f"got {type(data).__name__}")


class NumericInput:
    """Validated numbers, in the form the kernels want.

    Built by :func:`numeric_input`, which does the checking; the constructor checks
    nothing.

    Parameters
    ----------
    values : sequence
        The caller's data, as given.
    array : numpy.ndarray or None
        ``values`` as an exact 1-D numeric array, or None (see ``array`` below).
    all_int : bool
        Every item is an integer.

    Attributes
    ----------
    n : int
        Number of items.
    array : numpy.ndarray or None
        The values as an array that float64 arithmetic represents exactly; None
        when only Python arithmetic is exact (ints beyond 2**53, Fractions).
    is_ndarray : bool
        NumPy in -> NumPy out (D7).
    all_int : bool
        Every item is an integer (so sums stay exact ints).
    """

    def __init__(self, values: Any, array: np.ndarray | None, all_int: bool) -> None:
        self._values = values
        self.array = array
        self.n = len(values)
        self.is_ndarray = isinstance(values, np.ndarray)
        self.all_int = all_int

    def python_values(self) -> list[Any]:
        """The items as Python numbers (exact: NumPy ints would wrap at 2**63).

        Returns
        -------
        list
            A new list of the items (``tolist()`` for an ndarray).
        """
        return self._values.tolist() if self.is_ndarray else list(self._values)


def _bad_item(data: Sequence[Any], name: str) -> None:
    for i, x in enumerate(data):
        if not isinstance(x, (numbers.Real, np.bool_)):
            raise TypeError(f"{name}[{i}] must be a real number (int or float), got "
                            f"{type(x).__name__} {x!r}")


def _as_array(data: Sequence[Any]) -> np.ndarray | None:
    """``data`` as a 1-D numeric array holding exactly its values, else None."""
    try:
        arr = np.asarray(data)
    except (OverflowError, ValueError, TypeError):
        return None
    if arr.ndim != 1 or arr.dtype.kind not in "biuf":
        return None
    if arr.dtype.kind == "b":
        return arr.astype(np.int64)  # bools are ints, as in Python arithmetic
    if arr.dtype.kind == "f" and arr.size and float(np.abs(arr).max()) >= _EXACT_FLOAT_INT \
            and any(isinstance(x, int) and abs(x) > _EXACT_FLOAT_INT for x in data):
        return None  # NumPy made float64 of big ints (e.g. [-1, 2**63]): not exact
    return arr


def _first_inf(arr: np.ndarray | None, data: Sequence[Any]) -> int | None:
    if arr is not None:
        if arr.dtype.kind != "f":
            return None
        bad = np.flatnonzero(np.isinf(arr))
        return int(bad[0]) if bad.size else None
    return next((i for i, x in enumerate(data) if isinstance(x, float) and math.isinf(x)), None)


def numeric_input(data: Any, name: str = "data", *, finite: bool = False) -> NumericInput:
    """Validate a sequence of real numbers.

    Parameters
    ----------
    data : sequence of int/float, or 1-D numeric ndarray
        The numbers to check (list, tuple, range, or an ndarray of bool, int,
        unsigned or float dtype).
    name : str, default "data"
        Argument name for messages.
    finite : bool, default False
        Reject inf (the baseline's ``math.sin(inf)`` raises ValueError). NaN is
        always accepted.

    Returns
    -------
    NumericInput
        The data plus, when float64/int arithmetic on it is exact, an array form.

    Raises
    ------
    TypeError
        ``data`` is not a sequence (or is a str/bytes), an ndarray's dtype is not
        numeric, or an item is not a real number (bools count as the ints 0 and 1,
        as in Python arithmetic and the baseline).
    ValueError
        ``data`` is an ndarray that is not one-dimensional, or ``finite`` and an
        item is infinite.
    """
    check_sequence(data, name)
    arr: np.ndarray | None
    if isinstance(data, np.ndarray):
        if data.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold ints or floats, got an array of dtype {data.dtype}")
        arr = data.astype(np.int64) if data.dtype.kind == "b" else data
    else:
        arr = _as_array(data)
        if arr is None:
            _bad_item(data, name)  # raises for the first non-number
    all_int = arr.dtype.kind in "iu" if arr is not None else all(
        isinstance(x, numbers.Integral) for x in data)
    if arr is not None and arr.dtype.kind in "iu" and arr.size and (
            int(arr.max()) > _EXACT_FLOAT_INT or int(arr.min()) < -_EXACT_FLOAT_INT):
        arr = None  # float64 would round these ints: exact Python path
    if finite:
        bad = _first_inf(arr, data.tolist() if isinstance(data, np.ndarray) else data)
        if bad is not None:
            raise ValueError(f"{name}[{bad}] is {float(data[bad])!r}: math.sin/cos are undefined "
                             "there (the baseline raises ValueError too)")
    return NumericInput(data, arr, all_int)


def check_text(text: Any, name: str = "text") -> str:
    """Word-count input: a ``str``.

    Parameters
    ----------
    text : Any
        The value to check.
    name : str, default "text"
        Argument name for error messages.

    Returns
    -------
    str
        ``text`` unchanged.

    Raises
    ------
    TypeError
        ``text`` is not a ``str`` (``bytes`` included).
    """
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    return text


def check_int_limit(limit: Any, name: str = "limit") -> int:
    """An integer bound (bool rejected; negative allowed).

    Parameters
    ----------
    limit : Any
        The value to check (any ``numbers.Integral``).
    name : str, default "limit"
        Argument name for error messages.

    Returns
    -------
    int
        ``limit`` as a plain ``int``.

    Raises
    ------
    TypeError
        ``limit`` is not an integer, or is a bool.
    """
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(limit).__name__} {limit!r}")
    return int(limit)
