"""Run the asv suites in the current environment, with a progress count from asv's output.

asv's results API is internal (``asv.results.Results``), hence the ``asv<0.7`` pin in
pyproject. A full run writes to the project's asv results directory (``asv.conf.json``),
so the history that ``asv publish`` draws keeps growing; a quick run (smallest sizes,
``PPD_BENCH_QUICK=1``, one sample each) writes to a private results directory inside
the report, so quick figures never enter that history. Either way the report folder
keeps a copy of the result file (:mod:`evaluation.running.asv_files`), read by
:func:`evaluation.figures.bench.load_results`.

asv runs in a capped process group of its own (:func:`~evaluation.running.groups.run_capped`);
its output goes to ``raw/asv-run.log``, which the progress display reads as it grows.
"""
from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .asv_files import result_files
from .groups import run_capped

__all__ = ["AsvRun", "QUICK_ENV", "CANDIDATES_ENV", "NOTES_ENV", "RUN_OPTIONS",
           "QUICK_SELECTION", "ASV_RUN_OK_CODES", "asv_paths", "run_asv", "AsvProgress", "suite_of",
           "bench_selection", "asv_command"]


#: Environment variable the benchmark suites honour: smallest sizes only.
QUICK_ENV = "PPD_BENCH_QUICK"
#: How every ``asv run`` of the harness starts a benchmark's process: forked from a server
#: that imported the suite once, not a new interpreter per point and round (asv's default,
#: "spawn"). Measured on the ParallelSumSpawnMany suite, 35 points x 2 rounds: 45 s
#: spawned, 28 s forked, with processors kept across samples (101 s before both).
#: ``--record-samples`` keeps every sample in the result files: without them ``--compare``
#: falls back to asv's pessimistic confidence-interval check instead of its Mann-Whitney
#: test (docs/performance.md: what the comparison can see).
RUN_OPTIONS = ("--launch-method=forkserver", "--record-samples")
#: The candidates ``benchmarks/bench_candidates.py`` times (JSON), and the folder where
#: it notes a candidate's point that timed out.
CANDIDATES_ENV = "PPD_CANDIDATES"
NOTES_ENV = "PPD_CANDIDATE_NOTES"


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


def asv_command(*args: str) -> list[str]:
    """``python -m asv ARGS`` with this interpreter (asv of the harness's environment)."""
    return [sys.executable, "-m", "asv", *args]


class _LogTail:
    """The complete lines a growing log file gained since the last read."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0
        self._partial = b""

    def new_lines(self) -> list[str]:
        try:
            with open(self._path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        return [line.decode("utf-8", "replace") for line in lines]


def _watch(log: Path, on_progress: Callable[[float], None] | None,
           on_benchmark: Callable[[int, int | None, str], None] | None,
           benchmarks_json: Path | None) -> Callable[[], None]:
    """A poll callback: asv's ``[ xx%]`` and every finished benchmark, from the log's new lines."""
    tail, counter = _LogTail(log), AsvProgress(benchmarks_json)

    def poll() -> None:
        for line in tail.new_lines():
            m = _PROGRESS_RE.match(line)
            if m and on_progress:  # progress display only; results come from the JSON
                on_progress(float(m.group(1)))
            finished = counter.feed(line)
            if finished and on_benchmark:
                on_benchmark(*finished)

    return poll


def run_asv(repo_root: Path, commit: str, out_dir: Path, *, quick: bool, wall_timeout_s: float,
            on_progress: Callable[[float], None] | None = None,
            exclude_impls: Sequence[str] = (),
            on_benchmark: Callable[[int, int | None, str], None] | None = None,
            env: dict[str, str] | None = None) -> AsvRun:
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
    env : dict, optional
        More environment for asv and the benchmarks (:data:`CANDIDATES_ENV`...).

    Returns
    -------
    AsvRun
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / "asv-run.log"
    extra = env or {}
    env = {k: v for k, v in os.environ.items() if k not in (QUICK_ENV, CANDIDATES_ENV, NOTES_ENV)}
    env.update(extra)
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
                *RUN_OPTIONS, "--show-stderr", *(["--quick"] if quick else []),
                *(["--bench", selection] if selection else [])]
    scale = 2.0 if quick else 1.0

    def progress(pct: float) -> None:
        if on_progress:
            on_progress(min(100.0, pct * scale))

    previous = result_files(results_dir, commit)
    log_path.unlink(missing_ok=True)
    machine = run_capped(asv_command("machine", "--yes", *conf_args), 60.0, log=log_path,
                         cwd=repo_root, env=env)
    seconds, code, problem = machine.seconds, machine.returncode, ""
    if machine.timed_out:
        problem = "asv machine --yes exceeded its wall-clock budget and was killed"
    elif code != 0:
        problem = f"asv machine --yes failed with exit code {code}"
    else:
        poll = _watch(log_path, progress, on_benchmark, results_dir / "benchmarks.json")
        run = run_capped(asv_command(*run_args), wall_timeout_s, log=log_path, cwd=repo_root,
                         env=env, on_poll=poll, append=True)
        seconds, code = seconds + run.seconds, run.returncode
        if run.timed_out:
            problem = "asv run exceeded its wall-clock budget and was killed"
        elif code not in ASV_RUN_OK_CODES:
            problem = f"asv run failed with exit code {code} (see {log_path.name})"
    return AsvRun(asv_command(*run_args), code, seconds, results_dir, log_path, problem, previous)
