"""The report's view of graded candidates and peers.

From the grade stage (``raw/candidates.json``: compatibility, every graded call, peak
memory; ``raw/junit-candidate-<name>.xml``: the gate tests run on each) and from asv
(``benchmarks/bench_candidates.py``: each candidate timed beside the optimized
processor in the same run, at each operation's seed size and largest benchmark size;
``raw/candidate-notes/``: the points that timed out):

- :func:`overview_table` - one row per candidate: compatible? correct? its gates, its
  peak memory, passed?;
- :func:`failures_table` - every reason a candidate did not pass;
- :func:`speed_table` - per operation and size, the optimized processor's time beside
  each candidate's, the ratio of each to it, and its speed-up over the baseline.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..figures.outcomes import tests_frame
from ..running.pytest_run import parse_junit
from ..units import format_ratio, format_seconds
from ..verdicts.gates import PASS, gate_verdicts
from ..workloads import Workloads

__all__ = ["load_candidates", "overview_table", "failures_table", "speed_table",
           "failed_candidates", "slower_rows", "candidate_rows", "PREFIX"]

Grades = dict[str, Any]
#: The ``impl`` value of a candidate in the asv results (``bench_candidates``).
PREFIX = "candidate:"
#: The asv module that times candidates.
CANDIDATES_MODULE = "bench_candidates"


def candidate_rows(bench: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``bench`` that ``benchmarks/bench_candidates.py`` measured."""
    return bench[bench["module"] == CANDIDATES_MODULE]


def load_candidates(raw: Path, workloads: Workloads, figures: pd.DataFrame) -> Grades | None:
    """``raw/candidates.json`` with each candidate's gate verdicts and the timing notes.

    Returns
    -------
    dict or None
        ``{"grades": [...], "gates": {name: {gate: verdict}}, "notes": [...]}``; None
        when no candidate was graded.
    """
    path = raw / "candidates.json"
    if not path.exists():
        return None
    data: Grades = json.loads(path.read_text())
    runs = {}
    for g in data.get("grades", []):
        junit = raw / str((g.get("gate_tests") or {}).get("junit", ""))
        if junit.is_file():
            runs[g["name"]] = parse_junit(junit)
    verdicts = gate_verdicts(tests_frame(runs, workloads), figures, workloads, runs,
                             impls=list(runs))
    data["gates"] = {name: dict(zip(verdicts["gate"], verdicts[name], strict=True))
                     for name in runs}
    notes = sorted((raw / "candidate-notes").glob("*.json"))
    data["notes"] = [json.loads(p.read_text()) for p in notes]
    return data


def _gates_cell(gates: dict[str, str] | None, problem: str = "") -> str:
    """``5/7 pass (R3 fail, R6 fail)``; with the gate run's problem when it had one."""
    if not gates:
        return f"not run: {problem}" if problem else "not run"
    bad = [f"{gid} {v}" for gid, v in gates.items() if v != PASS]
    ok = len(gates) - len(bad)
    cell = f"{ok}/{len(gates)} pass" + (f" ({', '.join(bad)})" if bad else "")
    return f"{cell}; {problem}" if problem else cell


def overview_table(data: Grades) -> pd.DataFrame:
    """One row per candidate: what it is, compatible methods, ok calls, gates, memory, verdict."""
    rows = []
    for g in data.get("grades", []):
        compat = g.get("compat", [])
        calls = g.get("calls", [])
        peaks = [c["peak_mib"] for c in calls if c.get("peak_mib") is not None]
        rows.append({
            "candidate": g["name"] + (" (peer)" if g.get("peer") else ""),
            "spec": g["spec"],
            "drop-in compatible": (f"{sum(c['compatible'] for c in compat)}/{len(compat)} "
                                   "methods") if g.get("loads") else "does not load",
            "context manager": "yes" if g.get("context_manager") else "no",
            "correct calls": f"{sum(c['verdict'] == 'ok' for c in calls)}/{len(calls)}",
            "seed gates": _gates_cell((data.get("gates") or {}).get(g["name"]),
                                      (g.get("gate_tests") or {}).get("problem", "")),
            "peak memory (graded calls)": f"{max(peaks):,.0f} MiB" if peaks else "n/a",
            "verdict": "PASS" if g.get("passed") else "FAIL",
        })
    return pd.DataFrame(rows)


