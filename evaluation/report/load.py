"""Load a report folder's raw inputs and compute every table of the report (:class:`ReportData`).

The raw inputs (``<report>/raw/``) are everything the report is computed from, so
``python -m evaluation --from-results <report>`` can rebuild it without re-running:

- ``run.json`` - how the run went: mode, commit, environment, stage timings, problems;
- ``junit-<impl>.xml`` - pytest's per-test outcomes for each implementation run;
- ``asv/`` - a copy of asv's result file, ``benchmarks.json`` and ``machine.json``;
- ``probe.json``, ``candidates.json`` - the baseline probe's and the grader's findings.

The computation runs in the order the data flows: figures (:mod:`evaluation.figures`),
then verdicts (:mod:`evaluation.verdicts`), then the summary.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..figures.baseline_truth import apply_probe, load_probe, probe_points
from ..figures.bench import RESULT_COLUMNS, load_results
from ..figures.compare import Comparison
from ..figures.outcomes import tests_frame, tests_summary
from ..figures.reference import reference_figures, speedups
from ..running.pytest_run import parse_junit
from ..verdicts.defects import baseline_defects, optimized_failures
from ..verdicts.gates import gate_verdicts
from ..verdicts.status import CANDIDATE_FAILED, exit_status
from ..verdicts.targets import TARGET_COLUMNS, target_verdicts
from ..workloads import IMPLEMENTATIONS, Workloads
from .candidates import candidate_rows, failed_candidates, load_candidates
from .notes import report_notes
from .reliability import reliability_summary
from .summary import summary_cells, summary_table

__all__ = ["ReportData", "build_report", "load_run", "exclude_impls", "RAW_DIR", "SCHEMA"]

RAW_DIR = "raw"
SCHEMA = 1


@dataclass
class ReportData:
    """Every table of the report, computed from the raw inputs."""

    run: dict[str, Any]
    impls_run: list[str]
    tests: pd.DataFrame
    bench: pd.DataFrame
    figures: pd.DataFrame
    gates: pd.DataFrame
    summary: pd.DataFrame
    speedups: pd.DataFrame
    defects: pd.DataFrame
    opt_failures: pd.DataFrame
    tests_summary: pd.DataFrame
    exit_code: int
    exit_reasons: list[str]
    targets: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TARGET_COLUMNS))
    notes: list[str] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    reliability: dict[str, Any] = field(default_factory=dict)
    comparison: Comparison | None = None  # --compare REF
    probe: list[dict[str, Any]] | None = None  # the baseline probe's outcomes
    candidates: dict[str, Any] | None = None  # graded candidates (raw/candidates.json)
    #: The summary's cells in parts (:func:`~evaluation.report.summary.summary_cells`).
    summary_cells: list[dict[str, Any]] = field(default_factory=list)
    #: asv's rows of the candidates timed beside the optimized processor.
    candidate_bench: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=RESULT_COLUMNS))


def load_run(raw: Path) -> dict[str, Any]:
    """How the run went: ``raw/run.json``, or a minimal description when it is missing.

    Parameters
    ----------
    raw : Path
        A report's ``raw/`` folder.

    Returns
    -------
    dict
        ``schema, mode, impls_run, environment, stages, problems`` (and, from a real run,
        ``commit``, ``selection``, timestamps). Without ``run.json`` the implementations
        are those with a JUnit file and a problem records the missing file.
    """
    path = raw / "run.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    impls = [i for i in IMPLEMENTATIONS if (raw / f"junit-{i}.xml").exists()]
    return {"schema": SCHEMA, "mode": "unknown", "impls_run": impls, "environment": {},
            "stages": {}, "problems": [{"stage": "report", "impl": None,
                                        "message": f"{path} missing: run details unknown"}]}


def _bench(raw: Path, workloads: Workloads, problems: list[dict[str, Any]],
           excluded: Sequence[str] = ()) -> pd.DataFrame:
    asv_dir = raw / "asv"
    try:
        return exclude_impls(load_results(asv_dir, workloads.operations), excluded)
    except FileNotFoundError as exc:
        if not any(p.get("stage") == "asv" for p in problems):
            problems.append({"stage": "asv", "impl": None,
                             "message": f"no benchmark results: {exc}"})
        return pd.DataFrame(columns=RESULT_COLUMNS)


def exclude_impls(bench: pd.DataFrame, impls: Sequence[str]) -> pd.DataFrame:
    """Mark the points of implementations the asv run left out as ``not run``.

    asv stores a point its ``--bench`` selection left out as NaN in a new result
    file, but keeps an earlier run's value for it when the commit's result file
    already existed (a full run writes to the project's results history): either
    way it is not this run's measurement, so its median is dropped.

    Parameters
    ----------
    bench : pandas.DataFrame
        From :func:`~evaluation.figures.bench.load_results`.
    impls : sequence of str
        Implementations excluded from the asv run (``run.json``:
        ``stages.asv.excluded_impls``).

    Returns
    -------
    pandas.DataFrame
        A copy; those rows get ``status == "not run"`` and NaN statistics.
    """
    if not len(impls) or bench.empty:
        return bench
    out = bench.copy()
    mask = out["impl"].isin(list(impls))
    out.loc[mask, "status"] = "not run"
    stats = ["median", "q25", "q75", "spread", "ci_low", "ci_high", "repeat", "number"]
    out.loc[mask, stats] = math.nan
    return out


def _tests(raw: Path, impls: Sequence[str], workloads: Workloads,
           problems: list[dict[str, Any]]) -> pd.DataFrame:
    runs = {}
    for impl in impls:
        path = raw / f"junit-{impl}.xml"
        if not path.exists():
            if not any(p.get("stage") == "pytest" and p.get("impl") == impl for p in problems):
                problems.append({"stage": "pytest", "impl": impl,
                                 "message": f"pytest on {impl}: {path.name} missing"})
            continue
        try:
            runs[impl] = parse_junit(path)
        except (ValueError, OSError) as exc:  # truncated or foreign file: no outcomes
            problems.append({"stage": "pytest", "impl": impl,
                             "message": f"pytest on {impl}: {path.name} unreadable: {exc}"})
    return tests_frame(runs, workloads)


def build_report(raw: Path, workloads: Workloads) -> ReportData:
    """Compute every table of the report from a ``raw/`` folder.

    Parameters
    ----------
    raw : Path
        The raw inputs (see module docstring).
    workloads : Workloads
        Operations, sizes and gates.

    Returns
    -------
    ReportData
    """
    run = load_run(raw)
    problems: list[dict[str, Any]] = list(run.get("problems", []))
    impls_run = [i for i in run.get("impls_run", []) if i in IMPLEMENTATIONS]
    tests = _tests(raw, impls_run, workloads, problems)
    excluded = run.get("stages", {}).get("asv", {}).get("excluded_impls", [])
    all_bench = _bench(raw, workloads, problems, excluded)
    candidate_bench = candidate_rows(all_bench)  # their own section; no figure mixes them in
    bench = all_bench.drop(index=candidate_bench.index)
    quick = run.get("mode") == "quick"  # tiny sizes: never extrapolate the optimized side
    probe = load_probe(raw)
    figures = reference_figures(bench, workloads,
                                no_extrapolation=("optimized",) if quick else (),
                                baseline_points=probe_points(probe))
    figures = apply_probe(figures, probe)
    targets = target_verdicts(bench, workloads, str(run.get("mode", "unknown")))
    gates = gate_verdicts(tests, figures, workloads, impls_run)
    code, reasons = exit_status(tests, gates, problems, impls_run)
    candidates = load_candidates(raw, workloads, figures)
    failed = failed_candidates(candidates)
    if failed:
        reasons.append(f"candidate(s) failed their grading: {', '.join(failed)} (see the "
                       f"Candidates section)")
        code = code or CANDIDATE_FAILED
    run = dict(run, problems=problems)
    return ReportData(
        run=run, impls_run=impls_run, tests=tests, bench=bench, figures=figures, gates=gates,
        summary=summary_table(figures, gates, workloads, bench), speedups=speedups(bench, workloads),
        defects=baseline_defects(tests), opt_failures=optimized_failures(tests),
        tests_summary=tests_summary(tests, IMPLEMENTATIONS), exit_code=code,
        exit_reasons=reasons, targets=targets, notes=report_notes(run, gates, bench, figures, targets),
        reliability=reliability_summary(tests), probe=probe, candidates=candidates,
        summary_cells=summary_cells(figures, workloads), candidate_bench=candidate_bench)
