"""Code that runs inside pool worker processes.

Everything here is module-level (picklable by reference) so the pool works under
fork, forkserver and spawn alike (D10). A worker:

- ignores SIGINT: Ctrl-C is the parent's to handle, and the parent terminates the
  workers (a terminal delivers SIGINT to the whole process group; without this every
  worker would die mid-task with its own KeyboardInterrupt);
- limits its BLAS to ``blas_threads`` threads so ``workers x threads <= cores`` (D8);
- keeps the pipeline channels it inherited at start (queues can only be shared by
  inheritance, and the pool is created once);
- runs each task through :func:`run_task`, which reports the task's CPU and kernel
  seconds alongside its result (the parent's metrics are built from these).
"""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["WorkerConfig", "TaskOutput", "init_worker", "run_task", "ping", "channels"]

_BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

_channels: tuple[Any, ...] = ()
_blas_limiter: Any = None


@dataclass(frozen=True)
class WorkerConfig:
    """Settings every worker receives once, at start.

    Attributes
    ----------
    blas_threads : int
        Threads each worker's BLAS/OpenMP libraries may use.
    """

    blas_threads: int = 1


@dataclass(frozen=True)
class TaskOutput:
    """A task's result plus what it cost inside the worker.

    Attributes
    ----------
    value : Any
        What the task function returned.
    cpu_s : float
        CPU seconds the task used in the worker.
    work_s : float
        Wall seconds the task function ran.
    pid : int
        Process id of the worker that ran it.
    """

    value: Any
    cpu_s: float
    work_s: float
    pid: int


def blas_env(threads: int) -> dict[str, str]:
    """Environment variables that cap BLAS/OpenMP threads (read at library load).

    Parameters
    ----------
    threads : int
        Thread cap to apply.

    Returns
    -------
    dict of str to str
        ``{"OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": ..., ...}``.
    """
    return {k: str(threads) for k in _BLAS_ENV}


def _limit_blas(threads: int) -> None:
    global _blas_limiter
    os.environ.update(blas_env(threads))  # for libraries loaded later
    try:  # already-loaded BLAS (numpy imported, or inherited through fork)
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: env vars alone cover spawn/forkserver
        return
    _blas_limiter = threadpool_limits(limits=threads)


def init_worker(config: WorkerConfig, channel_queues: tuple[Any, ...]) -> None:
    """Pool initializer: signals, BLAS threads, inherited pipeline channels.

    Runs once in every new worker: ignores SIGINT, caps BLAS threads and keeps the
    channels for :func:`channels`.

    Parameters
    ----------
    config : WorkerConfig
        Per-worker settings.
    channel_queues : tuple of multiprocessing.Queue
        The pipeline channels created with the pool.
    """
    global _channels
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _limit_blas(config.blas_threads)
    _channels = channel_queues


def channels() -> tuple[Any, ...]:
    """The pipeline queues this worker inherited at start.

    Returns
    -------
    tuple of multiprocessing.Queue
        The channels given to :func:`init_worker`; empty outside a pool worker.
    """
    return _channels


def ping() -> int:
    """Warm-up task: proves the worker is up.

    Returns
    -------
    int
        The worker's process id.
    """
    return os.getpid()


def run_task(fn: Callable[..., Any], args: tuple[Any, ...]) -> TaskOutput:
    """Run ``fn(*args)`` and report its CPU and wall seconds.

    Parameters
    ----------
    fn : callable
        The task function (module-level, so it pickles).
    args : tuple
        Its positional arguments.

    Returns
    -------
    TaskOutput
        ``fn``'s result with the task's CPU seconds, wall seconds and this pid.

    Raises
    ------
    Exception
        Whatever ``fn`` raises propagates unchanged (the pool re-raises it in the
        caller).
    """
    c0, w0 = time.process_time(), time.perf_counter()
    value = fn(*args)
    return TaskOutput(value, time.process_time() - c0, time.perf_counter() - w0, os.getpid())
