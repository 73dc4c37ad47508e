"""What the local backend needs of ``ProcessPoolExecutor`` beyond its public API.

The failure contract (D11) asks for more than ``concurrent.futures`` offers: to know
which worker died and how, to kill busy workers at once, and to free a manager thread
that a dying worker left blocked. Every access to the executor's private attributes
(``_processes``, ``_result_queue``, ``_executor_manager_thread``, ``_broken``) is in
this module, and only here; each is read with a default, so a CPython that renamed
one degrades to the public behaviour instead of crashing.

Tested on CPython 3.11, 3.12 and 3.13 (``tests/test_executor.py`` checks that every
attribute used here still exists on the running interpreter's executor).
"""
from __future__ import annotations

import multiprocessing as mp
import multiprocessing.connection
import os
import select
import signal
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["PRIVATE_ATTRIBUTES", "processes", "is_broken", "kill_executor", "has_exited",
           "deaths"]

#: The private attributes of ``ProcessPoolExecutor`` this module reads.
PRIVATE_ATTRIBUTES = ("_processes", "_result_queue", "_executor_manager_thread", "_broken")
JOIN_TIMEOUT_S = 5.0
#: How long an executor's manager thread gets to notice that its workers were killed.
_MANAGER_EXIT_S = 0.2


def processes(executor: ProcessPoolExecutor | None) -> list[mp.process.BaseProcess]:
    """The executor's worker processes (empty before they start, or without an executor)."""
    return list((getattr(executor, "_processes", None) or {}).values())


def is_broken(executor: ProcessPoolExecutor | None) -> bool:
    """True once the executor has seen a worker die (every later submit fails)."""
    return bool(getattr(executor, "_broken", False))


def wait_for_manager(executor: ProcessPoolExecutor) -> None:
    """Let a broken executor's manager thread finish reaping its dead workers.

    Two threads polling one forkserver child race for its exit status (the loser
    reads EOF and records 255), so statuses are read only once that thread is done.
    """
    thread = getattr(executor, "_executor_manager_thread", None)
    if thread is not None:
        thread.join(JOIN_TIMEOUT_S)


def kill_executor(executor: ProcessPoolExecutor | None,
                  graceful: bool) -> list[mp.process.BaseProcess]:
    """Shut an executor down; SIGKILL its workers first unless ``graceful``.

    Parameters
    ----------
    executor : ProcessPoolExecutor, optional
        The executor (None: nothing to do).
    graceful : bool
        Let idle workers exit on their own (queued tasks are cancelled); else kill.

    Returns
    -------
    list of multiprocessing.Process
        Its worker processes, all joined (or killed after :data:`JOIN_TIMEOUT_S`).
    """
    if executor is None:
        return []
    procs = processes(executor)
    results = getattr(executor, "_result_queue", None)  # shutdown() drops the reference
    thread = getattr(executor, "_executor_manager_thread", None)
    if not graceful:
        for p in procs:
            if p.is_alive():
                p.kill()
    # After a kill the manager thread fails every pending future itself; cancelling
    # them here as well races with it (InvalidStateError in CPython 3.11).
    executor.shutdown(wait=False, cancel_futures=graceful)
    deadline = time.monotonic() + JOIN_TIMEOUT_S
    for p in procs:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
        if p.is_alive():  # graceful exit did not happen in time
            p.kill()
            p.join(timeout=JOIN_TIMEOUT_S)
    if thread is not None:
        thread.join(timeout=_MANAGER_EXIT_S)
        if (not graceful and thread.is_alive() and results is not None
                and not any(p.is_alive() for p in procs)):
            _unblock_result_reader(thread, results)
        thread.join(timeout=JOIN_TIMEOUT_S)
    return procs


def _unblock_result_reader(thread: Any, results: Any) -> None:
    """Free an executor's manager thread stuck reading a result its dead worker half wrote.

    A worker killed while it writes a large result leaves a partial message in the
    result pipe; the manager thread then waits forever for the rest (this process
    holds a write end, as do workers forked later, so no EOF comes) - and
    interpreter exit joins that thread. With the workers gone, zeros written here
    complete the message: it fails to unpickle, the thread marks the pool broken and
    exits. Nothing else reads that pipe again.
    """
    fd = results._writer.fileno()
    os.set_blocking(fd, False)
    zeros = bytes(1 << 20)
    end = time.monotonic() + JOIN_TIMEOUT_S
    while thread.is_alive() and time.monotonic() < end:
        try:
            os.write(fd, zeros)  # as much as fits in the pipe
        except BlockingIOError:  # full: wait until the thread has read some
            select.select([], [fd], [], 0.01)
        except OSError:  # the pipe is gone: nothing is left to unblock
            return


def has_exited(proc: mp.process.BaseProcess) -> bool:
    """True once ``proc`` has died, including while it is still dying.

    The sentinel alone is late: a killed worker's main thread is a zombie (and the
    executor's manager thread will soon fail the pool) a few milliseconds before its
    other threads are gone and its end of the sentinel pipe closes. Linux's
    ``/proc/<pid>/stat`` shows the zombie ("Z") at once; elsewhere the sentinel decides.
    """
    if multiprocessing.connection.wait([proc.sentinel], 0):
        return True
    try:
        with open(f"/proc/{proc.pid}/stat", encoding="ascii") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return os.path.exists("/proc/self")  # reaped already (if /proc exists at all)
    except (OSError, IndexError):
        return False
    return state in ("Z", "X")


def deaths(procs: Iterable[Any]) -> list[tuple[int, int | None]]:
    """``(pid, exitcode)`` of the workers that are already dead, before anyone kills the rest.

    When one worker dies the executor SIGTERMs the others, so where a worker ended
    otherwise, the SIGTERMed ones are bystanders and are left out.
    """
    dead = []
    for p in procs:
        if has_exited(p):
            # Its status can lag: its threads may still be exiting, or the executor's
            # manager thread may be reaping it right now (our waitpid then fails with
            # ECHILD and reads None until that thread records the status).
            end = time.monotonic() + 1.0
            while p.exitcode is None and time.monotonic() < end:
                time.sleep(0.005)
        if p.exitcode is not None:
            dead.append((p.pid, p.exitcode))
    culprits = [d for d in dead if d[1] != -signal.SIGTERM]
    return culprits or dead
