"""Build the comparison report from a folder of raw inputs and write it out.

The raw inputs (``<report>/raw/``) are everything the report is computed from, so
``python -m evaluation --from-results <report>`` can rebuild it without re-running:

- ``run.json`` - how the run went: mode, commit, environment, stage timings, problems;
- ``junit-<impl>.xml`` - pytest's per-test outcomes for each implementation run;
- ``asv/`` - a copy of asv's result file, ``benchmarks.json`` and ``machine.json``.

Written beside ``raw/``: ``report.json`` (everything, machine-readable),
``results.csv`` (tidy: one row per benchmark measurement), ``report.md`` and
``report.html`` (the same tables, opening with the one-screen summary) and the PNG
plots of :mod:`evaluation.plots`.
"""
from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from . import analysis as A
from .asv_results import RESULT_COLUMNS, load_results
from .baseline_truth import apply_probe, baseline_at_seed_size, load_probe, probe_points
from .candidates_report import (
    failed_candidates,
    failures_table,
    load_candidates,
    overview_table,
    slower_rows,
    speed_table,
)
from .compare import Comparison
from .grade import CANDIDATE_FAILED
from .growth import growth_table
from .plots import plot_changes, plot_scaling, plot_speedups
from .reliability import reliability_summary, reliability_table
from .run_tests import parse_junit
from .workloads import IMPLEMENTATIONS, Workloads

__all__ = ["ReportData", "Section", "build_report", "write_report", "load_run", "report_json",
           "bench_table", "sections", "exclude_impls", "RAW_DIR", "REPORT_FILES"]

RAW_DIR = "raw"
#: Files every report folder has (plots come in addition).
REPORT_FILES = ("report.json", "results.csv", "report.md", "report.html")
_SCHEMA = 1
_IMPL_ORDER = ("baseline", "optimized", "inline", "pool", "single")


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
    targets: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=A.TARGET_COLUMNS))
    notes: list[str] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    reliability: dict[str, Any] = field(default_factory=dict)
    comparison: Comparison | None = None  # --compare REF
    probe: list[dict[str, Any]] | None = None  # the baseline probe's outcomes
    candidates: dict[str, Any] | None = None  # graded candidates (raw/candidates.json)


