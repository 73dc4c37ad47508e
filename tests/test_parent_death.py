"""D14: no worker outlives its owner, however the owner dies, under every start method.

Each case starts a child Python (:mod:`tests.children.hold_processor`) that holds an
open processor - idle, or mid-call on the map (sleeping items or a Python loop),
primes (NumPy sieve), matrix (BLAS) or pipeline (stage loops) paths - and SIGKILLs it,
as the OOM killer or ``kill -9`` would. Then: every worker is gone within 2 s, the
child's stderr reaches EOF (no orphan holds the pipe open, so a supervisor reading
the output does not hang), and within 5 s no ``/dev/shm/ppd_<child pid>_*`` segment
and none of the child's multiprocessing helpers (fork server, resource tracker) is left.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from optimized.backends import START_METHODS

ROOT = Path(__file__).resolve().parent.parent
WORKERS_GONE_S = 2.0
HELPERS_GONE_S = 5.0

pytestmark = pytest.mark.usefixtures("optimized_only")

CASES = [(sm, mode) for sm in START_METHODS for mode in ("idle", "map_sleep", "primes", "pipeline")]
CASES += [("fork", "map_spin"), ("spawn", "matmul")]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(pids: list[int], limit_s: float) -> tuple[float, list[int]]:
    """Seconds until none of ``pids`` is alive (or the limit), and those still alive."""
    t0 = time.monotonic()
    while True:
        alive = [p for p in pids if _alive(p)]
        waited = time.monotonic() - t0
        if not alive or waited > limit_s:
            return waited, alive
        time.sleep(0.01)


def _segments_of(pid: int) -> list[str]:
    return sorted(p.name for p in Path("/dev/shm").glob(f"ppd_{pid}_*"))


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize(("start_method", "mode"), CASES, ids=[f"{s}-{m}" for s, m in CASES])
def test_workers_exit_when_the_owner_is_sigkilled(start_method: str, mode: str,
                                                  record_property: Any) -> None:
    record_property("reliability", json.dumps({"kind": "parent_death", "start_method": start_method,
                                               "mode": mode, "survived": False}))
    child = subprocess.Popen([sys.executable, "-m", "tests.children.hold_processor",
                              start_method, mode], cwd=ROOT, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = child.stdout.readline() if child.stdout else ""
        if not first:
            _, err = child.communicate(timeout=30)
            pytest.fail(f"the child did not start its processor: {err[-2000:]}")
        info = json.loads(first)
        assert child.stdout is not None and child.stdout.readline().strip() == "calling"
        assert len(info["workers"]) == 2, info
        time.sleep(0.4)  # let the call get going in the workers
        assert all(_alive(p) for p in info["workers"]), "a worker died before the kill"
        os.kill(child.pid, signal.SIGKILL)
        waited, alive = _wait_gone(info["workers"], WORKERS_GONE_S)
        # Reading to EOF returns only once no process holds the child's stderr open.
        _, err = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    for pid in alive:  # never leave the machine with an orphan, even when failing
        psutil.Process(pid).kill()
    assert not alive, (f"{start_method}/{mode}: workers {alive} still alive "
                       f"{waited:.2f} s after the owner's SIGKILL")
    helpers = [p for p in (info["forkserver"], info["resource_tracker"]) if p]
    hwaited, halive = _wait_gone(helpers, HELPERS_GONE_S)
    assert not halive, f"multiprocessing helpers {halive} alive {hwaited:.1f} s later"
    deadline = time.monotonic() + HELPERS_GONE_S
    while _segments_of(info["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _segments_of(info["pid"]), _segments_of(info["pid"])
    assert "Traceback" not in err, err[-3000:]
    record_property("reliability", json.dumps({
        "kind": "parent_death", "start_method": start_method, "mode": mode, "survived": True,
        "workers_gone_ms": round(waited * 1000, 1)}))
