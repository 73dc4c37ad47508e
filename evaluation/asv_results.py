"""Run the asv suites in the current environment and load their results into pandas.

asv's results API is internal (``asv.results.Results``), hence the ``asv<0.7`` pin in
pyproject. Benchmark naming conventions (see ``benchmarks/``): ``time_<public method>``,
``peakmem_<public method>``, ``track_<metric>``; ``param_names`` start with ``impl`` and
``size`` and may add ``workers``.

In asv's results a benchmark that was *skipped* (``NotImplementedError`` in setup, e.g.
the baseline at a size it cannot run) is stored as NaN and one that *failed* (raised)
as ``null``. The frame keeps them apart in its ``status`` column: ``ok``, ``skipped``,
``failed``.

A full run writes to the project's asv results directory (``asv.conf.json``), so the
history that ``asv publish`` draws keeps growing; a quick run (smallest sizes,
``PPD_BENCH_QUICK=1``, one sample each) writes to a private results directory inside
the report, so quick figures never enter that history. Either way the report folder
keeps a copy of the result file, ``benchmarks.json`` and ``machine.json`` under
``raw/asv/`` - the input of :func:`load_results`.
"""
from __future__ import annotations

import ast
import itertools
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["AsvRun", "QUICK_ENV", "QUICK_SELECTION", "ASV_RUN_OK_CODES", "asv_paths", "run_asv",
           "result_files", "collect_results", "load_results", "RESULT_COLUMNS",
           "AsvProgress", "suite_of",
           "parse_benchmark_name", "bench_selection"]

#: Environment variable the benchmark suites honour: smallest sizes only.
QUICK_ENV = "PPD_BENCH_QUICK"
#: Columns of the frame returned by :func:`load_results`.
RESULT_COLUMNS = ["benchmark", "module", "suite", "kind", "operation", "metric", "impl", "size",
                  "workers", "variant", "params", "status", "median", "unit", "q25", "q75", "spread",
                  "ci_low", "ci_high", "repeat", "number", "commit", "machine", "env_name"]
_KINDS = ("time", "peakmem", "mem", "track", "timeraw")
_PROGRESS_RE = re.compile(r"^\[\s*(\d+(?:\.\d+)?)%\]")
_TOTAL_RE = re.compile(r"Running (\d+) total benchmarks")
#: A finished benchmark: ``[ 1.32%] ··· ....Suite.time_x    ok`` (asv shortens names from
#: the left); "Running (...)" lines and table rows are not results.
_DONE_RE = re.compile(r"^\[\s*[\d.]+%\] ··· (?!Running )([^\s=]+\.\w+)\s+(\S+)\s*$")


def _listed_names(path: Path | None) -> list[str]:
    try:
        data = json.loads(path.read_text()) if path is not None else {}
    except (OSError, ValueError):
        return []
    return sorted(k for k, v in data.items() if isinstance(v, dict))


_RUNNING_RE = re.compile(r"··· Running \(([^\s()]+?)(?:--)?\)")


class AsvProgress:
    """Counts asv's finished benchmarks from its output, for the progress display.

    ``feed(line)`` returns ``(done, total, name)`` when the line reports a finished
    benchmark (``total`` None until asv said how many it runs), else None. asv shortens
    long names from the left in its result lines (``...sWithManager.time_x``); the full
    name is taken from its earlier ``Running (name--)`` line where one ends that way.
    """

    def __init__(self, benchmarks_json: Path | None = None) -> None:
        self.total: int | None = None
        self.done = 0
        self._names: list[str] = []
        self._reported: set[str] = set()
        self._listing = benchmarks_json  # asv writes it at discovery: every full name

    def feed(self, line: str) -> tuple[int, int | None, str] | None:
        """Parse one line of asv's output."""
        if self.total is None and (m := _TOTAL_RE.search(line)):
            self.total = int(m.group(1))
            return None
        if m := _RUNNING_RE.search(line):
            self._names.append(m.group(1))
            return None
        m = _DONE_RE.match(line)
        if m is None:
            return None
        self.done += 1
        name = m.group(1)
        if name.startswith("."):  # shortened: the first full name not reported yet that
            tail = name.lstrip(".")  # ends this way (asv reports them in running order)
            full = [n for n in self._listed() + self._names
                    if n.endswith(tail) and n not in self._reported]
            name = full[0] if full else tail
        self._reported.add(name)
        return self.done, self.total, name

    def _listed(self) -> list[str]:
        return _listed_names(self._listing)


def suite_of(name: str) -> str:
    """The suite (class) of a benchmark name as asv printed it (possibly shortened)."""
    parts = name.split(".")
    return parts[-2] if len(parts) >= 2 else name
#: Quick mode times the operations only: no peak-memory, no start-up/shutdown and no
#: cluster benchmarks (each starts a Dask cluster; asv matches the regex against
#: ``name(params)`` with ``re.search``).
QUICK_SELECTION = r"^(?!bench_startup\.)(?!bench_cluster\.)(?![^(]*\.peakmem_)"
#: Exit codes of ``asv run`` (asv 0.6) after which its result file is this run's: 0 every
#: benchmark ran, 2 some benchmark failed (stored as null: a result, shown as failed).
#: Anything else (1: asv error, e.g. the suite did not import or nothing was selected;
#: a signal) means the run saved nothing trustworthy.
ASV_RUN_OK_CODES = (0, 2)