# --------------------------------------------------------------------------- building
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
    return {"schema": _SCHEMA, "mode": "unknown", "impls_run": impls, "environment": {},
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
        From :func:`~evaluation.asv_results.load_results`.
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
    return A.tests_frame(runs, workloads)


def _notes(data_run: dict[str, Any], gates: pd.DataFrame, bench: pd.DataFrame,
           figures: pd.DataFrame, targets: pd.DataFrame | None = None) -> list[str]:
    notes = []
    if targets is not None and not targets.empty:
        counts = targets["verdict"].value_counts()
        notes.append("Benchmark targets: " + ", ".join(
            f"{counts.get(v, 0)} {v}" for v in A.TARGET_VERDICTS) + " (see Benchmark targets; "
            "informational, they do not affect the exit code).")
    excluded = data_run.get("stages", {}).get("asv", {}).get("excluded_impls", [])
    if excluded:
        notes.append(f"--skip-baseline: the asv run left out every {', '.join(excluded)} "
                     "benchmark point (shown as 'not run'), so there are no baseline figures "
                     "and no speed-ups in this report.")
    if data_run.get("mode") == "quick":
        notes.append("Quick mode: gate tests only; two benchmark sizes per operation, one asv "
                     "sample each, no peak-memory or start-up benchmarks. A first look: most "
                     "seed sizes are not run, and the few small sizes that are run are dominated "
                     "by fixed overheads, so many figures at the seed's sizes are n/a (the "
                     "extrapolation is refused, with the reason) rather than guessed; the "
                     "measured speed-up column compares what was run. The full run "
                     "(`make report`) measures them.")
    if figures["extrapolated"].any() or figures["note"].str.startswith("cannot extrapolate").any():
        notes.append("*Extrapolated* figures are estimates, not measurements. The baseline's "
                     "come from its own cost model, t = c0 + c1 * W(n), where W(n) counts the "
                     "work of the original's code at size n (processes started, queue "
                     "operations, bubble-sort comparisons, trial divisions; evaluation/work.py), "
                     "fitted to every size it ran (asv and the probe). The optimized side's "
                     "come from a power law t = a * n^b fitted on log-log axes, refused with "
                     f"fewer than 2 sizes, b <= 0, r2 < {A.MIN_R2} over 3+ sizes, or "
                     f"b < {A.MIN_FAR_EXPONENT} for a size more than {A.FAR_REACH:g}x beyond "
                     "those run (overheads, not work, dominate them). Every fit must predict "
                     "its largest size, fitted without it, within "
                     f"{A.MAX_HOLDOUT_ERROR:.0%} (the hold-out error shown beside it); with "
                     "2 sizes there is nothing to hold out and the figure is refused.")
    no_test = gates[gates["optimized"] == "no test"]["gate"].tolist()
    if no_test:
        notes.append(f"No gate test maps to: {', '.join(no_test)} (verdict 'no test').")
    skipped = gates[gates["optimized"] == "skipped"]["gate"].tolist()
    if skipped:
        notes.append(f"Gate test(s) skipped on the optimized implementation: "
                     f"{', '.join(skipped)} - not verified by this run.")
    failed = bench[bench["status"] == "failed"]
    if not failed.empty:
        notes.append(f"{len(failed)} benchmark point(s) failed (asv null) - listed under "
                     "Benchmarks; skipped points (asv NaN, e.g. the baseline above its "
                     "feasible size) are a different thing and are shown as 'skipped'.")
    git = data_run.get("environment", {}).get("git", {})
    if git.get("dirty"):
        notes.append("The working tree had uncommitted changes: the benchmark results are "
                     f"recorded under commit {str(git.get('commit'))[:10]} but measure the tree.")
    return notes


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
    bench = _bench(raw, workloads, problems, excluded)
    quick = run.get("mode") == "quick"  # tiny sizes: never extrapolate the optimized side
    probe = load_probe(raw)
    figures = A.reference_figures(bench, workloads, no_extrapolation=("optimized",) if quick else (),
                                  baseline_points=probe_points(probe))
    figures = apply_probe(figures, probe)
    targets = A.target_verdicts(bench, workloads, str(run.get("mode", "unknown")))
    gates = A.gate_verdicts(tests, figures, workloads, impls_run)
    code, reasons = A.exit_status(tests, gates, problems, impls_run)
    candidates = load_candidates(raw)
    failed = failed_candidates(candidates)
    if failed:
        reasons.append(f"candidate(s) failed their grading: {', '.join(failed)} (see the "
                       f"Candidates section)")
        code = code or CANDIDATE_FAILED
    run = dict(run, problems=problems)
    return ReportData(
        run=run, impls_run=impls_run, tests=tests, bench=bench, figures=figures, gates=gates,
        summary=A.summary_table(figures, gates, workloads, bench), speedups=A.speedups(bench),
        defects=A.baseline_defects(tests), opt_failures=A.optimized_failures(tests),
        tests_summary=A.tests_summary(tests, IMPLEMENTATIONS), exit_code=code,
        exit_reasons=reasons, targets=targets, notes=_notes(run, gates, bench, figures, targets),
        reliability=reliability_summary(tests), probe=probe, candidates=candidates)


# --------------------------------------------------------------------------- JSON / CSV
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


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
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
        From :func:`build_report`.
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
                       "summary": _records(summ)[0] if not summ.empty else None,
                       "cases": _records(t.drop(columns=["impl"]))}
    return _clean({
        "schema": _SCHEMA,
        "generated_at": datetime.now().isoformat(timespec="seconds"),
        "run": {k: v for k, v in data.run.items() if k != "environment"},
        "environment": data.run.get("environment", {}),
        "instances": str(workloads.path),
        "summary": _records(data.summary),
        "gates": _records(data.gates),
        "speedups_at_seed_sizes": _seed_speedups(data.figures),
        "reference_figures": _records(data.figures),
        "speedups_measured": _records(data.speedups),
        "benchmark_targets": _records(data.targets),
        "tests": tests,
        "baseline_defects": _records(data.defects),
        "reliability": data.reliability,
        "baseline_at_seed_size": baseline_at_seed_size(data.figures),
        "baseline_probe": data.probe,
        "candidates": data.candidates,
        "growth": _records(growth_table(data.bench, workloads)),
        "changes_since": None if data.comparison is None else {
            "ref": data.comparison.ref, "head": data.comparison.head,
            "factor": data.comparison.factor, "changes": _records(data.comparison.changes)},
        "benchmarks": _records(data.bench),
        "notes": data.notes,
        "links": links,
        "exit": {"code": data.exit_code, "reasons": data.exit_reasons},
    })


