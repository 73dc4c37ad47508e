"""Tasks from a lazy source, at most a window in flight, results yielded as they come.

What ``imap`` runs on (any backend)::

    caller's loop         windowed()                               TaskPort (one backend)
    -------------         ----------                               ----------------------
    next(it) ---------->  read the source while in flight < window
                          --submit(fn, args)-------------------->  pool / cluster task
                          wait for the next result (timeout)  <--  done
    <-- value(s) -------  yield (input order, or as they finish)
    break / close() --->  abandon(pending): the failure contract - running tasks are
                          killed with the pool (local) or cancelled (cluster)

The source is read only as far as the window allows, so memory holds at most ``window``
tasks' inputs and results whatever the input's length. An error raised by the source
itself surfaces after every result before it was yielded, and at its position.

A backend provides a :class:`TaskPort` (``Backend.port()``): submit one task, wait for
some of them, read one's output, abandon the rest. One algorithm, here, serves all.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Generator, Iterable, Iterator
from types import TracebackType
from typing import Any, Protocol

from .deadline import Deadline
from .metrics import TaskStats
from .worker import TaskOutput

__all__ = ["TaskPort", "windowed", "Results"]


class TaskPort(Protocol):
    """Single tasks on a backend, for callers that keep their own window."""

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """Start ``fn(*args)``; a handle (a future)."""

    def wait(self, pending: Collection[Any], deadline: Deadline) -> Iterable[Any]:
        """Block until at least one of ``pending`` is done (or ``deadline`` expires: raise)."""

    def output(self, handle: Any) -> TaskOutput:
        """A done task's output; raises the task's exception (worker traceback as cause)."""

    def abandon(self, pending: Collection[Any], exc: BaseException, operation: str) -> None:
        """Apply the failure contract to ``pending`` and raise ``exc`` (translated)."""


class _End:
    """The source is exhausted (a marker, not an error)."""


class _Failed:
    """A task's exception, kept until the iterator reaches that task."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def windowed(port: TaskPort, fn: Callable[..., Any], tasks: Iterator[tuple[Any, ...]], *,
             window: int, ordered: bool, timeout: float | None, operation: str,
             stats: TaskStats) -> Iterator[Any]:
    """Yield ``fn(*args)`` for each ``args`` that ``tasks`` produces, lazily.

    Parameters
    ----------
    port : TaskPort
        The backend's single-task interface.
    fn : callable
        A picklable function (module level).
    tasks : iterator of tuple
        Argument tuples, read only while fewer than ``window`` tasks are out.
    window : int
        Tasks submitted and not yet yielded, at most (>= 1).
    ordered : bool
        Yield in task order (True) or in completion order.
    timeout : float, optional
        Seconds the wait for the *next* result may take (the caller's time between
        two ``next`` calls does not count); None: no limit.
    operation : str
        The public operation's name (for errors).
    stats : TaskStats
        Receives each task's worker CPU and work seconds.

    Yields
    ------
    object
        Each task's result.

    Raises
    ------
    ProcessorTimeoutError, WorkerCrashedError, Exception
        As the backend's ``run``; whatever ``tasks`` raised, once every result before
        it was yielded. Closing the generator early (``break``, ``close()``, garbage
        collection) abandons the pending tasks the same way: none is left running.
    """
    pending: dict[Any, int] = {}  # handle -> task index
    ready: dict[int, Any] = {}  # index -> result not yet yielded
    sent = taken = 0
    stop: BaseException | type[_End] | None = None
    deadline: Deadline | None = None
    try:
        while True:
            while stop is None and len(pending) + len(ready) < window:
                try:
                    args = next(tasks)
                except StopIteration:
                    stop = _End
                    break
                except Exception as exc:  # the source's own error: raised in its place
                    stop = exc
                    break
                pending[port.submit(fn, args)] = sent
                sent += 1
            due = taken if ordered else min(ready, default=None)
            if due is not None and due in ready:
                deadline = None  # the next result's wait starts at the next next()
                taken += 1
                value = ready.pop(due)
                if isinstance(value, _Failed):
                    raise value.error
                yield value
                continue
            if not pending:
                break
            deadline = deadline or Deadline(operation, timeout)
            for handle in port.wait(pending.keys(), deadline):
                index = pending.pop(handle)
                try:
                    out = port.output(handle)
                except Exception as exc:  # raised where its results would have been
                    ready[index] = _Failed(exc)
                    continue
                ready[index] = out.value
                stats.add(out.cpu_s, out.work_s)
    except BaseException as exc:  # noqa: B036 - abandon() re-raises it (translated)
        port.abandon(list(pending), exc, operation)
        raise
    if isinstance(stop, BaseException):
        raise stop


class Results(Iterator[Any]):
    """What ``imap`` returns: results as they are ready; :meth:`close` cancels the rest.

    The items are flattened from ``parts`` (one list per task) by C code
    (``itertools.chain``), so a ``for`` loop pays no Python frame per item. Iterate it,
    ``next()`` it, or use it as a context manager (closed on exit).

    Parameters
    ----------
    parts : generator of list
        The call's generator of per-task result lists (it holds the call's turn).
    """

    def __init__(self, parts: Generator[list[Any], None, None]) -> None:
        self._parts = parts
        self._items = itertools.chain.from_iterable(parts)

    def __iter__(self) -> Iterator[Any]:
        return self._items

    def __next__(self) -> Any:
        return next(self._items)

    def close(self) -> None:
        """Stop: cancel pending tasks (none is left running) and end the call. Idempotent."""
        self._parts.close()

    def __enter__(self) -> Results:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
