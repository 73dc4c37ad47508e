"""Benchmark targets: ratios of asv medians from one run (or ``track_`` values) vs their limits.

Each target of ``instances/workloads.json`` (``benchmark_targets``) names a numerator
point and one or more denominator points (the smaller of several, "the better of").
A verdict is ``met``, ``NOT met`` or ``not measured``; a target that is not measured
says why with a :class:`~evaluation.reasons.Reason`, and a ``NOT met`` one its
``known_limit`` when the instances state one. The verdicts are informational: they do
not change the exit code.
"""
from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from ..reasons import NONE, Reason
from ..units import format_seconds
from ..workloads import BenchmarkTarget, BenchSelector, Workloads

__all__ = ["target_verdicts", "TARGET_COLUMNS", "TARGET_VERDICTS"]

#: Columns of :func:`target_verdicts`.
TARGET_COLUMNS = ["target", "text", "measured", "figure", "comparison", "limit",
                  "verdict", "reason", "reason_details", "note", "numerator", "denominator"]
#: The verdicts of a benchmark target.
TARGET_VERDICTS = ("met", "NOT met", "not measured")
_COMPARE = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
#: Why quick mode judges no benchmark target (measured: a 100x100 matmul ratio of 0.7 in
#: full runs came out at 8 from single quick-mode samples).
_QUICK_SAMPLES = "one asv sample per benchmark, too noisy for a verdict"


def _point(bench: pd.DataFrame, sel: BenchSelector, quick: bool) -> tuple[float, Reason]:
    """The median of one selected asv point, or NaN and why there is none."""
    rows = bench[bench["benchmark"] == sel.benchmark]
    if rows.empty:
        return math.nan, Reason("benchmark-missing", {"point": _short(sel)})
    params = rows["params"].map(lambda s: json.loads(s) if isinstance(s, str) else {})
    hit = rows[params.map(lambda p: all(p.get(k) == v for k, v in sel.params.items()))]
    if hit.empty:
        return math.nan, _not_run(sel, list(params), quick)
    if len(hit) > 1:  # an under-specified selector must not pick a point at random
        return math.nan, Reason("point-ambiguous", {"selector": sel.describe(),
                                                    "count": len(hit)})
    status = hit.iloc[0]["status"]
    if status != "ok":
        code = {"failed": "point-failed", "skipped": "point-skipped"}.get(status, "point-failed")
        return math.nan, Reason(code, {"selector": sel.describe()})
    return float(hit.iloc[0]["median"]), NONE


def _not_run(sel: BenchSelector, params: list[dict[str, Any]], quick: bool) -> Reason:
    """Why no point of the benchmark has the selected parameters: the values it did run."""
    missing = []
    for key, want in sel.params.items():
        have = {p.get(key) for p in params}
        if want not in have:
            ran = ", ".join(_param_text(v) for v in sorted(have, key=lambda v: (str(type(v)), v)))
            missing.append(f"{key}={_param_text(want)} not run (this run: {ran})")
    return Reason("point-not-run", {
        "point": _short(sel), "missing": "; ".join(missing) or f"no point with {sel.describe()}",
        "quick": " - quick mode runs smaller sizes" if quick else ""})


def _short(sel: BenchSelector) -> str:
    return ".".join(sel.benchmark.split(".")[-2:])


def _param_text(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _measure(bench: pd.DataFrame, target: BenchmarkTarget,
             quick: bool) -> tuple[float, str, Reason]:
    """``(figure, figure text, reason)`` of one target; NaN and the reason when not measured."""
    num, why = _point(bench, target.numerator, quick)
    if target.kind == "track":
        return num, ("" if why else f"{num:.3g}"), why
    dens = [_point(bench, d, quick) for d in target.denominator]
    reasons = [r for r in [why] + [r for _, r in dens] if r]
    if reasons:
        texts = list(dict.fromkeys(r.text() for r in reasons))
        return math.nan, "", reasons[0] if len(texts) == 1 else Reason(
            "points-missing", {"reasons": "; ".join(texts), "codes": [r.code for r in reasons]})
    values = [v for v, _ in dens]
    den = min(values)
    ratio = num / den
    den_text = format_seconds(den)
    if len(values) > 1:  # "the better of": name which one it was
        best = target.denominator[values.index(den)]
        den_text = f"min(...) = {den_text} [{', '.join(f'{k}={v}' for k, v in best.params.items())}]"
    return ratio, f"{ratio:.3g} = {format_seconds(num)} / {den_text}", NONE


def target_verdicts(bench: pd.DataFrame, workloads: Workloads, mode: str = "full") -> pd.DataFrame:
    """Judge every benchmark target of the instances on one run's asv results.

    Parameters
    ----------
    bench : pandas.DataFrame
        From :func:`~evaluation.figures.bench.load_results` (may be empty).
    workloads : Workloads
        ``benchmark_targets``: what to measure, the comparison and the limit.
    mode : str
        The run's mode (``full``, ``quick``, ...). In quick mode every target is
        ``not measured`` (asv takes one sample per benchmark; a target with
        ``full_run_only`` also runs at a smaller setting); its figure, if any, is
        still shown, and a missing size is explained as quick mode's.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TARGET_COLUMNS`, one row per target in instance order:
        ``measured`` (the ratio or track value, NaN when not measured), ``figure``
        (how it was computed), ``verdict`` (one of :data:`TARGET_VERDICTS`), ``reason``
        (a :mod:`evaluation.reasons` code: why not measured; ``known-limit`` for a
        ``NOT met`` whose instances state one) with ``reason_details`` and ``note``.
    """
    quick = mode == "quick"
    rows = []
    for t in workloads.benchmark_targets:
        value, text, reason = _measure(bench, t, quick)
        if reason:
            verdict = "not measured"
        elif quick:  # one sample per benchmark (asv --quick): a figure, not a verdict
            verdict = "not measured"
            reason = Reason("quick-mode", {"why": t.full_run_only or _QUICK_SAMPLES})
        else:
            verdict = "met" if _COMPARE[t.comparison](value, t.limit) else "NOT met"
            if verdict == "NOT met" and t.known_limit:
                reason = Reason("known-limit", {"limit": t.known_limit})
        rows.append({"target": t.id, "text": t.text, "measured": value,
                     "figure": text or "n/a", "comparison": t.comparison, "limit": t.limit,
                     "verdict": verdict, "reason": reason.code,
                     "reason_details": dict(reason.details), "note": reason.text(),
                     "numerator": t.numerator.describe(),
                     "denominator": ", ".join(d.describe() for d in t.denominator)})
    return pd.DataFrame(rows, columns=TARGET_COLUMNS)
