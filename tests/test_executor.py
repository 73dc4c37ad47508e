"""The executor workarounds hold on the running interpreter (``optimized.backends.executor``).

The local backend reads private attributes of ``ProcessPoolExecutor`` in one module;
these tests fail on a CPython whose executor no longer has them, instead of letting
the failure contract silently degrade to the public behaviour.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from optimized.backends import executor

pytestmark = pytest.mark.usefixtures("optimized_only")


@pytest.fixture()
def pool() -> ProcessPoolExecutor:
    ex = ProcessPoolExecutor(2, mp_context=mp.get_context("fork"))
    ex.submit(os.getpid).result(timeout=30)  # the workers and the manager thread exist now
    yield ex
    executor.kill_executor(ex, graceful=False)


def test_every_private_attribute_used_exists(pool: ProcessPoolExecutor) -> None:
    missing = [a for a in executor.PRIVATE_ATTRIBUTES if not hasattr(pool, a)]
    assert missing == [], f"this CPython's ProcessPoolExecutor lacks {missing}"
    assert len(executor.processes(pool)) == 2
    assert not executor.is_broken(pool)


def test_a_killed_worker_is_seen_at_once_and_named(pool: ProcessPoolExecutor) -> None:
    victim = executor.processes(pool)[0]
    os.kill(victim.pid, signal.SIGKILL)
    end = time.monotonic() + 5
    while not executor.has_exited(victim) and time.monotonic() < end:
        time.sleep(0.005)
    assert executor.has_exited(victim)
    assert (victim.pid, -signal.SIGKILL) in executor.deaths(executor.processes(pool))


def test_kill_executor_leaves_no_process(pool: ProcessPoolExecutor) -> None:
    procs = executor.kill_executor(pool, graceful=False)
    assert len(procs) == 2 and not any(p.is_alive() for p in procs)
