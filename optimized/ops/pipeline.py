"""The batched, back-pressured stage pipeline (R6).

Data flow (pool path)::

    caller process                               pool workers (the processor's one pool, R1)
    --------------                               --------------------------------------------
    feeder thread: (seq, packed batch) --> channel[0] --> stage task 0 (x r0 replicas)
                                                            batch = f(batch) or
                                                                    [f(x) for x in batch]
                                           channel[1] <--  put((seq, packed batch))
                                                |
                                                v
                                            stage task 1 ... --> channel[k]
    main thread:  get(timeout) from channel[k], unpack, results[seq] = batch
                  (input order restored by sequence number, D6)
    all batches in -> one None sentinel per replica into each stage's input channel
                   -> collect the stage tasks' reports (counts checked, metrics)

Design
------
- **One pool.** Stage loops are long-running tasks submitted to the processor's
  pool (``backend.submit``); the bounded queues between them are the pool's
  *channels*, created with the pool and inherited by every worker, because a
  ``multiprocessing.Queue`` can only reach an existing process by inheritance.
- **Batches.** Items travel ``batch_size`` at a time (default: the processor's
  ``pipeline_batch_size``, 500; R6 recommends 100-1000) as ``(seq, payload)``,
  packed by the sender itself (:func:`~optimized.ops.stages.pack`: raw bytes for
  an int64/float64 array, else pickle), so an unpicklable item or result raises
  where it happens instead of being dropped by a queue's feeder thread. Numeric
  data reaches a first stage that is a batch stage as an array (the default
  stages are; see :mod:`optimized.ops.stages`), and the results are turned back
  into Python numbers once, at the end.
- **Back-pressure.** Every channel holds at most ``pipeline_queue_depth``
  batches; a fast producer blocks on ``put`` until its consumer catches up.
- **Termination.** The parent knows how many batches it sent. Once all of them
  came out of the last channel, it puts one ``None`` per replica into every
  stage's input channel (the sentinel pattern, at batch level); since all data
  was consumed first, each replica receives exactly one sentinel.
- **Feeding while draining.** A feeder thread fills channel 0 while the main
  thread drains the output channel, so bounded queues can never deadlock.
- **Failure contract (D11).** A stage exception re-raises in the caller with its
  type and the worker's traceback as ``__cause__``; a dead worker raises
  :class:`~optimized.errors.WorkerCrashedError`; an expired ``timeout`` raises
  :class:`TimeoutError`. In every case the workers are killed and the pool and its
  channels replaced (queues may hold stale batches or a lock held by a killed
  worker), before the exception reaches the caller; after Ctrl-C the pool
  restarts lazily on the next call.

Layout (which stage runs where)
-------------------------------
- ``replicas`` given: every stage is its own task; stage ``i`` runs on
  ``replicas[i]`` workers that read the same input channel (stage replication).
  Stage tasks hold their workers for the whole call, so ``sum(replicas)`` must not
  exceed ``num_workers`` (ValueError otherwise).
- ``replicas=None`` (default): the stages are *fused* into one chained task (each
  batch goes through ``f``, then ``g``, ... in the same worker) replicated on every
  worker of the pool (at most one replica per batch). For per-item, stateless
  stages this layout moves the least data - no batch crosses a process boundary
  between stages, and each crossing costs a pickle and an unpickle of every item -
  and balances any mix of stage costs, since every worker takes whatever batch
  comes next instead of one worker serving the slowest stage. It also fits any
  number of stages on any pool size, so stages never have to be refused or merged
  ad hoc. Measured on the 2-core reference machine (3 trivial stages, 100,000
  items, 4 workers): fused 1.7-2.5 M items/s, one task per stage 1.45-1.7 M.

Small inputs run in-process (D4): the stages are timed on the first few items (kept
as results) and the cost model compares that with the pool's cost. With a ``timeout``
the first item is timed as a pool task instead, so a slow stage cannot escape it.
"""
from __future__ import annotations

import multiprocessing as mp
import queue
import resource
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import worker
from ..call import Call
from ..callables import portable
from ..chunking import Cost, chunk_bounds
from ..engine import ChannelBackend
from ..errors import WorkerCrashedError
from ..progress import make_progress
from ..validation import check_positive_int, numeric_input
from .stages import (
    DEFAULT_STAGES,
    Stage,
    apply_stages,
    as_list,
    is_batch_stage,
    join_batches,
    numeric_source,
    pack,
    stage_name,
    unpack,
)

