"""The fault matrix (D11): every operation family's pooled path x every fault, in a child.

Faults: a worker exception (a bad item), SIGKILL of a busy worker mid-call, a worker
calling ``os._exit(3)``, a ``timeout`` shorter than the work, and SIGINT to the calling
process mid-call. The whole matrix runs under the platform's default start method;
each fault also runs under fork, forkserver and spawn (one parametrised body). Every
case runs in a child Python (:mod:`tests.children.fault_matrix`) so that what any of
its processes prints on stderr - a traceback, a "leaked shared_memory" or
resource-tracker warning - is seen and attributed to the case that caused it.

Every case: the documented error within 10 s; the next call on the same processor
returns the right answer; no old worker left alive, a full pool, no segment left;
nothing on stderr.
"""
from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from optimized.backends import START_METHODS
from tests.children.fault_matrix import FAMILIES, FAULTS, WORKERS

ROOT = Path(__file__).resolve().parent.parent
LIMIT_S = 10.0

pytestmark = pytest.mark.usefixtures("optimized_only")

FULL = [("default", f"{family}/{fault}") for family in FAMILIES for fault in FAULTS]
# Each fault once per explicit start method, on a different family each time.
_ROTATION = {"fork": ["map", "pipeline1", "primes", "user_map", "wordcount"],
             "forkserver": ["matrix", "sum", "pipeline2", "batches", "user_map"],
             "spawn": ["pipeline0", "wordcount", "file_ipc", "primes", "matrix"]}
PER_METHOD = [(sm, f"{fam}/{fault}") for sm in START_METHODS
              for fam, fault in zip(_ROTATION[sm], FAULTS, strict=True)]
CASES = FULL + PER_METHOD


@cache
def _run(start_method: str) -> tuple[dict[str, dict[str, Any]], dict[str, str], int]:
    """Run every case of ``start_method`` in one child; results and stderr by case."""
    cases = [case for sm, case in CASES if sm == start_method]
    method = "" if start_method == "default" else start_method
    proc = subprocess.run([sys.executable, "-m", "tests.children.fault_matrix", method,
                           *cases], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    results = {}
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        results[row["case"]] = row
    stderr: dict[str, str] = {}
    current = "before the first case"
    for line in proc.stderr.splitlines(keepends=True):
        if line.startswith("@@ "):
            current = line[3:].strip()
            stderr.setdefault(current, "")
        else:
            stderr[current] = stderr.get(current, "") + line
    return results, stderr, proc.returncode


_EXPECTED = {  # fault -> (exception type name, words the message must contain)
    "raise": ("InjectedFault", "injected fault in worker"),
    "sigkill": ("WorkerCrashedError", "was killed by SIGKILL (-9)"),
    "exit3": ("WorkerCrashedError", "exited with exit code 3"),
    "timeout": ("ProcessorTimeoutError", "did not finish within timeout=0.3 s"),
    "sigint": ("KeyboardInterrupt", ""),
}


@pytest.mark.slow
@pytest.mark.timeout(300)  # the first case of a start method runs its whole child
@pytest.mark.parametrize(("start_method", "case"), CASES, ids=[f"{s}-{c}" for s, c in CASES])
def test_fault_is_survived(start_method: str, case: str, record_property: Any) -> None:
    results, stderr, _ = _run(start_method)
    assert case in results, (f"the child gave no result for {case}: "
                             f"{stderr.get(case) or ''.join(stderr.values())[-3000:]}")
    row = results[case]
    fault = case.split("/")[1]
    want_type, words = _EXPECTED[fault]
    record_property("reliability", json.dumps({
        "kind": "fault", "fault": fault, "family": case.split("/")[0],
        "start_method": start_method, "survived": False}))
    assert row["error"] == want_type, row
    assert words in row["message"], row
    if fault == "sigkill":
        assert f"worker process {row['victim']} " in row["message"], row
    if fault == "raise":
        assert "ValueError" in row["mro"] and row["cause"], "worker traceback missing as __cause__"
    assert row["elapsed_s"] < LIMIT_S, f"{case}: took {row['elapsed_s']:.1f} s"
    assert row["next_ok"], f"{case}: the next call on the same processor was wrong"
    assert row["old_workers_alive"] == [], row
    assert row["workers"] == WORKERS, row
    assert row["segments"] == [], row
    assert stderr.get(case, "") == "", f"{case} printed on stderr:\n{stderr[case][-3000:]}"
    record_property("reliability", json.dumps({
        "kind": "fault", "fault": fault, "family": case.split("/")[0],
        "start_method": start_method, "survived": True, "elapsed_s": round(row["elapsed_s"], 3)}))


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("start_method", ["default", *START_METHODS])
def test_the_child_exits_cleanly_after_its_faults(start_method: str) -> None:
    _, stderr, code = _run(start_method)
    assert code == 0, stderr
    assert stderr.get("before the first case", "") == "", stderr["before the first case"]
    assert stderr.get("exit", "") == "", f"printed at shutdown:\n{stderr['exit'][-3000:]}"
