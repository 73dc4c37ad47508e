"""asv's results as one tidy frame: one row per benchmark point, with its statistics.

Benchmark naming conventions (see ``benchmarks/``): ``time_<public method>``,
``peakmem_<public method>``, ``track_<metric>``; ``param_names`` start with ``impl`` and
``size`` and may add ``workers``.

In asv's results a benchmark that was *skipped* (``NotImplementedError`` in setup, e.g.
the baseline at a size it cannot run) is stored as NaN and one that *failed* (raised)
as ``null``. The frame keeps them apart in its ``status`` column: ``ok``, ``skipped``,
``failed``. asv's results API is internal (``asv.results.Results``), hence the
``asv<0.7`` pin in pyproject.
"""
from __future__ import annotations

import ast
import itertools
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["RESULT_COLUMNS", "load_results", "parse_benchmark_name"]


#: Columns of the frame returned by :func:`load_results`.
RESULT_COLUMNS = ["benchmark", "module", "suite", "kind", "operation", "metric", "impl", "size",
                  "workers", "variant", "params", "status", "median", "unit", "q25", "q75", "spread",
                  "ci_low", "ci_high", "repeat", "number", "commit", "machine", "env_name"]


_KINDS = ("time", "peakmem", "mem", "track", "timeraw")


def parse_benchmark_name(name: str) -> dict[str, str | None]:
    """Split ``bench_primes.FindPrimes.time_parallel_find_primes`` into its parts.

    Parameters
    ----------
    name : str
        asv's dotted benchmark name.

    Returns
    -------
    dict
        ``module``, ``suite`` (class, or None for a module-level function), ``kind``
        (``time``, ``peakmem``, ``mem``, ``track``, ``timeraw`` or ``other``) and ``metric``
        (the function name without its kind prefix).
    """
    parts = name.split(".")
    func = parts[-1]
    module = parts[0]
    suite = ".".join(parts[1:-1]) or None
    for kind in _KINDS:
        if func.startswith(kind + "_"):
            return {"module": module, "suite": suite, "kind": kind, "metric": func[len(kind) + 1:]}
    return {"module": module, "suite": suite, "kind": "other", "metric": func}


def _param_value(text: Any) -> Any:
    """asv stores parameter values as their ``repr``; turn them back into values."""
    if not isinstance(text, str):
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _status(value: Any) -> str:
    if value is None:
        return "failed"
    if isinstance(value, float) and math.isnan(value):
        return "skipped"
    return "ok"


def _stat(stats: dict[str, Any] | None, key: str) -> float:
    v = (stats or {}).get(key)
    return float(v) if v is not None else math.nan


def _rows_for(key: str, res: Any, meta: dict[str, Any], operations: Iterable[str],
              machine: str) -> list[dict[str, Any]]:
    params = res.get_result_params(key) or []
    values = res.get_result_value(key, params)
    stats = res.get_result_stats(key, params)
    # asv returns one entry per parameter combination (a single one, for the empty
    # product, when the benchmark is not parameterised).
    names = list(meta.get("param_names") or [])
    parts = parse_benchmark_name(key)
    ops = set(operations)
    rows = []
    combos = list(itertools.product(*params))
    stats = stats or [None] * len(combos)
    for combo, value, st in zip(combos, values, stats, strict=True):
        p = {(names[i] if i < len(names) else f"param{i}"): _param_value(v)
             for i, v in enumerate(combo)}
        status = _status(value)
        q25, q75 = _stat(st, "q_25"), _stat(st, "q_75")
        metric = parts["metric"]
        rows.append({
            "benchmark": key, **parts,
            "operation": metric if metric in ops and parts["kind"] != "track" else None,
            "impl": p.get("impl"), "size": p.get("size"), "workers": p.get("workers"),
            # Every parameter but impl: what identifies a point across implementations.
            "variant": ", ".join(f"{k}={v}" for k, v in p.items() if k != "impl"),
            "params": json.dumps(p, sort_keys=True, default=str), "status": status,
            "median": float(value) if status == "ok" else math.nan,
            "unit": meta.get("unit"), "q25": q25, "q75": q75, "spread": q75 - q25,
            "ci_low": _stat(st, "ci_99_a"), "ci_high": _stat(st, "ci_99_b"),
            "repeat": _stat(st, "repeat"), "number": _stat(st, "number"),
            "commit": res.commit_hash, "machine": machine, "env_name": res.env_name})
    return rows


def _assign_track_operations(df: pd.DataFrame) -> pd.DataFrame:
    """A ``track_*`` benchmark belongs to the one operation its suite times, if unique."""
    timed = df[df["kind"] == "time"].dropna(subset=["operation"])
    per_suite = timed.groupby("suite")["operation"].unique()
    for suite, ops in per_suite.items():
        if len(ops) == 1:
            mask = (df["suite"] == suite) & df["operation"].isna()
            df.loc[mask, "operation"] = ops[0]
    return df


def load_results(asv_dir: Path, operations: Iterable[str]) -> pd.DataFrame:
    """Every measurement of the copied asv results as a tidy frame (one row per point).

    Parameters
    ----------
    asv_dir : Path
        A results-directory layout: ``benchmarks.json`` and ``<machine>/<commit>-<env>.json``.
    operations : iterable of str
        Public operation names; ``time_<name>``/``peakmem_<name>`` benchmarks are tagged
        with their operation.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RESULT_COLUMNS`. ``status`` is ``ok``, ``skipped`` (asv NaN) or
        ``failed`` (asv null); ``median`` (asv's value: the median of the samples, for
        timings) and the statistics are NaN unless ``ok``.
        Benchmarks missing from ``benchmarks.json`` (stale results of a removed
        benchmark) are dropped.
    """
    from asv.results import Results  # internal API, pinned <0.7

    bench_file = asv_dir / "benchmarks.json"
    if not bench_file.exists():
        raise FileNotFoundError(f"{bench_file}: asv benchmark list missing")
    meta = json.loads(bench_file.read_text())
    ops = list(operations)
    rows: list[dict[str, Any]] = []
    files = sorted(p for p in asv_dir.glob("*/*.json") if p.name != "machine.json")
    if not files:
        raise FileNotFoundError(f"{asv_dir}: no asv result file")
    for path in files:
        res = Results.load(str(path))
        for key in sorted(res.get_all_result_keys()):
            if key in meta and isinstance(meta[key], dict):
                rows.extend(_rows_for(key, res, meta[key], ops, path.parent.name))
    df = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    for col in ("size", "workers"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    return _assign_track_operations(df)