__all__ = ["run_pipeline", "StageReport", "Plan", "plan_layout", "stage_loop"]

#: How long one blocking queue operation waits before the loop re-checks
#: the deadline, the stage tasks and the stop flag.
_POLL_S = 0.05
#: A worker's stage loop checks this often (when idle) whether its parent still lives.
_WORKER_POLL_S = 1.0
#: The probe that times the stages in-process stops after this much work ...
_PROBE_BUDGET_S = 0.002
#: ... or after this many items (1 + 2 + 4 + 8 + 16) ...
_PROBE_MAX_ITEMS = 31
#: ... or this many with a batch stage, whose fixed cost per call (NumPy's, say)
#: only shows its per-item cost on larger batches (1 + 2 + ... + 256).
_PROBE_MAX_ITEMS_BATCH = 511
#: CPU per batch and channel crossing on one side: queue locks, pipe write or read,
#: a thread wake-up (measured on the 2-core reference machine: 30-40 us).
_BATCH_OVERHEAD_S = 4e-5


# -- worker side ---------------------------------------------------------------------------
@dataclass(frozen=True)
class StageReport:
    """What one stage-task replica did (returned to the parent when it stops).

    Attributes
    ----------
    position : int
        Index of the stage task in the layout (it read ``channels[position]``).
    batches, items : int
        Batches and items it processed.
    busy_s : float
        Seconds spent inside the stage functions (excludes waiting on queues).
    """

    position: int
    batches: int
    items: int
    busy_s: float


def _parent_alive(parent: Any) -> bool:
    try:
        return parent is None or parent.is_alive()
    except Exception:  # no usable sentinel: assume alive (the pool kills us on shutdown)
        return True


def stage_loop(position: int, fns: tuple[Stage, ...]) -> StageReport:
    """Worker task: apply ``fns`` to every batch of ``channels[position]`` until ``None``.

    Each batch goes through every function of ``fns`` in turn (a fused stage runs
    several), and the result batch, pickled here, goes to ``channels[position + 1]``.
    A stage function's exception propagates (the pool sends it, with this worker's
    traceback, to the caller) with a note naming the stage and the batch.

    Parameters
    ----------
    position : int
        Index of this stage task in the layout: reads ``channels[position]``,
        writes ``channels[position + 1]``.
    fns : tuple of callable
        The stage functions this task applies, in order.

    Returns
    -------
    StageReport
        Batches, items and busy seconds of this replica, returned on its sentinel.

    Raises
    ------
    RuntimeError
        The worker has fewer than ``position + 2`` channels, or the parent process
        died while this loop was waiting for a batch.
    TypeError
        A result batch cannot be pickled.
    Exception
        A stage function's own exception, unchanged apart from the added note.
    """
    chans = worker.channels()
    if len(chans) < position + 2:
        raise RuntimeError(f"pipeline stage {position} needs channels {position} and "
                           f"{position + 1}, but this worker has {len(chans)}")
    src, dst = chans[position], chans[position + 1]
    parent = mp.parent_process()
    batches = items = 0
    busy = 0.0
    while True:
        try:
            msg = src.get(timeout=_WORKER_POLL_S)
        except queue.Empty:
            if not _parent_alive(parent):  # the caller is gone: do not linger
                raise RuntimeError("pipeline stage: the parent process died") from None
            continue
        if msg is None:  # sentinel: the parent has every batch already
            return StageReport(position, batches, items, busy)
        seq, payload = msg
        batch = unpack(payload)
        t0 = time.perf_counter()
        try:
            batch = apply_stages(fns, batch)
        except BaseException as exc:
            exc.add_note(f"raised in pipeline stage task {position} "
                         f"({' -> '.join(map(stage_name, fns))}), batch {seq}")
            raise
        busy += time.perf_counter() - t0
        try:
            out = pack(batch)
        except Exception as exc:
            raise TypeError(f"pipeline stage task {position} ("
                            f"{', '.join(map(stage_name, fns))}): results of batch {seq} cannot "
                            f"be pickled to travel on: {exc}") from exc
        dst.put((seq, out))  # blocks while the next channel is full: back-pressure
        batches += 1
        items += len(batch)


