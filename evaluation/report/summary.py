"""The report's one-screen summary: one row per operation, figures and verdicts in words."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..figures.baseline_truth import DOES_NOT_FINISH, WRONG
from ..figures.reference import measured_speedup
from ..units import format_ratio, format_seconds
from ..workloads import Workloads

__all__ = ["summary_table", "summary_cells", "format_figure", "figure_cell", "Cell"]


@dataclass(frozen=True)
class Cell:
    """One summary cell in parts, so that each medium can lay it out: the report in full,
    the terminal with ``*`` for an extrapolation and the note as a footnote.

    Attributes
    ----------
    head : str
        The figure (``12.3 ms``, ``482x``, ``n/a``), or a whole sentence where the cell is
        one (``hangs at 270,000: ...``).
    extrapolated : bool
        The figure is an estimate.
    how : str
        How it was extrapolated (``b=1.98``; ``W = ..., hold-out error 3%``).
    note : str
        What qualifies it (a reason, ``wrong result ...``).
    short : str
        A word that stands for ``head`` where it does not fit (``hangs``, ``n/a``).
    """

    head: str
    extrapolated: bool = False
    how: str = ""
    note: str = ""
    short: str = ""

    def text(self) -> str:
        """The cell in full: ``5.0 s (extrapolated, W = ..., hold-out error 3%) (note)``."""
        text = self.head
        if self.extrapolated:
            text += f" (extrapolated, {self.how})" if self.how else " (extrapolated)"
        return f"{text} ({self.note})" if self.note else text


def figure_cell(row: pd.Series) -> Cell:
    """One figure of :func:`~evaluation.figures.reference.reference_figures` as a :class:`Cell`.

    Parameters
    ----------
    row : pandas.Series
        A row of :func:`~evaluation.figures.reference.reference_figures` (with the
        ``kind`` of :func:`~evaluation.figures.baseline_truth.apply_probe` where present).

    Returns
    -------
    Cell
        A measured time; an extrapolated one with its model; a broken run as its
        sentence; ``n/a`` with the reason; a wrong result's time with what was wrong.
    """
    kind = row.get("kind")
    if kind in DOES_NOT_FINISH:
        return Cell(str(row["note"]), short=str(kind))
    text = format_seconds(row["seconds"])
    how = ""
    if row["extrapolated"]:
        held = row.get("holdout_error", math.nan)
        held_text = f", hold-out error {held:.0%}" if held == held else ""
        how = (f"W = {row['model']}" if row.get("model") else f"b={row['exponent']:.2f}") \
            + held_text
    if kind == WRONG:
        return Cell(text, bool(row["extrapolated"]), how, str(row["note"]), short="wrong")
    if row["extrapolated"]:
        return Cell(text, True, how)
    if text == "n/a" and row["note"]:
        return Cell("n/a", note=str(row["note"]))
    return Cell(text)


def format_figure(row: pd.Series) -> str:
    """One figure as the report's text (:func:`figure_cell`, in full).

    Parameters
    ----------
    row : pandas.Series
        A row of :func:`~evaluation.figures.reference.reference_figures`.

    Returns
    -------
    str
        ``12.3 ms``, ``4.2 h (extrapolated, b=1.98)``, ``5.0 s (extrapolated, W =
        processes started (one per element), hold-out error 3%)`` or ``n/a (reason)``.
    """
    return figure_cell(row).text()


def _speedup_cell(base: pd.Series, opt: pd.Series) -> Cell:
    if base.get("kind") in DOES_NOT_FINISH:
        return Cell("baseline does not finish", short="n/a")
    ratio = base["seconds"] / opt["seconds"]
    if ratio != ratio:
        return Cell("n/a")
    return Cell(format_ratio(ratio), bool(base["extrapolated"] or opt["extrapolated"]),
                note="wrong result" if base.get("kind") == WRONG else "")


def summary_cells(figures: pd.DataFrame, workloads: Workloads) -> list[dict[str, Any]]:
    """Per operation (instance order): its name, size, and baseline, optimized and speed-up cells.

    Parameters
    ----------
    figures : pandas.DataFrame
        From :func:`~evaluation.figures.reference.reference_figures`.
    workloads : Workloads
        The operations.

    Returns
    -------
    list of dict
        ``{"operation", "size", "baseline", "optimized", "speed-up"}``; the last three
        are :class:`Cell`.
    """
    rows = []
    for op in workloads.operations.values():
        f = figures[figures["operation"] == op.name].set_index("impl")
        base, opt = f.loc["baseline"], f.loc["optimized"]
        rows.append({"operation": op.name, "size": int(base["size"]),
                     "baseline": figure_cell(base), "optimized": figure_cell(opt),
                     "speed-up": _speedup_cell(base, opt)})
    return rows


def _op_verdict(op: str, gates: pd.DataFrame) -> str:
    g = gates[gates["operation"] == op]
    if g.empty:
        return "no seed gate"
    return "; ".join(f"{r['gate']} {r['optimized']} (baseline {r['baseline']})"
                     for _, r in g.iterrows())


def summary_table(figures: pd.DataFrame, gates: pd.DataFrame, workloads: Workloads,
                  bench: pd.DataFrame | None = None) -> pd.DataFrame:
    """The one-screen table, one row per operation.

    Parameters
    ----------
    figures : pandas.DataFrame
        From :func:`~evaluation.figures.reference.reference_figures`.
    gates : pandas.DataFrame
        From :func:`~evaluation.verdicts.gates.gate_verdicts`.
    workloads : Workloads
        Operations (one row each, in instance order) and their gates.
    bench : pandas.DataFrame, optional
        From :func:`~evaluation.figures.bench.load_results`; adds the measured speed-up.

    Returns
    -------
    pandas.DataFrame
        Columns: operation, seed target, size (the reference size), baseline, optimized,
        speed-up (at that size, extrapolated where marked; n/a without both figures),
        measured speed-up (at the largest size both ran, never extrapolated; only with
        ``bench``), verdict.
    """
    rows = []
    for op, cells in zip(workloads.operations.values(), summary_cells(figures, workloads),
                         strict=True):
        rows.append({
            "operation": op.name,
            "seed target": "; ".join(g.text for g in op.gates) or "-",
            "size": f"{cells['size']:,}",
            "baseline": cells["baseline"].text(),
            "optimized": cells["optimized"].text(),
            "speed-up": cells["speed-up"].text(),
        })
        if bench is not None:
            m, at = measured_speedup(bench, op, workloads)
            rows[-1]["measured speed-up"] = f"{format_ratio(m)} at n={at:,}" if m == m else "n/a"
        rows[-1]["verdict"] = _op_verdict(op.name, gates)
    return pd.DataFrame(rows)
