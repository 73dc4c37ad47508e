"""Per-call state handed to every operation: deadline, metrics, progress, backend.

An operation receives one :class:`Call`; it asks it which path to take
(:meth:`Call.choose`) and runs pooled work through it (:meth:`Call.run`), so every
operation gets the same timeout, metrics and progress handling for free.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain, islice
from typing import TYPE_CHECKING, Any, TypeVar, Union

from .backends import Backend
from .batches import PipelineJob
from .chunking import Cost, ExecutionMode, Path, choose_matmul_path, choose_path, chunk_size
from .deadline import Deadline
from .metrics import CallRecorder
from .options import CallOptions
from .progress import Progress, make_progress

__all__ = ["Call", "CHECK_INTERVAL_S", "Unpack"]

T = TypeVar("T")
if TYPE_CHECKING:
    import numpy as np

#: What the in-process helpers walk through: any sized, sliceable sequence, or a 1-D
#: ndarray (which typing does not count as a ``Sequence``).
Values = Union[Sequence[T], "np.ndarray"]

#: Target seconds of inline work between two deadline checks. The contract is a
#: check at least every ~50 ms; aiming at 20 ms leaves room for a noisy machine.
CHECK_INTERVAL_S = 0.02
#: A chunk is at most this many times larger than the one before: a chunk's time is
#: measured, not assumed, so one misleadingly fast chunk cannot make the next huge.
_MAX_GROWTH = 8


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
    deadline : Deadline
        The call's time budget.
    options : CallOptions
        The processor's settings for this call.
    recorder : CallRecorder
        Metrics being collected.
    """

    def __init__(self, name: str, backend: Backend, num_workers: int, deadline: Deadline,
                 options: CallOptions) -> None:
        self.name = name
        self.backend = backend
        self.num_workers = num_workers
        self.deadline = deadline
        self.options = options
        self.recorder = CallRecorder(name, num_workers)
        self.progress = Progress()

    @property
    def mode(self) -> ExecutionMode:
        """The processor's execution mode (D4): ``"auto"``, or a forced path."""
        return self.options.execution

    def choose(self, n_items: int, cost: Cost, threads_per_worker: int = 1) -> Path:
        """Inline or pool for ``n_items`` of ``cost`` (records the choice).

        Parameters
        ----------
        n_items : int
            Items the operation will process (recorded in the metrics).
        cost : Cost
            Estimated per-item cost (CPU, waiting, transfer seconds).
        threads_per_worker : int, default 1
            Items each worker would overlap on the pool (items that mostly wait).

        Returns
        -------
        {"inline", "pool"}
            The forced path when the processor's ``execution`` is not ``"auto"``,
            else the cheaper estimate of :func:`~optimized.chunking.choose_path`.
        """
        path = choose_path(n_items, cost, self.num_workers, self.mode,
                           threads_per_worker=threads_per_worker, cores=self.backend.cores,
                           round_trip_s=self.backend.round_trip_s)
        self.recorder.items = n_items
        self.recorder.path = path
        return path

    def choose_matmul(self, n: int, m: int, p: int, blas_threads: Callable[[], int]) -> Path:
        """Inline or pool for an ``(n, m) @ (m, p)`` product (records the choice).

        Parameters
        ----------
        n, m, p : int
            The product's dimensions.
        blas_threads : callable
            Returns the threads this process's BLAS uses for an in-process product
            (asked only for a product above the threshold).

        Returns
        -------
        {"inline", "pool"}
            See :func:`~optimized.chunking.choose_matmul_path`.
        """
        path = choose_matmul_path((n, m, p), self.options.matmul_threshold, self.num_workers,
                                  self.mode, cores=self.backend.cores, blas_threads=blas_threads)
        self.recorder.items = n * p
        self.recorder.path = path
        return path

    def chunk_size(self, total: int, per_item_cost_s: float | None = None) -> int:
        """Items per task on this call's backend (:func:`~optimized.chunking.chunk_size`).

        Parameters
        ----------
        total : int
            Items to split.
        per_item_cost_s : float, optional
            Estimated seconds per item; tasks then hold at least the backend's
            ``min_task_s`` of work.

        Returns
        -------
        int
        """
        return chunk_size(total, self.num_workers, per_item_cost_s,
                          min_task_s=self.backend.min_task_s)

    def inline_bounds(self, n_items: int) -> Iterator[tuple[int, int]]:
        """``(lo, hi)`` ranges covering ``range(n_items)`` in order, for in-process work.

        Without a timeout: the single range ``(0, n_items)``, no overhead. With one,
        :meth:`Deadline.check` runs before each range and after the last, and range
        sizes adapt (starting at one item, growing at most 8-fold) so that the work
        done between two requests for a range takes about :data:`CHECK_INTERVAL_S`;
        the rest is taken at once when its predicted time is at most twice that.
        An expired timeout therefore raises :class:`ProcessorTimeoutError` at most
        about one chunk late - provided items cost about the same; one item is
        never interrupted.

        Parameters
        ----------
        n_items : int
            Number of items to cover.

        Yields
        ------
        tuple of int
            ``(lo, hi)``, consecutive and non-empty.

        Raises
        ------
        ProcessorTimeoutError
            The call's timeout expired (checked between ranges).
        """
        if self.deadline.remaining() is None:
            if n_items > 0:
                yield 0, n_items
            return
        lo, size = 0, 1
        while lo < n_items:
            self.deadline.check()
            hi = min(n_items, lo + size)
            start = time.perf_counter()
            yield lo, hi  # the consumer works on [lo, hi) until it asks for the next range
            spent = time.perf_counter() - start
            rest = n_items - hi
            if spent <= 0:
                size *= _MAX_GROWTH
            elif rest * spent / (hi - lo) <= 2 * CHECK_INTERVAL_S:
                # Take the rest at once: spares a fast pass (sum of 10**6 ints: 5 ms)
                # any per-item wrapper; tiny chunks over-estimate per-item time, so
                # this errs on the safe side.
                size = rest
            else:
                size = max(1, int(size * min(_MAX_GROWTH, CHECK_INTERVAL_S / spent)))
            lo = hi
        self.deadline.check()

    def inline_parts(self, values: Values[T]) -> Iterator[Iterable[T]]:
        """Consecutive parts of ``values`` for a pass that carries a running result.

        For consumers that accept a start value (``sum(part, acc)``,
        ``functools.reduce(op, part, acc)``): feeding the parts in order with the
        result carried over performs exactly the same operations, in the same
        order, as one pass over ``values`` - so results are bit-identical - while
        the deadline is checked between parts (sizes as in :meth:`inline_bounds`).

        Parameters
        ----------
        values : sequence
            A sized, iterable sequence (list, tuple, range, 1-D ndarray).

        Yields
        ------
        iterable
            Without a timeout, ``values`` itself, once. With one, iterators over
            consecutive ranges of ``values`` (no copies), each to be consumed fully
            before the next is requested.

        Raises
        ------
        ProcessorTimeoutError
            The call's timeout expired (checked between parts).
        """
        if self.deadline.remaining() is None:
            yield values
            return
        n = len(values)
        it = iter(values)  # one iterator shared by the parts: nothing is copied
        for lo, hi in self.inline_bounds(n):
            # the last part is the bare iterator: no per-item wrapper on a fast pass
            yield it if hi == n else islice(it, hi - lo)

    def paced(self, values: Values[T]) -> Iterable[T]:
        """``values`` for a single in-process pass that obeys the call's timeout.

        Without a timeout: ``values`` itself. With one: an iterator over the same
        items in the same order, fed in :meth:`inline_bounds` chunks, so any consumer
        - ``sum``, ``math.fsum``, ``functools.reduce``, a comprehension - sees the
        deadline checked between chunks while its arithmetic (and hence its result,
        bit for bit) is unchanged.

        Parameters
        ----------
        values : sequence
            A sized, iterable sequence (list, tuple, range, 1-D ndarray).

        Returns
        -------
        iterable
            The items of ``values``, in order.

        Raises
        ------
        ProcessorTimeoutError
            While being consumed, when the call's timeout expired.
        """
        if self.deadline.remaining() is None:
            return values
        return chain.from_iterable(self.inline_parts(values))

    def run(self, fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]],
            items_per_task: Sequence[int] | None = None, *, ordered: bool = True) -> list[Any]:
        """Run ``fn(*args)`` for each task on the pool, under the call's deadline.

        Parameters
        ----------
        fn : callable
            A module-level (picklable) function.
        tasks : sequence of tuple
            One argument tuple per task.
        items_per_task : sequence of int, optional
            Items each task covers (for the progress bar); default one per task.
        ordered : bool
            True: results in task order; False: in completion order.

        Returns
        -------
        list
            One result per task.

        Raises
        ------
        ProcessorTimeoutError, WorkerCrashedError, ProcessorClosedError, Exception
            As :meth:`Backend.run <optimized.backends.base.Backend.run>`: on a
            timeout, a dead worker or a worker exception no task is left running.
        """
        self.recorder.path = "pool"
        total = sum(items_per_task) if items_per_task is not None else len(tasks)
        self.progress = make_progress(self.options.progress, self.name, total, len(tasks))
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

    def run_ordered(self, fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]],
                    consume: Callable[[Any], None], *, window: int,
                    items_per_task: Sequence[int] | None = None) -> None:
        """Run tasks on the pool and hand each result to ``consume``, in task order, early.

        For results the parent must turn into something large (a list of Python ints):
        ``consume`` works on task ``i``'s result as soon as tasks ``0..i`` are done,
        while the workers go on with later tasks - not after the last one. At most
        ``window`` tasks are in flight (the back-pressure); a result that arrives
        ahead of an earlier task's waits here until that one is consumed.

        Parameters
        ----------
        fn : callable
            A module-level (picklable) function.
        tasks : sequence of tuple
            One argument tuple per task.
        consume : callable
            Called once per task with its result, in task order, in this process; an
            exception it raises (a timeout) ends the call under the failure contract.
        window : int
            Tasks in flight at most (values below 1 count as 1).
        items_per_task : sequence of int, optional
            Items each task covers (for the progress bar); default one per task.

        Raises
        ------
        ProcessorTimeoutError, WorkerCrashedError, ProcessorClosedError, Exception
            As :meth:`run`; no task is left running.
        """
        self.recorder.path = "pool"
        sizes = items_per_task if items_per_task is not None else [1] * len(tasks)
        self.progress = make_progress(self.options.progress, self.name, sum(sizes), len(tasks))
        waiting: dict[int, Any] = {}
        next_index = 0

        def arrived(i: int, value: Any) -> None:
            nonlocal next_index
            waiting[i] = value
            while next_index in waiting:
                consume(waiting.pop(next_index))
                self.progress.advance(sizes[next_index])
                next_index += 1

        try:
            self.backend.stream([Unpack(fn)], tasks, window=max(1, window),
                                deadline=self.deadline, stats=self.recorder.stats,
                                on_result=arrived)
        finally:
            self.progress.close()
        if next_index != len(tasks):  # every chain ends in on_result: a backend defect
            raise RuntimeError(f"{self.name}: {len(tasks) - next_index} task results were lost")


    def pipeline(self, job: PipelineJob) -> list[Any]:
        """Run a laid-out pipeline on the backend; its items in input order.

        Records the stage loops' CPU and the backend's per-stage figures in the
        call's metrics and drives the progress bar by items.

        Parameters
        ----------
        job : PipelineJob
            Stage groups, replicas, items and batch bounds.

        Returns
        -------
        list
            Every result item, in input order.

        Raises
        ------
        ProcessorTimeoutError, WorkerCrashedError, ProcessorClosedError, Exception
            As :meth:`Backend.pipeline <optimized.backends.base.Backend.pipeline>`.
        """
        self.recorder.path = "pool"
        self.progress = make_progress(self.options.progress, self.name, job.n_items,
                                      len(job.bounds))
        try:
            out = self.backend.pipeline(job, deadline=self.deadline, stats=self.recorder.stats,
                                        on_batch=self.progress.advance)
        finally:
            self.progress.close()
        self.recorder.extra.update(out.details)
        return out.items

class Turn:
    """One processor's calls take turns: re-entrant for the thread that holds it.

    Unlike ``threading.RLock`` it may be released from another thread: a streaming
    call (``imap``) holds the turn from its first result to its end, and its
    generator may be finalised (garbage-collected, closed) in any thread.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0

    def acquire(self, timeout: float | None = None) -> bool:
        """Take the turn (again, if this thread holds it); False if ``timeout`` passed first."""
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return True
            if not self._cond.wait_for(lambda: self._owner is None, timeout):
                return False
            self._owner, self._depth = me, 1
            return True

    def release(self) -> None:
        """Give one level of the turn back; the last one lets the next call go."""
        with self._cond:
            self._depth -= 1
            if self._depth <= 0:
                self._owner, self._depth = None, 0
                self._cond.notify()


class Unpack:
    """``Unpack(fn)(args) == fn(*args)``: a one-argument step for :meth:`Backend.stream`.

    Picklable by reference whenever ``fn`` is (a module-level function).
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, args: tuple[Any, ...]) -> Any:
        return self.fn(*args)
