"""The local pool's pipeline: stage loops passing batches through inherited channels.

Data flow::

    caller process                               pool workers (the processor's one pool, R1)
    --------------                               --------------------------------------------
    feeder thread: (seq, packed batch) --> channel[0] --> stage loop 0 (x replicas[0])
                                                            batch = apply_stages(group 0)
                                           channel[1] <--  put((seq, packed batch))
                                                |
                                                v
                                            stage loop 1 ... --> channel[k]
    main thread:  get(timeout) from channel[k], unpack -> BatchResults.put(seq, batch)
                  (input order restored by sequence number, D6)
    all batches in -> one None sentinel per replica into each stage's input channel
                   -> collect the stage loops' reports (counts checked, metrics)

- **Channels.** The bounded queues between stages are created with the pool and
  inherited by every worker (:func:`make_channels`), because a
  ``multiprocessing.Queue`` can only reach an existing process by inheritance and the
  pool is created once (R1). ``num_workers + 1`` of them fit any layout.
- **Stage loops** are long-running tasks on the pool (:func:`stage_loop`); each reads
  its input channel until a ``None`` sentinel and returns a
  :class:`~optimized.batches.StageReport`.
- **Back-pressure.** Every channel holds at most ``channel_depth`` batches; a fast
  producer blocks on ``put`` until its consumer catches up. A feeder thread fills
  channel 0 while the main thread drains the last one, so bounded queues can never
  deadlock.
- **Termination.** The parent knows how many batches it sent. Once all of them came
  out of the last channel, it puts one ``None`` per replica into every stage's input
  channel (the sentinel pattern, at batch level); since all data was consumed first,
  each replica receives exactly one sentinel.
- **Failure contract.** Every wait is bounded by the call's deadline and watched for
  dead workers (:meth:`LocalBackend.watch_workers`); any failure goes through
  :meth:`LocalBackend._fail` with ``dirty=True``: the channels may hold a failed
  call's batches, so workers and channels are replaced together.
"""
from __future__ import annotations

import multiprocessing as mp
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from .. import worker
from ..batches import (
    BatchResults,
    PipelineJob,
    PipelineResult,
    Stage,
    StageReport,
    apply_stages,
    pack,
    stage_name,
    unpack,
)
from ..deadline import Deadline
from ..metrics import TaskStats

if TYPE_CHECKING:
    from .local import LocalBackend

__all__ = ["make_channels", "discard_channels", "stage_loop", "ChannelRun"]

#: How long one blocking queue operation waits before the loop re-checks the
#: deadline, the stage tasks, the workers and the stop flag.
_POLL_S = 0.05
#: A worker's stage loop checks this often (when idle) whether its parent still lives.
_WORKER_POLL_S = 1.0


def make_channels(ctx: Any, count: int, depth: int) -> tuple[Any, ...]:
    """``count`` bounded queues of ``depth`` batches, for the workers to inherit."""
    return tuple(ctx.Queue(maxsize=depth) for _ in range(count))


def discard_channels(queues: Iterable[Any]) -> None:
    """Close channels without blocking on data no worker will read."""
    for q in queues:
        q.cancel_join_thread()
        q.close()


# -- worker side ---------------------------------------------------------------------------
def _parent_alive(parent: Any) -> bool:
    try:
        return parent is None or parent.is_alive()
    except Exception:  # no usable sentinel: assume alive (the pool kills us on shutdown)
        return True