# --------------------------------------------------------------------------- tables
def _bench_cell(r: pd.Series) -> str:
    if r["status"] != "ok":
        return str(r["status"])
    if r["unit"] == "seconds":
        text = A.format_seconds(r["median"])
        return text + (f" ± {A.format_seconds(r['spread'] / 2)}" if r["spread"] > 0 else "")
    if r["unit"] == "bytes":
        return f"{r['median'] / 2 ** 20:.1f} MiB"
    return f"{r['median']:.4g}" + (f" {r['unit']}" if r["unit"] not in (None, "unit") else "")


def bench_table(bench: pd.DataFrame) -> pd.DataFrame:
    """Benchmarks wide: one row per (benchmark, parameters but impl), one column per impl.

    Parameters
    ----------
    bench : pandas.DataFrame
        From :func:`evaluation.asv_results.load_results`.

    Returns
    -------
    pandas.DataFrame
        ``benchmark, variant`` then one column per implementation; cells are
        ``median ± IQR/2``, ``skipped`` (asv NaN), ``failed`` (asv null) or ``-`` (not
        in that implementation's parameters). Empty when there are no benchmarks.
    """
    if bench.empty:
        return pd.DataFrame()
    b = (bench.sort_values(["benchmark", "size", "workers", "variant"])
         .assign(cell=bench.apply(_bench_cell, axis=1)))
    keys = ["benchmark", "variant"]
    wide = b.pivot_table(index=keys, columns="impl", values="cell", aggfunc="first", sort=False)
    wide.columns.name = None
    order = [c for c in _IMPL_ORDER if c in wide.columns] + \
            [c for c in wide.columns if c not in _IMPL_ORDER]
    return wide[order].fillna("-").reset_index()



def _figures_table(figures: pd.DataFrame) -> pd.DataFrame:
    f = figures.copy()
    f["time"] = f.apply(A.format_figure, axis=1)
    f["fit r2"] = f["r2"].map(lambda v: f"{v:.3f}" if v == v else "")
    return f[["operation", "impl", "size", "size_source", "workload", "time", "fit r2",
              "status_at_size"]].rename(columns={"status_at_size": "asv status at size"})


def _speedups_table(s: pd.DataFrame) -> pd.DataFrame:
    if s.empty:
        return s
    out = s.copy()
    for c in ("baseline", "optimized", "single"):
        out[c] = out[c].map(A.format_seconds)
    out["speed-up vs baseline"] = s["speedup_vs_baseline"].map(A.format_ratio)
    out["optimized / single"] = s["ratio_to_single"].map(lambda v: f"{v:.2f}" if v == v else "-")
    return out.drop(columns=["speedup_vs_baseline", "ratio_to_single", "operation", "size",
                             "workers"])


def _targets_table(t: pd.DataFrame) -> pd.DataFrame:
    out = t.copy()
    out["limit"] = out["comparison"] + " " + out["limit"].map(lambda v: f"{v:g}")
    return out[["target", "text", "figure", "limit", "verdict", "reason"]].rename(
        columns={"text": "what it measures", "figure": "measured"})


def _gates_table(g: pd.DataFrame) -> pd.DataFrame:
    out = g[["gate", "operation", "target", "optimized", "baseline", "bench_seconds",
             "bench_check", "optimized_message", "baseline_message"]].copy()
    out["bench_seconds"] = out["bench_seconds"].map(A.format_seconds)
    if not out["optimized_message"].astype(bool).any():  # the usual case: nothing to say
        out = out.drop(columns=["optimized_message"])
    return out.rename(columns={"bench_seconds": "asv median at gate size",
                               "bench_check": "asv check",
                               "optimized_message": "optimized failure",
                               "baseline_message": "baseline failure"})


