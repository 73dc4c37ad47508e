"""Docstring pieces shared by the processor's methods: one wording, kept in one place.

A method's docstring names a piece on a line of its own, ``{{name}}``, indented as
the piece should be; :func:`fill_doc` replaces that line with the piece's lines.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["fill_doc", "PIECES"]

F = TypeVar("F", bound=Callable[..., object])

PIECES: dict[str, str] = {
    # -- parameters -------------------------------------------------------------------
    "map_data": """\
data : sequence of int/float, or 1-D numeric ndarray
    Finite real numbers (NaN passes through as NaN; bools count as 0/1).""",
    "timeout": """\
timeout : float, optional
    Seconds (a positive, finite int or float); None: no limit. On the pool
    the busy workers are killed on expiry.""",
    "map_timeout": """\
timeout : float, optional
    Seconds (a positive, finite int or float); None: no limit. On the pool
    the busy workers are killed on expiry; in-process, the deadline is
    checked between chunks of about 20 ms of work. Validating ``data`` (one
    C-level pass) happens first and is not interrupted.""",
    # -- returns ----------------------------------------------------------------------
    "map_returns": """\
list of float or numpy.ndarray
    One value per item, in input order; a float64 ndarray for ndarray input.""",
    # -- raises -----------------------------------------------------------------------
    "map_input_errors": """\
TypeError
    ``data`` is not a sequence (a str is rejected), an item is not a real
    number (the message names its index), an ndarray has a non-numeric
    dtype, or ``timeout`` is not a number.
ValueError
    An item is infinite (as the original's ``math.sin`` would), ``data`` is a
    multi-dimensional array, or ``timeout`` <= 0 or non-finite.
OverflowError
    An int item too large for a float (``math.sin`` cannot take it either).""",
    "map_overflow": """\
OverflowError
    An int item too large for a float (``math.sin`` cannot take it either).""",
    "call_errors": """\
ProcessorTimeoutError
    ``timeout`` expired (a :class:`TimeoutError`); the processor stays usable.
WorkerCrashedError
    A worker died during the call; the pool was restarted.
ProcessorClosedError
    The processor is closed.""",
}


def fill_doc(func: F) -> F:
    """Replace each ``{{name}}`` line of ``func.__doc__`` by :data:`PIECES` [name].

    Parameters
    ----------
    func : callable
        A function whose docstring may name pieces.

    Returns
    -------
    callable
        ``func`` itself, its docstring filled in.

    Raises
    ------
    KeyError
        The docstring names a piece that does not exist.
    """
    lines: list[str] = []
    for line in (func.__doc__ or "").splitlines():
        name = line.strip()
        if name.startswith("{{") and name.endswith("}}"):
            indent = line[:len(line) - len(line.lstrip())]
            lines.extend(indent + piece for piece in PIECES[name[2:-2]].splitlines())
        else:
            lines.append(line)
    func.__doc__ = "\n".join(lines)
    return func
