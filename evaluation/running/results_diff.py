"""The oracle's answer; is a result the oracle's, and if not, how does it differ - in words.

Shared by the probe (the original at large sizes, :mod:`evaluation.running.probe_child`) and the
grader (any candidate, :mod:`evaluation.grade`): floats agree to 1e-9 relative, NaN
equals NaN, containers element by element.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..workloads import Operation

__all__ = ["oracle", "same", "difference"]


def oracle(op: Operation, args: tuple[Any, ...]) -> Any:
    """``op``'s right answer on ``args``: the optimized processor, in this process."""
    import optimized  # here, not at import: the grader's parent needs it only when judging

    with optimized.OptimizedParallelProcessor(1, execution="inline") as p:
        return getattr(p, op.name)(*args, **dict(op.call))


def same(a: Any, b: Any) -> bool:
    """True if ``a`` is ``b`` up to float rounding (1e-9 relative, NaN == NaN)."""
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (a != a and b != b)
        except TypeError:
            return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def difference(got: Any, want: Any) -> str:
    """What is wrong with ``got``, in words ("the right results in the wrong order", ...)."""
    if isinstance(got, list) and isinstance(want, list):
        if len(got) != len(want):
            return f"{len(got):,} results where {len(want):,} were due (lost or duplicated)"
        if sorted(map(repr, got)) == sorted(map(repr, want)):
            return "the right results in the wrong order"
        bad = [i for i, (a, b) in enumerate(zip(got, want, strict=True)) if not same(a, b)]
        first = bad[0]
        return (f"{len(bad):,} of {len(want):,} results differ from the oracle (first: item "
                f"{first}: {_short(got[first])} where {_short(want[first])} was due)")
    if isinstance(got, dict) and isinstance(want, dict):
        if got.keys() != want.keys():
            missing, extra = sorted(want.keys() - got.keys()), sorted(got.keys() - want.keys())
            return f"keys differ (missing {_short(missing)}, extra {_short(extra)})"
        bad = [k for k in want if not same(got[k], want[k])]
        return f"{len(bad)} of {len(want)} values differ (first: {bad[0]!r}: " \
               f"{_short(got[bad[0]])} where {_short(want[bad[0]])} was due)"
    return f"{_short(got)} where {_short(want)} was due"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