def failures_table(data: Grades) -> pd.DataFrame:
    """Every reason a candidate did not pass, one row each."""
    rows = [{"candidate": g["name"], "failure": f}
            for g in data.get("grades", []) for f in g.get("failures", [])]
    return pd.DataFrame(rows, columns=["candidate", "failure"])


def _timed_out(notes: Sequence[dict[str, Any]], name: str, op: str, size: int) -> float | None:
    """The budget a candidate's point outlived, if a note says it timed out."""
    for n in notes:
        if (n["candidate"], n["operation"], n["size"]) == (name, op, size) \
                and n["outcome"] == "timed out":
            return float(n["budget_s"])
    return None


def _cell(row: pd.Series | None, budget: float | None, size: int) -> str:
    if budget is not None:
        return f"timed out at {size:,} (> {budget:g} s)"
    if row is None:
        return "not run"
    if row["status"] == "ok":
        return format_seconds(float(row["median"]))
    if row["status"] == "failed":
        return "failed (asv null: killed at the benchmark's timeout, or it raised or crashed)"
    return str(row["status"])


def _baseline_at(figures: pd.DataFrame, op: str, size: int) -> tuple[float, bool]:
    """The baseline's figure at ``size`` if that is the operation's reference size."""
    f = figures[(figures["operation"] == op) & (figures["impl"] == "baseline")
                & (figures["size"] == size)]
    if f.empty:
        return math.nan, False
    return float(f.iloc[0]["seconds"]), bool(f.iloc[0]["extrapolated"])


def speed_table(bench: pd.DataFrame, data: Grades, figures: pd.DataFrame) -> pd.DataFrame:
    """Per operation and size: the optimized processor's time beside each candidate's.

    Parameters
    ----------
    bench : pandas.DataFrame
        :func:`candidate_rows` of the run's asv results.
    data : dict
        :func:`load_candidates` (for the timing notes).
    figures : pandas.DataFrame
        The reference figures (the baseline's time at the seed size).

    Returns
    -------
    pandas.DataFrame
        ``operation, size, optimized`` and per candidate its time, ``<name> / optimized``
        (above 1: the optimized processor is faster) and ``<name> vs baseline`` (the
        baseline's time over the candidate's, where the baseline has a figure at that
        size; ``*`` marks an extrapolated baseline).
    """
    if bench.empty:
        return pd.DataFrame()
    names = sorted({i[len(PREFIX):] for i in bench["impl"] if str(i).startswith(PREFIX)})
    rows = []
    for (op, size), at in bench.groupby(["operation", "size"], sort=False):
        by_impl = {r["impl"]: r for _, r in at.iterrows()}
        ours = by_impl.get("optimized")
        ours_s = float(ours["median"]) if ours is not None and ours["status"] == "ok" else math.nan
        row: dict[str, Any] = {"operation": op, "size": f"{int(size):,}",
                               "optimized": _cell(ours, None, int(size))}
        base, extrapolated = _baseline_at(figures, str(op), int(size))
        for name in names:
            theirs = by_impl.get(PREFIX + name)
            budget = _timed_out(data.get("notes", []), name, str(op), int(size))
            secs = float(theirs["median"]) if theirs is not None and theirs["status"] == "ok" \
                else math.nan
            row[name] = _cell(theirs, budget, int(size))
            row[f"{name} / optimized"] = f"{secs / ours_s:.2f}x" if secs == secs and \
                ours_s == ours_s else "n/a"
            row[f"{name} vs baseline"] = format_ratio(base / secs) + ("*" if extrapolated else "") \
                if base == base and secs == secs else "-"
        rows.append(row)
    return pd.DataFrame(rows)


def slower_rows(bench: pd.DataFrame) -> list[str]:
    """Where a candidate or peer was faster than the optimized processor, same benchmark."""
    ok = bench[bench["status"] == "ok"]
    out = []
    for (op, size), at in ok.groupby(["operation", "size"], sort=False):
        medians = dict(zip(at["impl"], at["median"], strict=True))
        mine = medians.get("optimized")
        for impl, secs in medians.items():
            if str(impl).startswith(PREFIX) and mine and secs < mine:
                out.append(f"{op} at {int(size):,}: {impl[len(PREFIX):]} "
                           f"{format_seconds(secs)}, optimized {format_seconds(mine)} "
                           f"({mine / secs:.2f}x slower)")
    return out


def failed_candidates(data: Grades | None) -> list[str]:
    """Names of the ``--candidate`` candidates (not the peers) that failed."""
    return [g["name"] for g in (data or {}).get("grades", [])
            if not g.get("passed") and not g.get("peer")]
