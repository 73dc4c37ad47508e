"""One quick asv run of the whole benchmark suite, shared by the tests that need one.

asv quick mode (``PPD_BENCH_QUICK=1``, ``asv run --python=same --quick``) over every
benchmark takes minutes; two tests need such a run: the smoke test of the suite
(``tests/test_benchmarks.py``: nothing fails, nothing is left behind, under 3 minutes)
and the end-to-end evaluation (``tests/test_evaluation.py``, which builds its report from
this run's results with ``--reuse-asv`` instead of running asv a second time). The
conftest's session fixture ``asv_quick_suite`` runs it once, in its own session (so
every process it started can be found and killed), with its results, environment and
machine file in a temporary folder.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import json5
import psutil

from evaluation.running.asv import RUN_OPTIONS

ROOT = Path(__file__).resolve().parent.parent
SHM_DIR = Path("/dev/shm")
#: The asv machine name of the shared run (its results live under this folder).
MACHINE = "ppd-smoke"


def load_conf() -> dict:
    """asv.conf.json as asv parses it (JSON5: // comments allowed)."""
    return json5.loads((ROOT / "asv.conf.json").read_text())


def private_conf(tmp: Path) -> Path:
    """asv.conf.json with absolute paths; env, results and html in ``tmp``."""
    conf = load_conf()
    conf["repo"] = str(ROOT)
    conf["benchmark_dir"] = str(ROOT / conf["benchmark_dir"])
    for key in ("env_dir", "results_dir", "html_dir"):
        conf[key] = str(tmp / key)
    path = tmp / "asv.conf.json"
    path.write_text(json.dumps(conf, indent=2))
    return path


def _session_leftovers(sid: int) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["status"]):
        try:
            if os.getsid(p.pid) == sid and p.info["status"] != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (ProcessLookupError, PermissionError, psutil.Error):
            pass
    return out


@dataclass
class Ran:
    """One command run in its own session."""

    code: int
    out: str
    leftovers: list[str]  # processes of the session still alive afterwards (now killed)
    seconds: float        # wall time until the command exited
    session_pids: set[int] = field(default_factory=set)  # every pid seen in the session
    timed_out: bool = False


def _watch_session(root: int, seen: set[int], done: threading.Event) -> None:
    """Record the pids of ``root`` and its descendants every 0.2 s until ``done``."""
    while not done.is_set():
        try:
            seen.update(c.pid for c in psutil.Process(root).children(recursive=True))
        except psutil.Error:
            pass
        done.wait(0.2)


def run_in_session(cmd: list[str], env: dict[str, str], timeout: float) -> Ran:
    """Run in a new session; kill and report what of that session outlives the command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen: set[int] = {proc.pid}
    done = threading.Event()
    watcher = threading.Thread(target=_watch_session, args=(proc.pid, seen, done), daemon=True)
    watcher.start()
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        timed_out = True
    finally:
        done.set()
        watcher.join()
    seconds = time.perf_counter() - t0
    deadline = time.monotonic() + 10  # the resource tracker exits once its pipe closes
    while (left := _session_leftovers(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    described = []
    for p in left:
        seen.add(p.pid)
        try:
            described.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
            p.kill()
        except psutil.Error:
            pass
    return Ran(proc.returncode, out, described, seconds, seen, timed_out)


@dataclass
class SuiteRun:
    """The shared quick run: its steps, where its results are, what it saw in /dev/shm."""

    machine: Ran
    check: Ran
    run: Ran
    results_dir: Path
    commit: str
    shm_before: set[str]
    home: Path


def run_quick_suite(tmp: Path, timeout_s: float = 270.0) -> SuiteRun:
    """``asv machine``, ``asv check`` and ``asv run --quick`` of the whole suite, for HEAD.

    Results are kept (not ``--dry-run``) under ``tmp/results_dir/<MACHINE>`` and
    recorded for the current commit, so the evaluation can reuse them.
    """
    conf = private_conf(tmp)
    env = {k: v for k, v in os.environ.items() if k != "PPD_IMPL"}
    env.update(HOME=str(tmp), PPD_BENCH_QUICK="1")  # machine file in tmp, quick sizes
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True, timeout=30, check=True).stdout.strip()
    asv = [sys.executable, "-m", "asv"]
    machine = ["--machine", MACHINE]
    shm_before = {p.name for p in SHM_DIR.glob("ppd_*")}
    ran_machine = run_in_session([*asv, "machine", "--yes", *machine, "--config", str(conf)],
                                 env, 60)
    ran_check = run_in_session([*asv, "check", "--python=same", "--config", str(conf)], env, 60)
    ran = run_in_session([*asv, "run", "--python=same", "--quick", f"--set-commit-hash={commit}",
                          *RUN_OPTIONS, "--show-stderr", *machine, "--config", str(conf)], env,
                         timeout_s)
    return SuiteRun(ran_machine, ran_check, ran, tmp / "results_dir", commit, shm_before, tmp)
