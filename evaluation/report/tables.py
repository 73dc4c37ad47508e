"""The report's tables, as they are shown: figures and verdicts turned into readable cells."""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..reasons import Reason
from ..units import format_ratio, format_seconds
from ..workloads import Workloads
from .summary import format_figure

__all__ = ["bench_table", "figures_table", "speedups_table", "targets_table", "gates_table",
           "feasibility_table", "environment_table"]

_IMPL_ORDER = ("baseline", "optimized", "inline", "pool", "single")


def _bench_cell(r: pd.Series) -> str:
    if r["status"] != "ok":
        return str(r["status"])
    if r["unit"] == "seconds":
        text = format_seconds(r["median"])
        return text + (f" ± {format_seconds(r['spread'] / 2)}" if r["spread"] > 0 else "")
    if r["unit"] == "bytes":
        return f"{r['median'] / 2 ** 20:.1f} MiB"
    return f"{r['median']:.4g}" + (f" {r['unit']}" if r["unit"] not in (None, "unit") else "")


def bench_table(bench: pd.DataFrame) -> pd.DataFrame:
    """Benchmarks wide: one row per (benchmark, parameters but impl), one column per impl.

    Parameters
    ----------
    bench : pandas.DataFrame
        From :func:`evaluation.figures.bench.load_results`.

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


def figures_table(figures: pd.DataFrame) -> pd.DataFrame:
    """Figures at the seed's sizes: one row per operation and implementation, time in words."""
    f = figures.copy()
    f["time"] = f.apply(format_figure, axis=1)
    f["fit r2"] = f["r2"].map(lambda v: f"{v:.3f}" if v == v else "")
    return f[["operation", "impl", "size", "size_source", "workload", "time", "fit r2",
              "status_at_size"]].rename(columns={"status_at_size": "asv status at size"})


def speedups_table(s: pd.DataFrame) -> pd.DataFrame:
    """Measured speed-ups with readable times and ratios (empty stays empty)."""
    if s.empty:
        return s
    out = s.copy()
    for c in ("baseline", "optimized", "single"):
        out[c] = out[c].map(format_seconds)
    borrowed = s["single_from"].astype(bool)  # the operation's main curve: same run, no workers
    out.loc[borrowed, "single"] = [f"{v} (from {b.split('.')[-2]})" for v, b in
                                   zip(out.loc[borrowed, "single"], s.loc[borrowed, "single_from"],
                                       strict=True)]
    out["speed-up vs baseline"] = s["speedup_vs_baseline"].map(format_ratio)
    out["optimized / single"] = s["ratio_to_single"].map(lambda v: f"{v:.2f}" if v == v else "-")
    return out.drop(columns=["speedup_vs_baseline", "ratio_to_single", "operation", "size",
                             "workers", "single_from"])


def targets_table(t: pd.DataFrame) -> pd.DataFrame:
    """Benchmark targets: what each measures, the figure, the limit, the verdict, why."""
    out = t.copy()
    out["limit"] = out["comparison"] + " " + out["limit"].map(lambda v: f"{v:g}")
    return out[["target", "text", "figure", "limit", "verdict", "note"]].rename(
        columns={"text": "what it measures", "figure": "measured", "note": "reason"})


def gates_table(g: pd.DataFrame) -> pd.DataFrame:
    """Seed gates: verdicts per implementation, the asv cross-check in words, failures."""
    out = g[["gate", "operation", "target", "optimized", "baseline", "bench_seconds",
             "bench_check", "optimized_message", "baseline_message"]].copy()
    out["bench_seconds"] = out["bench_seconds"].map(format_seconds)
    out["bench_check"] = out["bench_check"].map(lambda code: Reason(code).text())
    if not out["optimized_message"].astype(bool).any():  # the usual case: nothing to say
        out = out.drop(columns=["optimized_message"])
    return out.rename(columns={"bench_seconds": "asv median at gate size",
                               "bench_check": "asv check",
                               "optimized_message": "optimized failure",
                               "baseline_message": "baseline failure"})


def feasibility_table(workloads: Workloads, probe: list[dict[str, Any]] | None) -> pd.DataFrame:
    """Where the baseline cannot go: the sizes it ran, its limit, and what the probe saw beyond."""
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


def environment_table(env: dict[str, Any]) -> pd.DataFrame:
    """The machine and software the run measured (Python, NumPy, BLAS, CPUs, load, commit)."""
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
