"""Regression tracking between commits: ``python -m evaluation --compare REF``.

The run's own asv results (HEAD) are set against those of commit ``REF`` (found or made
by :func:`evaluation.running.asv_files.ref_results`). Each benchmark point of both is
classified exactly as ``asv compare`` / ``asv continuous`` do it (asv's own code,
``asv.commands.compare._is_result_better``: a change counts only when it exceeds
``factor`` *and* asv's significance test on the two sets of samples says the
estimates differ; no statistics are written here):

- ``regression``: slower (or bigger) by more than ``factor``, significantly;
- ``improvement``: faster by more than ``factor``, significantly;
- ``insignificant``: beyond ``factor`` but within the noise (asv's ``~``);
- ``no change``; ``not comparable`` (skipped or failed on one side);
- ``benchmark changed``: the benchmark's own code (asv's ``version``: a hash of its
  source and its setup's) differs between the two commits, so a ratio may measure the
  benchmark, not the processor - asv compare marks these ``x`` and never counts them;
  the ratio is listed, never a regression.

Lower is better for ``time_``, ``peakmem_`` and ``mem_`` benchmarks, as in asv. A
``track_`` value has no direction asv knows of (efficiency: higher is better; an
overhead share: lower), so its changes are listed but never count as regressions.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["CHANGE_COLUMNS", "DEFAULT_FACTOR", "Comparison", "compare_results"]

#: asv continuous's default ``-f``.
DEFAULT_FACTOR = 1.1
CHANGE_COLUMNS = ["benchmark", "params", "kind", "before", "after", "ratio", "change"]
_DIRECTED = ("time", "peakmem", "mem")
_ORDER = {"regression": 0, "improvement": 1, "insignificant": 2, "changed (track)": 3,
          "benchmark changed": 4, "no change": 5, "not comparable": 6}


@dataclass
class Comparison:
    """The changes between two commits' asv results."""

    ref: str
    head: str
    factor: float
    changes: pd.DataFrame

    @property
    def regressions(self) -> pd.DataFrame:
        """The points that got significantly slower by more than ``factor``."""
        return self.changes[self.changes["change"] == "regression"]


Point = tuple[Any, Any, Any, "str | None"]


def _points(result_file: Path) -> dict[tuple[str, str], Point]:
    """``(benchmark, params) -> (value, stats, samples, version)`` of one asv result file."""
    from asv.commands.compare import unroll_result  # asv's internals: pinned <0.7
    from asv.results import Results

    res = Results.load(str(result_file))
    out = {}
    for key in res.get_all_result_keys():
        params = res.get_result_params(key)
        rows = unroll_result(key, params, res.get_result_value(key, params),
                             res.get_result_stats(key, params),
                             res.get_result_samples(key, params))
        version = res.benchmark_version.get(key)
        for name, value, stats, samples in rows:
            head, _, combo = name.partition("(")
            out[(head, combo.rstrip(")"))] = (value, stats, samples, version)
    return out


def _bad(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _classify(kind: str, old: Point, new: Point, factor: float) -> str:
    from asv.commands.compare import _is_result_better  # asv's own rule

    (v1, st1, s1, ver1), (v2, st2, s2, ver2) = old, new
    if _bad(v1) or _bad(v2):
        return "not comparable"
    if ver1 is not None and ver2 is not None and ver1 != ver2:
        return "benchmark changed"
    if _is_result_better(v2, v1, (st2, s2), (st1, s1), factor):
        return "improvement" if kind in _DIRECTED else "changed (track)"
    if _is_result_better(v1, v2, (st1, s1), (st2, s2), factor):
        return "regression" if kind in _DIRECTED else "changed (track)"
    if _is_result_better(v1, v2, None, None, factor) or _is_result_better(v2, v1, None, None,
                                                                          factor):
        return "insignificant"
    return "no change"


def compare_results(ref_file: Path, head_file: Path, factor: float = DEFAULT_FACTOR
                    ) -> Comparison:
    """Classify every benchmark point present in both result files.

    Parameters
    ----------
    ref_file, head_file : Path
        asv result files (``<machine>/<commit>-<env>.json``) of the two commits.
    factor : float
        The smallest ratio that counts as a change (``asv continuous -f``).

    Returns
    -------
    Comparison
        ``changes`` has :data:`CHANGE_COLUMNS`, regressions first, then improvements.
    """
    old, new = _points(ref_file), _points(head_file)
    rows = []
    for key in sorted(set(old) & set(new)):
        bench, params = key
        kind = bench.rsplit(".", 1)[-1].split("_", 1)[0]
        v1, v2 = old[key][0], new[key][0]
        ratio = v2 / v1 if not (_bad(v1) or _bad(v2)) and v1 else math.nan
        rows.append({"benchmark": bench, "params": params, "kind": kind, "before": v1,
                     "after": v2, "ratio": ratio,
                     "change": _classify(kind, old[key], new[key], factor)})
    df = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    if not df.empty:
        df = df.sort_values(by=["change", "ratio"], key=lambda s: s.map(_ORDER)
                            if s.name == "change" else -s.fillna(0), kind="stable")
    commits = [json.loads(p.read_text()).get("commit_hash", "?") for p in (ref_file, head_file)]
    return Comparison(commits[0], commits[1], factor, df.reset_index(drop=True))
