"""The cluster backend: the same operations on a Dask distributed cluster (D12).

Data flow::

    this process (the client)                    Dask scheduler          Dask workers
    -------------------------                    --------------          ------------
    OptimizedParallelProcessor(scheduler=...)
      DaskBackend: Client(address, security)  --TLS or TCP-->  keeps the task graph
      share(x).pieces(bounds): Client.scatter(rows of each task, hash=False) --> one worker each
      share(B, broadcast=True).reader(): to every worker up front (a large matrix B);
                                         inside every task if small (the base primes)
      run(fn, tasks): Client.submit(run_task, fn, args, pure=False) per task
                                               --> assigns tasks --> run_task(fn, args)
      distributed.wait(FIRST_COMPLETED, poll) <------ TaskOutput (value, cpu, wall, pid)
      results placed by task index (input order, D6); a buffer's blocks copied in place
      stream(steps, inputs): submit(step k+1, future of step k): worker to worker,
                             at most `window` chains in flight
      pipeline(job): each batch a chain of one task per stage group (via stream),
                     queue_depth x workers batches in flight (the back-pressure)

Design
------
- **Nothing home-made.** Networking, scheduling, retries and serialisation (cloudpickle
  for user callables: a lambda works on the cluster) are Dask's. Tasks are the same
  module-level functions the local pool runs, so the workers need this package
  installed, at the client's version (:meth:`DaskBackend.check_versions`).
- **Data movement.** There is no shared memory across machines: each task's rows of a
  large input are scattered on their own (``hash=False``: a mutable array is never
  mistaken for an earlier one), so every byte goes to one worker once; an operand every
  task reads whole is broadcast, or sent inside each task when it is at most
  :data:`INLINE_BROADCAST_BYTES` (a task that carries its data can be rerun after a
  worker dies; scattered data is lost with its last holder); output blocks are returned and copied into place
  (:class:`ScatteredBuffer`). Every task is submitted with ``pure=False``,
  so two identical calls are never merged into one.
- **Cost model.** ``round_trip_s`` is measured at connect time (median of a few
  trivial tasks); tasks then hold at least ``max(20 ms, 4 round trips)`` of work,
  and a call runs in-process when the cluster cannot beat that.
- **Failure contract.** A task's exception is re-raised with its type and the remote
  traceback as ``__cause__``. A timeout raises :class:`ProcessorTimeoutError` and
  cancels the call's futures - a task already *running* is not interrupted by Dask: it
  runs to its end on its worker and its result is discarded. A worker killed mid-call
  is Dask's to handle: its tasks are rescheduled on the survivors and the call
  completes; a task that exhausts ``distributed.scheduler.allowed-failures`` raises
  ``KilledWorker``, reported as :class:`WorkerCrashedError`; so is the loss of a
  worker holding the only copy of the call's scattered input (the tasks needing it are
  cancelled by the scheduler; nothing recomputes scattered data). A lost scheduler raises
  :class:`ConnectionError` within a poll interval of the client noticing.
- **Ownership.** ``close()`` closes a ``Client`` this backend created and never shuts
  down the cluster; a ``Client`` passed in by the user is left open.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import CancelledError
from typing import Any

import numpy as np

from .. import worker
from ..batches import BatchResults, PipelineJob, PipelineResult, StageGroup
from ..buffers import PipeBuffer
from ..deadline import Deadline
from ..errors import ProcessorClosedError, ProcessorTimeoutError, WorkerCrashedError
from ..metrics import TaskStats
from .base import Backend

__all__ = ["DaskBackend", "ScatteredBuffer", "RemoteTraceback", "INSTALL_HINT"]

INSTALL_HINT = 'pip install "parallel-data-processing[cluster]"'
#: How often a wait wakes up to check the deadline and the connection.
_POLL_S = 0.1
#: Trivial tasks timed at connect time to measure the scheduler's round trip.
_ROUND_TRIP_SAMPLES = 5
_CANCELLED = ("its queued tasks were cancelled; tasks already running on the cluster run to "
              "their end there and their results are discarded")
#: A cluster task holds at least this much work, however fast the round trip.
_MIN_TASK_S = 0.02


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a Dask worker (the ``__cause__``)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(f"scheduler= runs on a Dask cluster, which needs the distributed "
                          f"package: {INSTALL_HINT}") from exc
    return distributed


def _noop() -> None:
    return None


#: Broadcast operands up to this size go inside each task rather than scattered.
INLINE_BROADCAST_BYTES = 256 * 1024


class _LostInput(CancelledError):
    """The scheduler cancelled this call's tasks while the client was still connected."""


