"""Module-level (picklable) functions that tests send to worker processes."""
from __future__ import annotations

import os
import signal
import threading
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


def _in_large_write(tid: int, min_len: int) -> bool:
    """Whether thread ``tid`` of this process is inside a syscall of >= ``min_len`` bytes.

    ``/proc/self/task/<tid>/syscall``: the syscall number and its arguments; the
    third argument of write() is the length (a 4-byte header goes out first, then
    the pickled result in one write of its whole length).
    """
    try:
        with open(f"/proc/self/task/{tid}/syscall", encoding="ascii") as f:
            fields = f.read().split()
    except OSError:
        return False
    return len(fields) > 3 and fields[0].isdigit() and int(fields[3], 16) >= min_len


def _sigkill_in_large_write(tid: int, min_len: int) -> None:
    while not _in_large_write(tid, min_len):
        time.sleep(0.0002)
    time.sleep(0.005)  # let part of it reach the parent
    os.kill(os.getpid(), signal.SIGKILL)


class _DiesWhileSent:
    """A result whose pickling arms a thread that SIGKILLs this worker mid-send.

    The worker writes the pickled result to the result pipe right after pickling it;
    the thread kills the process while that write is under way: the parent is left
    with a partial message.
    """

    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes

    def __reduce__(self) -> tuple[type, tuple[bytes]]:
        args = (threading.main_thread().native_id, self.nbytes)
        threading.Thread(target=_sigkill_in_large_write, args=args, daemon=True).start()
        return bytes, (bytes(self.nbytes),)


def die_while_sending_result(nbytes: int) -> _DiesWhileSent:
    """A task whose worker is SIGKILLed while its ``nbytes`` result is being sent."""
    return _DiesWhileSent(nbytes)


def leave_segment_and_die(x: int) -> int:
    """Create a ``ppd_<this pid>_*`` entry in /dev/shm (what a segment is on Linux), then
    die by SIGKILL before anything could release it."""
    if x == 5:
        with open(f"/dev/shm/ppd_{os.getpid()}_left_by_dead_worker", "wb") as f:
            f.write(b"x" * 4096)
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def boom_on_3_others_slow(x: int) -> int:
    """Item 3 fails at once; items before it take 0.3 s (so they finish after it)."""
    if x == 3:
        raise ValueError(f"kernel refused item {x}")
    if x < 3:
        time.sleep(0.3)
    return x


def blas_threads(_: object) -> int:
    """The most threads any BLAS/OpenMP library loaded in this process may use."""
    from threadpoolctl import threadpool_info
    return max((lib["num_threads"] for lib in threadpool_info()), default=0)