def _feasibility(workloads: Workloads, probe: list[dict[str, Any]] | None) -> pd.DataFrame:
    rows = []
    for op in workloads.operations.values():
        seen = [o for o in probe or [] if o["operation"] == op.name]
        done = [o for o in seen if o["kind"] == "finished"]
        broke = [o for o in seen if o["kind"] != "finished"]
        if probe is None:
            why = op.baseline_max_reason + " (instances' note; no probe ran)"
        elif not seen:
            why = "the benchmarks reach the seed's size"
        else:
            why = "; ".join([f"finished at {o['size']:,} in {o['seconds']:.3g} s" for o in done] +
                            [f"{o['kind']} at {o['size']:,}: {o['detail']}" for o in broke])
        rows.append({"operation": op.name, "baseline sizes run": ", ".join(
            f"{s:,}" for s in op.sizes["baseline"]), "baseline_max": f"{op.baseline_max:,}",
            "why not larger": why})
    return pd.DataFrame(rows)


def _environment_table(env: dict[str, Any]) -> pd.DataFrame:
    blas = env.get("numpy", {}).get("blas", {}) or {}
    runtime = blas.get("runtime") or []
    rows = [
        ("Python", f"{env.get('python', {}).get('version')} "
                   f"({env.get('python', {}).get('implementation')})"),
        ("NumPy", env.get("numpy", {}).get("version")),
        ("BLAS (runtime)", "; ".join(f"{r.get('internal_api')} {r.get('version')} "
                                     f"({r.get('num_threads')} threads)" for r in runtime)),
        ("CPUs (usable / logical / physical)",
         f"{env.get('cpu', {}).get('usable_cpus')} / {env.get('cpu', {}).get('cpu_count')} / "
         f"{env.get('cpu', {}).get('physical_cores')}"),
        ("Load average at start", env.get("cpu", {}).get("load_average_1_5_15")),
        ("Start method (default)", env.get("start_method", {}).get("default")),
        ("Platform", " ".join(str(v) for v in env.get("platform", {}).values())),
        ("Git commit", f"{env.get('git', {}).get('commit')}"
                       f"{' (dirty working tree)' if env.get('git', {}).get('dirty') else ''}"),
    ]
    return pd.DataFrame(rows, columns=["item", "value"])


# --------------------------------------------------------------------------- sections
@dataclass
class Section:
    """A titled block of the report: paragraphs, then a table, then images."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    table: pd.DataFrame | None = None
    images: list[str] = field(default_factory=list)


def _headline(data: ReportData) -> str:
    t = data.tests_summary.set_index("impl")
    parts = []
    for impl in IMPLEMENTATIONS:
        if impl not in data.impls_run:
            parts.append(f"{impl}: not run")
            continue
        r = t.loc[impl]
        parts.append(f"{impl}: {r['passed']} passed, {r['failed'] + r['error']} failed, "
                     f"{r['skipped']} skipped; gates {r['gates passed']}")
    verdict = "PASS" if data.exit_code == 0 else ("FAIL" if data.exit_code == 1 else "INCOMPLETE")
    reasons = f" ({'; '.join(data.exit_reasons)})" if data.exit_reasons else ""
    return f"**Verdict: {verdict}**{reasons}. Tests - " + " | ".join(parts) + "."


def sections(data: ReportData, workloads: Workloads, links: dict[str, str]) -> list[Section]:
    """The report's content, rendered identically to Markdown and HTML.

    Parameters
    ----------
    data : ReportData
        From :func:`build_report` (with ``plots`` filled in by :func:`write_report`).
    workloads : Workloads
        Operations and their feasible baseline sizes.
    links : dict of str to str
        Link text to URL, listed under Environment.

    Returns
    -------
    list of Section
        Summary first (verdict, notes, the one-screen table), then gates, tests,
        defects, benchmark targets, figures, benchmarks, environment and raw inputs.
    """
    speed_png = [p.name for p in data.plots if p.name == "speedup_at_seed_sizes.png"]
    out = [Section("Summary", [_headline(data)] + data.notes, data.summary, speed_png)]
    if data.comparison is not None:
        out.append(_changes_section(data.comparison, data.plots))
    out += _test_sections(data)
    out += _candidate_sections(data)
    out += _benchmark_sections(data, workloads)
    env_par = [f"[{k}]({v})" for k, v in links.items()]
    out.append(Section("Environment", env_par,
                       _environment_table(data.run.get("environment", {}))))
    out.append(Section("Raw inputs", [
        "`raw/` holds the JUnit XML of each pytest run, the asv result files and run.json; "
        "rebuild this report with `python -m evaluation --from-results <this folder>`."]))
    return out


def _changes_section(c: Comparison, plots: list[Path]) -> Section:
    """Changes since REF: every benchmark point that changed, regressions first."""
    counts = c.changes["change"].value_counts()
    changed = c.changes[~c.changes["change"].isin(["no change", "not comparable"])]
    return Section(f"Changes since {c.ref[:10]}", [
        f"This run ({c.head[:10]}) against {c.ref[:10]}, point by point, classified as "
        f"`asv compare` does (its own code: beyond a factor of {c.factor:g} and significant by "
        "asv's test on the samples). " + ", ".join(f"{n} {k}" for k, n in counts.items()) +
        ". Lower is better for time and memory; track_ values have no direction and never count "
        "as regressions."], changed.round({"ratio": 3}),
        [p.name for p in plots if p.name.startswith("changes_")])


def _test_sections(data: ReportData) -> list[Section]:
    """Gates, tests, optimized failures and the baseline's defects."""
    out = [Section("Seed gates", [
        "Verdicts come from the gate tests (pytest, 4 workers, warm processor) run on each "
        "implementation; 'asv check' compares the optimized asv median at the gate's size "
        "with the limit, as a cross-check."], _gates_table(data.gates))]
    sel = data.run.get("selection", {})
    out.append(Section("Tests", [f"Inner pytest run on {i}: `-m \"{sel[i]}\"`" for i in sel],
                       data.tests_summary))
    if not data.opt_failures.empty:
        out.append(Section("Optimized failures", ["These make the command exit non-zero."],
                           data.opt_failures))
    paragraphs, table = reliability_table(data.reliability)
    out.append(Section("Reliability", paragraphs, table))
    if "baseline" in data.impls_run:
        counts = data.defects["category"].value_counts()
        out.append(Section("Baseline defects that showed up", [
            "From the failure messages of the baseline's test run: " +
            (", ".join(f"{n} x {c}" for c, n in counts.items()) or "none") + "."],
            data.defects))
    return out


