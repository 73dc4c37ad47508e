"""How each implementation's time grows with size: fitted exponents.

For every operation and implementation, ``t ~ n**b`` fitted over the largest sizes it
ran in the operation's main benchmark curve (:func:`evaluation.figures.reference.timed_rows`),
beside the same fit for the best single-process implementation of the same work
(``impl="single"``): a processor whose exponent exceeds the single-process reference's
grows faster than the work itself at those sizes - overhead that scales, not a constant.
"""
from __future__ import annotations

import math

import pandas as pd

from ..workloads import Workloads
from .fit import FitError, fit_power_law
from .reference import timed_rows

__all__ = ["GROWTH_COLUMNS", "growth_table"]

GROWTH_COLUMNS = ["operation", "impl", "sizes", "exponent b", "single's b", "b - single's b"]
#: The fit uses at most this many of the largest sizes (the asymptotic end of the curve).
_LARGEST = 3
_IMPLS = ("optimized", "pool", "inline", "single", "baseline")


def _exponent(rows: pd.DataFrame, impl: str) -> tuple[float, str]:
    ok = rows[(rows["impl"] == impl) & (rows["status"] == "ok") & rows["size"].notna()]
    ok = ok.sort_values("size").drop_duplicates("size", keep="last").tail(_LARGEST)
    if len(ok) < 2:
        return math.nan, ""
    try:
        law = fit_power_law(ok["size"].astype(float), ok["median"].astype(float))
    except FitError:
        return math.nan, ""
    return law.b, f"{int(law.size_range[0]):,}-{int(law.size_range[1]):,}"


def growth_table(bench: pd.DataFrame, workloads: Workloads) -> pd.DataFrame:
    """Fitted growth exponents per operation and implementation.

    Parameters
    ----------
    bench : pandas.DataFrame
        From :func:`evaluation.figures.bench.load_results`.
    workloads : Workloads
        The operations (their gates choose the curve's workload and worker count).

    Returns
    -------
    pandas.DataFrame
        :data:`GROWTH_COLUMNS`; ``exponent b`` over the ``sizes`` shown (up to the 3
        largest), NaN where fewer than two sizes ran.
    """
    out = []
    for op in workloads.operations.values():
        gate = op.gates[0] if op.gates else None
        workload = "compute"  # growth of the work itself, not of a simulated sleep
        rows = timed_rows(bench, op.name, workload,
                          gate.workers if gate else workloads.gate_workers, workloads)
        if rows.empty:
            continue
        single_b, _ = _exponent(rows, "single")
        for impl in _IMPLS:
            b, sizes = _exponent(rows, impl)
            if b != b:
                continue
            out.append({"operation": op.name, "impl": impl, "sizes": sizes,
                        "exponent b": round(b, 2),
                        "single's b": round(single_b, 2) if single_b == single_b else math.nan,
                        "b - single's b": round(b - single_b, 2) if single_b == single_b
                        else math.nan})
    return pd.DataFrame(out, columns=GROWTH_COLUMNS)
