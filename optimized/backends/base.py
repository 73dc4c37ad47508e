"""The ``Backend`` seam (D12): the one interface operations use to run work.

An operation never talks to multiprocessing or Dask. It asks its backend to

- run tasks (:meth:`Backend.run`: results in task order; :meth:`Backend.stream`:
  chains of tasks with a bounded number in flight; :meth:`Backend.port`: single
  tasks for a caller that keeps its own window, :mod:`optimized.streaming`);
- run a pipeline (:meth:`Backend.pipeline`: batches through groups of stages,
  back-pressured, results in input order);
- place arrays where tasks can read or write them (:meth:`Backend.share`,
  :meth:`Backend.buffer`, :mod:`optimized.buffers`);
- and tell the cost model what a task costs here (``round_trip_s``, ``min_task_s``,
  ``cores``).

Every method that runs work applies the same failure contract (D11): a worker's
exception is re-raised with the worker's traceback as ``__cause__``; a dead worker
raises :class:`~optimized.errors.WorkerCrashedError`; an expired deadline raises
:class:`~optimized.errors.ProcessorTimeoutError`; and in each case no task of the
call is left running.
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..batches import PipelineJob, PipelineResult
from ..buffers import Buffer
from ..chunking import MIN_TASK_SECONDS, POOL_ROUND_TRIP_S
from ..deadline import Deadline
from ..metrics import TaskStats

if TYPE_CHECKING:
    from ..streaming import TaskPort

__all__ = ["Backend"]


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
        (a cluster cancels them; see :mod:`optimized.backends.dask` for what a
        running task does then).
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
    def pipeline(self, job: PipelineJob, *, deadline: Deadline, stats: TaskStats,
                 on_batch: Callable[[int], None]) -> PipelineResult:
        """Run every batch of ``job`` through its stage groups; results in input order.

        Batch ``seq`` (``job.batch(seq)``) goes through ``job.groups[0]``, then
        ``job.groups[1]``... with ``job.replicas[i]`` workers serving group ``i`` and
        ``job.queue_depth`` bounding what waits between groups (the back-pressure).
        ``on_batch(n_items)`` is called as each result batch arrives. Every batch
        comes back exactly once and whole, or the call raises (D6). Failures as in
        :meth:`run`.
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