def _candidate_sections(data: ReportData) -> list[Section]:
    """Graded candidates and peers: verdicts, failures, times beside ours."""
    if data.candidates is None:
        return []
    out = [Section("Candidates", [
        "Each candidate is graded as any implementation of the original's API would be "
        "(`python -m evaluation.grade`): every public method of the original present with a "
        "signature that accepts the original's parameters; every operation called, in a "
        "process group of its own under a time budget, on inputs the harness builds, and "
        "its result compared here with the optimized processor's (in-process); processes, "
        "/dev/shm entries and temporary files it left are removed and reported. Peers are "
        "the implementations a user would pick instead (`references/`)."],
        overview_table(data.candidates))]
    fails = failures_table(data.candidates)
    if not fails.empty:
        out.append(Section("Candidate failures", [], fails))
    speed = speed_table(data.candidates)
    if not speed.empty:
        faster = slower_rows(data.candidates)
        out.append(Section("Candidates and peers at the seed's sizes", [
            "Best of 3 warm calls per operation (after one warm-up call), each implementation "
            "in a process of its own, one after another in this run; a ratio above 1 means "
            "the optimized processor is faster. These are single-run timings, not asv's "
            "statistics: read small differences as noise. " +
            ("Where the optimized processor was not the fastest: " + "; ".join(faster) + "."
             if faster else "The optimized processor was the fastest on every row.")], speed))
    return out


