"""The execution engine: one process pool, created once, reused by every operation.

Data flow (local backend)::

    caller thread                         ProcessPoolExecutor                 workers (N, long-lived)
    -------------                         -------------------                 -----------------------
    operation(...)                                                            init_worker():
      | validate, choose inline/pool                                            SIGINT ignored,
      | numeric data -> SharedArray ----------- segment name only ----------->  BLAS threads capped,
      |                                                                          pipeline channels kept
      | LocalBackend.run(fn, tasks) --submit--> call queue --(pickled task)--> run_task(fn, args)
      |   wait(FIRST_COMPLETED, deadline)      result queue <--(TaskOutput)---   value, cpu_s, work_s
      |   results placed by task index  <-----  futures                         (shm results written
      |   (input order, D6)                                                      in place, not sent)
      v
    results, CallMetrics
                    pipeline only: channels[0..k] (bounded mp.Queues inherited at pool start)
                    parent --batches--> stage 1 --> ... --> stage k --batches--> parent

Engine choice (D11a). ``concurrent.futures.ProcessPoolExecutor``, not
``multiprocessing.Pool``: when a worker is SIGKILLed (or OOM-killed) the executor
notices at once and fails every pending future with ``BrokenProcessPool``, whereas
``Pool`` silently replaces the worker, loses its task and waits forever (cpython
gh-66587), and its ``terminate()`` can hang on a task-queue lock held by a killed
worker. ``submit`` + ``wait(FIRST_COMPLETED)`` over explicitly chunked tasks is the
executor's equivalent of ``imap_unordered`` with an explicit chunksize (R2); results
are put back in input order by task index.

Failure contract (D11). Every wait has a deadline. On a timeout, a dead worker, a
worker exception while other tasks still run, or Ctrl-C, the busy workers are killed
(SIGKILL: a worker stuck in C code cannot ignore it), the executor and the pipeline
channels are discarded, and - except after Ctrl-C - a fresh pool is started at once,
so the next call finds a warm pool. Shared-memory segments belong to the caller's
``with`` blocks and are unlinked as the exception unwinds.

Backends (D12). Operations talk to :class:`Backend`, never to multiprocessing or Dask:
``run`` (tasks, results in order), ``share``/``buffer`` (where a call's arrays live,
:mod:`optimized.buffers`), ``stream`` (chains of tasks with a bounded number in flight:
the pipeline where workers share no queues), ``channels`` (queues the workers
inherited, or None), and the cost-model figures ``round_trip_s``, ``min_task_s`` and
``cores``. :class:`LocalBackend` is this machine's pool; :class:`optimized.cluster.DaskBackend`
is a Dask distributed cluster, imported only when the processor is given ``scheduler=``.
"""
from __future__ import annotations

import logging
import math
import multiprocessing as mp
import multiprocessing.connection
import numbers
import os
import select
import signal
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from . import worker
from .buffers import Buffer, PipeBuffer, SharedBuffer
from .chunking import MIN_TASK_SECONDS, POOL_ROUND_TRIP_S
from .errors import (
    ProcessorClosedError,
    ProcessorTimeoutError,
    SharedMemoryFullError,
    WorkerCrashedError,
    describe_exit,
    format_bytes,
    shm_size_hint,
)
from .metrics import TaskStats
from .shm import SharedArray, unlink_segments_of

if TYPE_CHECKING:
    from .streaming import TaskPort

__all__ = ["Backend", "ChannelBackend", "LocalBackend", "Deadline", "START_METHODS"]

START_METHODS = ("fork", "forkserver", "spawn")
#: Where a call's arrays may live: shared memory if it has room (else through the
#: pool's pipes, with one warning), shared memory or an error, never shared memory.
SHM_MODES = ("auto", "require", "never")
logger = logging.getLogger("optimized")
_STARTUP_TIMEOUT_S = 120.0
_JOIN_TIMEOUT_S = 5.0
#: How long an executor's manager thread gets to notice that its workers were killed.
_MANAGER_EXIT_S = 0.2
#: Longest single wait for task results before the workers are checked for a death
#: the executor missed, and how long such a death may stay unreported.
_WATCH_S = 0.1
_DEATH_GRACE_S = 0.5


