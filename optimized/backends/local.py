"""The local backend: one process pool on this machine, created once, reused by every call.

Data flow::

    caller thread                         ProcessPoolExecutor                 workers (N, long-lived)
    -------------                         -------------------                 -----------------------
    operation(...)                                                            init_worker():
      | validate, choose inline/pool                                            SIGINT ignored,
      | numeric data -> SharedArray ----------- segment name only ----------->  BLAS threads capped,
      |                                                                          channels kept
      | LocalBackend.run(fn, tasks) --submit--> call queue --(pickled task)--> run_task(fn, args)
      |   _wait(FIRST_COMPLETED, deadline)     result queue <--(TaskOutput)---   value, cpu_s, work_s
      |   + dead-worker watch                                                   (shm results written
      |   results placed by task index  <-----  futures                          in place, not sent)
      |   (input order, D6)
      | LocalBackend.pipeline(job) ----------- stage loops (long-running tasks) -------->
      |   feeder --batches--> channel[0] --> stage 0 --> channel[1] ... --> channel[k]
      |   drain <--batches-- channel[k]   (optimized.backends.local_pipeline)
      v
    results, CallMetrics

Engine choice (D11a). ``concurrent.futures.ProcessPoolExecutor``, not
``multiprocessing.Pool``: when a worker is SIGKILLed (or OOM-killed) the executor
notices at once and fails every pending future with ``BrokenProcessPool``, whereas
``Pool`` silently replaces the worker, loses its task and waits forever (cpython
gh-66587), and its ``terminate()`` can hang on a task-queue lock held by a killed
worker. ``submit`` + ``wait(FIRST_COMPLETED)`` over explicitly chunked tasks is the
executor's equivalent of ``imap_unordered`` with an explicit chunksize (R2); results
are put back in input order by task index. What this needs of the executor beyond its
public API is in :mod:`optimized.backends.executor`.

Failure contract (D11), one place for every way of running work (:meth:`LocalBackend._fail`).
Every wait has a deadline. On a timeout, a dead worker, a worker exception while other
tasks still run, a pipeline whose channels may hold stale batches, or Ctrl-C, the busy
workers are killed (SIGKILL: a worker stuck in C code cannot ignore it), the executor
and the channels are discarded, and - except after Ctrl-C - a fresh pool is started at
once, so the next call finds a warm pool. Shared-memory segments belong to the caller's
``with`` blocks and are unlinked as the exception unwinds.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import multiprocessing.connection
import os
import time
import weakref
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from .. import worker
from ..batches import PipelineJob, PipelineResult
from ..buffers import Buffer, LocalPlacement
from ..deadline import Deadline
from ..errors import ProcessorClosedError, WorkerCrashedError, describe_exit
from ..metrics import TaskStats
from ..shm import SharedArray, unlink_segments_of
from . import executor as _executor
from . import local_pipeline
from .base import Backend

__all__ = ["LocalBackend", "START_METHODS", "SHM_MODES"]

START_METHODS = ("fork", "forkserver", "spawn")
#: Where a call's arrays may live: shared memory if it has room (else through the
#: pool's pipes, with one warning), shared memory or an error, never shared memory.
SHM_MODES = LocalPlacement.MODES
logger = logging.getLogger("optimized")
_STARTUP_TIMEOUT_S = 120.0
#: Longest single wait for task results before the workers are checked for a death
#: the executor missed, and how long such a death may stay unreported.
WATCH_S = 0.1
_DEATH_GRACE_S = 0.5


def _finalize(holder: dict[str, Any]) -> None:
    """Garbage collection / interpreter exit: leave no process (and no segment) behind."""
    local_pipeline.discard_channels(holder.pop("channels", ()))
    procs = _executor.kill_executor(holder.pop("executor", None), graceful=True)
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
        self._arrays = LocalPlacement(shm)
        self.shm = shm
        self.num_workers = num_workers
        self._ctx = mp.get_context(start_method)
        self.start_method = self._ctx.get_start_method()
        self.channel_depth = channel_depth
        cores = os.cpu_count() or 1
        self._config = worker.WorkerConfig(blas_threads or max(1, cores // num_workers))
        self._holder: dict[str, Any] = {}
        self._closed = False
        self._death_seen: float | None = None  # when a wait first saw a dead worker
        self.restarts = 0
        weakref.finalize(self, _finalize, self._holder)
        self._start()

    # -- lifecycle ---------------------------------------------------------------------
    def _start(self) -> None:
        """Create the channels and the executor, and start every worker now (R1)."""
        channels = local_pipeline.make_channels(self._ctx, self.num_workers + 1,
                                                self.channel_depth)
        with worker.blas_limit_for_children(self._config.blas_threads,
                                            fork=self.start_method == "fork"):
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
            self._holder["procs"] = _executor.processes(ex)
        self._check_started(broken, done, not_done, ex)

    def _check_started(self, broken: BaseException | None, done: set[Future],
                       not_done: set[Future], ex: ProcessPoolExecutor) -> None:
        """Raise (leaving no process) unless every worker answered its ping."""
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
        if not_done or len(_executor.processes(ex)) < self.num_workers:
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
        if ex is not None and _executor.is_broken(ex):
            _executor.wait_for_manager(ex)
        procs = self._holder.pop("procs", ())
        deaths = _executor.deaths(procs)
        local_pipeline.discard_channels(self._holder.pop("channels", ()))
        killed = _executor.kill_executor(self._holder.pop("executor", None), graceful=False)
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
        if not (_executor.is_broken(ex) or any(_executor.has_exited(p) for p in procs)):
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
        ex: ProcessPoolExecutor = self._holder["executor"]
        return ex

    @property
    def channels(self) -> tuple[Any, ...]:
        """The pipeline channel queues the current workers inherited."""
        self._executor()
        channels: tuple[Any, ...] = self._holder["channels"]
        return channels

    def worker_pids(self) -> list[int]:
        """Process ids of the current workers."""
        return sorted(p.pid for p in _executor.processes(self._holder.get("executor"))
                      if p.pid is not None)

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
        local_pipeline.discard_channels(self._holder.pop("channels", ()))
        self._procs_after_terminate = _executor.kill_executor(
            self._holder.pop("executor", None), graceful=False)

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
        return self._arrays.place(lambda: SharedArray.copy_of(array, dtype),
                                  lambda: np.asarray(array, dtype=dtype))

    def buffer(self, shape: tuple[int, ...], dtype: Any) -> Buffer:
        """An uninitialised shared-memory array (tasks write their blocks in place).

        Where /dev/shm has no room for it (or ``shm="never"``), a :class:`PipeBuffer`
        instead: the data travels inside the tasks. ``shm="require"`` raises
        :class:`SharedMemoryFullError` then, before any task of the call runs.
        """
        return self._arrays.place(lambda: SharedArray(shape, dtype),
                                  lambda: np.empty(shape, dtype))

    # -- running tasks -----------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Start ``fn(*args)`` on the pool now (through :func:`worker.run_task`)."""
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

    def pipeline(self, job: PipelineJob, *, deadline: Deadline, stats: TaskStats,
                 on_batch: Callable[[int], None]) -> PipelineResult:
        """Stage loops on the pool passing batches through the channels the workers
        inherited (:mod:`optimized.backends.local_pipeline`); see :meth:`Backend.pipeline`."""
        return local_pipeline.ChannelRun(self, job, deadline, stats, on_batch).execute()

    def stream(self, steps: Sequence[Callable[[Any], Any]], inputs: Sequence[Any], *,
               window: int, deadline: Deadline, stats: TaskStats,
               on_result: Callable[[int, Any], None]) -> None:
        """Chains of tasks, at most ``window`` in flight; see :meth:`Backend.stream`.

        Each step's result comes back to this process and goes out again as the next
        step's task.
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
        """``wait(FIRST_COMPLETED)`` for at most :data:`WATCH_S`, then :meth:`watch_workers`."""
        done, pending = wait(pending, timeout=deadline.wait_time(WATCH_S),
                             return_when=FIRST_COMPLETED)
        if not done:
            self.watch_workers()
        return done, pending

    def watch_workers(self) -> None:
        """Raise ``BrokenProcessPool`` for a worker death the executor missed.

        The executor's manager thread fails the futures when a worker dies - unless the
        worker died while writing its result: the thread then waits for the rest of
        that message forever. Called by every wait that found nothing done: if a
        worker has been dead for :data:`_DEATH_GRACE_S`, the failure contract follows.
        """
        procs = self._holder.get("procs", ())
        if not multiprocessing.connection.wait([p.sentinel for p in procs], 0):
            self._death_seen = None
        elif self._death_seen is None:
            self._death_seen = time.monotonic()
        elif time.monotonic() - self._death_seen > _DEATH_GRACE_S:
            self._death_seen = None
            raise BrokenProcessPool("a worker process died and its tasks were never failed "
                                    "(it was killed while sending a result)")

    def _fail(self, futures: Sequence[Future], exc: BaseException, operation: str, *,
              dirty: bool = False) -> None:
        """Apply the failure contract; the caller re-raises ``exc`` (or its translation).

        Unfinished tasks are never cancelled one by one: if any remain - or ``dirty``
        says the pool's channels may hold a failed call's batches - the whole pool is
        killed (a running task cannot be cancelled, and a queued one would run later
        on a busy pool), which fails them all. A ``BrokenProcessPool`` is raised here
        as :class:`WorkerCrashedError`, naming the dead workers.
        """
        running = dirty or any(not f.done() for f in futures)
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
