"""A test run stopped with SIGTERM (or exiting) takes its registered process groups along."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.process_groups import GRACE_S, alive

ROOT = Path(__file__).resolve().parent.parent

#: A "test run" that starts two groups - one of them ignores SIGTERM, and each has a
#: grandchild - prints their pids, waits for the test's go, then exits or waits to be stopped.
_CHILD = """
import faulthandler, signal, subprocess, sys, time
faulthandler.register(signal.SIGUSR1)  # the test asks for the stacks if it waits too long
# What SIGTERM does is inherited (a blocked mask and SIG_IGN survive exec); this test is about
# the default, so start from it, and say what was inherited in case the run does not end.
status = open("/proc/self/status").read()
print("inherited:", [l for l in status.splitlines() if l.startswith(("SigBlk", "SigIgn"))],
      file=sys.stderr, flush=True)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
signal.signal(signal.SIGTERM, signal.SIG_DFL)
from tests import process_groups
shells = [subprocess.Popen(["sh", "-c", body], start_new_session=True,  # not holding our pipes
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
          for body in ("sleep 120 & sleep 120", "trap '' TERM; sleep 120 & sleep 120")]
for s in shells:
    process_groups.register(s.pid)
end = time.monotonic() + 20  # until each shell has started its two sleeps (slow under load)
while time.monotonic() < end and any(len(psutil.Process(s.pid).children()) < 2 for s in shells):
    time.sleep(0.05)
print(" ".join(str(p.pid) for s in shells
               for p in [psutil.Process(s.pid), *psutil.Process(s.pid).children()]), flush=True)
sys.stdin.readline()  # the test has seen them all alive
if sys.argv[1] == "exit":
    sys.exit(0)
# Short sleeps, not one long one: the test sends SIGTERM right after "go", and a signal
# that lands between readline() returning and a long sleep starting leaves its Python
# handler pending until that sleep ends (the eval loop checks for it between bytecodes,
# here at the loop's jump back; the stack dump of a failed run showed exactly that).
for _ in range(1200):
    time.sleep(0.1)
"""


@pytest.mark.timeout(90)  # room for the wait below and for its stack dump
@pytest.mark.parametrize("how", ["sigterm", "exit"])
def test_groups_end_with_the_run(how: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import psutil\n" + _CHILD, how],
                             cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    pids: list[int] = []
    try:
        assert child.stdout is not None
        pids = [int(p) for p in child.stdout.readline().split()]
        assert len(pids) == 6 and len(alive(pids)) == 6, pids
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
        if how == "sigterm":
            child.send_signal(signal.SIGTERM)
        try:
            code = child.wait(timeout=GRACE_S + 30)  # generous: a loaded machine is slow
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGUSR1)
            time.sleep(1)
            child.kill()
            pytest.fail(f"the run did not end ({how}); its stacks:\n{child.communicate()[1]}")
        assert code == (-signal.SIGTERM if how == "sigterm" else 0)
        end = time.monotonic() + 5
        while alive(pids) and time.monotonic() < end:
            time.sleep(0.05)
        assert alive(pids) == [], f"left running after the run ended ({how})"
    finally:
        child.kill()
        child.wait()
        for pid in alive(pids):
            psutil.Process(pid).kill()
