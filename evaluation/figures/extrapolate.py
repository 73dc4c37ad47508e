"""One implementation's time at a size it may not have run: measured, extrapolated or refused.

- A size that was run is never extrapolated: its median is the figure, or ``n/a`` when
  that point failed (asv null).
- Where an implementation did not run the reference size (the baseline above
  ``baseline_max``; quick mode's small sizes), the figure is extrapolated with a power
  law ``t = a * n**b`` fitted to every size it did run - only when the fit is
  trustworthy (:func:`extrapolation_refusal`), else ``n/a`` with the reason:

  1. at least two distinct sizes (:class:`~evaluation.figures.fit.FitError` otherwise);
  2. ``b > 0`` (a time falling with size means fixed overheads dominate: no trend);
  3. with three or more points, ``r2 >= MIN_R2`` (0.9) on log-log axes (two points
     always fit exactly, so r2 says nothing there);
  4. beyond ``FAR_REACH`` (10) times the largest size run, ``b >= MIN_FAR_EXPONENT``
     (0.8): every operation's work grows at least linearly with its size, so a flatter
     fit means the sizes run are dominated by fixed overheads, and following it 100x
     further would report the overhead, not the work (quick mode's
     ``764 us at 100,000 items, b=0.08`` was such a figure).
- The baseline is extrapolated differently (D16, :mod:`evaluation.figures.work`): with
  ``t = c0 + c1 * W(n)``, where ``W`` counts the work of the original's own algorithm
  (processes started, trial divisions, bubble-sort comparisons, queue operations),
  fitted to its benchmark sizes and to every larger size the probe saw it finish.
- Every extrapolation is validated by hold-out: fitted without the largest size, it
  must predict that size within ``MAX_HOLDOUT_ERROR`` (50 %); with fewer than three
  sizes there is nothing to hold out and the figure is refused.

Why a figure is what it is travels as a :class:`~evaluation.reasons.Reason`.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..reasons import NONE, Reason
from ..workloads import Operation
from .fit import FitError, PowerLaw, fit_power_law
from .work import fit_work, work_model

__all__ = ["Figure", "figure_at", "extrapolation_refusal", "FAR_REACH", "MIN_FAR_EXPONENT",
           "MIN_R2", "MAX_HOLDOUT_ERROR"]

#: Extrapolation rules (see the module docstring): beyond FAR_REACH x the largest size
#: run, the fitted exponent must be at least MIN_FAR_EXPONENT; fits of 3+ points need
#: r2 >= MIN_R2.
FAR_REACH = 10.0
MIN_FAR_EXPONENT = 0.8
MIN_R2 = 0.9
#: A fit that mispredicts its own largest measured size by more than this is refused.
MAX_HOLDOUT_ERROR = 0.5


@dataclass(frozen=True)
class Figure:
    """One implementation's time at the reference size, measured or extrapolated."""

    seconds: float
    extrapolated: bool
    exponent: float = math.nan
    r2: float = math.nan
    n_points: int = 0
    spread: float = math.nan
    status: str = "ok"
    reason: Reason = field(default=NONE)
    holdout_error: float = math.nan
    model: str = ""


def extrapolation_refusal(law: PowerLaw, size: float) -> Reason:
    """Why ``law`` must not be extrapolated to ``size`` (a falsy reason when it may).

    Parameters
    ----------
    law : PowerLaw
        The fit over the sizes an implementation ran.
    size : float
        The size to extrapolate to (beyond ``law.size_range``).

    Returns
    -------
    Reason
        ``refused-overhead-dominated``, ``refused-poor-fit`` or ``refused-flat-far``
        (the rules of the module docstring), or :data:`~evaluation.reasons.NONE`.
    """
    reach = size / law.size_range[1]
    if law.b <= 0:
        return Reason("refused-overhead-dominated", {"b": law.b})
    if law.n_points >= 3 and law.r2 < MIN_R2:
        return Reason("refused-poor-fit", {"r2": law.r2, "min_r2": MIN_R2})
    if reach > FAR_REACH and law.b < MIN_FAR_EXPONENT:
        return Reason("refused-flat-far", {"b": law.b, "min_b": MIN_FAR_EXPONENT,
                                           "lo": law.size_range[0], "hi": law.size_range[1],
                                           "reach": reach})
    return NONE


def _measured(at: pd.DataFrame) -> Figure | None:
    """The figure of a size that was run (a median, or n/a when it failed); None if not run."""
    ok_at = at[at["status"] == "ok"]
    if not ok_at.empty:
        r = ok_at.iloc[0]
        probed = r.get("source") == "probe"
        return Figure(float(r["median"]), False, spread=float(r["spread"]),
                      reason=Reason("probed") if probed else Reason("measured"))
    if (at["status"] == "failed").any():  # measured, and it failed: never extrapolated
        return Figure(math.nan, False, status="failed", reason=Reason("failed-at-size"))
    return None