@dataclass
class AsvRun:
    """One ``asv run``: command, outcome and where the results went."""

    command: list[str]
    exit_code: int | None
    seconds: float
    results_dir: Path
    log_path: Path
    problem: str = ""
    #: ``mtime_ns`` of the commit's result files before the run (see :func:`result_files`):
    #: a file still carrying its old stamp afterwards was not written by this run.
    previous: dict[str, int] = field(default_factory=dict)


def asv_paths(repo_root: Path, config: Path | None = None) -> dict[str, Path]:
    """Absolute ``results_dir``, ``html_dir`` and config path of the project's asv setup.

    Parameters
    ----------
    repo_root : Path
        Repository root (asv's relative paths are relative to it).
    config : Path, optional
        ``asv.conf.json``; default ``repo_root / "asv.conf.json"``.

    Returns
    -------
    dict of str to Path
        ``config``, ``results_dir`` and ``html_dir``.
    """
    from asv.config import Config  # internal API, pinned <0.7

    path = config or repo_root / "asv.conf.json"
    conf = Config.load(str(path))
    return {"config": path,
            "results_dir": (repo_root / conf.results_dir).resolve(),
            "html_dir": (repo_root / conf.html_dir).resolve()}


def _private_config(repo_root: Path, results_dir: Path, dest: Path) -> Path:
    """A copy of the project's asv config with absolute paths and a private results dir."""
    from asv.util import load_json  # asv's own reader (the config may hold // comments)

    raw = load_json(str(repo_root / "asv.conf.json"), js_comments=True)
    for key in ("repo", "benchmark_dir", "env_dir", "html_dir"):
        if key in raw:
            raw[key] = str((repo_root / raw[key]).resolve())
    raw["results_dir"] = str(results_dir.resolve())
    dest.write_text(json.dumps(raw, indent=2))
    return dest


def bench_selection(quick: bool, exclude_impls: Sequence[str] = ()) -> str | None:
    """The ``asv run --bench`` regex, or None to run every benchmark.

    asv 0.6 matches the regex with ``re.search`` against ``name`` for an
    unparameterised benchmark and against ``name(p0, p1, ...)`` (each value's
    ``repr``) for every parameter combination, running only the combinations that
    match; several ``--bench`` options are OR-ed, so the conditions are combined
    into one regex of negative lookaheads.

    Parameters
    ----------
    quick : bool
        Add :data:`QUICK_SELECTION` (no peak-memory or start-up benchmarks).
    exclude_impls : sequence of str
        Leave out every parameter combination with one of these values (the
        ``impl`` parameter, e.g. ``"baseline"`` for ``--skip-baseline``).

    Returns
    -------
    str or None
    """
    parts = [QUICK_SELECTION[1:]] if quick else []
    for impl in exclude_impls:
        # A parameter value is written "'baseline'" between "(" or ", " and "," or ")".
        parts.append(rf"(?!.*[(,] ?'{re.escape(impl)}'[,)])")
    return "^" + "".join(parts) if parts else None


def _asv(*args: str) -> list[str]:
    return [sys.executable, "-m", "asv", *args]


def _stream(cmd: list[str], cwd: Path, env: dict[str, str], log: Any, deadline: float,
            on_progress: Callable[[float], None] | None,
            on_benchmark: Callable[[int, int | None, str], None] | None = None,
            benchmarks_json: Path | None = None) -> tuple[int | None, str]:
    """Run ``cmd``, copy its output to ``log``; report asv's ``[ xx%]`` for a progress bar
    and every finished benchmark (``on_benchmark(done, total, name)``).

    A reader thread drains the output, so the wall-clock cap holds even when the
    child prints nothing; on expiry the child's whole process group is killed.
    """
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)

    counter = AsvProgress(benchmarks_json)

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            log.write(line)
            m = _PROGRESS_RE.match(line)
            if m and on_progress:  # progress display only; results come from the JSON
                on_progress(float(m.group(1)))
            finished = counter.feed(line)
            if finished and on_benchmark:
                on_benchmark(*finished)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    problem = ""
    try:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                problem = f"{' '.join(cmd[2:4])} exceeded its wall-clock budget and was killed"
                break
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        reader.join(10)
    return proc.returncode, problem