class Deadline:
    """An operation's time budget, starting now.

    Parameters
    ----------
    operation : str
        Name of the operation (for the error message).
    timeout : int or float, optional
        Seconds; ``None`` means unlimited.

    Raises
    ------
    TypeError
        ``timeout`` is not a real number (a str or a bool is rejected, not converted).
    ValueError
        ``timeout`` is zero, negative, infinite or NaN.
    """

    def __init__(self, operation: str, timeout: float | None) -> None:
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
                raise TypeError(f"timeout must be a number of seconds or None, got "
                                f"{type(timeout).__name__} {timeout!r}")
            if not 0 < timeout < math.inf:  # NaN fails both comparisons
                raise ValueError(f"timeout must be a positive, finite number of seconds or "
                                 f"None, got {timeout!r}")
            try:
                timeout = float(timeout)
            except OverflowError:  # an int beyond the float range: no finite deadline
                raise ValueError(f"timeout must be a positive, finite number of seconds or "
                                 f"None, got an int too large for a float ({timeout!r:.30})"
                                 ) from None
        self.operation = operation
        self.timeout = timeout
        self._end = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        """Seconds left (may be <= 0), or None when unlimited."""
        return None if self._end is None else self._end - time.monotonic()

    def check(self) -> None:
        """Raise :class:`ProcessorTimeoutError` if the budget is spent."""
        left = self.remaining()
        if self.timeout is not None and left is not None and left <= 0:
            raise ProcessorTimeoutError(self.operation, self.timeout)

    def wait_time(self, cap: float | None = None) -> float | None:
        """How long one blocking wait may last: the remaining budget, at most ``cap``."""
        left = self.remaining()
        if left is None:
            return cap
        return max(0.0, left if cap is None else min(left, cap))


class Backend(ABC):
    """Where tasks run and where their arrays live. Operations use only this interface.

    Attributes
    ----------
    num_workers : int
        Tasks that run at once (local: processes; cluster: worker threads).
    cores : int
        CPU cores the workers share (the cost model's parallelism for CPU work).
    round_trip_s : float
        Seconds of overhead to dispatch one task and get its result back.
    min_task_s : float
        Seconds of work a task should hold at least, to amortise ``round_trip_s``.
    """

    num_workers: int
    cores: int = os.cpu_count() or 1
    round_trip_s: float = POOL_ROUND_TRIP_S
    min_task_s: float = MIN_TASK_SECONDS

    @abstractmethod
    def run(self, fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]], *,
            deadline: Deadline, stats: TaskStats,
            on_done: Callable[[int], None] | None = None) -> list[Any]:
        """Run ``fn(*args)`` for every ``args`` in ``tasks``; results in task order.

        Tasks run in any order (``imap_unordered`` semantics); ``on_done(i)`` is
        called as task ``i`` completes. Raises the first worker exception (with the
        worker traceback as ``__cause__``), :class:`ProcessorTimeoutError` or
        :class:`WorkerCrashedError`; in each case no task of the call is left running
        (a cluster cancels them; see :mod:`optimized.cluster` for what a running task
        does then).
        """

    @abstractmethod
    def stream(self, steps: Sequence[Callable[[Any], Any]], inputs: Sequence[Any], *,
               window: int, deadline: Deadline, stats: TaskStats,
               on_result: Callable[[int, Any], None]) -> None:
        """Push every input through the chain ``steps[-1](...steps[0](x))``, one task per step.

        At most ``window`` chains are in flight (the back-pressure); a new input
        starts when a chain ends. ``on_result(i, value)`` is called once per input,
        as its chain ends (any order). Failures as in :meth:`run`.
        """

    @abstractmethod
    def port(self) -> TaskPort:
        """Single tasks, for callers that keep their own window (:mod:`optimized.streaming`)."""

    @abstractmethod
    def share(self, array: np.ndarray, dtype: Any = None, *,
              broadcast: bool = False) -> Buffer:
        """A read-only copy of ``array`` (as ``dtype``) that tasks can read.

        ``broadcast=True`` marks a small operand every task reads whole (matrix
        ``B``, base primes): a cluster sends it to every worker up front.
        """

    @abstractmethod
    def buffer(self, shape: tuple[int, ...], dtype: Any) -> Buffer:
        """An uninitialised array that the parent fills, or tasks write into."""

    @property
    def channels(self) -> tuple[Any, ...] | None:
        """Bounded queues every worker inherited (the pipeline's stage channels), or None."""
        return None

    def repair(self) -> None:  # noqa: B027 - optional hook, nothing to repair by default
        """Before a call: replace workers lost while no call was running.

        A worker that died between calls (an OOM kill at night) lost nothing, so the
        next call must not fail for it. Default: nothing to do (a cluster's scheduler
        reassigns work itself).
        """

    @abstractmethod
    def worker_pids(self) -> list[int]:
        """Process ids of the current workers (empty where the backend has none here)."""

    @abstractmethod
    def close(self) -> None:
        """Graceful shutdown: idle workers exit; stragglers are killed. Idempotent."""

    @abstractmethod
    def terminate(self) -> None:
        """Kill every worker now."""

    @abstractmethod
    def join(self, timeout: float | None = None) -> None:
        """Wait for the workers to be gone after :meth:`close` or :meth:`terminate`."""

    @property
    @abstractmethod
    def closed(self) -> bool:
        """True after :meth:`close`/:meth:`terminate`."""


