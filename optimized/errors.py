"""Exceptions raised by the optimized processor.

Each subclasses the built-in a caller would naturally catch, so existing code keeps
working: a timeout is a :class:`TimeoutError`, a dead worker a ``BrokenProcessPool``
(a :class:`RuntimeError`), bad input a :class:`ValueError` or :class:`TypeError`,
shared memory that is not there (with ``shm="require"``) a :class:`MemoryError`.
A worker's own exception is re-raised unchanged (same type); its ``__cause__``
carries the worker's formatted traceback.
"""
from __future__ import annotations

import signal
from collections.abc import Iterable
from concurrent.futures.process import BrokenProcessPool

__all__ = ["ProcessorTimeoutError", "WorkerCrashedError", "ProcessorClosedError",
           "SharedMemoryFullError", "describe_exit", "format_bytes", "shm_size_hint"]


def format_bytes(n: int | None) -> str:
    """``n`` bytes in words: ``"64.0 MB"``, ``"1.5 GB"``, ``"unknown"`` for None."""
    if n is None:
        return "an unknown amount"
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def shm_size_hint(needed: int) -> str:
    """A ``docker run --shm-size`` value that holds ``needed`` bytes twice over (>= 1g)."""
    gib = max(1, -(-2 * needed // (1 << 30)))
    return f"{gib}g"


def describe_exit(exitcode: int | None) -> str:
    """How a process ended, in words: ``"killed by SIGKILL (-9)"``, ``"exited with exit code 3"``.

    Parameters
    ----------
    exitcode : int or None
        ``multiprocessing.Process.exitcode``: negative for a signal, None while running.

    Returns
    -------
    str
    """
    if exitcode is None:
        return "ended (exit status unknown)"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"was killed by {name} ({exitcode})"
    return f"exited with exit code {exitcode}"


class ProcessorTimeoutError(TimeoutError):
    """An operation ran past its ``timeout``; its busy workers were terminated.

    The processor stays usable: the pool is restarted before this is raised.

    Parameters
    ----------
    operation : str
        Name of the processor method that timed out (e.g. ``"parallel_map"``).
    timeout : float
        The limit that expired, in seconds.
    cleanup : str, optional
        What was done about the call's tasks (default: the local pool's answer; a
        cluster cancels queued tasks and cannot interrupt running ones).

    Attributes
    ----------
    operation : str
        As given.
    timeout : float
        As given, in seconds.
    """

    def __init__(self, operation: str, timeout: float,
                 cleanup: str = "any busy workers were terminated") -> None:
        super().__init__(f"{operation}() did not finish within timeout={timeout:g} s "
                         f"({cleanup}; the processor stays usable)")
        self.operation = operation
        self.timeout = timeout


class WorkerCrashedError(BrokenProcessPool):
    """A worker process died (signal, OOM kill, ``os._exit``) during an operation.

    The pool is restarted before this is raised, so the processor stays usable.

    The message names each dead worker's pid and how it ended (``was killed by
    SIGKILL (-9)``, ``exited with exit code 1``); for SIGKILL it adds that the
    kernel's OOM killer is a common cause.

    Parameters
    ----------
    operation : str
        Name of the processor method that was running (e.g. ``"find_primes"``), or
        ``"start-up"`` for a worker that died while the pool started.
    detail : str, optional
        Extra text appended to the message (typically the original
        ``BrokenProcessPool`` message); empty for none.
    deaths : iterable of (int, int or None), optional
        ``(pid, exitcode)`` of each worker found dead; empty when unknown.

    Attributes
    ----------
    operation : str
        As given.
    deaths : tuple of (int, int or None)
        As given.
    """

    def __init__(self, operation: str, detail: str = "",
                 deaths: Iterable[tuple[int, int | None]] = ()) -> None:
        self.operation = operation
        self.deaths = tuple(deaths)
        where = "while the pool started" if operation == "start-up" else f"during {operation}()"
        if self.deaths:
            who = "; ".join(f"worker process {pid} {describe_exit(code)}"
                            for pid, code in self.deaths)
            msg = f"{who} {where}"
        else:
            msg = (f"a worker process died abruptly {where} (killed by a signal, out of "
                   "memory, or exited)")
        if any(code == -signal.SIGKILL for _, code in self.deaths):
            msg += (" - SIGKILL is what the kernel's OOM killer sends: if no one killed it, "
                    "check `dmesg` for 'Out of memory'")
        msg += "; the pool was restarted" if operation != "start-up" else ""
        super().__init__(msg + (f" ({detail})" if detail else ""))


class ProcessorClosedError(RuntimeError):
    """A method was called on a processor after ``close()``.

    Create a new processor to continue; a closed one cannot be reopened.
    """


class SharedMemoryFullError(MemoryError):
    """A shared-memory segment could not be reserved: ``/dev/shm`` lacks the space.

    Raised before any task of the call runs, only where the processor was told
    ``shm="require"``; with ``shm="auto"`` (the default) the call moves its arrays
    through the pool's pipes instead and logs one warning.

    Parameters
    ----------
    needed : int
        Bytes the segment needs.
    free : int or None
        Bytes ``/dev/shm`` had free (None when it cannot be read).
    reserve : int
        Bytes kept free beside the segment (multiprocessing's own semaphores).

    Attributes
    ----------
    needed, free : int, int or None
        As given.
    """

    def __init__(self, needed: int, free: int | None, reserve: int = 0) -> None:
        self.needed = needed
        self.free = free
        kept = f" (keeping {format_bytes(reserve)} free for the pool's locks)" if reserve else ""
        super().__init__(
            f"/dev/shm has {format_bytes(free)} free: a shared array of "
            f"{format_bytes(needed)} does not fit{kept}. Give the container more shared "
            f"memory (docker run --shm-size={shm_size_hint(needed)}), or let the processor "
            "move the data through its pipes instead (shm='auto')")