# -- validation ----------------------------------------------------------------------------
def _check_stages(stages: Any) -> tuple[Stage, ...]:
    if stages is None:
        return DEFAULT_STAGES
    if callable(stages):
        raise TypeError(f"stages must be a sequence of functions, got the single callable "
                        f"{stage_name(stages)}; pass [{stage_name(stages)}]")
    if isinstance(stages, (str, bytes)) or not isinstance(stages, Sequence):
        raise TypeError(f"stages must be a sequence (list or tuple) of functions of one item, "
                        f"got {type(stages).__name__}")
    if len(stages) == 0:
        raise ValueError("stages must hold at least one function (or be None for the default "
                         "x*2, x+10, x*x)")
    for i, fn in enumerate(stages):
        if not callable(fn):
            raise TypeError(f"stages[{i}] must be a callable of one item, got "
                            f"{type(fn).__name__} {fn!r}")
    return tuple(stages)


def _check_replicas(replicas: Any, n_stages: int, num_workers: int) -> tuple[int, ...] | None:
    if replicas is None:
        return None
    if isinstance(replicas, (str, bytes)) or not isinstance(replicas, (Sequence, np.ndarray)):
        raise TypeError(f"replicas must be a sequence of positive ints (one per stage) or None, "
                        f"got {type(replicas).__name__}")
    if len(replicas) != n_stages:
        raise ValueError(f"replicas must give one count per stage: {n_stages} stage(s), got "
                         f"{len(replicas)} count(s) {list(replicas)!r}")
    counts = tuple(check_positive_int(r, f"replicas[{i}]") for i, r in enumerate(replicas))
    if sum(counts) > num_workers:
        raise ValueError(f"replicas {list(counts)} need {sum(counts)} workers at once (each "
                         f"stage replica holds a worker for the whole call), but the pool has "
                         f"{num_workers}; lower the counts or pass replicas=None (stages fused "
                         f"and replicated on every worker)")
    return counts


def _check_data(data: Any, fns: Sequence[Stage], default_stages: bool) -> Any:
    """Validate ``data``; return the items the stages get.

    An int64/float64 array when the first stage is a batch stage and such an array
    holds the items exactly (:func:`~optimized.ops.stages.numeric_source`); otherwise
    a list (an ndarray through ``tolist``: exact Python numbers, no int64 wrap-around).
    """
    converted = None
    if default_stages:  # the default stages are arithmetic: numbers only
        converted = numeric_input(data, "data").array
    elif isinstance(data, np.ndarray):
        if data.ndim != 1:
            raise ValueError(f"data must be one-dimensional, got an array of shape {data.shape}")
    elif isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        raise TypeError(f"data must be a sequence of items (list, tuple, range or 1-D ndarray), "
                        f"got {type(data).__name__}")
    if is_batch_stage(fns[0]):
        arr = numeric_source(data, converted)
        if arr is not None:
            return arr
    if isinstance(data, np.ndarray):
        return data.tolist()
    return data if isinstance(data, list) else list(data)


