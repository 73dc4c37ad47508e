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
    """An operation ran past its ``timeout``; its busy workers were terminated."""

    def __init__(self, operation: str, timeout: float) -> None:
        super().__init__(f"{operation}() did not finish within timeout={timeout:g} s "
                         "(any busy workers were terminated; the processor stays usable)")
        self.operation = operation
        self.timeout = timeout


class WorkerCrashedError(BrokenProcessPool):
    """A worker process died (signal, OOM kill, ``os._exit``) during an operation."""

    def __init__(self, operation: str, detail: str = "") -> None:
        msg = (f"a worker process died abruptly during {operation}() (killed by a signal, "
               "out of memory, or exited); the pool was restarted")
        super().__init__(msg + (f": {detail}" if detail else ""))
        self.operation = operation


class ProcessorClosedError(RuntimeError):
    """A method was called on a processor after ``close()``."""