def run_asv(repo_root: Path, commit: str, out_dir: Path, *, quick: bool, wall_timeout_s: float,
            on_progress: Callable[[float], None] | None = None,
            exclude_impls: Sequence[str] = (),
            on_benchmark: Callable[[int, int | None, str], None] | None = None) -> AsvRun:
    """``asv machine --yes`` then ``asv run --python=same --set-commit-hash=<commit>``.

    Parameters
    ----------
    repo_root : Path
        Repository root holding ``asv.conf.json``.
    commit : str
        Full commit hash the results are recorded under (HEAD).
    out_dir : Path
        The report's ``raw/`` folder: the log goes here, and in quick mode also the
        private results directory.
    quick : bool
        Smallest sizes (``PPD_BENCH_QUICK=1``), asv's ``--quick`` (one sample) and
        :data:`QUICK_SELECTION` (no peak-memory or start-up benchmarks).
    wall_timeout_s : float
        Cap on the whole asv run.
    on_progress : callable, optional
        Called with asv's percentage as it advances (asv counts two rounds per
        benchmark; with ``--quick`` it runs one, so the percentage is doubled there).
    exclude_impls : sequence of str
        Implementations whose benchmark points are not run (``--skip-baseline``:
        ``("baseline",)``), through :func:`bench_selection`. asv records them as NaN,
        or keeps an earlier run's value where the commit's result file already
        existed; the report marks them ``not run`` either way.
    on_benchmark : callable, optional
        Called as ``(done, total, name)`` when asv reports a benchmark finished
        (``total`` from asv's "Running N total benchmarks", None before it).

    Returns
    -------
    AsvRun
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / "asv-run.log"
    env = dict(os.environ)
    env.pop(QUICK_ENV, None)
    if quick:
        env[QUICK_ENV] = "1"
        results_dir = out_dir / "asv-results"
        config = _private_config(repo_root, results_dir, out_dir / "asv-quick.conf.json")
    else:
        paths = asv_paths(repo_root)
        config, results_dir = paths["config"], paths["results_dir"]
    conf_args = ["--config", str(config)]
    selection = bench_selection(quick, exclude_impls)
    run_args = ["run", *conf_args, "--python=same", f"--set-commit-hash={commit}",
                "--show-stderr", *(["--quick"] if quick else []),
                *(["--bench", selection] if selection else [])]
    scale = 2.0 if quick else 1.0

    def progress(pct: float) -> None:
        if on_progress:
            on_progress(min(100.0, pct * scale))

    previous = result_files(results_dir, commit)
    t0 = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        code, problem = _stream(_asv("machine", "--yes", *conf_args), repo_root, env, log,
                                t0 + 60, None)
        if code == 0:
            code, problem = _stream(_asv(*run_args), repo_root, env, log,
                                    t0 + wall_timeout_s, progress, on_benchmark,
                                    results_dir / "benchmarks.json")
            if not problem and code not in ASV_RUN_OK_CODES:
                problem = f"asv run failed with exit code {code} (see {log_path.name})"
        elif not problem:
            problem = f"asv machine --yes failed with exit code {code}"
    return AsvRun(_asv(*run_args), code, time.monotonic() - t0, results_dir, log_path, problem,
                  previous)


def result_files(results_dir: Path, commit: str) -> dict[str, int]:
    """The commit's result files now: path relative to ``results_dir`` -> ``st_mtime_ns``.

    Parameters
    ----------
    results_dir : Path
        asv's results directory (may not exist yet).
    commit : str
        Full commit hash.

    Returns
    -------
    dict of str to int
        Empty when there is none.
    """
    return {str(p.relative_to(results_dir)): p.stat().st_mtime_ns
            for p in results_dir.glob(f"*/{commit[:8]}-*.json")}


def collect_results(results_dir: Path, commit: str, dest: Path,
                    previous: dict[str, int] | None = None) -> Path:
    """Copy this commit's newest result file, ``benchmarks.json`` and ``machine.json``.

    Parameters
    ----------
    results_dir : Path
        asv's results directory.
    commit : str
        Full commit hash.
    dest : Path
        Destination (``raw/asv``), laid out like a results directory.
    previous : dict of str to int, optional
        :func:`result_files` taken before the run (:attr:`AsvRun.previous`): a file
        whose modification stamp has not changed since is an older run's and is ignored,
        so a failed run never passes off old figures as its own.

    Returns
    -------
    Path
        The copied result file.

    Raises
    ------
    FileNotFoundError
        No result file for ``commit`` written by this run (asv did not run or saved
        nothing).
    """
    old = previous or {}
    now = result_files(results_dir, commit)
    fresh = [results_dir / name for name, stamp in now.items() if old.get(name) != stamp]
    if not fresh:
        stale = f" (only one left by an earlier run: {', '.join(sorted(now))})" if now else ""
        raise FileNotFoundError(f"no asv result file for commit {commit[:8]} written by this "
                                f"run in {results_dir}{stale}")
    newest = max(fresh, key=lambda p: p.stat().st_mtime_ns)
    machine = newest.parent.name
    if dest.exists():
        shutil.rmtree(dest)
    (dest / machine).mkdir(parents=True)
    shutil.copy2(newest, dest / machine / newest.name)
    for src, dst in ((newest.parent / "machine.json", dest / machine / "machine.json"),
                     (results_dir / "benchmarks.json", dest / "benchmarks.json")):
        if src.exists():
            shutil.copy2(src, dst)
    return dest / machine / newest.name


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