# -- layout --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """Which functions each stage task runs, and on how many workers.

    Attributes
    ----------
    groups : tuple of tuple of callable
        Stage task ``i`` applies ``groups[i]`` in order (several = fused).
    replicas : tuple of int
        Workers running stage task ``i``.
    """

    groups: tuple[tuple[Stage, ...], ...]
    replicas: tuple[int, ...]

    @property
    def fused(self) -> bool:
        """True when some task runs more than one stage function."""
        return any(len(g) > 1 for g in self.groups)

    def describe(self) -> list[list[str]]:
        """Function names per stage task (for metrics).

        Returns
        -------
        list of list of str
            ``[[stage_name(f) for f in group] for group in groups]``.
        """
        return [[stage_name(f) for f in g] for g in self.groups]


def plan_layout(fns: Sequence[Stage], replicas: Sequence[int] | None, num_workers: int,
                n_batches: int) -> Plan:
    """The stage-task layout (see the module docstring, "Layout").

    Parameters
    ----------
    fns : sequence of callable
        The stages.
    replicas : sequence of int, optional
        Validated per-stage replica counts; None for the default fused layout.
    num_workers : int
        Pool size.
    n_batches : int
        Batches to process: the fused layout runs no more replicas than batches.

    Returns
    -------
    Plan
        With ``replicas=None``: one fused task on ``max(1, min(num_workers,
        n_batches))`` workers; otherwise one task per stage with the given counts.
    """
    if replicas is None:
        return Plan((tuple(fns),), (max(1, min(num_workers, n_batches)),))
    return Plan(tuple((f,) for f in fns), tuple(replicas))


# -- in-process path -----------------------------------------------------------------------


def _voluntary_switches() -> int:
    """Times this thread gave up the CPU itself (sleep, I/O, a lock) so far."""
    return resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw


def _probe(fns: Sequence[Stage], items: Any, batch_size: int) -> tuple[list[Any], Cost]:
    """Run the stages on the first few items in-process; return their results and a Cost.

    Batches of 1, 2, 4, ... items until :data:`_PROBE_BUDGET_S` of work or
    :data:`_PROBE_MAX_ITEMS` items, so one slow stage costs one item of waiting.
    The cost's ``transfer_s`` is the caller's share of moving an item through the
    pool: pickling it out and its result back (measured on the probe) plus a share of
    the per-batch queue overhead.
    """
    outs: list[Any] = []
    done = 0
    wall = 0.0
    per_item = float("inf")
    size = 1
    limit = min(len(items), _PROBE_MAX_ITEMS_BATCH if any(map(is_batch_stage, fns))
                else _PROBE_MAX_ITEMS)
    # CPU time is read once around the whole probe: each clock read is a system call
    # (about 1.5 us), which would dwarf stages that cost 0.1 us per item.
    c0, switches = time.thread_time(), _voluntary_switches()
    while done < limit and wall < _PROBE_BUDGET_S:
        batch = items[done:done + size]
        w0 = time.perf_counter()
        outs.append(apply_stages(fns, batch))
        dt = time.perf_counter() - w0
        done += len(batch)
        wall += dt
        # The cheapest batch per item: a batch that lost the CPU to another process
        # mid-way must not make cheap stages look expensive.
        per_item = min(per_item, dt / len(batch))
        size *= 2
    cpu_share = min(1.0, (time.thread_time() - c0) / wall) if wall > 0 else 1.0
    if _voluntary_switches() == switches:
        # The thread never gave up the CPU itself (no sleep, I/O or lock wait): time
        # off the CPU was another process taking the core, not waiting - on a busy
        # machine cheap CPU-bound stages must not pass for stages that wait.
        cpu_share = 1.0
    t0 = time.perf_counter()
    unpack(pack(items[:done]))
    for out in outs:
        unpack(pack(out))
    pickling = (time.perf_counter() - t0) / done
    # Time the stages spent waiting (sleep, I/O) parallelises over every worker, not
    # just over the cores.
    return join_batches(outs), Cost(cpu_s=per_item * cpu_share, wait_s=per_item * (1.0 - cpu_share),
                      transfer_s=pickling + 2 * _BATCH_OVERHEAD_S / batch_size)


def _probe_on_pool(call: Call, fns: Sequence[Stage], items: Any,
                   batch_size: int) -> tuple[list[Any], Cost]:
    """Like :func:`_probe`, but the first item runs as one pool task under the deadline.

    Used when the call has a timeout: an in-process probe could not be interrupted.
    """
    stats = call.recorder.stats
    before = stats.work_s
    head = as_list(call.run(apply_stages, [(tuple(fns), items[:1])])[0])
    per_item = stats.work_s - before
    return head, Cost(cpu_s=per_item, transfer_s=2 * _BATCH_OVERHEAD_S / batch_size)


# -- pool path -----------------------------------------------------------------------------
class _Feeder(threading.Thread):
    """Puts ``(seq, pickled batch)`` for every batch into channel 0; stops on request."""

    def __init__(self, channel: Any, items: list[Any], bounds: list[tuple[int, int]]) -> None:
        super().__init__(name="pipeline-feeder", daemon=True)
        self._channel = channel
        self._items = items
        self._bounds = bounds
        self.stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for seq, (lo, hi) in enumerate(self._bounds):
                msg = (seq, self._pack(lo, hi))
                while True:
                    if self.stop_event.is_set():
                        return
                    try:
                        self._channel.put(msg, timeout=_POLL_S)
                        break
                    except queue.Full:  # back-pressure: the first stage is busy
                        continue
        except BaseException as exc:  # reported to the main thread, which aborts the call
            self.error = exc

    def _pack(self, lo: int, hi: int) -> Any:
        batch = self._items[lo:hi]
        try:
            return pack(batch)
        except Exception as exc:
            raise TypeError(f"data items must be picklable to travel to the pipeline's worker "
                            f"processes; the batch of items {lo}..{hi - 1} failed: {exc}") from exc

    def check(self) -> None:
        """Re-raise the feeder's error in the calling thread."""
        if self.error is not None:
            raise self.error

    def halt(self) -> None:
        """Stop feeding and wait for the thread (it never blocks longer than one poll)."""
        self.stop_event.set()
        if self.is_alive():
            self.join(timeout=5.0)


