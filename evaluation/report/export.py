"""The machine-readable report: ``report.json`` (and the values it is made of, JSON-safe)."""
from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ..figures.baseline_truth import baseline_at_seed_size
from ..figures.growth import growth_table
from ..workloads import IMPLEMENTATIONS, Workloads
from .candidates import speed_table
from .load import SCHEMA, ReportData

__all__ = ["report_json", "records"]


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/NA -> None (the row's ``status`` says skipped vs failed)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if value is pd.NA or value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        return _clean(value.item())
    return value


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``df`` as JSON-safe dicts (NaN as None)."""
    return [_clean(r) for r in df.astype(object).to_dict(orient="records")]


def _seed_speedups(figures: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for op, f in figures.groupby("operation", sort=False):
        f = f.set_index("impl")
        b, o = f.loc["baseline"], f.loc["optimized"]
        ratio = b["seconds"] / o["seconds"] if o["seconds"] > 0 else math.nan
        out.append(_clean({"operation": op, "size": int(b["size"]), "size_source": b["size_source"],
                           "baseline_seconds": b["seconds"], "optimized_seconds": o["seconds"],
                           "speedup": ratio, "extrapolated": bool(b["extrapolated"] or
                                                                  o["extrapolated"]),
                           "baseline_exponent": b["exponent"],
                           "optimized_exponent": o["exponent"]}))
    return out


def report_json(data: ReportData, workloads: Workloads, links: dict[str, str]) -> dict[str, Any]:
    """The machine-readable report (``report.json``).

    Parameters
    ----------
    data : ReportData
        From :func:`~evaluation.report.load.build_report`.
    workloads : Workloads
        The instances the report was computed with (their path is recorded).
    links : dict of str to str
        Link text to URL (e.g. the ``asv publish`` output).

    Returns
    -------
    dict
        JSON-safe (NaN as None): run, environment, summary, gates, speed-ups, reference
        figures, per-test outcomes per implementation, benchmark rows, notes, exit.
    """
    tests = {}
    for impl in IMPLEMENTATIONS:
        t = data.tests[data.tests["impl"] == impl]
        summ = data.tests_summary[data.tests_summary["impl"] == impl]
        tests[impl] = {"run": impl in data.impls_run,
                       "summary": records(summ)[0] if not summ.empty else None,
                       "cases": records(t.drop(columns=["impl"]))}
    return _clean({
        "schema": SCHEMA,
        "generated_at": datetime.now().isoformat(timespec="seconds"),
        "run": {k: v for k, v in data.run.items() if k != "environment"},
        "environment": data.run.get("environment", {}),
        "instances": str(workloads.path),
        "summary": records(data.summary),
        "gates": records(data.gates),
        "speedups_at_seed_sizes": _seed_speedups(data.figures),
        "reference_figures": records(data.figures),
        "speedups_measured": records(data.speedups),
        "benchmark_targets": records(data.targets),
        "tests": tests,
        "baseline_defects": records(data.defects),
        "reliability": data.reliability,
        "baseline_at_seed_size": baseline_at_seed_size(data.figures),
        "baseline_probe": data.probe,
        "candidates": data.candidates,
        "candidates_speed": records(speed_table(data.candidate_bench, data.candidates or {},
                                                data.figures)),
        "growth": records(growth_table(data.bench, workloads)),
        "changes_since": None if data.comparison is None else {
            "ref": data.comparison.ref, "head": data.comparison.head,
            "factor": data.comparison.factor, "changes": records(data.comparison.changes)},
        "benchmarks": records(data.bench),
        "notes": data.notes,
        "links": links,
        "exit": {"code": data.exit_code, "reasons": data.exit_reasons},
    })
