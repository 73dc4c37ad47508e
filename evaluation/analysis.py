"""Turn test outcomes and benchmark rows into the comparison: verdicts, speed-ups, fits.

Everything here is a pure function of its inputs (lists of
:class:`~evaluation.run_tests.TestCase`, the frame of
:func:`~evaluation.asv_results.load_results` and the workload instances), so the
report can be rebuilt from saved raw results and tested on fixture data.

Conventions
-----------
- A gate test is mapped to gate ids by, in order: ids given to its marker
  (``@pytest.mark.gate("R5")``); a gate id written in its function name
  (``test_gate_R2_latency_...`` -> ``R2-latency``, the longest id wins); the only gate
  of the operation named in its node id.
- The figure compared per operation is the asv ``time_<operation>`` median at the
  operation's reference size: the size of its first seed gate, else the largest size
  of its optimized benchmark sizes, taken from one benchmark (:func:`timed_rows`):
  rows of the gate's workload are preferred (a benchmark is of the ``latency``
  workload when it has a ``workload`` parameter saying so or that word in its class
  name), then a benchmark without a ``workers`` parameter (it runs at the gate's
  worker count), else the gate's worker count.
- A size that was run is never extrapolated: its median is the figure, or ``n/a``
  when that point failed (asv null).
- Where an implementation did not run the reference size (the baseline above
  ``baseline_max``; quick mode's small sizes), the figure is extrapolated with a power
  law ``t = a * n**b`` fitted to every size it did run, and marked ``extrapolated`` -
  only when the fit is trustworthy (:func:`extrapolation_refusal`), else ``n/a`` with
  the reason:

  1. at least two distinct sizes (:class:`~evaluation.fit.FitError` otherwise);
  2. ``b > 0`` (a time falling with size means fixed overheads dominate: no trend);
  3. with three or more points, ``r2 >= MIN_R2`` (0.9) on log-log axes (two points
     always fit exactly, so r2 says nothing there);
  4. beyond ``FAR_REACH`` (10) times the largest size run, ``b >= MIN_FAR_EXPONENT``
     (0.8): every operation's work grows at least linearly with its size, so a flatter
     fit means the sizes run are dominated by fixed overheads, and following it 100x
     further would report the overhead, not the work (quick mode's
     ``764 us at 100,000 items, b=0.08`` was such a figure).
- The baseline is extrapolated differently (D16, :mod:`evaluation.work`): with
  ``t = c0 + c1 * W(n)``, where ``W`` counts the work of the original's own algorithm
  (processes started, trial divisions, bubble-sort comparisons, queue operations),
  fitted to its benchmark sizes and to every larger size the probe saw it finish.
- Every extrapolation is validated by hold-out: fitted without the largest size, it
  must predict that size within ``MAX_HOLDOUT_ERROR`` (50 %); with fewer than three
  sizes there is nothing to hold out and the figure is refused.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .baseline_truth import DOES_NOT_FINISH, WRONG
from .fit import FitError, PowerLaw, fit_power_law
from .run_tests import OUTCOMES, TestCase
from .work import fit_work, work_model
from .workloads import BenchmarkTarget, BenchSelector, Gate, Operation, Workloads

__all__ = ["TEST_COLUMNS", "tests_frame", "tests_summary", "map_gate_ids", "gate_verdicts",
           "reference_figures", "speedups", "baseline_defects", "optimized_failures",
           "summary_table", "measured_speedup", "Figure", "FAILING_OUTCOMES", "timed_rows",
           "reference_size", "format_figure", "format_seconds", "format_ratio", "exit_status",
           "extrapolation_refusal", "FAR_REACH", "MIN_FAR_EXPONENT", "MIN_R2",
           "target_verdicts", "TARGET_COLUMNS", "TARGET_VERDICTS"]

TEST_COLUMNS = ["impl", "nodeid", "file", "test", "outcome", "seconds", "is_gate", "gate_ids",
                "markers", "message", "record"]
#: Outcomes that make a run fail.
FAILING_OUTCOMES = ("failed", "error")
#: Extrapolation rules (see the module docstring): beyond FAR_REACH x the largest size
#: run, the fitted exponent must be at least MIN_FAR_EXPONENT; fits of 3+ points need
#: r2 >= MIN_R2.
FAR_REACH = 10.0
MIN_FAR_EXPONENT = 0.8
MIN_R2 = 0.9
_DEFAULT_WORKLOAD = "compute"
#: A test killed by pytest-timeout, or a message naming a hang: the call never returned.
_HANG = re.compile(r"timed? ?out|timeout|deadlock|\bhang", re.I)
#: A call stopped when its time budget ran out (tests/budget.py): for a gate test that is
#: a time gate missed (the call was slow, maybe finishing later); for another test a hang.
_BUDGET = re.compile(r"did not finish|budget", re.I)
_LOST = re.compile(r"\blost\b|missing|dropped|out of order|unordered|not in (?:input )?order|"
                   r"fewer|duplicat|incomplete", re.I)


# --------------------------------------------------------------------------- tests
def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


def _func_name(nodeid: str) -> str:
    return nodeid.split("::")[-1].split("[")[0]


def map_gate_ids(case: TestCase, workloads: Workloads) -> tuple[str, ...]:
    """Gate ids a gate test checks (see the module docstring for the rules).

    Parameters
    ----------
    case : TestCase
        One test's outcome and markers, from :func:`~evaluation.run_tests.parse_junit`.
    workloads : Workloads
        The known gates and the operations they belong to.

    Returns
    -------
    tuple of str
        The gate ids; ``()`` for a test that is not a gate test or maps to no gate.
    """
    if not case.is_gate:
        return ()
    known = {g.id for g in workloads.gates}
    if case.gate_ids:
        return tuple(g for g in case.gate_ids if g in known) or case.gate_ids
    name = _func_name(case.nodeid).lower()
    for gid in sorted(known, key=len, reverse=True):  # "R2-latency" before "R2"
        token = re.escape(gid.lower().replace("-", "_"))
        if re.search(rf"(?:^|_){token}(?:_|$)", name):
            return (gid,)
    for op in workloads.operations.values():
        if op.name in case.nodeid and len(op.gates) == 1:
            return (op.gates[0].id,)
    return ()


def tests_frame(runs: Mapping[str, Sequence[TestCase]], workloads: Workloads) -> pd.DataFrame:
    """One row per test per implementation.

    Parameters
    ----------
    runs : mapping of str to sequence of TestCase
        Implementation -> its parsed JUnit outcomes.
    workloads : Workloads
        For mapping gate tests to gate ids (:func:`map_gate_ids`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TEST_COLUMNS`; ``message`` is the first line of the failure or
        skip message, ``gate_ids`` comma-separated, ``record`` the test's reliability
        record (JSON text, or "").
    """
    rows = []
    for impl, cases in runs.items():
        for c in cases:
            rows.append({"impl": impl, "nodeid": c.nodeid, "file": c.nodeid.split("::")[0],
                         "test": c.nodeid.split("::", 1)[-1], "outcome": c.outcome,
                         "seconds": c.seconds, "is_gate": c.is_gate,
                         "gate_ids": ",".join(map_gate_ids(c, workloads)),
                         "markers": ",".join(c.markers),
                         "message": _first_line(c.message) or _first_line(c.details),
                         "record": c.record})
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


def tests_summary(tests: pd.DataFrame, impls: Iterable[str]) -> pd.DataFrame:
    """Outcome counts and total seconds per implementation.

    Parameters
    ----------
    tests : pandas.DataFrame
        From :func:`tests_frame`.
    impls : iterable of str
        Implementations to list (each gets a row, with zeros when it has no tests).

    Returns
    -------
    pandas.DataFrame
        ``impl``, one count column per outcome, ``total``, ``gates passed``
        (``passed/gate tests``) and ``seconds``.
    """
    rows = []
    for impl in impls:
        t = tests[tests["impl"] == impl]
        row: dict[str, Any] = {"impl": impl}
        row.update({o: int((t["outcome"] == o).sum()) for o in OUTCOMES})
        row["total"] = len(t)
        row["gates passed"] = f"{int((t['is_gate'] & (t['outcome'] == 'passed')).sum())}" \
                              f"/{int(t['is_gate'].sum())}"
        row["seconds"] = round(float(t["seconds"].sum()), 1)
        rows.append(row)
    return pd.DataFrame(rows)


def _verdict(outcomes: Sequence[str]) -> str:
    if not outcomes:
        return "no test"
    if any(o in FAILING_OUTCOMES for o in outcomes):
        return "fail"
    if any(o == "xfailed" for o in outcomes):
        return "not met (known limit)"  # a gate test that reported its target as missed
    if all(o == "skipped" for o in outcomes):
        return "skipped"
    return "pass"


# --------------------------------------------------------------------------- benchmarks
def _workload_of(row: pd.Series, workloads: Workloads) -> str:
    params = json.loads(row["params"]) if isinstance(row["params"], str) else {}
    if isinstance(params.get("workload"), str):
        return params["workload"]
    name = f"{row['suite'] or ''}.{row['metric']}".lower()
    for w in workloads.workloads:
        if w != _DEFAULT_WORKLOAD and w.lower() in name:
            return w
    return _DEFAULT_WORKLOAD


def timed_rows(bench: pd.DataFrame, op: str, workload: str, workers: int,
               workloads: Workloads) -> pd.DataFrame:
    """``time_<op>`` rows of one benchmark: the operation's main curve.

    Preference order: the requested workload (else the default one); a benchmark
    without a ``workers`` parameter (it runs at the gate's worker count), else the rows
    at ``workers`` (else the largest count run); among what is left, the benchmark with
    the most points (ties: the first name), so that two suites never mix in one curve.

    Parameters
    ----------
    bench : pandas.DataFrame
        From :func:`~evaluation.asv_results.load_results`.
    op : str
        Operation name.
    workload : str
        Workload wanted (``compute``, ``latency``).
    workers : int
        Worker count wanted where the benchmark has a ``workers`` parameter.
    workloads : Workloads
        The known workload names.

    Returns
    -------
    pandas.DataFrame
        Rows of ``bench`` (every implementation and size of that one benchmark, any
        status); empty when the operation has no timing benchmark.
    """
    rows = bench[(bench["kind"] == "time") & (bench["operation"] == op)]
    if rows.empty:
        return rows
    wl = rows.apply(_workload_of, axis=1, workloads=workloads)
    if (wl == workload).any():
        rows = rows[wl == workload]
    elif (wl == _DEFAULT_WORKLOAD).any():
        rows = rows[wl == _DEFAULT_WORKLOAD]
    if rows["workers"].isna().any():
        rows = rows[rows["workers"].isna()]
    else:
        have = set(rows["workers"].astype(int))
        rows = rows[rows["workers"] == (workers if workers in have else max(have))]
    counts = rows.groupby("benchmark").size()
    best = sorted(counts.index, key=lambda name: (-counts[name], name))[0]
    return rows[rows["benchmark"] == best]


def reference_size(op: Operation) -> tuple[int, str]:
    """The size an operation is compared at.

    Parameters
    ----------
    op : Operation
        The operation.

    Returns
    -------
    (int, str)
        Its first gate's size and ``"gate <id>"``, else its largest optimized benchmark
        size and ``"largest benchmark size"``.
    """
    if op.gates:
        return op.gates[0].size, f"gate {op.gates[0].id}"
    return max(op.sizes["optimized"]), "largest benchmark size"


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
    note: str = ""
    holdout_error: float = math.nan
    model: str = ""


def extrapolation_refusal(law: PowerLaw, size: float) -> str:
    """Why ``law`` must not be extrapolated to ``size`` (``""`` when it may).

    Parameters
    ----------
    law : PowerLaw
        The fit over the sizes an implementation ran.
    size : float
        The size to extrapolate to (beyond ``law.size_range``).

    Returns
    -------
    str
        The reason to refuse, in words, or ``""``: the rules of the module docstring.
    """
    reach = size / law.size_range[1]
    if law.b <= 0:
        return f"fitted exponent b={law.b:.2f} <= 0 (overhead-dominated)"
    if law.n_points >= 3 and law.r2 < MIN_R2:
        return f"poor power-law fit (r2={law.r2:.2f} < {MIN_R2})"
    if reach > FAR_REACH and law.b < MIN_FAR_EXPONENT:
        return (f"b={law.b:.2f} < {MIN_FAR_EXPONENT} over sizes {law.size_range[0]:g}-"
                f"{law.size_range[1]:g} (overhead-dominated), {reach:,.0f}x beyond them")
    return ""


def _measured(at: pd.DataFrame) -> Figure | None:
    """The figure of a size that was run (a median, or n/a when it failed); None if not run."""
    ok_at = at[at["status"] == "ok"]
    if not ok_at.empty:
        r = ok_at.iloc[0]
        probed = r.get("source") == "probe"
        return Figure(float(r["median"]), False, spread=float(r["spread"]),
                      note="probed at this size" if probed else "")
    if (at["status"] == "failed").any():  # measured, and it failed: never extrapolated
        return Figure(math.nan, False, status="failed", note="failed at this size (asv null)")
    return None


def _work_figure(ok: pd.DataFrame, op: Operation, size: int, status_at: str) -> Figure:
    """``t = c0 + c1 * W(n)`` from the original's work function, validated by hold-out."""
    by_size = ok.sort_values("size").drop_duplicates("size", keep="last")
    sizes, times = by_size["size"].astype(float), by_size["median"].astype(float)
    try:
        fit = fit_work(op, sizes, times)
    except ValueError as exc:
        return Figure(math.nan, False, status=status_at, note=f"cannot extrapolate: {exc}")
    holdout = _holdout_error(by_size, lambda n, t: fit_work(op, n, t))
    span = f"{fit.size_range[0]:g}-{fit.size_range[1]:g}"
    if holdout != holdout:
        refusal = (f"cannot validate the fit of W(n) = {fit.model}: {len(by_size)} sizes "
                   "leave none to hold out")
    elif holdout > MAX_HOLDOUT_ERROR:
        refusal = (f"hold-out error {holdout:.0%} > {MAX_HOLDOUT_ERROR:.0%} (t = c0 + c1*W(n), "
                   f"W = {fit.model}, fitted without the largest size, mispredicts it)")
    else:
        return Figure(fit.predict(size), True, n_points=fit.n_points, status=status_at,
                      note=f"t = c0 + c1*W(n) over sizes {span}, W = {fit.model}",
                      holdout_error=holdout, model=fit.model)
    return Figure(math.nan, False, n_points=fit.n_points, status=status_at,
                  note=f"cannot extrapolate: {refusal}", holdout_error=holdout, model=fit.model)


def _figure(rows: pd.DataFrame, impl: str, size: int, extrapolate: bool = True,
            op: Operation | None = None) -> Figure:
    """Measured median at ``size``, else a trustworthy extrapolation, else n/a.

    The baseline is extrapolated with its own work function where ``op`` has one
    (:mod:`evaluation.work`); everything else with a power law.
    """
    mine = rows[rows["impl"] == impl]
    at = mine[mine["size"] == size]
    measured = _measured(at)
    if measured is not None:
        return measured
    status_at = at["status"].iloc[0] if not at.empty else "not in suite"
    if not extrapolate:
        return Figure(math.nan, False, status=status_at, note="not measured at this size")
    ok = mine[(mine["status"] == "ok") & mine["size"].notna()]
    if ok.empty:
        note = "no successful measurement" if not mine.empty else "not benchmarked"
        return Figure(math.nan, False, status=status_at, note=note)
    if ok["size"].nunique() < 2:
        return Figure(math.nan, False, status=status_at,
                      note=f"cannot extrapolate: only 1 size run ({int(ok['size'].iloc[0]):,})")
    if impl == "baseline" and op is not None and work_model(op) is not None:
        return _work_figure(ok, op, size, status_at)
    try:
        law = fit_power_law(ok["size"].astype(float), ok["median"].astype(float))
    except FitError as exc:
        return Figure(math.nan, False, status=status_at, note=f"cannot extrapolate: {exc}")
    refusal = extrapolation_refusal(law, size)
    holdout = _holdout_error(ok)
    if not refusal and holdout != holdout:
        refusal = (f"cannot validate the fit: {ok['size'].nunique()} sizes leave none to hold "
                   "out")
    elif not refusal and holdout > MAX_HOLDOUT_ERROR:
        refusal = (f"hold-out error {holdout:.0%} > {MAX_HOLDOUT_ERROR:.0%} (fitted without the "
                   f"largest size, the law mispredicts it)")
    if refusal:
        return Figure(math.nan, False, law.b, law.r2, law.n_points, status=status_at,
                      note=f"cannot extrapolate: {refusal}", holdout_error=holdout)
    return Figure(law.predict(size), True, law.b, law.r2, law.n_points, status=status_at,
                  note=f"fit over sizes {law.size_range[0]:g}-{law.size_range[1]:g}",
                  holdout_error=holdout)


#: A fit that mispredicts its own largest measured size by more than this is refused.
MAX_HOLDOUT_ERROR = 0.5


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


def _with_probe_points(timed: pd.DataFrame, points: Sequence[tuple[int, float]]) -> pd.DataFrame:
    """Add the baseline's probed sizes (finished, with a time) to its benchmark rows."""
    have = set(timed.loc[(timed["impl"] == "baseline") & (timed["status"] == "ok"), "size"])
    extra = [{"impl": "baseline", "size": float(n), "median": float(t), "status": "ok",
              "spread": math.nan, "source": "probe"} for n, t in points if n not in have]
    return pd.concat([timed, pd.DataFrame(extra)], ignore_index=True) if extra else timed


def reference_figures(bench: pd.DataFrame, workloads: Workloads,
                      impls: Sequence[str] = ("baseline", "optimized"),
                      no_extrapolation: Sequence[str] = (),
                      baseline_points: Mapping[str, Sequence[tuple[int, float]]] | None = None
                      ) -> pd.DataFrame:
    """Per operation and implementation: the time at the reference size.

    Parameters
    ----------
    bench : pandas.DataFrame
        From :func:`~evaluation.asv_results.load_results` (may be empty).
    workloads : Workloads
        Operations, their reference sizes and gates.
    impls : sequence of str
        Implementations to give a figure for.
    no_extrapolation : sequence of str
        Implementations given only measured figures ("not measured at this size"
        otherwise): the optimized side in quick mode, whose smallest sizes say
        nothing about the seed's.
    baseline_points : mapping, optional
        Per operation, ``(size, seconds)`` the probe measured for the baseline beyond
        the benchmarks' sizes (finished calls): fitted together with asv's medians.

    Returns
    -------
    pandas.DataFrame
        Columns ``operation, size, size_source, workload, impl, seconds, extrapolated,
        exponent, r2, n_points, spread, status_at_size, note``.
    """
    rows = []
    for op in workloads.operations.values():
        size, source = reference_size(op)
        gate = op.gates[0] if op.gates else None
        workload = gate.workload if gate else _DEFAULT_WORKLOAD
        workers = gate.workers if gate else workloads.gate_workers
        timed = timed_rows(bench, op.name, workload, workers, workloads)
        if not timed.empty:  # the workload actually measured (a fallback may differ)
            workload = _workload_of(timed.iloc[0], workloads)
        points = (baseline_points or {}).get(op.name, ())
        if points and not timed.empty:
            timed = _with_probe_points(timed, points)
        for impl in impls:
            f = _figure(timed, impl, size, extrapolate=impl not in no_extrapolation, op=op)
            rows.append({"operation": op.name, "size": size, "size_source": source,
                         "workload": workload, "impl": impl, "seconds": f.seconds,
                         "extrapolated": f.extrapolated, "exponent": f.exponent, "r2": f.r2,
                         "n_points": f.n_points, "spread": f.spread,
                         "status_at_size": f.status, "note": f.note,
                         "holdout_error": f.holdout_error, "model": f.model})
    return pd.DataFrame(rows)


def speedups(bench: pd.DataFrame) -> pd.DataFrame:
    """Measured ratios side by side, at every size both sides ran (no extrapolation).

    Parameters
    ----------
    bench : pandas.DataFrame
        From :func:`~evaluation.asv_results.load_results`.

    Returns
    -------
    pandas.DataFrame
        ``benchmark, operation, variant`` (every parameter but impl), ``size, workers,
        baseline, optimized, single, speedup_vs_baseline`` (baseline / optimized) and
        ``ratio_to_single`` (optimized / single: 1.0 means as fast as the best
        one-process code). Rows where the optimized point was not measured are left out.
    """
    t = bench[(bench["kind"] == "time") & (bench["status"] == "ok")]
    if t.empty:
        return pd.DataFrame(columns=["benchmark", "operation", "variant", "size", "workers",
                                     "baseline", "optimized", "single", "speedup_vs_baseline",
                                     "ratio_to_single"])
    keys = ["benchmark", "operation", "variant", "size", "workers"]
    wide = (t.sort_values(["benchmark", "size", "workers", "variant"])
            .assign(operation=t["operation"].fillna("-"),
                    size=t["size"].astype("Float64").fillna(-1),
                    workers=t["workers"].astype("Float64").fillna(-1))
            .pivot_table(index=keys, columns="impl", values="median", aggfunc="first",
                         sort=False)
            .reset_index())
    # -1 stood for "no such parameter" (pivot_table drops NaN keys); put NaN back.
    for col in ("size", "workers"):
        wide[col] = wide[col].where(wide[col] >= 0).astype("Int64")
    for impl in ("baseline", "optimized", "single"):
        if impl not in wide:
            wide[impl] = math.nan
    wide = wide.dropna(subset=["optimized"])
    wide["speedup_vs_baseline"] = wide["baseline"] / wide["optimized"]
    wide["ratio_to_single"] = wide["optimized"] / wide["single"]
    wide.columns.name = None
    return wide[keys + ["baseline", "optimized", "single", "speedup_vs_baseline",
                        "ratio_to_single"]].reset_index(drop=True)


# --------------------------------------------------------------------------- gates
def _bench_check(gate: Gate, fig: pd.DataFrame) -> tuple[float, str]:
    """For a ``max_seconds`` gate: the optimized asv figure at the gate size vs the limit."""
    if gate.kind != "max_seconds":
        return math.nan, "checked by its test only"
    r = fig[(fig["operation"] == gate.operation) & (fig["impl"] == "optimized")]
    if r.empty or not r.iloc[0]["seconds"] == r.iloc[0]["seconds"]:
        return math.nan, "no benchmark figure"
    if r.iloc[0]["size"] != gate.size or r.iloc[0]["workload"] != gate.workload:
        return math.nan, "benchmark not at the gate's size/workload"
    if r.iloc[0]["extrapolated"]:  # a cross-check needs a measurement
        return math.nan, "not measured at the gate's size"
    secs = float(r.iloc[0]["seconds"])
    return secs, "within limit" if secs < gate.limit else "over limit"


def gate_verdicts(tests: pd.DataFrame, figures: pd.DataFrame, workloads: Workloads,
                  impls_run: Iterable[str]) -> pd.DataFrame:
    """Per seed gate: the verdict of its test(s) on each implementation.

    A verdict is ``pass`` (every mapped test passed), ``fail`` (one failed or errored),
    ``skipped``, ``no test`` (no gate test maps to it) or ``not run`` (that
    implementation's tests were not run). For ``max_seconds`` gates the optimized asv
    median at the gate size is shown beside it as a cross-check.

    Parameters
    ----------
    tests : pandas.DataFrame
        From :func:`tests_frame`.
    figures : pandas.DataFrame
        From :func:`reference_figures` (for the asv cross-check).
    workloads : Workloads
        The seed gates.
    impls_run : iterable of str
        Implementations whose test suite was run.

    Returns
    -------
    pandas.DataFrame
        One row per gate: ``gate, operation, target, kind, limit, size, workers,
        workload``, per implementation its verdict, ``<impl>_tests`` (node ids) and
        ``<impl>_message`` (first failure), then ``bench_seconds`` and ``bench_check``.
    """
    ran = set(impls_run)
    rows = []
    for g in workloads.gates:
        row: dict[str, Any] = {"gate": g.id, "operation": g.operation, "target": g.text,
                               "kind": g.kind, "limit": g.limit, "size": g.size,
                               "workers": g.workers, "workload": g.workload}
        for impl in ("baseline", "optimized"):
            t = tests[(tests["impl"] == impl) &
                      tests["gate_ids"].str.split(",").apply(lambda ids, gid=g.id: gid in ids)]
            row[impl] = _verdict(list(t["outcome"])) if impl in ran else "not run"
            row[f"{impl}_tests"] = list(t["nodeid"])
            failing = t[t["outcome"].isin(FAILING_OUTCOMES + ("xfailed",))]
            row[f"{impl}_message"] = failing["message"].iloc[0] if not failing.empty else ""
        row["bench_seconds"], row["bench_check"] = _bench_check(g, figures)
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- benchmark targets
#: Columns of :func:`target_verdicts`.
TARGET_COLUMNS = ["target", "text", "measured", "figure", "comparison", "limit",
                  "verdict", "reason", "numerator", "denominator"]
#: The verdicts of a benchmark target.
TARGET_VERDICTS = ("met", "NOT met", "not measured")
_COMPARE = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def _point(bench: pd.DataFrame, sel: BenchSelector, quick: bool) -> tuple[float, str]:
    """The median of one selected asv point, or NaN and why there is none."""
    rows = bench[bench["benchmark"] == sel.benchmark]
    if rows.empty:
        return math.nan, f"{_short(sel)}: benchmark not in this run's results"
    params = rows["params"].map(lambda s: json.loads(s) if isinstance(s, str) else {})
    hit = rows[params.map(lambda p: all(p.get(k) == v for k, v in sel.params.items()))]
    if hit.empty:
        return math.nan, _not_run(sel, list(params), quick)
    if len(hit) > 1:  # an under-specified selector must not pick a point at random
        return math.nan, f"{sel.describe()}: selects {len(hit)} points, not one"
    status = hit.iloc[0]["status"]
    if status != "ok":
        what = {"failed": "benchmark failed (asv null)", "skipped": "skipped (asv NaN)"}
        return math.nan, f"{sel.describe()}: {what.get(status, status)}"
    return float(hit.iloc[0]["median"]), ""


def _not_run(sel: BenchSelector, params: list[dict[str, Any]], quick: bool) -> str:
    """Why no point of the benchmark has the selected parameters: the values it did run."""
    missing = []
    for key, want in sel.params.items():
        have = {p.get(key) for p in params}
        if want not in have:
            ran = ", ".join(_param_text(v) for v in sorted(have, key=lambda v: (str(type(v)), v)))
            missing.append(f"{key}={_param_text(want)} not run (this run: {ran})")
    what = "; ".join(missing) or f"no point with {sel.describe()}"
    return f"{_short(sel)}: {what}" + (" - quick mode runs smaller sizes" if quick else "")


def _short(sel: BenchSelector) -> str:
    return ".".join(sel.benchmark.split(".")[-2:])


def _param_text(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _measure(bench: pd.DataFrame, target: BenchmarkTarget, quick: bool) -> tuple[float, str, str]:
    """``(figure, figure text, reason)`` of one target; NaN and the reason when not measured."""
    num, why = _point(bench, target.numerator, quick)
    if target.kind == "track":
        return num, ("" if why else f"{num:.3g}"), why
    dens = [_point(bench, d, quick) for d in target.denominator]
    reasons = list(dict.fromkeys(r for r in [why] + [r for _, r in dens] if r))
    if reasons:
        return math.nan, "", "; ".join(reasons)
    values = [v for v, _ in dens]
    den = min(values)
    ratio = num / den
    den_text = format_seconds(den)
    if len(values) > 1:  # "the better of": name which one it was
        best = target.denominator[values.index(den)]
        den_text = f"min(...) = {den_text} [{', '.join(f'{k}={v}' for k, v in best.params.items())}]"
    return ratio, f"{ratio:.3g} = {format_seconds(num)} / {den_text}", ""


#: Why quick mode judges no benchmark target (measured: a 100x100 matmul ratio of 0.7 in
#: full runs came out at 8 from single quick-mode samples).
_QUICK_SAMPLES = "one asv sample per benchmark, too noisy for a verdict"


def target_verdicts(bench: pd.DataFrame, workloads: Workloads, mode: str = "full") -> pd.DataFrame:
    """Judge every benchmark target of the instances on one run's asv results.

    Parameters
    ----------
    bench : pandas.DataFrame
        From :func:`~evaluation.asv_results.load_results` (may be empty).
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
        (how it was computed), ``verdict`` (one of :data:`TARGET_VERDICTS`) and
        ``reason`` (why not measured; for a ``NOT met``, the target's ``known_limit``).
    """
    quick = mode == "quick"
    rows = []
    for t in workloads.benchmark_targets:
        value, text, reason = _measure(bench, t, quick)
        if reason:
            verdict = "not measured"
        elif quick:  # one sample per benchmark (asv --quick): a figure, not a verdict
            why = t.full_run_only or _QUICK_SAMPLES
            verdict, reason = "not measured", f"quick mode: {why} (figure shown at quick " \
                                              "mode's setting)"
        else:
            verdict = "met" if _COMPARE[t.comparison](value, t.limit) else "NOT met"
            if verdict == "NOT met" and t.known_limit:
                reason = f"known limit: {t.known_limit}"
        rows.append({"target": t.id, "text": t.text, "measured": value,
                     "figure": text or "n/a", "comparison": t.comparison, "limit": t.limit,
                     "verdict": verdict, "reason": reason,
                     "numerator": t.numerator.describe(),
                     "denominator": ", ".join(d.describe() for d in t.denominator)})
    return pd.DataFrame(rows, columns=TARGET_COLUMNS)


# --------------------------------------------------------------------------- notes
def _defect_category(message: str, is_gate: bool, file: str) -> str:
    """One baseline failure's category (see :func:`baseline_defects`)."""
    if _HANG.search(message):
        return "hang (time budget expired)"
    if _BUDGET.search(message):  # a gate's budget is a few times its limit: slow, not hung
        return "time gate missed" if is_gate else "hang (time budget expired)"
    if _LOST.search(message):
        return "lost or unordered results"
    if is_gate:
        return "time gate missed"
    if "antipattern" in file.replace("_", "").replace("-", ""):
        return "anti-pattern present"
    return "other failure"


def baseline_defects(tests: pd.DataFrame) -> pd.DataFrame:
    """The baseline's failures, classified for the report's notes.

    Parameters
    ----------
    tests : pandas.DataFrame
        From :func:`tests_frame`.

    Returns
    -------
    pandas.DataFrame
        Columns ``category, test, gate, message``, one row per failed or errored
        baseline test. Categories: ``hang (time budget expired)`` (a timeout, a
        deadlock, or a non-gate call that outlived its budget), ``time gate missed`` (a
        gate test that failed on time, including running out of its budget),
        ``lost or unordered results``, ``anti-pattern present``, ``other failure``.
    """
    base = tests[(tests["impl"] == "baseline") & tests["outcome"].isin(FAILING_OUTCOMES)]
    rows = [{"category": _defect_category(t["message"], bool(t["is_gate"]), t["file"]),
             "test": t["nodeid"], "gate": t["gate_ids"], "message": t["message"]}
            for _, t in base.iterrows()]
    return pd.DataFrame(rows, columns=["category", "test", "gate", "message"])


def optimized_failures(tests: pd.DataFrame) -> pd.DataFrame:
    """Failed or errored tests of the optimized run (what makes the command exit 1).

    Parameters
    ----------
    tests : pandas.DataFrame
        From :func:`tests_frame`.

    Returns
    -------
    pandas.DataFrame
        Columns ``nodeid, outcome, gate_ids, message``.
    """
    t = tests[(tests["impl"] == "optimized") & tests["outcome"].isin(FAILING_OUTCOMES)]
    return t[["nodeid", "outcome", "gate_ids", "message"]].reset_index(drop=True)


# --------------------------------------------------------------------------- summary
def format_seconds(s: float) -> str:
    """Seconds in a readable unit.

    Parameters
    ----------
    s : float
        Seconds (NaN for no figure).

    Returns
    -------
    str
        ``4.2 h``, ``1.5 s``, ``12.3 ms``, ``870 us``, or ``n/a`` for NaN.
    """
    if not s == s:
        return "n/a"
    if s >= 3600:
        return f"{s / 3600:.3g} h"
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} us"


def format_figure(row: pd.Series) -> str:
    """One figure of :func:`reference_figures` as text.

    Parameters
    ----------
    row : pandas.Series
        A row of :func:`reference_figures`.

    Returns
    -------
    str
        ``12.3 ms``, ``4.2 h (extrapolated, b=1.98)``, ``5.0 s (extrapolated, W =
        processes started (one per element), hold-out error 3%)`` or ``n/a (reason)``.
    """
    if row.get("kind") in DOES_NOT_FINISH:
        return str(row["note"])
    text = format_seconds(row["seconds"])
    if row["extrapolated"]:
        held = row.get("holdout_error", math.nan)
        held_text = f", hold-out error {held:.0%}" if held == held else ""
        how = f"W = {row['model']}" if row.get("model") else f"b={row['exponent']:.2f}"
        text = f"{text} (extrapolated, {how}{held_text})"
    if row.get("kind") == WRONG:
        return f"{text} ({row['note']})"
    if row["extrapolated"]:
        return text
    if text == "n/a" and row["note"]:
        return f"n/a ({row['note']})"
    return text


def _op_verdict(op: str, gates: pd.DataFrame) -> str:
    g = gates[gates["operation"] == op]
    if g.empty:
        return "no seed gate"
    return "; ".join(f"{r['gate']} {r['optimized']} (baseline {r['baseline']})"
                     for _, r in g.iterrows())


def format_ratio(ratio: float) -> str:
    """A speed-up ratio as text.

    Parameters
    ----------
    ratio : float
        Baseline time / optimized time (NaN for none).

    Returns
    -------
    str
        ``1,234x``, ``5.3x``, ``0.27x``; ``-`` for NaN.
    """
    if not ratio == ratio:
        return "-"
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.2g}x"


def measured_speedup(bench: pd.DataFrame, op: Operation, workloads: Workloads) -> tuple[float, int]:
    """Baseline / optimized at the largest size where both were measured.

    Parameters
    ----------
    bench : pandas.DataFrame
        From :func:`~evaluation.asv_results.load_results`.
    op : Operation
        The operation (its first gate chooses the benchmark, as for the figures).
    workloads : Workloads
        Default worker count for operations without a gate.

    Returns
    -------
    (float, int)
        The ratio and that size, from the same rows as the reference figures;
        ``(nan, 0)`` when no size has both.
    """
    gate = op.gates[0] if op.gates else None
    rows = timed_rows(bench, op.name, gate.workload if gate else _DEFAULT_WORKLOAD,
                      gate.workers if gate else workloads.gate_workers, workloads)
    ok = rows[rows["status"] == "ok"]
    both = ok.pivot_table(index="size", columns="impl", values="median", aggfunc="first")
    if not {"baseline", "optimized"} <= set(both.columns):
        return math.nan, 0
    both = both.dropna(subset=["baseline", "optimized"])
    if both.empty:
        return math.nan, 0
    size = int(both.index.max())
    return float(both.loc[size, "baseline"] / both.loc[size, "optimized"]), size


def summary_table(figures: pd.DataFrame, gates: pd.DataFrame, workloads: Workloads,
                  bench: pd.DataFrame | None = None) -> pd.DataFrame:
    """The one-screen table, one row per operation.

    Parameters
    ----------
    figures : pandas.DataFrame
        From :func:`reference_figures`.
    gates : pandas.DataFrame
        From :func:`gate_verdicts`.
    workloads : Workloads
        Operations (one row each, in instance order) and their gates.
    bench : pandas.DataFrame, optional
        From :func:`~evaluation.asv_results.load_results`; adds the measured speed-up.

    Returns
    -------
    pandas.DataFrame
        Columns: operation, seed target, size (the reference size), baseline, optimized,
        speed-up (at that size, extrapolated where marked; n/a without both figures),
        measured speed-up (at the largest size both ran, never extrapolated; only with
        ``bench``), verdict.
    """
    rows = []
    for op in workloads.operations.values():
        f = figures[figures["operation"] == op.name].set_index("impl")
        base, opt = f.loc["baseline"], f.loc["optimized"]
        ratio = base["seconds"] / opt["seconds"]
        extrap = bool(base["extrapolated"] or opt["extrapolated"])
        broke = base.get("kind") in DOES_NOT_FINISH
        wrong = " (wrong result)" if base.get("kind") == WRONG else ""
        rows.append({
            "operation": op.name,
            "seed target": "; ".join(g.text for g in op.gates) or "-",
            "size": f"{int(base['size']):,}",
            "baseline": format_figure(base),
            "optimized": format_figure(opt),
            "speed-up": "baseline does not finish" if broke else
                        format_ratio(ratio) + (" (extrapolated)" if extrap else "") + wrong
                        if ratio == ratio else "n/a",
        })
        if bench is not None:
            m, at = measured_speedup(bench, op, workloads)
            rows[-1]["measured speed-up"] = f"{format_ratio(m)} at n={at:,}" if m == m else "n/a"
        rows[-1]["verdict"] = _op_verdict(op.name, gates)
    return pd.DataFrame(rows)


def _failure_reasons(tests: pd.DataFrame, gates: pd.DataFrame) -> list[str]:
    """Why the optimized implementation failed (exit 1), from its tests and gates."""
    reasons = []
    opt = tests[(tests["impl"] == "optimized") & tests["outcome"].isin(FAILING_OUTCOMES)]
    if not opt.empty:
        reasons.append(f"optimized: {len(opt)} test(s) failed or errored")
    failed_gates = gates[gates["optimized"] == "fail"]["gate"].tolist()
    if failed_gates:
        reasons.append(f"optimized: gate(s) failed: {', '.join(failed_gates)}")
    unmet = gates[gates["optimized"].str.startswith("not met")]["gate"].tolist()
    if unmet:  # reported by its test as a known, measured limit: still not a pass
        reasons.append(f"optimized: gate(s) not met (known limit, see the gate table): "
                       f"{', '.join(unmet)}")
    return reasons


def _unverified_gates(gates: pd.DataFrame) -> list[str]:
    """Gates the optimized run did not verify: no test maps to them, or all were skipped."""
    out = []
    for verdict, what in (("no test", "no gate test ran"), ("skipped", "only skipped tests")):
        ids = gates[gates["optimized"] == verdict]["gate"].tolist()
        if ids:
            out.append(f"optimized: gate(s) not verified ({what}): {', '.join(ids)}")
    return out


def exit_status(tests: pd.DataFrame, gates: pd.DataFrame, problems: Sequence[Mapping[str, Any]],
                impls_run: Iterable[str]) -> tuple[int, list[str]]:
    """The command's exit code and its reasons.

    Parameters
    ----------
    tests, gates : pandas.DataFrame
        From :func:`tests_frame` and :func:`gate_verdicts`.
    problems : sequence of mapping
        Stages that did not complete: ``{"stage": "pytest"|"asv"|..., "impl": str or None,
        "message": str}``.
    impls_run : iterable of str
        Implementations whose test suite was run.

    Returns
    -------
    (int, list of str)
        ``1`` when the optimized implementation failed (or errored) a test or a gate,
        or a gate test reported its target as not met (xfailed with the measured figure),
        or its test run was not run or did not complete; ``3`` when the run is
        otherwise incomplete (a stage produced no results, or a gate has no test or only
        skipped tests on the optimized run); else ``0``.
    """
    reasons = _failure_reasons(tests, gates)
    ran_optimized = "optimized" in set(impls_run)
    if not ran_optimized:
        reasons.append("optimized: the test suite was not run")
    opt_run = [p for p in problems if p.get("stage") == "pytest" and p.get("impl") == "optimized"]
    reasons.extend(str(p["message"]) for p in opt_run)
    others = [str(p["message"]) for p in problems if p not in opt_run]
    if ran_optimized and not opt_run:  # a crashed run already explains missing verdicts
        others.extend(_unverified_gates(gates))
    if reasons:
        return 1, reasons + others
    if others:
        return 3, others
    return 0, []