def _raise_if_stage_ended(futures: Sequence[Any], stopping: bool) -> None:
    """Raise if a stage task failed; before the sentinels, any ended task has failed."""
    for f in futures:
        if f.done():
            f.result()  # raises the stage's exception (worker traceback as __cause__)
            if not stopping:
                raise RuntimeError("a pipeline stage task returned before it received its "
                                   "sentinel")


class _Run:
    """One pooled pipeline run: feed, drain, stop the stages, check the counts."""

    def __init__(self, call: Call, items: list[Any], start: int, plan: Plan,
                 batch_size: int) -> None:
        self.call = call
        self.plan = plan
        self.bounds = chunk_bounds(len(items) - start, batch_size)
        self.bounds = [(lo + start, hi + start) for lo, hi in self.bounds]
        # Stage loops talk through queues the workers inherited (Backend.channels), and
        # a failure discards workers and queues together: ChannelBackend names both.
        if not isinstance(call.backend, ChannelBackend) or call.backend.channels is None:
            raise TypeError(f"the channel pipeline needs worker channels, which "
                            f"{type(call.backend).__name__} does not provide")
        self.backend: ChannelBackend = call.backend
        self.channels = self.backend.channels
        if len(self.channels) < len(plan.groups) + 1:
            raise ValueError(f"{len(plan.groups)} stage tasks need {len(plan.groups) + 1} "
                             f"channels; the pool has {len(self.channels)}")
        self.feeder = _Feeder(self.channels[0], items, self.bounds)
        self.futures: list[Any] = []
        self.results: list[list[Any] | None] = [None] * len(self.bounds)
        self.next_check = 0.0
        self.stopping = False  # True once the sentinels go out: tasks may then end

    def execute(self) -> list[Any]:
        """Run; on any failure apply the failure contract and re-raise."""
        call = self.call
        call.progress = make_progress(getattr(call, "_progress_enabled", False), call.name,
                                      self.bounds[-1][1] - self.bounds[0][0], len(self.bounds))
        try:
            for pos, (fns, count) in enumerate(zip(self.plan.groups, self.plan.replicas, strict=True)):
                for _ in range(count):
                    self.futures.append(self.backend.submit(stage_loop, pos, fns))
            self.feeder.start()
            self._drain()
            self._send_sentinels()
            self._check_counts(self._collect())
        except BaseException as exc:
            deaths = self._abort(exc)
            if isinstance(exc, BrokenProcessPool) and not isinstance(exc, WorkerCrashedError):
                raise WorkerCrashedError(call.name, "" if deaths else str(exc), deaths) from exc
            raise
        finally:
            self.feeder.halt()
            call.progress.close()
        return join_batches(self.results)

    def _watch(self, force: bool = False) -> None:
        """Deadline, feeder and stage-task checks (at most every poll interval)."""
        now = time.monotonic()
        if not force and now < self.next_check:
            return
        self.next_check = now + _POLL_S
        self.call.deadline.check()
        self.feeder.check()
        _raise_if_stage_ended(self.futures, self.stopping)

    def _drain(self) -> None:
        out = self.channels[len(self.plan.groups)]
        received = 0
        while received < len(self.bounds):
            self._watch()
            try:
                seq, payload = out.get(timeout=self.call.deadline.wait_time(_POLL_S))
            except queue.Empty:
                self._watch(force=True)
                continue
            lo, hi = self.bounds[seq]
            if self.results[seq] is not None:
                raise RuntimeError(f"pipeline batch {seq} (items {lo}..{hi - 1}) arrived twice")
            batch = unpack(payload)
            if len(batch) != hi - lo:
                raise RuntimeError(f"pipeline batch {seq} came back with {len(batch)} items, "
                                   f"expected {hi - lo}")
            self.results[seq] = batch
            received += 1
            self.call.progress.advance(hi - lo)

    def _put(self, channel: Any, obj: Any) -> None:
        while True:
            self._watch(force=True)
            try:
                channel.put(obj, timeout=self.call.deadline.wait_time(_POLL_S))
                return
            except queue.Full:
                continue

    def _send_sentinels(self) -> None:
        # Every batch is back, so every channel is empty: replica j of stage i gets
        # exactly one of these and stops.
        self.stopping = True
        for pos, count in enumerate(self.plan.replicas):
            for _ in range(count):
                self._put(self.channels[pos], None)

    def _collect(self) -> list[StageReport]:
        pending = set(self.futures)
        while pending:
            self.call.deadline.check()
            done, pending = wait(pending, timeout=self.call.deadline.wait_time(_POLL_S),
                                 return_when=FIRST_EXCEPTION)
            for f in done:
                f.result()
        stats = self.call.recorder.stats
        reports, pids = [], set()
        for f in self.futures:
            out = f.result()  # worker.TaskOutput
            stats.add(out.cpu_s, out.value.busy_s)
            pids.add(out.pid)
            reports.append(out.value)
        stats.workers_used = max(stats.workers_used, len(pids))
        return reports

    def _check_counts(self, reports: list[StageReport]) -> None:
        """Every stage task saw every batch exactly once (D6: nothing lost or doubled)."""
        n_items = self.bounds[-1][1] - self.bounds[0][0]
        for pos in range(len(self.plan.groups)):
            mine = [r for r in reports if r.position == pos]
            batches, items = sum(r.batches for r in mine), sum(r.items for r in mine)
            if batches != len(self.bounds) or items != n_items:
                raise RuntimeError(f"pipeline stage task {pos} processed {batches} batches / "
                                   f"{items} items, expected {len(self.bounds)} / {n_items}")
        extra = self.call.recorder.extra
        extra["stage_busy_s"] = [round(sum(r.busy_s for r in reports if r.position == pos), 6)
                                 for pos in range(len(self.plan.groups))]
        extra["replica_batches"] = [[r.batches for r in reports if r.position == pos]
                                    for pos in range(len(self.plan.groups))]

    def _abort(self, exc: BaseException) -> list[tuple[int, int | None]]:
        """Failure contract: stop feeding, kill the workers, fresh pool and channels.

        Returns the ``(pid, exitcode)`` of workers that had died (for the error).
        """
        self.feeder.halt()  # stage tasks are never cancelled one by one: see engine._fail
        return self.backend.reset(restart=not isinstance(exc, KeyboardInterrupt))


