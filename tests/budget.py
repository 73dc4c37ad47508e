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
from collections.abc import Callable
from typing import Any

import psutil

__all__ = ["run_within", "BudgetResult", "BudgetError"]


class BudgetError(AssertionError):
    """Reading the outcome of a call that raised, or whose child died, in :func:`run_within`."""


class BudgetResult:
    """Outcome of :func:`run_within`.

    A call that raised (or whose child died) has no time and no result: reading
    ``seconds`` or ``result`` (or unpacking the object) then raises
    :class:`BudgetError` with the child's traceback, so a crash can never pass for
    a fast run (``seconds`` would otherwise be meaningless). Check :attr:`ok` (or
    use :meth:`describe` in an assertion message) to handle it explicitly.

    Attributes
    ----------
    finished : bool
        The call returned (or raised) within the budget.
    error : str or None
        The child's traceback text if the call raised, or why the child died.
    budget_s : float
        The budget the call was given.
    """

    def __init__(self, finished: bool, seconds: float, result: Any = None,
                 error: str | None = None, budget_s: float | None = None) -> None:
        self.finished, self.error = finished, error
        self._seconds, self._result = seconds, result
        self.budget_s = seconds if budget_s is None else budget_s

    @property
    def ok(self) -> bool:
        """True if the call returned a value within the budget (no error, no dead child)."""
        return self.finished and self.error is None

    def _require_no_error(self, what: str) -> None:
        if self.error is not None:
            raise BudgetError(f"no {what}: the call failed in the budget child:\n{self.error}")

    @property
    def seconds(self) -> float:
        """Measured call time; the budget (a lower bound) if it did not finish.

        Raises
        ------
        BudgetError
            If the call raised or its child died.
        """
        self._require_no_error("time")
        return self._seconds

    @property
    def result(self) -> Any:
        """The call's return value (None if it did not finish).

        Raises
        ------
        BudgetError
            If the call raised or its child died.
        """
        self._require_no_error("result")
        return self._result

    def describe(self) -> str:
        """One line (plus the traceback on error) saying what happened, for assertion messages."""
        if not self.finished:
            return f"did not finish within its {self.budget_s:g} s budget"
        if self.error is not None:
            return f"failed in the budget child:\n{self.error}"
        return f"returned in {self._seconds:.3f} s"

    def __iter__(self):  # allows: finished, seconds, result = run_within(...)
        return iter((self.finished, self.seconds, self.result))

    def __repr__(self) -> str:
        state = "finished" if self.finished else "did not finish"
        return f"<BudgetResult {state} in {self._seconds:.3f} s{' (error)' if self.error else ''}>"


def _child(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    os.setpgrp()  # own process group: everything it forks can be killed at once
    t0 = time.perf_counter()
    try:
        result = fn(*args)
        conn.send((time.perf_counter() - t0, result, None))
    except BaseException:  # report everything, including SystemExit from the call
        conn.send((time.perf_counter() - t0, None, traceback.format_exc()))
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


#: Call in this process instead of a forked child (set for a graded candidate: a processor
#: that keeps a pool cannot be used from a forked copy of its owner - the copy has none of
#: the pool's threads). A hang is then ended by the test's own timeout (pytest-timeout).
IN_PROCESS = False


def _in_process(fn: Callable[..., Any], args: tuple[Any, ...], budget_s: float) -> BudgetResult:
    t0 = time.perf_counter()
    try:
        result = fn(*args)
    except Exception:
        return BudgetResult(True, time.perf_counter() - t0, None, traceback.format_exc(),
                            budget_s)
    seconds = time.perf_counter() - t0
    if seconds > budget_s:  # it finished, but past the budget: as the child would report
        return BudgetResult(False, budget_s, budget_s=budget_s)
    return BudgetResult(True, seconds, result, None, budget_s)


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
    if IN_PROCESS:
        return _in_process(fn, args, budget_s)
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
                return BudgetResult(True, 0.0, None, f"the child died without reporting "
                                    f"(exit code {child.exitcode})", budget_s)
            child.join(10)
            return BudgetResult(True, seconds, result, error, budget_s)
        return BudgetResult(False, budget_s, budget_s=budget_s)
    finally:
        _kill_tree(child.pid)
        child.join(5)
        recv.close()