#: Why a call's tasks are cancelled while the scheduler is still there: a worker died
#: with the only copy of data the call had scattered (Dask's memory manager drops the
#: extra copies of a broadcast within seconds, and scattered data cannot be recomputed),
#: so every task that needs it is forgotten.
_LOST_INPUT = ("the scheduler cancelled this call's tasks ({}) - most often because a "
               "worker died holding the only copy of the call's scattered input; the "
               "cluster keeps running and the next call scatters its input afresh")


class ScatteredBuffer(PipeBuffer):
    """A buffer for a cluster: scattered to the workers to be read, blocks returned to write.

    Parameters
    ----------
    client : distributed.Client
        Where to scatter.
    array : numpy.ndarray
        The parent's array (not copied).
    broadcast : bool
        Send it to every worker at once (small operands every task reads whole).
    """

    def __init__(self, client: Any, array: np.ndarray, broadcast: bool) -> None:
        super().__init__(array)
        self._client = client
        self._broadcast = broadcast
        self._future: Any = None
        self._pieces: list[Any] = []

    def reader(self) -> Any:
        """The scattered array (sent at the first call; Dask hands tasks the data itself).

        A small broadcast operand (the base primes, a small matrix) travels inside each
        task instead: the scheduler then holds it with the task and can rerun the task
        anywhere if a worker dies, whereas a scattered copy can be lost for good
        (Dask's memory manager keeps only one copy of it after a few seconds).
        """
        if self._broadcast and self._array.nbytes <= INLINE_BROADCAST_BYTES:
            return self._array
        if self._future is None:
            self._future = self._client.scatter(self._array, broadcast=self._broadcast,
                                                hash=False)
        return self._future

    def pieces(self, bounds: Sequence[tuple[int, int]]) -> list[tuple[Any, int, int]]:
        """Each task's rows scattered on their own (one message for all of them)."""
        futures = self._client.scatter([self._array[lo:hi] for lo, hi in bounds], hash=False)
        self._pieces.extend(futures)
        return [(f, 0, hi - lo) for f, (lo, hi) in zip(futures, bounds, strict=True)]

    def release(self) -> None:
        """Drop the scattered copies (the scheduler frees them on every worker)."""
        futures = [f for f in [self._future, *self._pieces] if f is not None]
        self._future, self._pieces = None, []
        for future in futures:
            try:
                future.release()
            except Exception:  # a lost connection: the scheduler drops them with us
                pass


