"""The report's view of graded candidates (``raw/candidates.json``, :mod:`evaluation.grade`).

Three tables: one row per candidate (compatible? correct? passed?), every failure with
its reason, and - in a full run - each operation's time at the seed's size for the
optimized processor beside every candidate and peer, with the ratio of each to it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["load_candidates", "overview_table", "failures_table", "speed_table",
           "failed_candidates", "slower_rows"]

Grades = dict[str, Any]


def load_candidates(raw: Path) -> Grades | None:
    """``raw/candidates.json``, or None when no candidate was graded."""
    path = raw / "candidates.json"
    return json.loads(path.read_text()) if path.exists() else None


def overview_table(data: Grades) -> pd.DataFrame:
    """One row per candidate: what it is, compatible methods, ok calls, verdict."""
    rows = []
    for g in data.get("grades", []):
        compat = g.get("compat", [])
        calls = g.get("calls", [])
        rows.append({
            "candidate": g["name"] + (" (peer)" if g.get("peer") else ""),
            "spec": g["spec"],
            "drop-in compatible": (f"{sum(c['compatible'] for c in compat)}/{len(compat)} "
                                   "methods") if g.get("loads") else "does not load",
            "context manager": "yes" if g.get("context_manager") else "no",
            "correct calls": f"{sum(c['verdict'] == 'ok' for c in calls)}/{len(calls)}",
            "verdict": "PASS" if g.get("passed") else "FAIL",
        })
    return pd.DataFrame(rows)


def failures_table(data: Grades) -> pd.DataFrame:
    """Every reason a candidate did not pass, one row each."""
    rows = [{"candidate": g["name"], "failure": f}
            for g in data.get("grades", []) for f in g.get("failures", [])]
    return pd.DataFrame(rows, columns=["candidate", "failure"])


def speed_table(data: Grades) -> pd.DataFrame:
    """Per operation at the seed's size: each implementation's time and its ratio to ours."""
    speed: dict[str, list[dict[str, Any]]] = data.get("speed") or {}
    ours = {r["operation"]: r for r in speed.get("optimized", [])}
    rows = []
    for op, mine in ours.items():
        row: dict[str, Any] = {"operation": op, "size": f"{mine['size']:,}",
                               "optimized": _time(mine)}
        for name, results in speed.items():
            if name == "optimized":
                continue
            theirs = next((r for r in results if r["operation"] == op), None)
            row[name] = _time(theirs) if theirs else "n/a"
            ratio = (theirs["seconds"] / mine["seconds"]) if theirs and theirs["seconds"] \
                and mine["seconds"] else None
            row[f"{name} / optimized"] = f"{ratio:.2f}x" if ratio else "n/a"
        rows.append(row)
    return pd.DataFrame(rows)


def _time(r: dict[str, Any]) -> str:
    s = r.get("seconds")
    if s is None:
        return f"{r.get('verdict', 'n/a')}: {r.get('detail', '')}"[:120]
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def slower_rows(data: Grades) -> list[str]:
    """Operations where a candidate or peer was faster than the optimized processor."""
    speed = data.get("speed") or {}
    ours = {r["operation"]: r["seconds"] for r in speed.get("optimized", [])}
    out = []
    for name, results in speed.items():
        for r in results:
            mine = ours.get(r["operation"])
            if name != "optimized" and r["seconds"] and mine and r["seconds"] < mine:
                out.append(f"{r['operation']}: {name} {r['seconds'] * 1e3:.1f} ms, optimized "
                           f"{mine * 1e3:.1f} ms ({mine / r['seconds']:.2f}x slower)")
    return out


def failed_candidates(data: Grades | None) -> list[str]:
    """Names of the ``--candidate`` candidates (not the peers) that failed."""
    return [g["name"] for g in (data or {}).get("grades", [])
            if not g.get("passed") and not g.get("peer")]
