"""Where a report's time went: ``python -m evaluation.profile [REPORT_DIR]`` (``make profile-harness``).

Reads a report folder's ``raw/`` (the newest under ``reports/`` by default) and prints:

1. the stages of the run (``raw/run.json``): pytest per implementation, grading, the probe,
   asv;
2. asv per suite: wall seconds (asv's own per-benchmark ``duration``), points, samples, and
   how much of it was timed (median x number x samples per point) - the rest is setup
   (processors, inputs), warm-up calls and asv's process per point;
3. asv per suite and implementation, and per size where a suite spends most;
4. the most expensive points.

Nothing is run; the figures are what the run recorded.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["stage_table", "asv_points", "suite_table", "main"]

ROOT = Path(__file__).resolve().parent.parent


def stage_table(run: dict[str, Any]) -> pd.DataFrame:
    """Seconds per stage of ``run.json``, with each stage's share of their sum."""
    rows = [{"stage": name, "seconds": float(s.get("seconds") or 0.0)}
            for name, s in run.get("stages", {}).items()]
    df = pd.DataFrame(rows, columns=["stage", "seconds"])
    total = df["seconds"].sum()
    df["share"] = (df["seconds"] / total).map(lambda v: f"{v:.0%}") if total else ""
    return df


def asv_points(asv_dir: Path) -> tuple[pd.DataFrame, dict[str, float]]:
    """Every asv point with its timed seconds, and each benchmark's total duration.

    Returns
    -------
    (pandas.DataFrame, dict)
        Rows ``benchmark, suite, impl, size, status, median, number, repeat, timed_s``
        (``timed_s = median * number * repeat``: the seconds spent inside the timed
        calls); and asv's ``duration`` per benchmark (all its points, setup included).
    """
    from asv.results import Results  # internal API, pinned <0.7

    from .figures.bench import load_results

    bench = load_results(asv_dir, [])
    durations: dict[str, float] = {}
    for path in sorted(p for p in asv_dir.glob("*/*.json") if p.name != "machine.json"):
        durations.update({k: float(v) for k, v in Results.load(str(path)).duration.items()
                          if not k.startswith("<")})
    timed = bench["median"] * bench["number"] * bench["repeat"]
    out = bench[["benchmark", "suite", "impl", "size", "status", "median", "number",
                 "repeat"]].assign(timed_s=timed.where(bench["kind"] == "time", 0.0).fillna(0.0))
    return out, durations


def suite_table(points: pd.DataFrame, durations: dict[str, float]) -> pd.DataFrame:
    """Per suite: wall seconds, points, samples, timed seconds, and the rest (setup...)."""
    per_bench = points.groupby("benchmark").agg(suite=("suite", "first"),
                                                points=("impl", "size"),
                                                samples=("repeat", "sum"),
                                                timed_s=("timed_s", "sum"))
    per_bench["wall_s"] = [durations.get(b, 0.0) for b in per_bench.index]
    out = per_bench.groupby("suite").sum(numeric_only=True)
    out["setup_and_overhead_s"] = out["wall_s"] - out["timed_s"]
    total = out["wall_s"].sum()
    out = out.sort_values("wall_s", ascending=False).reset_index()
    out["share"] = (out["wall_s"] / total).map(lambda v: f"{v:.0%}") if total else ""
    return out


def _impl_table(points: pd.DataFrame) -> pd.DataFrame:
    """Timed seconds per suite and implementation (where the samples themselves go)."""
    t = points.groupby(["suite", "impl"], dropna=False)["timed_s"].sum().unstack(fill_value=0.0)
    return t.loc[t.sum(axis=1).sort_values(ascending=False).index].round(1)


def _print(title: str, df: pd.DataFrame) -> None:
    print(f"\n## {title}\n")
    print(df.to_markdown(index=False, floatfmt=".1f") if not df.empty else "(none)")


def main(argv: list[str] | None = None) -> int:
    """Print where the run of a report folder spent its time (module docstring).

    Parameters
    ----------
    argv : list of str, optional
        ``[REPORT_DIR]``; default the newest folder under ``reports/``.

    Returns
    -------
    int
        0, or 2 when there is no such report folder.
    """
    ap = argparse.ArgumentParser(prog="python -m evaluation.profile", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report", nargs="?", type=Path, help="a report folder (default: newest)")
    ap.add_argument("--top", type=int, default=15, help="how many of the costliest points")
    args = ap.parse_args(argv)
    folders = sorted((ROOT / "reports").glob("*/raw")) if args.report is None else \
        [args.report / "raw"]
    raw = folders[-1] if folders and folders[-1].is_dir() else None
    if raw is None:
        print("error: no report folder with a raw/ (run `make report` first)", file=sys.stderr)
        return 2
    run = json.loads((raw / "run.json").read_text()) if (raw / "run.json").exists() else {}
    print(f"# Where {raw.parent.name}'s time went ({run.get('mode', '?')} mode)")
    _print("Stages (raw/run.json)", stage_table(run))
    if not (raw / "asv").is_dir():
        return 0
    points, durations = asv_points(raw / "asv")
    _print("asv per suite (wall: asv's duration; timed: median x number x samples)",
           suite_table(points, durations))
    _print("asv timed seconds per suite and implementation",
           _impl_table(points).reset_index())
    top = points.sort_values("timed_s", ascending=False).head(args.top)
    _print(f"The {args.top} costliest points (timed seconds)",
           top[["suite", "impl", "size", "median", "number", "repeat", "timed_s"]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
