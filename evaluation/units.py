"""Quantities as text: seconds in a readable unit, speed-up ratios.

Used wherever a figure becomes words (verdict figures, report tables, the terminal).
"""
from __future__ import annotations

__all__ = ["format_seconds", "format_ratio"]


def format_seconds(s: float) -> str:
    """Seconds in a readable unit.

    Parameters
    ----------
    s : float
        Seconds (NaN for no figure).

    Returns
    -------
    str
        ``4.2 h``, ``1.5 s``, ``12.3 ms``, ``870 us``, or ``n/a`` for NaN.
    """
    if not s == s:
        return "n/a"
    if s >= 3600:
        return f"{s / 3600:.3g} h"
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} us"


def format_ratio(ratio: float) -> str:
    """A speed-up ratio as text.

    Parameters
    ----------
    ratio : float
        Baseline time / optimized time (NaN for none).

    Returns
    -------
    str
        ``1,234x``, ``5.3x``, ``0.27x``; ``-`` for NaN.
    """
    if not ratio == ratio:
        return "-"
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.2g}x"
