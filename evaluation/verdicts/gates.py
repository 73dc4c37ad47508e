"""Seed gates: each gate's verdict per implementation, from its tests, with an asv cross-check.

A verdict is :data:`PASS` (every mapped test passed), :data:`FAIL` (one failed or
errored), :data:`NOT_MET` (its test reported the target missed as a known, measured
limit: xfailed), :data:`SKIPPED`, :data:`NO_TEST` (no gate test maps to it) or
:data:`NOT_RUN` (that implementation's tests were not run).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from ..figures.outcomes import FAILING_OUTCOMES
from ..reasons import Reason
from ..workloads import Gate, Workloads

__all__ = ["gate_verdicts", "PASS", "FAIL", "NOT_MET", "SKIPPED", "NO_TEST", "NOT_RUN",
           "MISSED"]

PASS, FAIL, SKIPPED, NO_TEST, NOT_RUN = "pass", "fail", "skipped", "no test", "not run"
NOT_MET = "not met (known limit)"
#: Verdicts that mean the gate's target was not reached.
MISSED = (FAIL, NOT_MET)


def _verdict(outcomes: Sequence[str]) -> str:
    if not outcomes:
        return NO_TEST
    if any(o in FAILING_OUTCOMES for o in outcomes):
        return FAIL
    if any(o == "xfailed" for o in outcomes):
        return NOT_MET  # a gate test that reported its target as missed
    if all(o == "skipped" for o in outcomes):
        return SKIPPED
    return PASS


def _bench_check(gate: Gate, fig: pd.DataFrame) -> tuple[float, Reason]:
    """For a ``max_seconds`` gate: the optimized asv figure at the gate size vs the limit."""
    if gate.kind != "max_seconds":
        return math.nan, Reason("checked-by-test")
    r = fig[(fig["operation"] == gate.operation) & (fig["impl"] == "optimized")]
    if r.empty or not r.iloc[0]["seconds"] == r.iloc[0]["seconds"]:
        return math.nan, Reason("no-benchmark-figure")
    if r.iloc[0]["size"] != gate.size or r.iloc[0]["workload"] != gate.workload:
        return math.nan, Reason("benchmark-elsewhere")
    if r.iloc[0]["extrapolated"]:  # a cross-check needs a measurement
        return math.nan, Reason("extrapolated-at-gate")
    secs = float(r.iloc[0]["seconds"])
    return secs, Reason("within-limit" if secs < gate.limit else "over-limit")


def gate_verdicts(tests: pd.DataFrame, figures: pd.DataFrame, workloads: Workloads,
                  impls_run: Iterable[str],
                  impls: Sequence[str] = ("baseline", "optimized")) -> pd.DataFrame:
    """Per seed gate: the verdict of its test(s) on each implementation.

    Verdicts as in the module docstring. For ``max_seconds`` gates the optimized asv
    median at the gate size is shown beside it as a cross-check.

    Parameters
    ----------
    tests : pandas.DataFrame
        From :func:`~evaluation.figures.outcomes.tests_frame`.
    figures : pandas.DataFrame
        From :func:`~evaluation.figures.reference.reference_figures` (for the asv
        cross-check).
    workloads : Workloads
        The seed gates.
    impls_run : iterable of str
        Implementations whose test suite was run.
    impls : sequence of str
        The implementations to give a verdict for (a candidate's name too).

    Returns
    -------
    pandas.DataFrame
        One row per gate: ``gate, operation, target, kind, limit, size, workers,
        workload``, per implementation its verdict, ``<impl>_tests`` (node ids) and
        ``<impl>_message`` (first failure), then ``bench_seconds`` and ``bench_check``
        (a :mod:`evaluation.reasons` code: ``within-limit``, ``over-limit``, or why there
        is no cross-check).
    """
    ran = set(impls_run)
    rows = []
    for g in workloads.gates:
        row: dict[str, Any] = {"gate": g.id, "operation": g.operation, "target": g.text,
                               "kind": g.kind, "limit": g.limit, "size": g.size,
                               "workers": g.workers, "workload": g.workload}
        for impl in impls:
            t = tests[(tests["impl"] == impl) &
                      tests["gate_ids"].str.split(",").apply(lambda ids, gid=g.id: gid in ids)]
            row[impl] = _verdict(list(t["outcome"])) if impl in ran else NOT_RUN
            row[f"{impl}_tests"] = list(t["nodeid"])
            failing = t[t["outcome"].isin(FAILING_OUTCOMES + ("xfailed",))]
            row[f"{impl}_message"] = failing["message"].iloc[0] if not failing.empty else ""
        seconds, check = _bench_check(g, figures)
        row["bench_seconds"], row["bench_check"] = seconds, check.code
        rows.append(row)
    return pd.DataFrame(rows)
