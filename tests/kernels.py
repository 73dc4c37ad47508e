"""Module-level (picklable) functions that tests send to worker processes."""
from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable


def square(x: int) -> int:
    return x * x


def boom_on_3(x: int) -> int:
    if x == 3:
        raise ValueError(f"kernel refused item {x}")
    return x


def die_on_5(x: int) -> int:
    if x == 5:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def sleep_then_return(x: float) -> float:
    time.sleep(x)
    return x


def busy_us(micros: float) -> float:
    """Spin for ``micros`` microseconds of this process's CPU time (a CPU-bound item).

    CPU time, not wall time: on a loaded machine a descheduled worker must not appear
    to finish its items sooner.
    """
    end = time.process_time() + micros * 1e-6
    n = 0
    while time.process_time() < end:
        n += 1
    return micros


#: Fault modes the fault matrix injects (tests/children/fault_matrix.py).
FAULT_MODES = ("raise", "hang", "exit3")


class InjectedFault(ValueError):
    """What an injected ``raise`` fault raises in a worker (a ValueError: a bad item)."""


def _fault(mode: str) -> None:
    if mode == "raise":
        raise InjectedFault(f"injected fault in worker {os.getpid()}")
    if mode == "exit3":
        os._exit(3)
    if mode == "hang":  # busy until killed, interrupted or timed out
        time.sleep(60)
    elif mode != "none":
        raise AssertionError(f"unknown fault mode {mode!r}")


class Faulty:
    """A task function that injects ``mode`` before calling ``fn`` (picklable by value).

    Wrapped around every task of a call at the engine seam, so each operation's own
    worker code is reached on its pooled path under every start method.
    """

    def __init__(self, fn: Callable[..., object], mode: str) -> None:
        self.fn, self.mode = fn, mode

    def __call__(self, *args: object) -> object:
        _fault(self.mode)
        return self.fn(*args)


class FaultyStage:
    """A pipeline stage (identity) that injects ``mode`` on its first item."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __call__(self, x: object) -> object:
        _fault(self.mode)
        return x


def identity(x: object) -> object:
    return x


def exit_1(*args: object) -> None:
    """A pool initializer that dies at once (a worker lost at start-up)."""
    os._exit(1)
