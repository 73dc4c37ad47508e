"""Each operation's figures: the time at its reference size, and measured speed-ups.

- The figure compared per operation is the asv ``time_<operation>`` median at the
  operation's reference size: the size of its first seed gate, else the largest size
  of its optimized benchmark sizes, taken from one benchmark (:func:`timed_rows`):
  rows of the gate's workload are preferred (a benchmark is of the ``latency``
  workload when it has a ``workload`` parameter saying so or that word in its class
  name), then a benchmark without a ``workers`` parameter (it runs at the gate's
  worker count), else the gate's worker count.
- How a size that was not run gets a figure, or the reason it gets none:
  :mod:`evaluation.figures.extrapolate`.
- Measured speed-ups (:func:`speedups`, :func:`measured_speedup`) are ratios of
  medians at sizes both sides ran, never extrapolated.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

import pandas as pd

from ..workloads import SCALE_SUITE_SUFFIX, Operation, Workloads
from .extrapolate import figure_at

__all__ = ["DEFAULT_WORKLOAD", "FIGURE_COLUMNS", "timed_rows", "scale_companion", "reference_size",
           "reference_figures", "speedups", "measured_speedup", "workload_of"]

DEFAULT_WORKLOAD = "compute"
#: Columns of :func:`reference_figures`.
FIGURE_COLUMNS = ["operation", "size", "size_source", "workload", "impl", "seconds",
                  "extrapolated", "exponent", "r2", "n_points", "spread", "status_at_size",
                  "reason", "reason_details", "note", "holdout_error", "model"]


def workload_of(row: pd.Series, workloads: Workloads) -> str:
    params = json.loads(row["params"]) if isinstance(row["params"], str) else {}
    if isinstance(params.get("workload"), str):
        return params["workload"]
    name = f"{row['suite'] or ''}.{row['metric']}".lower()
    for w in workloads.workloads:
        if w != DEFAULT_WORKLOAD and w.lower() in name:
            return w
    return DEFAULT_WORKLOAD


def timed_rows(bench: pd.DataFrame, op: str, workload: str, workers: int,
               workloads: Workloads) -> pd.DataFrame:
    """``time_<op>`` rows of one benchmark: the operation's main curve.

    Preference order: the requested workload (else the default one); a benchmark
    without a ``workers`` parameter (it runs at the gate's worker count), else the rows
    at ``workers`` (else the largest count run); among what is left, the benchmark with
    the most points (ties: the first name), so that two suites never mix in one curve -
    except its companion at the scaling sizes (:func:`scale_companion`): the same
    benchmark code, in a suite of its own only so that it can run one asv round.

    Parameters
    ----------
    bench : pandas.DataFrame
        From :func:`~evaluation.figures.bench.load_results`.
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
    wl = rows.apply(workload_of, axis=1, workloads=workloads)
    if (wl == workload).any():
        rows = rows[wl == workload]
    elif (wl == DEFAULT_WORKLOAD).any():
        rows = rows[wl == DEFAULT_WORKLOAD]
    if rows["workers"].isna().any():
        rows = rows[rows["workers"].isna()]
    else:
        have = set(rows["workers"].astype(int))
        rows = rows[rows["workers"] == (workers if workers in have else max(have))]
    counts = rows.groupby("benchmark").size()
    main = [name for name in counts.index if scale_companion(name) != name] or list(counts.index)
    best = sorted(main, key=lambda name: (-counts[name], name))[0]
    return rows[rows["benchmark"].isin({best, scale_companion(best)})]


def scale_companion(benchmark: str) -> str:
    """The name of ``benchmark``'s companion suite at the scaling sizes.

    ``bench_primes.ParallelFindPrimes.time_parallel_find_primes`` ->
    ``bench_primes.ParallelFindPrimesAtScale.time_parallel_find_primes``; a companion's
    own name is returned unchanged. The companion runs the same benchmark code at the
    sizes users run at, in one asv round (:data:`~evaluation.workloads.SCALE_SUITE_SUFFIX`).
    """
    module, _, rest = benchmark.partition(".")
    suite, _, metric = rest.rpartition(".")
    if not suite or suite.endswith(SCALE_SUITE_SUFFIX):
        return benchmark
    return f"{module}.{suite}{SCALE_SUITE_SUFFIX}.{metric}"


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
        From :func:`~evaluation.figures.bench.load_results` (may be empty).
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
        Columns :data:`FIGURE_COLUMNS`: where the figure was taken, its time, its fit,
        and why it is what it is (``reason``: a :mod:`evaluation.reasons` code with
        ``reason_details``; ``note``: the reason in words).
    """
    rows = []
    for op in workloads.operations.values():
        size, source = reference_size(op)
        gate = op.gates[0] if op.gates else None
        workload = gate.workload if gate else DEFAULT_WORKLOAD
        workers = gate.workers if gate else workloads.gate_workers
        timed = timed_rows(bench, op.name, workload, workers, workloads)
        if not timed.empty:  # the workload actually measured (a fallback may differ)
            workload = workload_of(timed.iloc[0], workloads)
        points = (baseline_points or {}).get(op.name, ())
        if points and not timed.empty:
            timed = _with_probe_points(timed, points)
        for impl in impls:
            f = figure_at(timed, impl, size, extrapolate=impl not in no_extrapolation, op=op)
            rows.append({"operation": op.name, "size": size, "size_source": source,
                         "workload": workload, "impl": impl, "seconds": f.seconds,
                         "extrapolated": f.extrapolated, "exponent": f.exponent, "r2": f.r2,
                         "n_points": f.n_points, "spread": f.spread,
                         "status_at_size": f.status, "reason": f.reason.code,
                         "reason_details": dict(f.reason.details), "note": f.reason.text(),
                         "holdout_error": f.holdout_error, "model": f.model})
    return pd.DataFrame(rows, columns=FIGURE_COLUMNS)


def speedups(bench: pd.DataFrame, workloads: Workloads | None = None) -> pd.DataFrame:
    """Measured ratios side by side, at every size both sides ran (no extrapolation).

    Parameters
    ----------
    bench : pandas.DataFrame
        From :func:`~evaluation.figures.bench.load_results`.
    workloads : Workloads, optional
        With it, a benchmark with a ``workers`` parameter and no ``single`` point of
        its own (the 2-worker suites) is given the ``single`` figure of the operation's
        main curve (:func:`timed_rows`) at the same size: the single-process reference
        runs no workers, so the same run times it once, and ``single_from`` names the
        benchmark it came from.

    Returns
    -------
    pandas.DataFrame
        ``benchmark, operation, variant`` (every parameter but impl), ``size, workers,
        baseline, optimized, single, single_from, speedup_vs_baseline`` (baseline /
        optimized) and ``ratio_to_single`` (optimized / single: 1.0 means as fast as the
        best one-process code). Rows where the optimized point was not measured are left
        out.
    """
    keys = ["benchmark", "operation", "variant", "size", "workers"]
    columns = keys + ["baseline", "optimized", "single", "single_from", "speedup_vs_baseline",
                      "ratio_to_single"]
    t = bench[(bench["kind"] == "time") & (bench["status"] == "ok")]
    if t.empty:
        return pd.DataFrame(columns=columns)
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
    wide["single_from"] = ""
    if workloads is not None:
        _single_from_main_curves(wide, bench, workloads)
    wide = wide.dropna(subset=["optimized"])
    wide["speedup_vs_baseline"] = wide["baseline"] / wide["optimized"]
    wide["ratio_to_single"] = wide["optimized"] / wide["single"]
    wide.columns.name = None
    return wide[columns].reset_index(drop=True)


def _single_from_main_curves(wide: pd.DataFrame, bench: pd.DataFrame,
                             workloads: Workloads) -> None:
    """Fill ``single`` of worker-count rows that lack it from the main curve (in place)."""
    need = wide["single"].isna() & wide["workers"].notna() & wide["size"].notna()
    for op in set(wide.loc[need, "operation"]):
        curve = timed_rows(bench, op, DEFAULT_WORKLOAD, workloads.gate_workers, workloads)
        single = curve[(curve["impl"] == "single") & (curve["status"] == "ok")]
        by_size = dict(zip(single["size"].astype(int), zip(single["median"], single["benchmark"],
                                                           strict=True), strict=True))
        for i in wide.index[need & (wide["operation"] == op)]:
            found = by_size.get(int(wide.at[i, "size"]))
            if found is not None:
                wide.at[i, "single"], wide.at[i, "single_from"] = found


def measured_speedup(bench: pd.DataFrame, op: Operation, workloads: Workloads) -> tuple[float, int]:
    """Baseline / optimized at the largest size where both were measured.

    Parameters
    ----------
    bench : pandas.DataFrame
        From :func:`~evaluation.figures.bench.load_results`.
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
    rows = timed_rows(bench, op.name, gate.workload if gate else DEFAULT_WORKLOAD,
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