@runtime_checkable
class ChannelBackend(Protocol):
    """A backend whose workers share inherited queues: what the streaming pipeline needs.

    The pipeline runs long-lived stage loops (:meth:`submit`) that pass batches
    through :attr:`channels`, and on failure discards workers and channels together
    (:meth:`reset`). :class:`LocalBackend` provides all three.
    """

    @property
    def channels(self) -> tuple[Any, ...]:
        """The bounded queues every current worker inherited."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Start one long-running task now."""

    def reset(self, restart: bool) -> list[tuple[int, int | None]]:
        """Kill the workers and discard the channels; optionally start afresh.

        Returns the ``(pid, exitcode)`` of workers that had died before the reset.
        """


def _kill_executor(executor: ProcessPoolExecutor | None, graceful: bool) -> list[Any]:
    """Shut an executor down; SIGKILL workers unless ``graceful``. Returns its processes."""
    if executor is None:
        return []
    procs = list((getattr(executor, "_processes", None) or {}).values())
    results = getattr(executor, "_result_queue", None)  # shutdown() drops the reference
    thread = getattr(executor, "_executor_manager_thread", None)
    if not graceful:
        for p in procs:
            if p.is_alive():
                p.kill()
    # After a kill the manager thread fails every pending future itself; cancelling
    # them here as well races with it (InvalidStateError in CPython 3.11).
    executor.shutdown(wait=False, cancel_futures=graceful)
    deadline = time.monotonic() + _JOIN_TIMEOUT_S
    for p in procs:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
        if p.is_alive():  # graceful exit did not happen in time
            p.kill()
            p.join(timeout=_JOIN_TIMEOUT_S)
    if thread is not None:
        thread.join(timeout=_MANAGER_EXIT_S)
        if (not graceful and thread.is_alive() and results is not None
                and not any(p.is_alive() for p in procs)):
            _unblock_result_reader(thread, results)
        thread.join(timeout=_JOIN_TIMEOUT_S)
    return procs