def _connect(distributed: Any, address: str, security: Any, timeout: float) -> Any:
    """A ``Client`` for ``address``, or ConnectionError naming it within ``timeout``."""
    t0 = time.monotonic()
    try:
        return distributed.Client(address, security=security, timeout=timeout,
                                  set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ConnectionError(
            f"could not connect to the Dask scheduler at {address!r} within {timeout:g} s "
            f"(gave up after {time.monotonic() - t0:.1f} s): {exc}") from exc


class DaskBackend(Backend):
    """A Dask distributed cluster as the processor's workers.

    Parameters
    ----------
    scheduler : str or distributed.Client
        A scheduler address (``"tcp://host:8786"``, ``"tls://host:8786"``) - a
        ``Client`` is created and owned here - or an existing ``Client``, used as is
        and never closed here.
    security : distributed.Security, optional
        TLS credentials, passed to the ``Client`` (mutual authentication).
    connect_timeout : float
        Seconds to reach the scheduler (and to wait for a first worker).
    num_workers : int, optional
        Tasks the operations plan for; default the cluster's total worker threads.
    """

    def __init__(self, scheduler: Any, *, security: Any = None, connect_timeout: float = 10.0,
                 num_workers: int | None = None) -> None:
        distributed = _import_distributed()
        self._distributed = distributed
        if isinstance(scheduler, distributed.Client):
            self._client, self._owns_client = scheduler, False
            self.address = str(scheduler.scheduler.address)
        elif isinstance(scheduler, str):
            if scheduler.startswith("tls://") and security is None:
                raise ValueError(f"scheduler {scheduler!r} uses TLS: pass security= a "
                                 "distributed.Security with this client's certificate, key "
                                 "and the cluster's CA (see docs/cluster.md)")
            self._client = _connect(distributed, scheduler, security, connect_timeout)
            self._owns_client, self.address = True, scheduler
        else:
            raise TypeError(f"scheduler must be an address string or a distributed.Client, "
                            f"got {type(scheduler).__name__}")
        self._closed = False
        try:
            try:
                self._client.wait_for_workers(1, timeout=connect_timeout)
            except TimeoutError as exc:
                raise ConnectionError(f"the Dask scheduler at {self.address} has no worker "
                                      f"(waited {connect_timeout:g} s for one)") from exc
            threads = self.cluster_threads()
            self.cores = threads
            self.num_workers = num_workers or threads
            self.round_trip_s = self._measure_round_trip(connect_timeout)
            # A task of 4 round trips of work spends at most 20 % on dispatch.
            self.min_task_s = max(_MIN_TASK_S, 4 * self.round_trip_s)
        except BaseException:
            self.close()
            raise

    # -- the cluster ----------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (raises once closed)."""
        if self._closed:
            raise ProcessorClosedError("the processor is closed; create a new one")
        return self._client

    def cluster_threads(self) -> int:
        """Worker threads the scheduler knows of now (at least 1)."""
        workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers))

    def check_versions(self) -> dict[str, Any]:
        """``Client.get_versions(check=True)``: raises if workers run other package versions."""
        return self.client.get_versions(check=True)

    def _measure_round_trip(self, timeout: float) -> float:
        """Median seconds of a trivial task; also proves the workers can run our tasks."""
        times = []
        for _ in range(_ROUND_TRIP_SAMPLES):
            t0 = time.perf_counter()
            try:
                self._client.submit(_noop, pure=False).result(timeout=timeout)
            except Exception as exc:  # e.g. ModuleNotFoundError: the package is missing
                raise RuntimeError(f"the workers of the Dask cluster at {self.address} cannot "
                                   f"run this package's tasks ({type(exc).__name__}: {exc}); "
                                   "install parallel-data-processing, at the client's "
                                   "version, on every worker") from exc
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    def worker_pids(self) -> list[int]:
        """Empty: the workers are processes of other machines (or of the cluster's own)."""
        return []

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True after :meth:`close` or :meth:`terminate`."""
        return self._closed

    def close(self) -> None:
        """Close the ``Client`` if this backend created it; never the cluster. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            try:
                self._client.close(timeout=5)
            except Exception:  # the scheduler may already be gone
                pass

    def terminate(self) -> None:
        """Same as :meth:`close`: the workers belong to the cluster, not to this process."""
        self.close()

    def join(self, timeout: float | None = None) -> None:
        """Nothing to wait for: no worker is a child of this process."""

    # -- arrays ---------------------------------------------------------------------------
    def share(self, array: np.ndarray, dtype: Any = None, *,
              broadcast: bool = False) -> ScatteredBuffer:
        """``array`` (as ``dtype``), scattered once when a task first needs it."""
        arr = np.ascontiguousarray(array, dtype=dtype)
        return ScatteredBuffer(self.client, arr, broadcast)

    def buffer(self, shape: tuple[int, ...], dtype: Any) -> ScatteredBuffer:
        """A parent-side array; tasks return their blocks into it."""
        return ScatteredBuffer(self.client, np.empty(shape, dtype=dtype), broadcast=False)

    # -- running tasks --------------------------------------------------------------------
    def run(self, fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]], *,
            deadline: Deadline, stats: TaskStats,
            on_done: Callable[[int], None] | None = None) -> list[Any]:
        """Run ``fn(*args)`` per task on the cluster; results in task order.

        See :meth:`Backend.run <optimized.backends.base.Backend.run>` and the module docstring for the
        failure contract on a cluster.
        """
        client = self.client
        futures: list[Any] = []
        try:
            for args in tasks:
                futures.append(client.submit(worker.run_task, fn, args, pure=False))
            index = {f.key: i for i, f in enumerate(futures)}
            out: list[Any] = [None] * len(futures)
            pids: set[int] = set()
            for f in self._completed(futures, deadline):
                r = f.result()
                out[index[f.key]] = r.value
                stats.add(r.cpu_s, r.work_s)
                pids.add(r.pid)
                if on_done is not None:
                    on_done(index[f.key])
        except BaseException as exc:
            self._cancel(futures)
            self._reraise(exc, deadline.operation)
        stats.workers_used = max(stats.workers_used, len(pids))
        return out

    def port(self) -> _DaskPort:
        """Single tasks on the cluster (see :class:`optimized.streaming.TaskPort`)."""
        return _DaskPort(self)

    def stream(self, steps: Sequence[Callable[[Any], Any]], inputs: Sequence[Any], *,
               window: int, deadline: Deadline, stats: TaskStats,
               on_result: Callable[[int, Any], None]) -> None:
        """Chains of tasks, each step taking the previous step's future (worker to worker)."""
        client = self.client
        live: dict[str, tuple[int, Any]] = {}  # key of a chain's last future -> (input, it)
        started = 0

        def start(i: int) -> None:
            fut = client.submit(worker.run_task, steps[0], (inputs[i],), pure=False)
            for step in steps[1:]:
                fut = client.submit(_chained, step, fut, pure=False)
            live[fut.key] = (i, fut)

        try:
            while started < min(window, len(inputs)):
                start(started)
                started += 1
            while live:
                for f in self._completed([f for _, f in live.values()], deadline, first=True):
                    i, _ = live.pop(f.key)
                    r = f.result()
                    stats.add(r.cpu_s, r.work_s)
                    on_result(i, r.value)
                    if started < len(inputs):
                        start(started)
                        started += 1
        except BaseException as exc:
            self._cancel([f for _, f in live.values()])
            self._reraise(exc, deadline.operation)

    def pipeline(self, job: PipelineJob, *, deadline: Deadline, stats: TaskStats,
                 on_batch: Callable[[int], None]) -> PipelineResult:
        """Every batch as a chain of tasks, one per stage group; see :meth:`Backend.pipeline`.

        Workers share no queues here, so each task takes the previous one's result
        (worker to worker, not through this process). At most ``queue_depth`` batches
        per worker are in flight - the back-pressure - and a slow stage is served by as
        many workers as are free at the time, which is what replicating it does on the
        local pool.
        """
        results = BatchResults(job, on_batch)
        window = max(1, job.queue_depth * self.num_workers)
        self.stream([StageGroup(fns) for fns in job.groups],
                    [job.batch(seq) for seq in range(len(job.bounds))], window=window,
                    deadline=deadline, stats=stats, on_result=results.put)
        return PipelineResult(results.joined(), {"batches_in_flight": window})

    def _completed(self, futures: list[Any], deadline: Deadline, first: bool = False,
                   errors: bool = True) -> Any:
        """Yield futures as they finish (all of them, or the first batch if ``first``).

        A failed or cancelled future raises here, unless ``errors`` is False: then it is
        yielded like the others, and its ``result()`` raises (see :class:`_DaskPort`).
        """
        pending = list(futures)
        while pending:
            deadline.check()
            self._check_connection()
            try:
                with self._client.as_current():  # wait() asks for the current client
                    done, not_done = self._distributed.wait(
                        pending, timeout=deadline.wait_time(_POLL_S),
                        return_when="FIRST_COMPLETED")
            except TimeoutError:
                continue
            except CancelledError as exc:  # the client cancels every future when it
                self._check_connection()   # loses the scheduler: say that, if so
                if "connection-lost" in str(exc):  # Dask's reason "scheduler-connection-lost"
                    raise ConnectionError(f"lost the connection to the Dask scheduler at "
                                          f"{self.address} during the call; its results are "
                                          f"lost with it ({exc})") from exc
                raise _LostInput(str(exc)) from exc
            for f in done:
                if errors:
                    self._check_status(f)
                yield f
            if first:
                return
            pending = list(not_done)

    def _check_status(self, future: Any) -> None:
        """Raise a failed future's exception (remote traceback attached), or a lost input."""
        if future.status == "error":
            raise self._remote_error(future)
        if future.status == "cancelled":
            raise _LostInput(f"task {future.key} was cancelled")

    def _check_connection(self) -> None:
        if self._client.status not in ("running", "connecting"):
            raise ConnectionError(f"lost the connection to the Dask scheduler at "
                                  f"{self.address} (client status {self._client.status!r}); "
                                  "the call's results are lost with it")

    @staticmethod
    def _remote_error(future: Any) -> BaseException:
        import traceback

        exc = future.exception()
        tb = future.traceback()
        text = "".join(traceback.format_tb(tb)) if tb is not None else ""
        exc.__cause__ = RemoteTraceback(text + f"{type(exc).__name__}: {exc}\n")
        return exc

    def _reraise(self, exc: BaseException, operation: str) -> None:
        """Raise Dask's failures as the processor's; anything else unchanged."""
        killed = getattr(self._distributed, "KilledWorker", None)
        if killed is not None and isinstance(exc, killed):
            raise WorkerCrashedError(operation, f"Dask gave up on a task: {exc}; the cluster "
                                                "keeps running") from exc
        if isinstance(exc, _LostInput) or (isinstance(exc, CancelledError)
                                           and self._client.status == "running"):
            raise WorkerCrashedError(operation, _LOST_INPUT.format(exc)) from exc
        if isinstance(exc, ProcessorTimeoutError):
            raise ProcessorTimeoutError(exc.operation, exc.timeout, _CANCELLED) from None
        if isinstance(exc, TimeoutError):
            raise ConnectionError(f"{operation}(): the Dask scheduler at {self.address} did "
                                  f"not answer: {exc}") from exc
        raise exc

    def _cancel(self, futures: Sequence[Any]) -> None:
        """Cancel a failed call's futures (queued tasks never start; running ones finish)."""
        if futures and self._client.status == "running":
            try:
                self._client.cancel(list(futures))
            except Exception:  # the connection is the problem being reported
                pass


