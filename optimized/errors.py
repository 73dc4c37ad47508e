"""Exceptions raised by the optimized processor.

Each subclasses the built-in a caller would naturally catch, so existing code keeps
working: a timeout is a :class:`TimeoutError`, a dead worker a ``BrokenProcessPool``
(a :class:`RuntimeError`), bad input a :class:`ValueError` or :class:`TypeError`.
A worker's own exception is re-raised unchanged (same type); its ``__cause__``
carries the worker's formatted traceback.
"""
from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool

__all__ = ["ProcessorTimeoutError", "WorkerCrashedError", "ProcessorClosedError"]


class ProcessorTimeoutError(TimeoutError):
    """An operation ran past its ``timeout``; its busy workers were terminated.

    The processor stays usable: the pool is restarted before this is raised.

    Parameters
    ----------
    operation : str
        Name of the processor method that timed out (e.g. ``"parallel_map"``).
    timeout : float
        The limit that expired, in seconds.

    Attributes
    ----------
    operation : str
        As given.
    timeout : float
        As given, in seconds.
    """

    def __init__(self, operation: str, timeout: float) -> None:
        super().__init__(f"{operation}() did not finish within timeout={timeout:g} s "
                         "(any busy workers were terminated; the processor stays usable)")
        self.operation = operation
        self.timeout = timeout


class WorkerCrashedError(BrokenProcessPool):
    """A worker process died (signal, OOM kill, ``os._exit``) during an operation.

    The pool is restarted before this is raised, so the processor stays usable.

    Parameters
    ----------
    operation : str
        Name of the processor method that was running (e.g. ``"find_primes"``).
    detail : str, optional
        Extra text appended to the message (typically the original
        ``BrokenProcessPool`` message); empty for none.

    Attributes
    ----------
    operation : str
        As given.
    """

    def __init__(self, operation: str, detail: str = "") -> None:
        msg = (f"a worker process died abruptly during {operation}() (killed by a signal, "
               "out of memory, or exited); the pool was restarted")
        super().__init__(msg + (f": {detail}" if detail else ""))
        self.operation = operation


class ProcessorClosedError(RuntimeError):
    """A method was called on a processor after ``close()``.

    Create a new processor to continue; a closed one cannot be reopened.
    """
