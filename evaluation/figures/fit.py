"""Power-law fit ``t = a * n**b`` by least squares on log-log axes.

Used where the baseline cannot run at the seed's size (100,000 spawned processes,
10,000 processes for a 100x100 matrix, trial division to 10**6): the report fits the
sizes it did run and shows the extrapolated figure, marked as such, with the fitted
exponent - never a hard-coded number.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["PowerLaw", "FitError", "fit_power_law"]


class FitError(ValueError):
    """The points cannot determine a power law (too few, non-positive, one size only)."""


@dataclass(frozen=True)
class PowerLaw:
    """A fitted ``t = a * n**b``.

    Attributes
    ----------
    a, b : float
        Coefficient and exponent.
    r2 : float
        Coefficient of determination on log-log axes (1.0 for two points).
    n_points : int
        Points used.
    size_range : tuple of int
        Smallest and largest size fitted (extrapolation goes beyond the latter).
    """

    a: float
    b: float
    r2: float
    n_points: int
    size_range: tuple[float, float]

    def predict(self, n: float) -> float:
        """Predicted time at size ``n``."""
        if not n > 0:
            raise ValueError(f"n must be a positive size, got {n!r}")
        return self.a * float(n) ** self.b

    def to_dict(self) -> dict[str, float]:
        """JSON-friendly form."""
        return {"a": self.a, "b": self.b, "r2": self.r2, "n_points": self.n_points,
                "size_min": self.size_range[0], "size_max": self.size_range[1]}


def fit_power_law(sizes: Iterable[float], times: Iterable[float]) -> PowerLaw:
    """Fit ``t = a * n**b`` to measured points by least squares on ``log t`` vs ``log n``.

    Parameters
    ----------
    sizes : iterable of float
        Problem sizes ``n`` (positive).
    times : iterable of float
        Measured times (positive, finite), same length as ``sizes``.

    Returns
    -------
    PowerLaw

    Raises
    ------
    FitError
        Fewer than two points, lengths differ, a non-positive or non-finite value, or
        fewer than two distinct sizes.
    """
    n = np.asarray(list(sizes), dtype=float)
    t = np.asarray(list(times), dtype=float)
    if n.shape != t.shape:
        raise FitError(f"sizes and times differ in length: {n.size} vs {t.size}")
    if n.size < 2:
        raise FitError(f"a power law needs at least 2 points, got {n.size}")
    bad = ~(np.isfinite(n) & np.isfinite(t) & (n > 0) & (t > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise FitError(f"point {i} is not positive and finite: size={n[i]!r}, time={t[i]!r}")
    if np.unique(n).size < 2:
        raise FitError(f"a power law needs at least 2 distinct sizes, got only {n[0]:g}")
    x, y = np.log(n), np.log(t)
    b, log_a = np.polyfit(x, y, 1)
    resid = y - (log_a + b * x)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    # Two points (or identical times) fit exactly; define r2 = 1 there.
    r2 = 1.0 if ss_tot == 0 else 1.0 - float((resid ** 2).sum()) / ss_tot
    return PowerLaw(a=math.exp(log_a), b=float(b), r2=r2, n_points=int(n.size),
                    size_range=(float(n.min()), float(n.max())))
