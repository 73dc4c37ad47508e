"""Code that runs inside pool worker processes.

Everything here is module-level (picklable by reference) so the pool works under
fork, forkserver and spawn alike (D10). A worker:

- ignores SIGINT: Ctrl-C is the parent's to handle, and the parent terminates the
  workers (a terminal delivers SIGINT to the whole process group; without this every
  worker would die mid-task with its own KeyboardInterrupt);
- exits on its own when its owner dies (D14): a daemon thread blocks on
  ``multiprocessing.parent_process().sentinel`` - the read end of a pipe whose write
  end only the owning process holds, under fork, forkserver and spawn alike - and
  calls ``os._exit`` at its EOF. The kernel closes that write end however the owner
  died (SIGKILL, OOM), so no worker is orphaned, whatever its main thread is doing
  (a Python loop, a sleep, or C code that releases the GIL, such as BLAS or NumPy's
  sieve kernels). Not ``prctl(PR_SET_PDEATHSIG)``: under forkserver the OS parent is
  the fork server, and under fork/spawn it fires when the *thread* that started the
  worker ends, not the process;
- limits its BLAS to ``blas_threads`` threads so ``workers x threads <= cores`` (D8):
  spawned and forkserver workers through the environment their BLAS loads with, forked
  ones by inheriting the limit the owner holds while it forks them
  (:func:`blas_limit_for_children`);
- keeps the pipeline channels it inherited at start (queues can only be shared by
  inheritance, and the pool is created once);
- runs each task through :func:`run_task`, which reports the task's CPU and kernel
  seconds alongside its result (the parent's metrics are built from these).
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["WorkerConfig", "TaskOutput", "init_worker", "run_task", "ping", "channels",
           "watch_owner", "blas_limit_for_children", "OWNER_GONE_EXIT"]

_BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

_channels: tuple[Any, ...] = ()
_blas_limiter: Any = None

#: Exit status of a worker whose owner died (the owner is gone; nobody reads it, but a
#: distinct code tells this exit apart from a crash in a core dump or process listing).
OWNER_GONE_EXIT = 75


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


@contextlib.contextmanager
def blas_limit_for_children(threads: int, fork: bool) -> Iterator[None]:
    """While workers start: the BLAS thread cap they must start with, then the owner's own.

    Spawned and forkserver workers load BLAS afresh and read the environment
    (:func:`blas_env`). Forked workers inherit the owner's loaded libraries; with
    ``fork`` the owner's libraries are capped too while it forks them, so they start
    capped. Capping them after the fork instead costs ~0.1 s of CPU per worker: OpenBLAS
    stops its threads at a fork and a child that sets its thread count re-creates them,
    and they busy-wait before sleeping (measured: 10 clock ticks per forked worker, 0
    when it inherits the cap). Restoring the owner's cap afterwards re-creates the
    owner's threads once (what its next BLAS call after any fork does anyway). Another
    thread of the owner calling BLAS meanwhile runs capped for those milliseconds.

    Parameters
    ----------
    threads : int
        BLAS/OpenMP threads per worker.
    fork : bool
        Whether the workers are forked (cap the owner's loaded libraries as well).
    """
    saved = {k: os.environ.get(k) for k in _BLAS_ENV}
    os.environ.update(blas_env(threads))
    limiter = _cap_loaded_blas(threads) if fork else None
    try:
        yield
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _cap_loaded_blas(threads: int) -> Any:
    """Cap this process's loaded BLAS/OpenMP libraries at ``threads`` where they use more.

    Returns the threadpoolctl limiter (its ``restore_original_limits`` undoes it), or
    None when nothing was over the cap or threadpoolctl is missing (an optional
    dependency: the environment alone then covers BLAS loaded later).
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    controller = ThreadpoolController()
    if all(lib.num_threads <= threads for lib in controller.lib_controllers):
        return None  # already capped (e.g. inherited): setting it again re-creates threads
    return controller.limit(limits=threads)


def _limit_blas(threads: int) -> None:
    global _blas_limiter
    os.environ.update(blas_env(threads))  # for libraries loaded later
    # Already-loaded BLAS (inherited through fork, or imported while unpickling):
    # forked workers normally inherit the cap (blas_limit_for_children) and keep it.
    _blas_limiter = _cap_loaded_blas(threads)


def _exit_when_owner_dies(sentinel: int) -> None:
    """Block until ``sentinel`` reports EOF (the owner died), then leave at once."""
    multiprocessing.connection.wait([sentinel])
    os._exit(OWNER_GONE_EXIT)  # no cleanup: the owner's resource tracker frees segments


def watch_owner() -> threading.Thread | None:
    """Start the daemon thread that ends this process when its owner dies.

    Returns
    -------
    threading.Thread or None
        The watcher; None outside a multiprocessing child (no owner to watch).
    """
    owner = mp.parent_process()
    if owner is None or owner.sentinel is None:
        return None
    t = threading.Thread(target=_exit_when_owner_dies, args=(owner.sentinel,),
                         name="ppd-owner-watch", daemon=True)
    t.start()
    return t


def init_worker(config: WorkerConfig, channel_queues: tuple[Any, ...]) -> None:
    """Pool initializer: owner watch, signals, BLAS threads, pipeline channels.

    Runs once in every new worker: starts :func:`watch_owner`, ignores SIGINT, caps
    BLAS threads and keeps the channels for :func:`channels`.

    Parameters
    ----------
    config : WorkerConfig
        Per-worker settings.
    channel_queues : tuple of multiprocessing.Queue
        The pipeline channels created with the pool.
    """
    global _channels
    watch_owner()
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
