"""Per-call performance metrics (R8, R3's IPC share).

Every public operation records one :class:`CallMetrics`: the processor exposes the
latest as ``last_metrics`` and the last :data:`HISTORY_LENGTH` in ``metrics_history``
(a bounded deque: a processor serving calls for months keeps flat memory); ``verbose=True``
reports each (:func:`report`): through :mod:`logging` (logger ``"optimized"``) when the
application has set logging up, else on stderr, as joblib's ``verbose`` does - a line
that nobody can see would make the option a no-op.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CallMetrics", "CallRecorder", "HISTORY_LENGTH", "TaskStats", "logger", "report"]

#: The package's logger: ``verbose=True`` logs each call's :meth:`CallMetrics.summary` here.
logger = logging.getLogger("optimized")
#: Calls whose metrics ``metrics_history`` keeps (older ones are dropped).
HISTORY_LENGTH = 1000


def report(line: str) -> None:
    """Show one ``verbose`` line: to the logger if any handler would receive it, else stderr.

    Parameters
    ----------
    line : str
        The metrics summary.
    """
    if logger.hasHandlers():  # the application configured logging (here or on the root)
        logger.info(line)
    else:
        print(f"[optimized] {line}", file=sys.stderr, flush=True)


@dataclass
class TaskStats:
    """What the workers report about the tasks of one call.

    Attributes
    ----------
    tasks : int
        Finished tasks counted so far.
    worker_cpu_s : float
        CPU seconds the workers spent on them, summed over tasks.
    work_s : float
        Wall seconds spent inside the kernels, summed over tasks.
    workers_used : int
        Distinct worker processes that ran tasks (0 when not recorded).
    """

    tasks: int = 0
    worker_cpu_s: float = 0.0
    work_s: float = 0.0  # wall seconds spent inside the kernels, summed over tasks
    workers_used: int = 0

    def add(self, cpu_s: float, work_s: float) -> None:
        """Account one finished task.

        Parameters
        ----------
        cpu_s : float
            CPU seconds the task used in its worker.
        work_s : float
            Wall seconds the task spent inside its kernel.
        """
        self.tasks += 1
        self.worker_cpu_s += cpu_s
        self.work_s += work_s


@dataclass(frozen=True)
class CallMetrics:
    """Metrics of one completed operation.

    Attributes
    ----------
    operation : str
        Method name.
    items : int
        Items processed (elements, words, numbers below the limit, ...).
    path : str
        ``"inline"`` (in-process) or ``"pool"``.
    wall_s, parent_cpu_s, worker_cpu_s : float
        Wall-clock seconds; CPU seconds of the calling process and of the workers.
    items_per_s : float
        ``items / wall_s``.
    cpu_utilisation : float
        ``(parent_cpu_s + worker_cpu_s) / (wall_s * workers)`` on the pool path,
        ``parent_cpu_s / wall_s`` inline.
    work_s : float
        Seconds spent inside the kernels (summed over tasks).
    overhead_share : float
        Share of wall time not spent on the work itself - IPC, pickling, scheduling
        and idle workers: ``1 - (work_s / workers_used) / wall_s`` on the pool path,
        0 inline. R3 requires < 0.10 on a typical workload.
    tasks, workers : int
        Tasks dispatched, and workers the call could use.
    extra : dict
        Operation-specific details (e.g. segment sizes, pipeline layout).
    """

    operation: str
    items: int
    path: str
    wall_s: float
    parent_cpu_s: float
    worker_cpu_s: float
    items_per_s: float
    cpu_utilisation: float
    work_s: float
    overhead_share: float
    tasks: int
    workers: int
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-serialisable as long as ``extra`` is).

        Returns
        -------
        dict
            One key per field (``extra`` included, as a nested dict).
        """
        return asdict(self)

    def summary(self) -> str:
        """One log line.

        Returns
        -------
        str
            Operation, items, path, wall time (ms), throughput, CPU use, overhead
            share and task count.
        """
        return (f"{self.operation}: {self.items} items, {self.path}, {self.wall_s * 1e3:.2f} ms, "
                f"{self.items_per_s:,.0f} items/s, cpu {self.cpu_utilisation:.0%}, "
                f"overhead {self.overhead_share:.1%}, {self.tasks} tasks")


class CallRecorder:
    """Times one call; operations fill ``items``, ``path`` and ``stats``.

    The clocks (wall and this process's CPU) start at construction.

    Parameters
    ----------
    operation : str
        Name of the processor method being timed.
    workers : int
        Workers the call could use (the pool size).

    Attributes
    ----------
    items : int
        Items processed (set by the operation; 0 until then).
    path : str
        ``"inline"`` (default) or ``"pool"``.
    stats : TaskStats
        Filled from the workers' task reports.
    extra : dict
        Operation-specific details, copied into :attr:`CallMetrics.extra`.
    """

    def __init__(self, operation: str, workers: int) -> None:
        self.operation = operation
        self.workers = workers
        self.items = 0
        self.path = "inline"
        self.stats = TaskStats()
        self.extra: dict[str, Any] = {}
        self._wall0 = time.perf_counter()
        self._cpu0 = time.process_time()

    def finish(self) -> CallMetrics:
        """Freeze the measurements into a :class:`CallMetrics`.

        Reads the clocks now (wall time is floored at 1 ns so rates stay finite).

        Returns
        -------
        CallMetrics
            The call's metrics; on the inline path ``work_s`` is the wall time and
            ``overhead_share`` is 0.
        """
        wall = max(time.perf_counter() - self._wall0, 1e-9)
        pcpu = time.process_time() - self._cpu0
        s = self.stats
        if self.path == "pool":
            used = max(1, min(self.workers, s.tasks, s.workers_used or self.workers))
            overhead = min(1.0, max(0.0, 1.0 - (s.work_s / used) / wall))
            util = (pcpu + s.worker_cpu_s) / (wall * self.workers)
            work = s.work_s
        else:
            overhead, util, work = 0.0, pcpu / wall, wall
        return CallMetrics(self.operation, self.items, self.path, wall, pcpu, s.worker_cpu_s,
                           self.items / wall, util, work, overhead, s.tasks, self.workers,
                           dict(self.extra))