class _DaskPort:
    """:class:`optimized.streaming.TaskPort` over a :class:`DaskBackend`'s client."""

    def __init__(self, backend: DaskBackend) -> None:
        self._backend = backend
        self._client = backend.client

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """Start ``fn(*args)`` on the cluster (a distributed future)."""
        return self._client.submit(worker.run_task, fn, args, pure=False)

    def wait(self, pending: Collection[Any], deadline: Deadline) -> list[Any]:
        """The first batch of done futures, failed ones included (see :meth:`output`)."""
        return list(self._backend._completed(list(pending), deadline, first=True,
                                             errors=False))

    def output(self, handle: Any) -> worker.TaskOutput:
        """The task's output; a failed task raises its exception, with its traceback."""
        self._backend._check_status(handle)
        out: worker.TaskOutput = handle.result()
        return out

    def abandon(self, pending: Collection[Any], exc: BaseException, operation: str) -> None:
        """Cancel the pending tasks and raise ``exc`` as the processor's error."""
        self._backend._cancel(list(pending))
        self._backend._reraise(exc, operation)


def _chained(step: Callable[[Any], Any], previous: worker.TaskOutput) -> worker.TaskOutput:
    """Worker: the next step of a chain; its CPU and wall seconds include the earlier steps'."""
    out = worker.run_task(step, (previous.value,))
    return worker.TaskOutput(out.value, out.cpu_s + previous.cpu_s, out.work_s + previous.work_s,
                             out.pid)