def stage_loop(position: int, fns: tuple[Stage, ...]) -> StageReport:
    """Worker task: apply ``fns`` to every batch of ``channels[position]`` until ``None``.

    Each batch goes through every function of ``fns`` in turn (a fused stage runs
    several), and the result batch, packed here, goes to ``channels[position + 1]``.
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


# -- caller side ---------------------------------------------------------------------------
class _Feeder(threading.Thread):
    """Puts ``(seq, packed batch)`` for every batch into channel 0; stops on request."""

    def __init__(self, channel: Any, job: PipelineJob) -> None:
        super().__init__(name="pipeline-feeder", daemon=True)
        self._channel = channel
        self._job = job
        self.stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for seq in range(len(self._job.bounds)):
                msg = (seq, self._pack(seq))
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

    def _pack(self, seq: int) -> Any:
        try:
            return pack(self._job.batch(seq))
        except Exception as exc:
            lo, hi = self._job.bounds[seq]
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


class ChannelRun:
    """One pooled pipeline call: start the stage loops, feed, drain, stop, check counts.

    Parameters
    ----------
    backend : LocalBackend
        The pool (its channels, its tasks and its failure contract).
    job : PipelineJob
        What to run.
    deadline : Deadline
        The call's time budget.
    stats : TaskStats
        Receives each stage loop's CPU and busy seconds.
    on_batch : callable
        Called with each result batch's item count as it arrives.
    """

    def __init__(self, backend: LocalBackend, job: PipelineJob, deadline: Deadline,
                 stats: TaskStats, on_batch: Callable[[int], None]) -> None:
        self.backend = backend
        self.job = job
        self.deadline = deadline
        self.stats = stats
        self.channels = backend.channels
        if len(self.channels) < len(job.groups) + 1:
            raise ValueError(f"{len(job.groups)} stage tasks need {len(job.groups) + 1} "
                             f"channels; the pool has {len(self.channels)}")
        self.results = BatchResults(job, on_batch)
        self.feeder = _Feeder(self.channels[0], job)
        self.futures: list[Future] = []
        self.next_check = 0.0
        self.stopping = False  # True once the sentinels go out: tasks may then end

    def execute(self) -> PipelineResult:
        """Run; on any failure apply the failure contract and re-raise."""
        try:
            for pos, (fns, count) in enumerate(zip(self.job.groups, self.job.replicas,
                                                   strict=True)):
                for _ in range(count):
                    self.futures.append(self.backend.submit(stage_loop, pos, fns))
            self.feeder.start()
            self._drain()
            self._send_sentinels()
            details = self._check_counts(self._collect())
        except BaseException as exc:
            self.feeder.halt()  # stage tasks are never cancelled one by one: see _fail
            self.backend._fail(self.futures, exc, self.deadline.operation, dirty=True)
            raise
        finally:
            self.feeder.halt()
        return PipelineResult(self.results.joined(), details)

    def _watch(self, force: bool = False) -> None:
        """Deadline, feeder, stage-task and worker checks (at most every poll interval)."""
        now = time.monotonic()
        if not force and now < self.next_check:
            return
        self.next_check = now + _POLL_S
        self.deadline.check()
        self.feeder.check()
        for f in self.futures:
            if f.done():
                f.result()  # raises the stage's exception (worker traceback as __cause__)
                if not self.stopping:
                    raise RuntimeError("a pipeline stage task returned before it received "
                                       "its sentinel")
        self.backend.watch_workers()

    def _drain(self) -> None:
        out = self.channels[len(self.job.groups)]
        while not self.results.complete:
            self._watch()
            try:
                seq, payload = out.get(timeout=self.deadline.wait_time(_POLL_S))
            except queue.Empty:
                self._watch(force=True)
                continue
            self.results.put(seq, unpack(payload))

    def _put(self, channel: Any, obj: Any) -> None:
        while True:
            self._watch(force=True)
            try:
                channel.put(obj, timeout=self.deadline.wait_time(_POLL_S))
                return
            except queue.Full:
                continue

    def _send_sentinels(self) -> None:
        # Every batch is back, so every channel is empty: replica j of stage i gets
        # exactly one of these and stops.
        self.stopping = True
        for pos, count in enumerate(self.job.replicas):
            for _ in range(count):
                self._put(self.channels[pos], None)

    def _collect(self) -> list[StageReport]:
        pending = set(self.futures)
        while pending:
            self.deadline.check()
            done, pending = self.backend._wait(pending, self.deadline)
            for f in done:
                f.result()
        reports, pids = [], set()
        for f in self.futures:
            out = f.result()  # worker.TaskOutput
            self.stats.add(out.cpu_s, out.value.busy_s)
            pids.add(out.pid)
            reports.append(out.value)
        self.stats.workers_used = max(self.stats.workers_used, len(pids))
        return reports

    def _check_counts(self, reports: list[StageReport]) -> dict[str, Any]:
        """Every stage task saw every batch exactly once (D6); the per-stage figures."""
        n_batches, n_items = len(self.job.bounds), self.job.n_items
        positions = range(len(self.job.groups))
        for pos in positions:
            mine = [r for r in reports if r.position == pos]
            batches, items = sum(r.batches for r in mine), sum(r.items for r in mine)
            if batches != n_batches or items != n_items:
                raise RuntimeError(f"pipeline stage task {pos} processed {batches} batches / "
                                   f"{items} items, expected {n_batches} / {n_items}")
        return {"stage_busy_s": [round(sum(r.busy_s for r in reports if r.position == pos), 6)
                                 for pos in positions],
                "replica_batches": [[r.batches for r in reports if r.position == pos]
                                    for pos in positions]}