class _StageGroup:
    """A task step of the chained layout: one layout group's stages over one batch."""

    def __init__(self, fns: tuple[Stage, ...]) -> None:
        self.fns = fns

    def __call__(self, batch: Any) -> Any:
        return apply_stages(self.fns, batch)


def _run_chained(call: Call, items: Any, start: int, plan: Plan, batch_size: int) -> list[Any]:
    """The pipeline where workers share no channels (a cluster): chains of tasks.

    Every batch is a chain of one task per layout group (the fused layout: one task;
    ``replicas`` given: one per stage), each task taking the previous one's result
    (on a cluster it goes worker to worker, not through this process). At most
    ``pipeline_queue_depth`` batches per worker are in flight - the back-pressure -
    and a slow stage is served by as many workers as are free at the time, which is
    what replicating it does on the pool. Results are put back in input order.
    """
    bounds = [(lo + start, hi + start)
              for lo, hi in chunk_bounds(len(items) - start, batch_size)]
    results: list[Any] = [None] * len(bounds)
    call.progress = make_progress(getattr(call, "_progress_enabled", False), call.name,
                                  bounds[-1][1] - bounds[0][0], len(bounds))

    def arrived(seq: int, batch: Any) -> None:
        lo, hi = bounds[seq]
        if results[seq] is not None:
            raise RuntimeError(f"pipeline batch {seq} (items {lo}..{hi - 1}) arrived twice")
        if len(batch) != hi - lo:
            raise RuntimeError(f"pipeline batch {seq} came back with {len(batch)} items, "
                               f"expected {hi - lo}")
        results[seq] = batch
        call.progress.advance(hi - lo)

    window = max(1, call.options.get("queue_depth", 4) * call.num_workers)
    call.recorder.extra["batches_in_flight"] = window
    try:
        call.backend.stream([_StageGroup(fns) for fns in plan.groups],
                            [items[lo:hi] for lo, hi in bounds], window=window,
                            deadline=call.deadline, stats=call.recorder.stats,
                            on_result=arrived)
    finally:
        call.progress.close()
    if any(r is None for r in results):  # every input's chain ends in on_result
        raise RuntimeError("pipeline batches were lost")
    return join_batches(results)


