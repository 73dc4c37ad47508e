"""Per-call state handed to every operation: deadline, metrics, progress, backend.

An operation receives one :class:`Call`; it asks it which path to take
(:meth:`Call.choose`) and runs pooled work through it (:meth:`Call.run`), so every
operation gets the same timeout, metrics and progress handling for free.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from .chunking import Cost, ExecutionMode, Path, choose_path
from .engine import Backend, Deadline
from .metrics import CallRecorder
from .progress import Progress, make_progress

__all__ = ["Call"]


class Call:
    """One invocation of a public operation.

    Attributes
    ----------
    name : str
        Operation name (for errors and metrics).
    backend : Backend
        Where pooled tasks run.
    num_workers : int
        Pool size.
    mode : {"auto", "inline", "pool"}
        The processor's execution mode (D4).
    deadline : Deadline
        The call's time budget.
    recorder : CallRecorder
        Metrics being collected.
    """

    def __init__(self, name: str, backend: Backend, num_workers: int, mode: ExecutionMode,
                 deadline: Deadline, progress: bool, options: dict[str, Any]) -> None:
        self.name = name
        self.backend = backend
        self.num_workers = num_workers
        self.mode = mode
        self.deadline = deadline
        self.recorder = CallRecorder(name, num_workers)
        self.options = options
        self._progress_enabled = progress
        self.progress = Progress()

    def choose(self, n_items: int, cost: Cost) -> Path:
        """Inline or pool for ``n_items`` of ``cost`` (records the choice)."""
        path = choose_path(n_items, cost, self.num_workers, self.mode)
        self.recorder.items = n_items
        self.recorder.path = path
        return path

    def run(self, fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]],
            items_per_task: Sequence[int] | None = None, *, ordered: bool = True) -> list[Any]:
        """Run ``fn(*args)`` for each task on the pool.

        Results come in task order, or in completion order when ``ordered=False``.
        """
        self.recorder.path = "pool"
        total = sum(items_per_task) if items_per_task is not None else len(tasks)
        self.progress = make_progress(self._progress_enabled, self.name, total, len(tasks))
        sizes = items_per_task
        finished: list[int] = []

        def advance(i: int) -> None:
            finished.append(i)
            self.progress.advance(sizes[i] if sizes is not None else 1)

        try:
            results = self.backend.run(fn, tasks, deadline=self.deadline,
                                       stats=self.recorder.stats, on_done=advance)
        finally:
            self.progress.close()
        return results if ordered else [results[i] for i in finished]
