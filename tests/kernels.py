"""Module-level (picklable) functions that tests send to worker processes."""
from __future__ import annotations

import os
import signal
import time


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
