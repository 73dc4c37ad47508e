"""PNG plots of the report (matplotlib, Agg backend: no display needed).

- ``time_vs_size_<operation>.png``: median time against size on log-log axes, one line
  per implementation (error bars: the interquartile range); the baseline's
  extrapolated figure at the reference size is drawn hollow, joined to its last
  measured point by the fitted power law (dashed); failed points (asv null) are
  crosses along the bottom axis.
- ``speedup_at_seed_sizes.png``: baseline / optimized at each operation's reference
  size; hatched bars involve an extrapolated figure.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import matplotlib

# E402 below: the backend must be chosen before pyplot is first imported (anywhere).
matplotlib.use("Agg")  # before pyplot: headless, deterministic
import matplotlib.pyplot as plt  # noqa: E402 - after matplotlib.use, see above
import numpy as np  # noqa: E402 - grouped with the imports above
import pandas as pd  # noqa: E402 - grouped with the imports above

from ..figures.baseline_truth import DOES_NOT_FINISH, WRONG  # noqa: E402 - grouped with the imports above
from ..figures.reference import timed_rows  # noqa: E402 - grouped with the imports above
from ..workloads import Workloads  # noqa: E402 - grouped with the imports above

__all__ = ["plot_scaling", "plot_speedups", "IMPL_STYLE"]

#: Colour and marker per implementation (stable across plots).
IMPL_STYLE = {"baseline": ("tab:red", "o"), "optimized": ("tab:blue", "s"),
              "inline": ("tab:green", "^"), "pool": ("tab:purple", "v"),
              "single": ("tab:gray", "D")}


def _extrapolation(ax: plt.Axes, fig_rows: pd.DataFrame, impl: str, measured: pd.DataFrame) -> None:
    row = fig_rows[fig_rows["impl"] == impl]
    if row.empty or not bool(row.iloc[0]["extrapolated"]) or measured.empty:
        return
    r = row.iloc[0]
    color = IMPL_STYLE.get(impl, ("black", "o"))[0]
    # The power law the table reports (a = t / n**b recovers the fitted coefficient),
    # drawn from the largest measured size to the reference size.
    ns = np.geomspace(float(measured["size"].max()), float(r["size"]), 30)
    b = float(r["exponent"])
    a = float(r["seconds"]) / float(r["size"]) ** b
    ax.plot(ns, a * ns ** b, "--", color=color, alpha=0.6)
    ax.plot([r["size"]], [r["seconds"]], marker="o", mfc="none", mec=color, ms=9, ls="none",
            label=f"{impl} extrapolated (b={b:.2f})")


def _failed_points(ax: plt.Axes, rows: pd.DataFrame) -> None:
    """Failed benchmark points (asv null) as crosses along the bottom axis."""
    failed = rows[(rows["status"] == "failed") & rows["size"].notna()]
    for impl, g in failed.groupby("impl", sort=False):
        color = IMPL_STYLE.get(str(impl), ("black", "o"))[0]
        ax.scatter(g["size"].astype(float), [0.03] * len(g), marker="x", color=color, s=50,
                   transform=ax.get_xaxis_transform(), label=f"{impl} failed (asv null)")


def plot_scaling(bench: pd.DataFrame, figures: pd.DataFrame, workloads: Workloads,
                 out_dir: Path) -> list[Path]:
    """One log-log time-vs-size PNG per operation that has timed benchmarks.

    Parameters
    ----------
    bench : pandas.DataFrame
        From :func:`evaluation.figures.bench.load_results`.
    figures : pandas.DataFrame
        From :func:`evaluation.figures.reference.reference_figures` (reference sizes, fits).
    workloads : Workloads
        Operations and gates.
    out_dir : Path
        Folder the PNGs are written to.

    Returns
    -------
    list of Path
        The files written; an operation without a successful timing gets no chart.
    """
    written = []
    for op in workloads.operations.values():
        f_op = figures[figures["operation"] == op.name]
        if f_op.empty:
            continue
        first = f_op.iloc[0]
        gate = op.gates[0] if op.gates else None
        rows = timed_rows(bench, op.name, str(first["workload"]),
                          gate.workers if gate else workloads.gate_workers, workloads)
        ok = rows[(rows["status"] == "ok") & rows["size"].notna()]
        if not ok.empty:  # no successful timing: no chart
            written.append(_scaling_chart(op.name, ok, rows, f_op, out_dir))
    return written


def _scaling_chart(op: str, ok: pd.DataFrame, rows: pd.DataFrame, f_op: pd.DataFrame,
                   out_dir: Path) -> Path:
    """Draw and save one operation's time-vs-size chart; return its path."""
    first = f_op.iloc[0]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for impl, g in ok.groupby("impl", sort=False):
        g = g.sort_values("size")
        color, marker = IMPL_STYLE.get(str(impl), ("black", "o"))
        yerr = np.vstack([(g["median"] - g["q25"]).clip(lower=0).fillna(0),
                          (g["q75"] - g["median"]).clip(lower=0).fillna(0)])
        ax.errorbar(g["size"].astype(float), g["median"], yerr=yerr, color=color,
                    marker=marker, label=str(impl), capsize=2)
        _extrapolation(ax, f_op, str(impl), g)
    _failed_points(ax, rows)
    ax.axvline(float(first["size"]), color="black", lw=0.8, ls=":",
               label=f"reference size ({first['size_source']})")
    ax.set(xscale="log", yscale="log", xlabel="size", ylabel="median time (s)",
           title=f"{op} ({first['workload']} workload)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    path = out_dir / f"time_vs_size_{op}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


class _SpeedupRow(NamedTuple):
    """One bar (or one line of text) of the speed-up chart."""

    operation: str
    ratio: float  # baseline / optimized; NaN where the baseline does not finish
    extrapolated: bool
    size: int
    broke: str  # "baseline hangs at n=...": drawn as text, no bar
    wrong: bool  # the baseline returned a wrong result in that time: a marked bar


def _speedup_rows(figures: pd.DataFrame) -> list[_SpeedupRow]:
    """One row per drawable operation (both figures, or the probe's finding).

    A baseline that does not finish (hangs, crashes) is drawn as text, not as a bar;
    one that returned a wrong result has its time, so its bar is drawn and marked.
    """
    rows = []
    for op, f in figures.groupby("operation", sort=False):
        f = f.set_index("impl")
        if not {"baseline", "optimized"} <= set(f.index):
            continue
        b, o = f.loc["baseline"], f.loc["optimized"]
        tb, to = float(b["seconds"]), float(o["seconds"])
        if b.get("kind") in DOES_NOT_FINISH and math.isfinite(to):
            size = b.get("probe_size")
            rows.append(_SpeedupRow(str(op), math.nan, False, int(size) if pd.notna(size) else
                                    int(b["size"]), f"baseline {b['kind']} at n={int(size):,}"
                                    if pd.notna(size) else f"baseline {b['kind']}", False))
        elif math.isfinite(tb) and math.isfinite(to) and tb > 0 and to > 0:
            rows.append(_SpeedupRow(str(op), tb / to, bool(b["extrapolated"]) or
                                    bool(o["extrapolated"]), int(b["size"]), "",
                                    b.get("kind") == WRONG))
    return rows


def plot_speedups(figures: pd.DataFrame, out_dir: Path) -> Path | None:
    """Bar chart of baseline / optimized at each operation's reference size.

    Parameters
    ----------
    figures : pandas.DataFrame
        From :func:`evaluation.figures.reference.reference_figures`.
    out_dir : Path
        Folder the PNG is written to.

    Returns
    -------
    Path or None
        The file written, or None when no operation has both figures (nothing to draw:
        e.g. asv produced no results).
    """
    rows = _speedup_rows(figures)
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(rows) + 1.5))
    y = np.arange(len(rows))
    for i, r in enumerate(rows):
        if r.broke:  # no bar: the original does not finish there
            ax.text(1.0, i, f" {r.broke}: does not finish", va="center", fontsize=8,
                    color="tab:red")
            continue
        color = "tab:red" if r.wrong else "tab:blue"
        hatch = "xx" if r.wrong else "//" if r.extrapolated else None
        ax.barh(i, r.ratio, color=color, hatch=hatch, edgecolor="white" if hatch else color,
                alpha=0.85)
        label = f" {r.ratio:,.0f}x" if r.ratio >= 10 else f" {r.ratio:.2g}x"
        ax.text(r.ratio, i, label + (" (baseline: wrong result)" if r.wrong else ""),
                va="center", fontsize=8, color="tab:red" if r.wrong else "black")
    ax.set_yticks(y, [f"{r.operation}\n(n={r.size:,})" for r in rows], fontsize=8)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set(xlabel="speed-up (baseline time / optimized time), log scale",
           title="Speed-up at the seed's sizes (hatched: extrapolated; red: the baseline's "
                 "result was wrong)")
    ax.invert_yaxis()
    fig.tight_layout()
    path = out_dir / "speedup_at_seed_sizes.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_changes(changes: pd.DataFrame, ref: str, out_dir: Path) -> list[Path]:
    """Per operation, the two commits side by side: ``changes_<operation>.png``.

    Parameters
    ----------
    changes : pandas.DataFrame
        :attr:`evaluation.figures.compare.Comparison.changes`.
    ref : str
        The reference commit (for the legend).
    out_dir : Path
        Where the PNGs go.

    Returns
    -------
    list of Path
        One file per operation with timed points in both commits.
    """
    timed = changes[(changes["kind"] == "time") & changes["before"].notna()
                    & changes["after"].notna()]
    written = []
    for method, rows in timed.groupby(timed["benchmark"].str.rsplit(".", n=1).str[-1]):
        rows = rows.head(24)  # one readable figure; the table has every point
        fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) + 1.6))
        y = np.arange(len(rows))
        labels = [f"{b.split('.')[-2]}({p})" for b, p in zip(rows["benchmark"], rows["params"],
                                                              strict=True)]
        ax.barh(y - 0.2, rows["before"], 0.4, label=f"{ref[:8]} (before)", color="tab:gray")
        ax.barh(y + 0.2, rows["after"], 0.4, label="this run", color="tab:blue")
        ax.set_yticks(y, labels, fontsize=7)
        ax.set_xscale("log")
        ax.set(xlabel="seconds (log scale)", title=f"{method}: before and after")
        ax.invert_yaxis()
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / f"changes_{method}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written