# -- entry point ---------------------------------------------------------------------------
def run_pipeline(call: Call, data: Any, stages: Sequence[Stage] | None,
                 batch_size: int | None, replicas: Sequence[int] | None) -> list[Any]:
    """Push ``data`` through ``stages``; results in input order (R6, D6).

    Parameters
    ----------
    call : Call
        The operation's call state (deadline, metrics, backend, options).
    data : sequence
        list, tuple, range or 1-D ndarray. With the default stages every item must
        be a real number; with custom stages any picklable items. The result is a
        list of Python objects, as the baseline's is (an ndarray's items come back
        as exact Python numbers, never wrapped at 2**63).
    stages : sequence of callable, optional
        Functions applied in order, each per item (``[f(x) for x in batch]``) or,
        if marked with :func:`~optimized.ops.stages.batch_stage`, per batch
        (``f(batch)``; a list, or an int64/float64 array for numeric data). On the
        pool they travel by reference, or by value with cloudpickle where pickle
        cannot carry them (checked before anything runs). Default: the original's ``x*2``, ``x+10``,
        ``x*x`` as exact batch stages (NumPy where no int64 can overflow).
    batch_size : int, optional
        Items per batch (positive int; R6 recommends 100-1000). Default: the
        processor's ``pipeline_batch_size``.
    replicas : sequence of int, optional
        Workers per stage, one count per stage, ``sum(replicas) <= num_workers``.
        Default None: stages fused into one task, replicated on every worker (see
        the module docstring). Validated even when the call runs in-process.

    Returns
    -------
    list
        ``stages[-1](...stages[0](x))`` for every item, in input order.

    Raises
    ------
    TypeError, ValueError
        Bad ``stages``, ``replicas``, ``batch_size`` or ``data`` (before any work).
        An item or a stage result that cannot be pickled raises TypeError when its
        batch is sent (the pool is then restarted). A batch stage that returns the
        wrong number of items raises ValueError.
    ProcessorTimeoutError
        The call's timeout expired (a :class:`TimeoutError`; workers killed, pool
        restarted).
    WorkerCrashedError
        A worker died during the call (pool restarted).
    RuntimeError
        A consistency check failed: a batch lost, duplicated or resized, or a stage
        task ended before its sentinel (pool restarted).
    Exception
        A stage function's own exception, same type, with the worker traceback as
        ``__cause__``.
    """
    fns = _check_stages(stages)
    # What the workers get: by reference, or by value where pickle cannot (D15).
    sent = fns if call.mode == "inline" else tuple(
        portable(fn, f"stages[{i}] ({stage_name(fn)})") for i, fn in enumerate(fns))
    size = call.options["batch_size"] if batch_size is None else \
        check_positive_int(batch_size, "batch_size")
    counts = _check_replicas(replicas, len(fns), call.num_workers)
    items = _check_data(data, fns, stages is None)
    extra = call.recorder.extra
    extra.update(stages=[stage_name(f) for f in fns], batch_size=size)
    n = len(items)
    head: list[Any] = []
    if n == 0:
        call.choose(0, Cost())
        return []
    if call.mode == "auto":
        if call.deadline.timeout is None:
            head, cost = _probe(fns, items, size)
        else:  # a slow first item must not escape the timeout: probe on the pool
            head, cost = _probe_on_pool(call, sent, items, size)
        call.deadline.check()
        path = call.choose(n, cost)
    else:
        path = call.choose(n, Cost())
    if path == "inline" or len(head) == n:
        call.recorder.path = "inline"
        extra.update(replicas=None, layout=None)
        return head + as_list(apply_stages(fns, items[len(head):]))
    plan = plan_layout(sent, counts, call.num_workers, -(-(n - len(head)) // size))
    extra.update(replicas=list(plan.replicas), layout=plan.describe(), fused=plan.fused)
    call.recorder.path = "pool"
    if call.backend.channels is None:  # no inherited queues between workers: chain tasks
        return head + _run_chained(call, items, len(head), plan, size)
    return head + _Run(call, items, len(head), plan, size).execute()

