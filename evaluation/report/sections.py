"""The report's content as titled sections, rendered identically to Markdown and HTML."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..figures.compare import Comparison
from ..figures.growth import growth_table
from ..workloads import IMPLEMENTATIONS, Workloads
from .candidates import failures_table, overview_table, slower_rows, speed_table
from .load import ReportData
from .reliability import reliability_table
from .tables import (
    bench_table,
    environment_table,
    feasibility_table,
    figures_table,
    gates_table,
    speedups_table,
    targets_table,
)

__all__ = ["Section", "sections"]


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
        From :func:`~evaluation.report.load.build_report` (with ``plots`` filled in by
        :func:`~evaluation.report.render.write_report`).
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
                       environment_table(data.run.get("environment", {}))))
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
        "as regressions; 'benchmark changed' points (the benchmark's own code differs between "
        "the commits: asv's version) are listed with their ratio and never count either."],
        changed.round({"ratio": 3}),
        [p.name for p in plots if p.name.startswith("changes_")])


def _test_sections(data: ReportData) -> list[Section]:
    """Gates, tests, optimized failures and the baseline's defects."""
    out = [Section("Seed gates", [
        "Verdicts come from the gate tests (pytest, 4 workers, warm processor) run on each "
        "implementation; 'asv check' compares the optimized asv median at the gate's size "
        "with the limit, as a cross-check."], gates_table(data.gates))]
    sel = data.run.get("selection", {})
    out.append(Section("Tests", [f"Inner pytest run on {i}: `-m \"{sel[i]}\"`" for i in sel]
                       + _passes_paragraph(data.run.get("passes", {})), data.tests_summary))
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


def _passes_paragraph(passes: dict[str, list[dict[str, Any]]]) -> list[str]:
    """How each inner run was split (``run.json``'s ``passes``), where it was."""
    if not isinstance(passes, dict):  # an older run.json's layout: nothing to say
        return []
    out = []
    for impl, parts in passes.items():
        spread = [p for p in parts if p["workers"] > 1]
        if spread:
            out.append(f"The run on {impl} in two passes: the tests selected by "
                       f"`{spread[0]['markers']}` side by side on {spread[0]['workers']} "
                       "pytest-xdist workers (they time nothing), then the gate tests one at "
                       "a time with nothing beside them.")
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
    speed = speed_table(data.candidate_bench, data.candidates, data.figures)
    if not speed.empty:
        faster = slower_rows(data.candidate_bench)
        out.append(Section("Candidates and peers beside the optimized processor", [
            "asv medians from this run (`benchmarks/bench_candidates.py`): each candidate and "
            "the optimized processor in one benchmark per operation, on the same inputs, at "
            "the operation's seed size and its largest benchmark size. A ratio above 1 means "
            "the optimized processor is faster; 'vs baseline' is the baseline's time at that "
            "size over the candidate's (* the baseline's is extrapolated). A candidate's first "
            "call at a size has a wall-clock budget: 'timed out at N' when it outlived it. " +
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
            targets_table(data.targets)),
        Section("Figures at the seed's sizes", [
            "Median time at each operation's reference size; where an implementation did not "
            "run that size, the power-law extrapolation (marked, with its exponent b), or n/a "
            "with the reason when the fit is not trustworthy."],
            figures_table(data.figures)),
        Section("Where the baseline cannot go", [
            "Sizes above baseline_max are skipped by the benchmarks (asv NaN, 'skipped'). "
            "'why not larger' is what the probe saw when it ran the original at ~3x steps "
            "beyond them (evaluation/running/probe.py: each size in its own process group under a "
            "budget; a stuck call told from a slow one by CPU use), or the instances' note when no "
            "probe ran."], feasibility_table(workloads, data.probe)),
        Section("Measured speed-ups (side by side, same run)", [
            "Every size where both ran; 'optimized / single' compares with the best "
            "single-process implementation of the same work (1.0 = as fast)."],
            speedups_table(data.speedups)),
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