def _holdout_error(ok: pd.DataFrame, fit: Callable[[Any, Any], Any] = fit_power_law) -> float:
    """Fit without the largest size, predict it: |predicted - measured| / measured.

    ``fit(sizes, times)`` returns an object with ``predict(size)`` (a power law, or the
    baseline's work model); NaN with fewer than 3 sizes or when the fit is impossible.
    """
    by_size = ok.sort_values("size").drop_duplicates("size", keep="last")
    if len(by_size) < 3:
        return math.nan
    head, last = by_size.iloc[:-1], by_size.iloc[-1]
    try:
        model = fit(head["size"].astype(float), head["median"].astype(float))
    except (FitError, ValueError):
        return math.nan
    measured = float(last["median"])
    return abs(model.predict(float(last["size"])) - measured) / measured


def _holdout_refusal(holdout: float, sizes: int, how: str, of_model: str = "") -> Reason:
    """Refuse a fit its hold-out cannot validate, or one that mispredicts its largest size."""
    if holdout != holdout:
        return Reason("refused-no-holdout", {"of_model": of_model, "sizes": sizes})
    if holdout > MAX_HOLDOUT_ERROR:
        return Reason("refused-holdout", {"error": holdout, "limit": MAX_HOLDOUT_ERROR,
                                          "how": how})
    return NONE


def _work_figure(ok: pd.DataFrame, op: Operation, size: int, status_at: str) -> Figure:
    """``t = c0 + c1 * W(n)`` from the original's work function, validated by hold-out."""
    by_size = ok.sort_values("size").drop_duplicates("size", keep="last")
    sizes, times = by_size["size"].astype(float), by_size["median"].astype(float)
    try:
        fit = fit_work(op, sizes, times)
    except ValueError as exc:
        return Figure(math.nan, False, status=status_at,
                      reason=Reason("refused-fit-error", {"error": str(exc)}))
    holdout = _holdout_error(by_size, lambda n, t: fit_work(op, n, t))
    refusal = _holdout_refusal(holdout, len(by_size), f"t = c0 + c1*W(n), W = {fit.model}",
                               f" of W(n) = {fit.model}")
    if refusal:
        return Figure(math.nan, False, n_points=fit.n_points, status=status_at, reason=refusal,
                      holdout_error=holdout, model=fit.model)
    return Figure(fit.predict(size), True, n_points=fit.n_points, status=status_at,
                  reason=Reason("work-model", {"lo": fit.size_range[0], "hi": fit.size_range[1],
                                               "model": fit.model}),
                  holdout_error=holdout, model=fit.model)


def _power_law_figure(ok: pd.DataFrame, size: int, status_at: str) -> Figure:
    """``t = a * n**b`` over the sizes run, if :func:`extrapolation_refusal` and hold-out allow."""
    try:
        law = fit_power_law(ok["size"].astype(float), ok["median"].astype(float))
    except FitError as exc:
        return Figure(math.nan, False, status=status_at,
                      reason=Reason("refused-fit-error", {"error": str(exc)}))
    holdout = _holdout_error(ok)
    refusal = extrapolation_refusal(law, size) or _holdout_refusal(
        holdout, ok["size"].nunique(), "the power law")
    if refusal:
        return Figure(math.nan, False, law.b, law.r2, law.n_points, status=status_at,
                      reason=refusal, holdout_error=holdout)
    return Figure(law.predict(size), True, law.b, law.r2, law.n_points, status=status_at,
                  reason=Reason("power-law", {"lo": law.size_range[0], "hi": law.size_range[1]}),
                  holdout_error=holdout)


def figure_at(rows: pd.DataFrame, impl: str, size: int, extrapolate: bool = True,
              op: Operation | None = None) -> Figure:
    """Measured median at ``size``, else a trustworthy extrapolation, else n/a with the reason.

    The baseline is extrapolated with its own work function where ``op`` has one
    (:mod:`evaluation.figures.work`); everything else with a power law.

    Parameters
    ----------
    rows : pandas.DataFrame
        One benchmark's rows (every implementation and size).
    impl : str
        The implementation.
    size : int
        The size wanted.
    extrapolate : bool
        False: a size not run is ``not-measured-at-size``.
    op : Operation, optional
        The operation (for the baseline's work model).

    Returns
    -------
    Figure
    """
    mine = rows[rows["impl"] == impl]
    at = mine[mine["size"] == size]
    measured = _measured(at)
    if measured is not None:
        return measured
    status_at = at["status"].iloc[0] if not at.empty else "not in suite"
    if not extrapolate:
        return Figure(math.nan, False, status=status_at, reason=Reason("not-measured-at-size"))
    ok = mine[(mine["status"] == "ok") & mine["size"].notna()]
    if ok.empty:
        code = "no-successful-measurement" if not mine.empty else "not-benchmarked"
        return Figure(math.nan, False, status=status_at, reason=Reason(code))
    if ok["size"].nunique() < 2:
        return Figure(math.nan, False, status=status_at,
                      reason=Reason("refused-one-size", {"size": int(ok["size"].iloc[0])}))
    if impl == "baseline" and op is not None and work_model(op) is not None:
        return _work_figure(ok, op, size, status_at)
    return _power_law_figure(ok, size, status_at)