def _unblock_result_reader(thread: Any, results: Any) -> None:
    """Free an executor's manager thread stuck reading a result its dead worker half wrote.

    A worker killed while it writes a large result leaves a partial message in the
    result pipe; the manager thread then waits forever for the rest (this process
    holds a write end, as do workers forked later, so no EOF comes) - and
    interpreter exit joins that thread. With the workers gone, zeros written here
    complete the message: it fails to unpickle, the thread marks the pool broken and
    exits. Nothing else reads that pipe again.
    """
    fd = results._writer.fileno()
    os.set_blocking(fd, False)
    zeros = bytes(1 << 20)
    end = time.monotonic() + _JOIN_TIMEOUT_S
    while thread.is_alive() and time.monotonic() < end:
        try:
            os.write(fd, zeros)  # as much as fits in the pipe
        except BlockingIOError:  # full: wait until the thread has read some
            select.select([], [fd], [], 0.01)
        except OSError:  # the pipe is gone: nothing is left to unblock
            return


def _has_exited(proc: mp.process.BaseProcess) -> bool:
    """True once ``proc`` has died, including while it is still dying.

    The sentinel alone is late: a killed worker's main thread is a zombie (and the
    executor's manager thread will soon fail the pool) a few milliseconds before its
    other threads are gone and its end of the sentinel pipe closes. Linux's
    ``/proc/<pid>/stat`` shows the zombie ("Z") at once; elsewhere the sentinel decides.
    """
    if multiprocessing.connection.wait([proc.sentinel], 0):
        return True
    try:
        with open(f"/proc/{proc.pid}/stat", encoding="ascii") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return os.path.exists("/proc/self")  # reaped already (if /proc exists at all)
    except (OSError, IndexError):
        return False
    return state in ("Z", "X")


def _deaths(procs: Iterable[Any]) -> list[tuple[int, int | None]]:
    """``(pid, exitcode)`` of the workers that are already dead, before anyone kills the rest.

    When one worker dies the executor SIGTERMs the others, so where a worker ended
    otherwise, the SIGTERMed ones are bystanders and are left out.
    """
    dead = []
    for p in procs:
        if _has_exited(p):
            # Its status can lag: its threads may still be exiting, or the executor's
            # manager thread may be reaping it right now (our waitpid then fails with
            # ECHILD and reads None until that thread records the status).
            end = time.monotonic() + 1.0
            while p.exitcode is None and time.monotonic() < end:
                time.sleep(0.005)
        if p.exitcode is not None:
            dead.append((p.pid, p.exitcode))
    culprits = [d for d in dead if d[1] != -signal.SIGTERM]
    return culprits or dead


def _discard_channels(queues: Iterable[Any]) -> None:
    for q in queues:
        q.cancel_join_thread()  # never block exit flushing data no worker will read
        q.close()


def _finalize(holder: dict[str, Any]) -> None:
    """Garbage collection / interpreter exit: leave no process (and no segment) behind."""
    _discard_channels(holder.pop("channels", ()))
    procs = _kill_executor(holder.pop("executor", None), graceful=True)
    unlink_segments_of(p.pid for p in [*holder.pop("procs", ()), *procs])


