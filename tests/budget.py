"""Run a call inside a time budget, in a forked child, killing its whole tree on expiry.

The baseline spawns a process per item and can deadlock (join before drain), so the
harness never runs it in the test process itself: :func:`run_within` forks a child
that makes the call and reports ``(seconds, result)`` through a pipe. If the budget
runs out, the child and every process it started are killed, and the caller gets
``finished=False`` with the budget as a lower bound of the time it would have taken.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
import traceback
from typing import Any, Callable

import psutil

__all__ = ["run_within", "BudgetResult"]


class BudgetResult:
    """Outcome of :func:`run_within`.

    Attributes
    ----------
    finished : bool
        The call returned (or raised) within the budget.
    seconds : float
        Measured call time in the child; the budget itself when it did not finish.
    result : Any
        The call's return value (None unless finished without error).
    error : str or None
        The child's traceback text if the call raised.
    """

    def __init__(self, finished: bool, seconds: float, result: Any = None,
                 error: str | None = None) -> None:
        self.finished, self.seconds, self.result, self.error = finished, seconds, result, error

    def __iter__(self):  # allows: finished, seconds, result = run_within(...)
        return iter((self.finished, self.seconds, self.result))

    def __repr__(self) -> str:
        state = "finished" if self.finished else "did not finish"
        return f"<BudgetResult {state} in {self.seconds:.3f} s{' (error)' if self.error else ''}>"


def _child(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    os.setpgrp()  # own process group: everything it forks can be killed at once
    try:
        t0 = time.perf_counter()
        result = fn(*args)
        conn.send((time.perf_counter() - t0, result, None))
    except BaseException:  # report everything, including SystemExit from the call
        conn.send((0.0, None, traceback.format_exc()))
    finally:
        conn.close()


def _kill_tree(pid: int) -> None:
    try:  # the group first: catches processes forked while we enumerate the tree
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        root = psutil.Process(pid)
        procs = root.children(recursive=True) + [root]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=5)


def run_within(fn: Callable[..., Any], args: tuple[Any, ...], budget_s: float) -> BudgetResult:
    """Call ``fn(*args)`` in a forked child; give up (and kill its tree) after ``budget_s``.

    Parameters
    ----------
    fn : callable
        Typically a bound method of a processor made in the parent (fork shares it).
    args : tuple
        Positional arguments.
    budget_s : float
        Wall-clock budget in seconds.

    Returns
    -------
    BudgetResult
    """
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, fn, args), daemon=False)
    child.start()
    send.close()
    try:
        if recv.poll(budget_s):
            try:
                seconds, result, error = recv.recv()
            except EOFError:  # the child died without reporting
                child.join(5)
                return BudgetResult(True, 0.0, None, f"child exited with code {child.exitcode}")
            child.join(10)
            return BudgetResult(True, seconds, result, error)
        return BudgetResult(False, budget_s)
    finally:
        _kill_tree(child.pid)
        child.join(5)
        recv.close()