def _benchmark_sections(data: ReportData, workloads: Workloads) -> list[Section]:
    """Targets, figures at the seed's sizes, feasibility, measured speed-ups, benchmarks."""
    return [
        Section("Benchmark targets", [
            "Targets for the benchmarks (not pytest gates), defined in "
            "`instances/workloads.json` (`benchmark_targets`). Each figure is a ratio of two asv "
            "medians from this same run (numerator / denominator, or the smaller of several "
            "denominators where the target says 'the better of'), or a `track_` value, compared "
            "with the limit. 'not measured' gives the reason (the size is not run in quick "
            "mode, a benchmark failed or was skipped). These verdicts are informational: they "
            "do not affect the exit code: the figure is stated even where the pool loses."],
            _targets_table(data.targets)),
        Section("Figures at the seed's sizes", [
            "Median time at each operation's reference size; where an implementation did not "
            "run that size, the power-law extrapolation (marked, with its exponent b), or n/a "
            "with the reason when the fit is not trustworthy."],
            _figures_table(data.figures)),
        Section("Where the baseline cannot go", [
            "Sizes above baseline_max are skipped by the benchmarks (asv NaN, 'skipped'). "
            "'why not larger' is what the probe saw when it ran the original at ~3x steps "
            "beyond them (evaluation/probe.py: each size in its own process group under a "
            "budget; a stuck call told from a slow one by CPU use), or the instances' note when no "
            "probe ran."], _feasibility(workloads, data.probe)),
        Section("Measured speed-ups (side by side, same run)", [
            "Every size where both ran; 'optimized / single' compares with the best "
            "single-process implementation of the same work (1.0 = as fast)."],
            _speedups_table(data.speedups)),
        Section("Growth with size", [
            "t ~ n^b fitted over the largest sizes each implementation ran (up to 3) in the "
            "operation's main compute-workload curve, beside the single-process reference's b "
            "(impl 'single', the best one-process implementation of the same work). A b above "
            "the reference's means the processor grows faster than the work at those sizes. "
            "The log-log charts of every implementation are under 'All benchmarks'."],
            growth_table(data.bench, workloads)),
        Section("All benchmarks", [
            "Median ± half the interquartile range; 'skipped' = asv NaN, 'failed' = asv null."],
            bench_table(data.bench),
            [p.name for p in data.plots if p.name.startswith("time_vs_size_")]),
    ]


def _md(secs: list[Section], title: str) -> str:
    lines = [f"# {title}", ""]
    for s in secs:
        lines += [f"## {s.title}", ""]
        for p in s.paragraphs:
            lines += [p, ""]
        if s.table is not None and not s.table.empty:
            lines += [s.table.to_markdown(index=False, disable_numparse=True), ""]
        for img in s.images:
            lines += [f"![{img}]({img})", ""]
    return "\n".join(lines)


_CSS = ("body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;"
        "font-size:13px;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 6px;"
        "text-align:left}th{background:#eee}img{max-width:100%;margin:.5em 0}")


def _inline_md(text: str) -> str:
    """The little Markdown used in paragraphs (``**bold**``, `code`, links) as HTML."""
    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", t)
    t = re.sub(r"`(.+?)`", r"<code>\1</code>", t)
    t = re.sub(r"\[(.+?)\]\((.+?)\)", r'<a href="\2">\1</a>', t)
    return re.sub(r"\*(.+?)\*", r"<i>\1</i>", t)


def _html(secs: list[Section], title: str) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
             f"</title><style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    for s in secs:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        parts += [f"<p>{_inline_md(p)}</p>" for p in s.paragraphs]
        if s.table is not None and not s.table.empty:
            parts.append(s.table.to_html(index=False, border=0, na_rep=""))
        parts += [f"<img src='{html.escape(i)}' alt='{html.escape(i)}'>" for i in s.images]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(data: ReportData, workloads: Workloads, out_dir: Path,
                 asv_html: Path | None = None) -> list[Path]:
    """Write plots, ``report.json``, ``results.csv``, ``report.md`` and ``report.html``.

    Parameters
    ----------
    data : ReportData
    workloads : Workloads
    out_dir : Path
        The report folder (holding ``raw/``).
    asv_html : Path, optional
        ``asv publish`` output (``index.html``); linked when it exists.

    Returns
    -------
    list of Path
        Every file written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    data.plots = plot_scaling(data.bench, data.figures, workloads, out_dir)
    if data.comparison is not None:
        data.plots += plot_changes(data.comparison.changes, data.comparison.ref, out_dir)
    speed = plot_speedups(data.figures, out_dir)
    if speed:
        data.plots.append(speed)
    links = {}
    if asv_html is not None and asv_html.exists():
        links["asv publish (HTML history of every benchmark)"] = asv_html.resolve().as_uri()
    commit = str(data.run.get("commit") or "unknown")[:10]
    title = f"Evaluation report - {commit} ({data.run.get('mode', 'unknown')} mode)"
    secs = sections(data, workloads, links)
    files = {
        "report.json": json.dumps(report_json(data, workloads, links), indent=2, allow_nan=False),
        "report.md": _md(secs, title),
        "report.html": _html(secs, title),
    }
    written = []
    for name, text in files.items():
        (out_dir / name).write_text(text, encoding="utf-8")
        written.append(out_dir / name)
    data.bench.to_csv(out_dir / "results.csv", index=False)
    written.append(out_dir / "results.csv")
    return written + data.plots