class LocalBackend(Backend):
    """A ``ProcessPoolExecutor`` of ``num_workers`` processes on this machine.

    Parameters
    ----------
    num_workers : int
        Worker processes (all started here, before the constructor returns).
    start_method : {"fork", "forkserver", "spawn"}, optional
        Default: the platform's multiprocessing default.
    channel_depth : int
        ``maxsize`` of each pipeline channel queue (back-pressure depth).
    blas_threads : int, optional
        BLAS threads per worker; default ``max(1, cores // num_workers)``.
    shm : {"auto", "require", "never"}
        Where a call's arrays live (:data:`SHM_MODES`): ``"auto"`` uses shared memory
        when /dev/shm has room and otherwise the pool's pipes (one WARNING per
        backend); ``"require"`` raises :class:`SharedMemoryFullError` instead;
        ``"never"`` always uses the pipes.
    """

    def __init__(self, num_workers: int, start_method: str | None = None, *,
                 channel_depth: int = 4, blas_threads: int | None = None,
                 shm: str = "auto") -> None:
        if start_method is not None and start_method not in START_METHODS:
            raise ValueError(f"start_method must be one of {START_METHODS} or None, "
                             f"got {start_method!r}")
        if shm not in SHM_MODES:
            raise ValueError(f"shm must be one of {SHM_MODES}, got {shm!r}")
        self.shm = shm
        self._pipe_buffers = 0  # open PipeBuffers: while > 0, new buffers are pipes too
        self._shm_warned = False
        self.num_workers = num_workers
        self._ctx = mp.get_context(start_method)
        self.start_method = self._ctx.get_start_method()
        self.channel_depth = channel_depth
        cores = os.cpu_count() or 1
        self._config = worker.WorkerConfig(blas_threads or max(1, cores // num_workers))
        self._holder: dict[str, Any] = {}
        self._closed = False
        self._death_seen: float | None = None  # when _wait first saw a dead worker
        self.restarts = 0
        weakref.finalize(self, _finalize, self._holder)
        self._start()

    # -- lifecycle ---------------------------------------------------------------------
    def _start(self) -> None:
        """Create the channels and the executor, and start every worker now (R1)."""
        channels = tuple(self._ctx.Queue(maxsize=self.channel_depth)
                         for _ in range(self.num_workers + 1))
        saved = {k: os.environ.get(k) for k in worker.blas_env(1)}
        os.environ.update(worker.blas_env(self._config.blas_threads))  # spawn/forkserver
        try:
            ex = ProcessPoolExecutor(self.num_workers, mp_context=self._ctx,
                                     initializer=worker.init_worker,
                                     initargs=(self._config, channels))
            self._holder.update(executor=ex, channels=channels)
            pings: list[Future] = []
            broken: BrokenProcessPool | None = None
            try:
                for _ in range(self.num_workers):
                    pings.append(ex.submit(worker.ping))
            except BrokenProcessPool as exc:  # a worker died while the pings went out
                broken = exc
            done, not_done = wait(pings, timeout=_STARTUP_TIMEOUT_S)
            # Every worker is started by now (all pings submitted); keep the Process
            # objects to say which one died, and how, if one does.
            self._holder["procs"] = list((getattr(ex, "_processes", None) or {}).values())
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        try:
            if broken is not None:
                raise broken
            for f in done:
                f.result()  # a worker that died at start (e.g. its initializer failed)
        except BrokenProcessPool as exc:
            deaths = self.reset(restart=False)
            raise WorkerCrashedError("start-up", "" if deaths else str(exc), deaths) from exc
        except BaseException:
            self.reset(restart=False)
            raise
        if not_done or len(getattr(ex, "_processes", {})) < self.num_workers:
            self.reset(restart=False)
            raise RuntimeError(f"could not start {self.num_workers} worker processes "
                               f"within {_STARTUP_TIMEOUT_S:g} s")

    def reset(self, restart: bool) -> list[tuple[int, int | None]]:
        """Kill the workers, discard executor and channels; optionally start afresh.

        Parameters
        ----------
        restart : bool
            Start a fresh pool (and channels) at once; False leaves it to the next call.

        Returns
        -------
        list of (int, int or None)
            ``(pid, exitcode)`` of the workers that had died before this reset killed
            the rest (what :class:`WorkerCrashedError` reports).
        """
        ex = self._holder.get("executor")
        if ex is not None and getattr(ex, "_broken", False):
            # A worker died: let the executor's manager thread finish reaping first. Two
            # threads polling one forkserver child race for its exit status (the loser
            # reads EOF and records 255), so read the statuses only once it is done.
            thread = getattr(ex, "_executor_manager_thread", None)
            if thread is not None:
                thread.join(_JOIN_TIMEOUT_S)
        procs = self._holder.pop("procs", ())
        deaths = _deaths(procs)
        _discard_channels(self._holder.pop("channels", ()))
        killed = _kill_executor(self._holder.pop("executor", None), graceful=False)
        # A worker killed while it held a segment of its own cannot release it.
        unlink_segments_of(p.pid for p in [*procs, *killed])
        if restart and not self._closed:
            self.restarts += 1
            self._start()
        return deaths

    def repair(self) -> None:
        """Replace the pool if a worker died while no call was running (one WARNING).

        The executor fails every future of a pool that lost a worker, so a call on it
        would fail although the death lost nothing; a fresh pool is started instead.
        A death during a call is not repaired here: that call raises.
        """
        ex = self._holder.get("executor")
        procs = self._holder.get("procs", ())
        if ex is None or self._closed:
            return
        if not (getattr(ex, "_broken", False) or any(_has_exited(p) for p in procs)):
            return
        deaths = self.reset(restart=True)
        who = "; ".join(f"worker process {pid} {describe_exit(code)}" for pid, code in deaths)
        logger.warning("%s while it had no task (between calls); started a new pool of %d workers",
                       who or "a worker process died", self.num_workers)

    def _executor(self) -> ProcessPoolExecutor:
        if self._closed:
            raise ProcessorClosedError("the processor is closed; create a new one")
        if "executor" not in self._holder:  # after Ctrl-C the pool restarts lazily
            self.restarts += 1
            self._start()
        return self._holder["executor"]

    @property
    def channels(self) -> tuple[Any, ...]:
        """The pipeline channel queues the current workers inherited."""
        self._executor()
        return self._holder["channels"]

    def worker_pids(self) -> list[int]:
        """Process ids of the current workers."""
        ex = self._holder.get("executor")
        return sorted((getattr(ex, "_processes", None) or {}).keys()) if ex else []

    @property
    def closed(self) -> bool:
        """True once :meth:`close` or :meth:`terminate` ran; then every call raises
        :class:`ProcessorClosedError`."""
        return self._closed

    def close(self) -> None:
        """Shut down gracefully: idle workers exit, stragglers are killed. Idempotent.

        Discards the pipeline channels, lets each worker exit, waits up to 5 s per
        worker and then SIGKILLs whatever is still alive, so no process outlives this
        call. A second call does nothing.
        """
        if self._closed:
            return
        self._closed = True
        _finalize(self._holder)

    def terminate(self) -> None:
        """SIGKILL every worker now, without waiting for running tasks.

        Marks the backend closed; calling it again (or after :meth:`close`) is
        harmless. Use :meth:`join` to wait until the killed processes are reaped.
        """
        self._closed = True
        _discard_channels(self._holder.pop("channels", ()))
        self._procs_after_terminate = _kill_executor(self._holder.pop("executor", None),
                                                     graceful=False)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the processes killed by :meth:`terminate` to be gone.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait for each process; ``None`` waits without limit. Returns
            at once if :meth:`terminate` was never called (:meth:`close` already
            waits).
        """
        for p in getattr(self, "_procs_after_terminate", ()):
            p.join(timeout)

    # -- where arrays live -------------------------------------------------------------
    def share(self, array: np.ndarray, dtype: Any = None, *,
              broadcast: bool = False) -> Buffer:
        """A shared-memory copy of ``array`` (one copy; workers attach by name).

        ``broadcast`` changes nothing here: every worker on this machine maps the
        same segment. Without room in /dev/shm: see :meth:`buffer`.
        """
        return self._buffer(lambda: SharedArray.copy_of(array, dtype),
                            lambda: np.asarray(array, dtype=dtype))

    def buffer(self, shape: tuple[int, ...], dtype: Any) -> Buffer:
        """An uninitialised shared-memory array (tasks write their blocks in place).

        Where /dev/shm has no room for it (or ``shm="never"``), a :class:`PipeBuffer`
        instead: the data travels inside the tasks. ``shm="require"`` raises
        :class:`SharedMemoryFullError` then, before any task of the call runs.
        """
        return self._buffer(lambda: SharedArray(shape, dtype), lambda: np.empty(shape, dtype))

    def _buffer(self, shared: Callable[[], SharedArray],
                local: Callable[[], np.ndarray]) -> Buffer:
        if self.shm != "never" and self._pipe_buffers == 0:
            try:
                return SharedBuffer(shared())
            except SharedMemoryFullError as exc:
                if self.shm == "require":
                    raise
                self._warn_no_room(exc)
        array = local()
        if array.dtype.hasobject:
            raise TypeError(f"shared arrays hold fixed-size numbers, not {array.dtype}")
        self._pipe_buffers += 1
        return PipeBuffer(array, self._pipe_buffer_released)

    def _pipe_buffer_released(self) -> None:
        self._pipe_buffers -= 1

    def _warn_no_room(self, exc: SharedMemoryFullError) -> None:
        if self._shm_warned:
            return
        self._shm_warned = True
        logger.warning(
            "/dev/shm has %s free, too little for this call's %s array: its data goes "
            "through the pool's pipes instead (same results, slower for large arrays). "
            "Give the container more shared memory, e.g. docker run --shm-size=%s; "
            "shm='never' chooses the pipes without this warning",
            format_bytes(exc.free), format_bytes(exc.needed), shm_size_hint(exc.needed))

    # -- running tasks -----------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Start one task now (used by the pipeline's long-running stage loops)."""
        return self._executor().submit(worker.run_task, fn, args)

    def run(self, fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]], *,
            deadline: Deadline, stats: TaskStats,
            on_done: Callable[[int], None] | None = None) -> list[Any]:
        """Run ``fn(*args)`` for every ``args`` in ``tasks`` on the pool.

        All tasks are submitted at once; the executor hands them to whichever
        worker is free (``imap_unordered`` semantics) and the results are put back
        in task order by :meth:`collect`.

        Parameters
        ----------
        fn : callable
            A module-level (picklable) function.
        tasks : sequence of tuple
            One argument tuple per task.
        deadline : Deadline
            The call's time budget.
        stats : TaskStats
            Receives each task's worker CPU and work seconds.
        on_done : callable, optional
            Called with a task's index as it completes (progress bars).

        Returns
        -------
        list
            ``[fn(*args) for args in tasks]``, in task order.

        Raises
        ------
        ProcessorClosedError
            The backend is closed.
        ProcessorTimeoutError
            ``deadline`` expired; the workers were killed and the pool restarted.
        WorkerCrashedError
            A worker died (signal, OOM kill, exit); the pool was restarted.
        Exception
            The first exception raised by ``fn`` in a worker, same type, with the
            worker's traceback as ``__cause__``; any still-running tasks were killed
            with the pool, which was restarted.
        """
        ex = self._executor()
        futures: list[Future] = []
        try:
            for args in tasks:  # a worker may die while later tasks are still submitted
                futures.append(ex.submit(worker.run_task, fn, args))
        except BaseException as exc:
            self._fail(futures, exc, deadline.operation)
            raise
        return self.collect(futures, deadline=deadline, stats=stats, on_done=on_done)

    def port(self) -> _LocalPort:
        """Single tasks on this pool (see :class:`optimized.streaming.TaskPort`)."""
        return _LocalPort(self)

    def stream(self, steps: Sequence[Callable[[Any], Any]], inputs: Sequence[Any], *,
               window: int, deadline: Deadline, stats: TaskStats,
               on_result: Callable[[int, Any], None]) -> None:
        """Chains of tasks, at most ``window`` in flight; see :meth:`Backend.stream`.

        Each step's result comes back to this process and goes out again as the next
        step's task: the local pipeline uses its channels instead (workers hand
        batches to each other directly), so this serves callers without them.
        """
        ex = self._executor()
        step_of: dict[Future, tuple[int, int]] = {}  # future -> (input index, step)
        started = 0

        def start(i: int, k: int, value: Any) -> None:
            step_of[ex.submit(worker.run_task, steps[k], (value,))] = (i, k)

        try:
            while started < min(window, len(inputs)):
                start(started, 0, inputs[started])
                started += 1
            while step_of:
                deadline.check()
                done, _ = self._wait(set(step_of), deadline)
                for f in done:
                    i, k = step_of.pop(f)
                    r = f.result()
                    stats.add(r.cpu_s, r.work_s)
                    if k + 1 < len(steps):
                        start(i, k + 1, r.value)
                        continue
                    if started < len(inputs):  # keep the window full while on_result runs
                        start(started, 0, inputs[started])
                        started += 1
                    on_result(i, r.value)
        except BaseException as exc:
            self._fail(list(step_of), exc, deadline.operation)
            raise

    def collect(self, futures: Sequence[Future], *, deadline: Deadline, stats: TaskStats,
                on_done: Callable[[int], None] | None = None) -> list[Any]:
        """Wait for ``futures`` (results in their order) under the failure contract."""
        index = {f: i for i, f in enumerate(futures)}
        out: list[Any] = [None] * len(futures)
        pending = set(futures)
        pids: set[int] = set()
        try:
            while pending:
                deadline.check()
                done, pending = self._wait(pending, deadline)
                for f in done:
                    r = f.result()
                    out[index[f]] = r.value
                    stats.add(r.cpu_s, r.work_s)
                    pids.add(r.pid)
                    if on_done is not None:
                        on_done(index[f])
        except BaseException as exc:
            self._fail(futures, exc, deadline.operation)
            raise
        stats.workers_used = max(stats.workers_used, len(pids))
        return out

    def _wait(self, pending: set[Future], deadline: Deadline) -> tuple[set[Future], set[Future]]:
        """``wait(FIRST_COMPLETED)`` that also notices a worker death the executor missed.

        The executor's manager thread fails the futures when a worker dies - unless the
        worker died while writing its result: the thread then waits for the rest of
        that message forever. So the wait wakes every :data:`_WATCH_S`; if a worker
        has been dead for :data:`_DEATH_GRACE_S` while futures are still pending,
        :class:`BrokenProcessPool` is raised here (the failure contract follows).
        """
        done, pending = wait(pending, timeout=deadline.wait_time(_WATCH_S),
                             return_when=FIRST_COMPLETED)
        if done:
            return done, pending
        procs = self._holder.get("procs", ())
        if not multiprocessing.connection.wait([p.sentinel for p in procs], 0):
            self._death_seen = None
        elif self._death_seen is None:
            self._death_seen = time.monotonic()
        elif time.monotonic() - self._death_seen > _DEATH_GRACE_S:
            self._death_seen = None
            raise BrokenProcessPool("a worker process died and its tasks were never failed "
                                    "(it was killed while sending a result)")
        return done, pending

    def _fail(self, futures: Sequence[Future], exc: BaseException, operation: str) -> None:
        """Apply the failure contract; the caller re-raises (translated below).

        Unfinished tasks are never cancelled one by one: if any remain, the whole pool
        is killed (a running task cannot be cancelled, and a queued one would run
        later on a busy pool), which fails them all.
        """
        running = any(not f.done() for f in futures)
        deaths: list[tuple[int, int | None]] = []
        if isinstance(exc, KeyboardInterrupt):
            self.reset(restart=False)  # the user wants out: no new processes now
        elif isinstance(exc, BrokenProcessPool) or running:
            deaths = self.reset(restart=True)
        if isinstance(exc, BrokenProcessPool) and not isinstance(exc, WorkerCrashedError):
            raise WorkerCrashedError(operation, "" if deaths else str(exc), deaths) from exc


class _LocalPort:
    """:class:`optimized.streaming.TaskPort` over a :class:`LocalBackend`'s executor."""

    def __init__(self, backend: LocalBackend) -> None:
        self._backend = backend
        self._executor = backend._executor()

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Future:
        """Start ``fn(*args)`` on the pool."""
        return self._executor.submit(worker.run_task, fn, args)

    def wait(self, pending: Collection[Any], deadline: Deadline) -> set[Future]:
        """Some done futures, watching for dead workers as ``run`` does."""
        pending = set(pending)
        while True:
            deadline.check()
            done, _ = self._backend._wait(pending, deadline)
            if done:
                return done

    def output(self, handle: Future) -> worker.TaskOutput:
        """The task's output, or its exception (with the worker's traceback)."""
        out: worker.TaskOutput = handle.result()
        return out

    def abandon(self, pending: Collection[Any], exc: BaseException, operation: str) -> None:
        """Kill the pool if tasks still run (restarting it), then raise ``exc`` translated."""
        self._backend._fail(list(pending), exc, operation)
        raise exc
