"""Map-family operations: per-item kernel, user ``map``, sum, statistics, batches.

Numeric inputs that float64 represents exactly travel to the workers through shared
memory (one segment in, one out; the tasks carry only ``(lo, hi)``); anything else
(ints beyond 2**53, Fractions) takes the exact Python path, where each task carries a
chunk and returns its whole result at once - one transfer per batch, never per item.
"""
from __future__ import annotations

import functools
import itertools
import math
import operator
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ..buffers import opened, write_block
from ..call import Call, Values
from ..callables import portable
from ..chunking import Cost, ThreadTimer, Timing, balanced_bounds, chunk_bounds
from ..errors import ProcessorTimeoutError
from ..streaming import windowed
from ..threads import MAX_THREADS_PER_WORKER, thread_map, threads_for_call
from ..validation import NumericInput, numeric_input

__all__ = ["single_item_value", "single_item_vector", "map_single_item", "map_batches",
           "user_map", "user_imap", "parallel_sum", "statistics"]

# Per-item cost estimates for the cost model, measured on the 2-core reference machine.
_VECTOR_ITEM_S = 3e-8        # NumPy kernel, per item
_PYTHON_ITEM_S = 2.5e-7      # Python kernel (math.sin/cos), per item
_SLEEP_OVERHEAD = 1.08       # a time.sleep(t) costs about 1.08 t
_CANCELLATION = 2.0 ** -8    # recompute with libm where x*x + sin*cos cancels this much


# -- the process_single_item kernel -----------------------------------------------------
def single_item_value(item: Any, latency_s: float = 0.0) -> float:
    """``item*item + sin(item)*cos(item)`` after sleeping ``latency_s`` (the original).

    Parameters
    ----------
    item : int or float
        A finite real number (not validated here: callers validate whole inputs).
    latency_s : float
        Seconds to sleep first (the simulated per-item latency, D1).

    Returns
    -------
    float
        The kernel's value, with Python's arithmetic (exact ``int*int``).
    """
    if latency_s:
        time.sleep(latency_s)
    return item * item + math.sin(item) * math.cos(item)


def single_item_vector(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The kernel over an array, equal to :func:`single_item_value` to 1e-12 relative.

    ``x*x`` rounds once, as Python's exact ``int*int`` converted to float does for
    |x| <= 2**53; where ``x*x + sin*cos`` cancels (near its root at x ~ -0.6) a
    1-ulp difference between NumPy's and libm's sin could be magnified, so those
    few elements are recomputed with :mod:`math`.

    Parameters
    ----------
    x : numpy.ndarray
        1-D array of numbers (converted to float64).
    out : numpy.ndarray, optional
        float64 array of ``x``'s shape to write the result into (e.g. a slice of a
        larger result, or a shared-memory view); a new array when omitted.

    Returns
    -------
    numpy.ndarray
        float64 values of the kernel (``out`` when given).
    """
    xf = np.asarray(x, dtype=np.float64)
    sc = np.sin(xf) * np.cos(xf)
    y = np.multiply(xf, xf, out=out)  # same two roundings as xf * xf + sc
    y += sc
    for i in np.flatnonzero(np.abs(y) < np.abs(sc) * _CANCELLATION):
        v = float(xf[i])
        y[i] = v * v + math.sin(v) * math.cos(v)
    return y


def _item_cost(latency_s: float, vector: bool) -> Cost:
    if latency_s:
        return Cost(cpu_s=_PYTHON_ITEM_S, wait_s=latency_s * _SLEEP_OVERHEAD)
    return Cost(cpu_s=_VECTOR_ITEM_S if vector else _PYTHON_ITEM_S)


def _kernel_inline(call: Call, inp: NumericInput, latency_s: float) -> list[float] | np.ndarray:
    """The kernel in this process, in chunks that obey the call's timeout."""
    if inp.array is not None and not latency_s:
        if call.deadline.remaining() is None:
            return single_item_vector(inp.array)  # one pass; a fresh `out` costs ~10%
        out = np.empty(inp.n, dtype=np.float64)
        for lo, hi in call.inline_bounds(inp.n):
            single_item_vector(inp.array[lo:hi], out=out[lo:hi])
        return out
    # exact Python arithmetic (ints beyond 2**53, or a sleep per item)
    return [single_item_value(x, latency_s) for x in call.paced(inp.python_values())]


# -- worker tasks (module level: picklable under every start method) --------------------
def _array_chunk_task(src_ref: Any, dst_ref: Any, lo: int, hi: int, latency_s: float,
                      threads: int = 1) -> np.ndarray | None:
    """Worker: items ``lo:hi`` of the input buffer into the output buffer (or returned)."""
    with opened(src_ref) as src:
        if latency_s:
            values = src[lo:hi].tolist()  # Python floats/ints, as process_single_item gets
            return write_block(dst_ref, lo, hi, thread_map(
                functools.partial(single_item_value, latency_s=latency_s), values, threads))
        if dst_ref is None:  # the parent places the block (a cluster)
            return single_item_vector(src[lo:hi])
        with opened(dst_ref) as dst:  # in place: no copy of the block
            single_item_vector(src[lo:hi], out=dst[lo:hi])
    return None


def _object_chunk_task(items: list[Any], latency_s: float, threads: int = 1) -> list[float]:
    return thread_map(functools.partial(single_item_value, latency_s=latency_s), items, threads)


def _apply_chunk_task(func: Callable[[Any], Any], items: Sequence[Any],
                      threads: int = 1) -> list[Any]:
    return thread_map(func, items, threads)


# -- operations -------------------------------------------------------------------------
def map_single_item(call: Call, data: Any, latency_s: float) -> list[float] | np.ndarray:
    """``[process_single_item(x) for x in data]`` in input order (list in, list out).

    Parameters
    ----------
    call : Call
        The processor's per-call state (mode, deadline, metrics, backend).
    data : sequence of int/float, or 1-D numeric ndarray
        Finite real numbers.
    latency_s : float
        Seconds to sleep per item (D1).

    Returns
    -------
    list of float or numpy.ndarray
        A float64 ndarray for ndarray input, else a list.

    Raises
    ------
    TypeError, ValueError
        Invalid ``data`` (see :func:`~optimized.validation.numeric_input`), before
        any work.
    ProcessorTimeoutError
        The call's timeout expired (in-process: checked between chunks).
    """
    inp = numeric_input(data, "data", finite=True)
    out = _map_numeric(call, inp, latency_s)
    if inp.is_ndarray:
        return np.asarray(out, dtype=np.float64)
    return out.tolist() if isinstance(out, np.ndarray) else out


def _map_numeric(call: Call, inp: NumericInput, latency_s: float) -> list[float] | np.ndarray:
    if inp.n == 0:
        call.choose(0, Cost())
        return []
    cost = _item_cost(latency_s, inp.array is not None)
    threads = threads_for_call(cost, inp.n, call.num_workers)  # > 1 only if items wait (D13)
    if call.choose(inp.n, cost, threads) == "inline":
        return _kernel_inline(call, inp, latency_s)
    bounds = _task_bounds(call, inp.n, cost.wall_s(threads), threads)
    sizes = [hi - lo for lo, hi in bounds]
    call.recorder.extra["threads_per_worker"] = threads
    if inp.array is None:  # exact Python path: one pickled chunk per task
        vals = inp.python_values()
        parts = call.run(_object_chunk_task,
                         [(vals[lo:hi], latency_s, threads) for lo, hi in bounds], sizes)
        return [v for part in parts for v in part]
    backend = call.backend
    with backend.share(inp.array) as src, backend.buffer((inp.n,), np.float64) as dst:
        blocks = call.run(_array_chunk_task, [(ref, dst.writer(), lo, hi, latency_s, threads)
                                              for ref, lo, hi in src.pieces(bounds)], sizes)
        dst.place(bounds, blocks)
        return dst.array.copy()


def _task_bounds(call: Call, n: int, item_s: float, threads: int) -> list[tuple[int, int]]:
    """Task ranges over ``n`` items of ``item_s`` wall seconds each.

    Items on threads wait (D13), and waits cost the same each: equal rounds per worker
    (:func:`~optimized.chunking.balanced_bounds`). Others: R2's chunks as they come.
    """
    size = call.chunk_size(n, item_s)
    return balanced_bounds(n, size, call.num_workers) if threads > 1 else chunk_bounds(n, size)


def map_batches(call: Call, data_batches: Any, latency_s: float) -> list[float]:
    """``process_single_item`` over every batch; the concatenation, in batch order.

    Parameters
    ----------
    call : Call
        The processor's per-call state (mode, deadline, metrics, backend).
    data_batches : sequence of sequences of numbers
        Each batch validated like ``data`` of :func:`map_single_item`.
    latency_s : float
        Seconds to sleep per item (D1).

    Returns
    -------
    list of float

    Raises
    ------
    TypeError, ValueError
        Invalid input; the message names ``data_batches[b][i]``.
    ProcessorTimeoutError
        The call's timeout expired (in-process: checked between chunks).
    """
    if isinstance(data_batches, (str, bytes)) or not isinstance(data_batches, Sequence):
        raise TypeError(f"data_batches must be a sequence of sequences of numbers, got "
                        f"{type(data_batches).__name__}")
    checked = _checked_flat(data_batches)
    out = _map_numeric(call, checked, latency_s)
    return out.tolist() if isinstance(out, np.ndarray) else list(out)


def _checked_flat(data_batches: Sequence[Any]) -> NumericInput:
    """Every batch's items in one validated sequence; an error names ``data_batches[b][i]``.

    The batches are joined and checked once; only when that check fails (or a batch is
    not a plain list, tuple, range or numeric 1-D ndarray) are they checked one by one,
    for the message. Checking 5,000 batches of 20 one by one took 27 ms of a 34 ms call;
    the joined list takes 2 ms.
    """
    flat: list[Any] = []
    plain = True
    for batch in data_batches:
        if isinstance(batch, (list, tuple, range)):
            flat.extend(batch)
        elif isinstance(batch, np.ndarray) and batch.ndim == 1 and batch.dtype.kind in "biuf":
            flat.extend(batch.tolist())
        else:
            plain = False
            break
    if plain:
        try:
            return numeric_input(flat, "data_batches", finite=True)
        except (TypeError, ValueError, OverflowError):
            pass  # found again below, with the batch and item named
    flat = []
    for b, batch in enumerate(data_batches):
        numeric_input(batch, f"data_batches[{b}]", finite=True)  # names the batch and item
        flat.extend(batch.tolist() if isinstance(batch, np.ndarray) else batch)
    return numeric_input(flat, "data_batches", finite=True)


def user_map(call: Call, func: Callable[[Any], Any], items: Any, chunksize: int | None,
             ordered: bool, cost_per_item_s: float | None,
             concurrency: str = "auto") -> list[Any]:
    """Run ``func`` over ``items`` (see ``OptimizedParallelProcessor.map``).

    Parameters
    ----------
    call : Call
        The processor's per-call state (mode, deadline, metrics, backend).
    func : callable
        A function of one item; sent to the workers by reference or, where pickle
        cannot carry it (lambdas, closures, ``__main__``), by value with cloudpickle.
    items : sequence
        Sized and sliceable (not str/bytes).
    chunksize : int, optional
        Items per pooled task (validated by the caller).
    ordered : bool
        Results in input order (True) or task-completion order.
    cost_per_item_s : float, optional
        Estimated seconds per item; measured on the first item when None in auto mode.
    concurrency : {"auto", "processes", "threads"}
        Threads per worker: from the measured wait share (auto), none, or forced.

    Returns
    -------
    list

    Raises
    ------
    TypeError
        ``func`` not callable (or not serialisable for the pool), ``items`` not a sequence.
    ProcessorTimeoutError
        The call's timeout expired (in-process: checked between chunks).
    """
    if not callable(func):
        raise TypeError(f"func must be callable, got {type(func).__name__}")
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) and not isinstance(
            items, np.ndarray):
        raise TypeError(f"items must be a sized sequence, got {type(items).__name__}")
    if isinstance(items, np.ndarray) and items.ndim == 0:
        raise TypeError("items must be a sized sequence, got a 0-d ndarray (a scalar)")
    n = len(items)
    if n == 0:
        call.choose(0, Cost())
        return []
    shipped = portable(func, "func") if call.mode != "inline" else func
    done: list[Any] = []
    # A declared cost counts as CPU: only a measured item shows how much of it waits.
    cost = Cost(cpu_s=cost_per_item_s or 0.0, transfer_s=_TRANSFER_S)
    if cost_per_item_s is None and call.mode == "auto":
        done, cost = _probe(call, shipped, items[0])
    threads = _threads_for_call(concurrency, cost, n, call.num_workers,
                                measured=cost_per_item_s is None)
    rest = items[len(done):]
    if call.choose(n, cost, threads) == "inline" or not len(rest):
        return done + [func(x) for x in call.paced(rest)]
    bounds = chunk_bounds(len(rest), chunksize) if chunksize else \
        _task_bounds(call, len(rest), cost.wall_s(threads), threads)
    call.recorder.extra["threads_per_worker"] = threads
    tasks = [(shipped, list(rest[lo:hi]), threads) for lo, hi in bounds]
    parts = call.run(_apply_chunk_task, tasks, [hi - lo for lo, hi in bounds], ordered=ordered)
    return done + [v for part in parts for v in part]


#: Pickling one item and its result, per item (a small Python object), estimated.
_TRANSFER_S = 2e-6
#: Items per streamed task at most: a task's inputs and results are what the window holds.
_STREAM_CHUNK_MAX = 10_000
#: Tasks in flight per worker when streaming (one running, one queued behind it).
_STREAM_TASKS_PER_WORKER = 2
#: A streamed task is at most this many times larger than the one sized before it.
_MAX_STREAM_GROWTH = 8


def user_imap(call: Call, func: Callable[[Any], Any], items: Iterator[Any],
              chunksize: int | None, ordered: bool, max_in_flight: int | None,
              timeout: float | None) -> Iterator[list[Any]]:
    """``func(x)`` for each ``x`` of ``items``, lazily, one list per task (see ``imap``).

    The first item runs alone on the pool (as in :func:`user_map`): its measured cost
    decides inline or pool - what ``map`` would choose for the items one window
    holds - and sizes the first tasks. Each finished task's reported work then
    re-sizes the next (at most 8x larger each time), so one unrepresentative first
    item cannot leave a long stream in tiny tasks.

    Parameters
    ----------
    call : Call
        The processor's per-call state; its own deadline is unlimited.
    func : callable
        A function of one item (validated, and made portable, by the caller).
    items : iterator
        Read only as far as the in-flight window allows.
    chunksize : int, optional
        Items per task (fixed); default: measured, as above.
    ordered : bool
        Input order (True) or completion order (each task's items keep theirs).
    max_in_flight : int, optional
        Tasks out at most; default two per worker.
    timeout : float, optional
        Seconds the wait for each next result may take.

    Yields
    ------
    list
        ``[func(x) for x in part]`` for consecutive parts of ``items`` (in completion
        order if not ``ordered``); the caller flattens them.
    """
    try:
        first = next(items)
    except StopIteration:
        call.choose(0, Cost())
        return
    port = call.backend.port() if call.mode != "inline" else None
    head: list[Any] = []
    cost = Cost(transfer_s=_TRANSFER_S)
    if port is not None and (chunksize is None or call.mode == "auto"):
        head, cost = _stream_probe(call, port, func, first, timeout)
    else:
        items = itertools.chain([first], items)
    threads = threads_for_call(cost, _STREAM_CHUNK_MAX, call.num_workers) if head else 1
    window = max_in_flight or _STREAM_TASKS_PER_WORKER * call.num_workers
    sizer = _Sizer(call.backend.min_task_s, cost.wall_s(threads), threads, chunksize)
    # What map would choose for the items one window holds.
    path = "inline" if port is None else call.choose(sizer.size * window, cost, threads)
    call.recorder.path, call.recorder.items = path, len(head)
    if head:
        yield head
    if port is None or path == "inline":
        yield from _imap_inline(call, func, items, sizer.size, timeout)
        return
    call.recorder.extra["threads_per_worker"] = threads
    tasks = ((func, chunk, threads) for chunk in sizer.chunks(items))
    for part in windowed(port, _apply_chunk_task, tasks, window=window, ordered=ordered,
                         timeout=timeout, operation=call.name, stats=call.recorder.stats):
        call.recorder.items += len(part)
        sizer.measured(call.recorder.stats.work_s, call.recorder.items - len(head))
        yield part


def _stream_probe(call: Call, port: Any, func: Callable[[Any], Any], first: Any,
                  timeout: float | None) -> tuple[list[Any], Cost]:
    """The first item alone on the pool (under ``timeout``): its result and measured cost."""
    (value, timing), = windowed(
        port, _timed_item_task, iter([(func, first)]), window=1, ordered=True,
        timeout=timeout, operation=call.name, stats=call.recorder.stats)
    return [value], timing.cost(transfer_s=_TRANSFER_S)


class _Sizer:
    """Items per streamed task: enough work to amortise a round trip, re-measured as tasks end.

    Parameters
    ----------
    min_task_s : float
        Seconds of work a task should hold (the backend's figure).
    item_s : float
        Estimated wall seconds per item (the first item's measurement).
    threads : int
        Threads per worker: a task holds at least one item per thread.
    fixed : int, optional
        The caller's ``chunksize``: used as it is, never re-sized.
    """

    def __init__(self, min_task_s: float, item_s: float, threads: int,
                 fixed: int | None) -> None:
        self.min_task_s, self.threads, self.fixed = min_task_s, threads, fixed
        self.size = fixed or self._for(item_s)

    def _for(self, item_s: float) -> int:
        return min(_STREAM_CHUNK_MAX, max(self.threads, math.ceil(
            self.min_task_s / max(item_s, 1e-9))))

    def measured(self, work_s: float, items: int) -> None:
        """Re-size from the work (seconds) the finished tasks' ``items`` took."""
        if self.fixed is None and items > 0:
            self.size = min(self._for(work_s / items), self.size * _MAX_STREAM_GROWTH)

    def chunks(self, items: Iterator[Any]) -> Iterator[list[Any]]:
        """Lists of the current :attr:`size` consecutive items, read lazily."""
        return _parts(items, lambda: self.size)


def _parts(items: Iterator[Any], size: Callable[[], int]) -> Iterator[list[Any]]:
    """Lists of ``size()`` consecutive items, read lazily.

    If ``items`` raises, the items read before the error still form a last part, and
    the error is raised after it: nothing the source produced is lost.
    """
    while True:
        part: list[Any] = []
        try:
            part.extend(itertools.islice(items, size()))  # keeps what came before an error
        except Exception:
            if part:
                yield part
            raise
        if not part:
            return
        yield part


def _imap_inline(call: Call, func: Callable[[Any], Any], items: Iterator[Any], size: int,
                 timeout: float | None) -> Iterator[list[Any]]:
    """In this process, ``size`` items at a time; a part slower than ``timeout`` raises after it."""
    for part in _parts(items, lambda: size):
        t0 = time.monotonic()
        values = [func(x) for x in part]
        if timeout is not None and time.monotonic() - t0 > timeout:
            raise ProcessorTimeoutError(call.name, timeout)
        call.recorder.items += len(values)
        yield values


def _timed_item_task(func: Callable[[Any], Any], item: Any) -> tuple[Any, Timing]:
    """Worker task: ``func(item)`` and how its thread spent the time (:class:`ThreadTimer`)."""
    timer = ThreadTimer()
    value = func(item)
    return value, timer.stop()


def _probe(call: Call, func: Callable[[Any], Any], first: Any) -> tuple[list[Any], Cost]:
    """Run the first item as one pool task; its result and its measured CPU/wait split.

    On the pool, so that a slow item still obeys the timeout and the caller stays free.
    """
    value, timing = call.run(_timed_item_task, [(func, first)])[0]
    return [value], timing.cost(transfer_s=_TRANSFER_S)


def _threads_for_call(concurrency: str, cost: Cost, n: int, workers: int, measured: bool) -> int:
    """Threads per worker for ``map``: see ``OptimizedParallelProcessor.map``'s ``concurrency``."""
    if concurrency == "processes":
        return 1
    if concurrency == "threads":
        waits = cost.wait_s > 0 and measured
        return max(2, threads_for_call(cost, n, workers, forced=True)) if waits \
            else MAX_THREADS_PER_WORKER
    return threads_for_call(cost, n, workers)


def _fsum(values: Values[Any], feed: Callable[[Values[Any]], Iterable[Any]] = iter) -> float:
    """``math.fsum(feed(values))``: the correctly rounded sum of the floats.

    Where fsum raises instead of answering - an intermediate result beyond the float
    range (``[1e308, 1e308]``: OverflowError) or ``inf + -inf`` (ValueError) - the
    IEEE left-to-right result that ``sum()`` and the baseline give (``inf``, ``nan``)
    is returned instead. ``feed`` wraps each pass (e.g. :meth:`Call.paced`).
    """
    try:
        return math.fsum(feed(values))
    except (OverflowError, ValueError):
        with np.errstate(over="ignore", invalid="ignore"):  # inf/nan is the answer here
            return float(sum(feed(values)))  # still raises for an int too large for a float


#: Residual passes of :func:`_exact_float_parts` at most: each pass leaves a residual at
#: least 2**53 times smaller, and a sum of doubles spans at most ~2,100 bits.
_MAX_RESIDUAL_PASSES = 48


def _exact_float_parts(values: list[float]) -> list[float]:
    """Floats whose exact sum is the exact sum of ``values`` (what a task returns).

    One rounded partial sum per task would lose the digits a later cancellation
    needs (``[1e16, 1.0]`` then ``-1e16``: 0.0 instead of 1.0), so the final
    ``math.fsum`` of the tasks' results would not be correctly rounded. Each pass
    adds ``round(exact - parts so far)`` (an ``fsum``) until nothing is left: two or
    three passes for typical data. Where fsum cannot answer (inf, nan, overflow) the
    IEEE sum is returned, as :func:`_fsum` does.
    """
    parts: list[float] = []
    try:
        for _ in range(_MAX_RESIDUAL_PASSES):
            rest = math.fsum(itertools.chain(values, [-x for x in parts]))
            if rest == 0.0:
                return parts or [0.0]
            parts.append(rest)
    except (OverflowError, ValueError):
        return [_fsum(values)]
    raise RuntimeError("float partial sums did not converge")  # unreachable for doubles


def _sum_array_task(ref: Any, lo: int, hi: int) -> int | list[float]:
    with opened(ref) as a:
        part = a[lo:hi]
        return int(part.sum()) if a.dtype.kind in "iu" else _exact_float_parts(part.tolist())


def _sum_objects_task(items: list[Any]) -> Any:
    return sum(items)


def _carried_sum(call: Call, values: Sequence[Any]) -> Any:
    """``sum(values)``, fed in parts that check the call's deadline in between.

    The running total is carried from part to part (``sum(part, total)``): the same
    additions, in the same order, as one ``sum(values)``.
    """
    total: Any = 0
    for part in call.inline_parts(values):
        total = sum(part, total)
    return total


def _sum_python_list(call: Call, data: list[Any]) -> int | float | None:
    """The in-process sum of a list of ints/floats, or None if it holds anything else.

    For a Python list, building an array costs several times the sum itself (35 ms
    vs 4 ms for 10**6 ints), so no pool or NumPy path can win: ``sum`` in C is the
    best single-process algorithm. Any non-number makes ``sum`` raise TypeError or
    return a non-int/float total; the caller then validates item by item and
    raises a clear error naming the index.
    """
    try:
        total = _carried_sum(call, data)
    except TypeError:
        return None
    if type(total) is int:
        return total  # every item an int (or bool): exact
    if type(total) is float:  # ints and floats (a complex or Decimal would not give float)
        return _fsum(data, call.paced)  # correctly rounded, whatever the order
    return None


def parallel_sum(call: Call, data: Any) -> int | float:
    """Sum of ``data``: exact for ints; floats by ``math.fsum`` (correctly rounded).

    In-process, the whole float sum is rounded once (``[1e16, 1.0, -1e16]`` -> 1.0,
    where ``sum()`` gives 0.0); on the pool each chunk's sum is, and the chunk sums
    are combined with ``fsum``. Where ``fsum`` raises (overflow, ``inf + -inf``),
    ``sum()``'s IEEE result (``inf``/``nan``) is returned.

    Parameters
    ----------
    call : Call
        The processor's per-call state (mode, deadline, metrics, backend).
    data : sequence of int/float, or 1-D numeric ndarray

    Returns
    -------
    int or float
        An int when every item is an int or bool; empty input gives 0.

    Raises
    ------
    TypeError
        ``data`` not a sequence, or an item not a real number (names its index).
    ProcessorTimeoutError
        The call's timeout expired (in-process: checked between chunks).
    """
    if isinstance(data, list) and call.mode != "pool":
        total = _sum_python_list(call, data)
        if total is not None:
            call.recorder.items = len(data)
            return total
    inp = numeric_input(data, "data")
    if inp.n == 0:
        call.choose(0, Cost())
        return 0
    arr = inp.array
    if arr is not None and arr.dtype.kind in "iu" and (
            inp.n * max(abs(int(arr.max())), abs(int(arr.min()))) >= 2 ** 63):
        arr = None  # an int64 partial sum could wrap: exact Python arithmetic
    cost = Cost(cpu_s=1e-9 if arr is not None else 3e-8)
    path = call.choose(inp.n, cost)
    if path == "inline":
        if arr is None:
            return _carried_sum(call, inp.python_values())
        if arr.dtype.kind in "iu":  # no partial sum can wrap (checked above)
            return sum(int(arr[lo:hi].sum()) for lo, hi in call.inline_bounds(inp.n))
        return _fsum(arr, call.paced)
    bounds = chunk_bounds(inp.n, call.chunk_size(inp.n, cost.cpu_s))
    sizes = [hi - lo for lo, hi in bounds]
    if arr is None:
        vals = inp.python_values()
        return sum(call.run(_sum_objects_task, [(vals[lo:hi],) for lo, hi in bounds], sizes))
    with call.backend.share(arr) as src:
        parts = call.run(_sum_array_task, src.pieces(bounds), sizes)
    return sum(parts) if arr.dtype.kind in "iu" else _fsum([x for p in parts for x in p])


def _sum_left_to_right(call: Call, values: Sequence[Any]) -> Any:
    """``0 + v[0] + v[1] + ...`` in that order, uncompensated (the baseline's loop, in C).

    Fed in parts that check the call's deadline in between, the running total carried
    from part to part: the same additions in the same order as one pass.
    """
    total: Any = 0
    for part in call.inline_parts(values):
        total = functools.reduce(operator.add, part, total)
    return total


def statistics(call: Call, data: Any) -> dict[str, float]:
    """Mean, population variance and median, with the baseline's arithmetic.

    Left-to-right accumulation with ``+`` and squares as ``d * d`` - exactly the
    baseline's loops, so results match to the last bit - and ``sorted`` for the
    median. Not ``sum()`` (Python >= 3.12 compensates float sums) and not ``d ** 2``
    (libm ``pow`` can differ from ``d * d`` in the last bit). Always in-process: it
    is one pass plus a sort, which the pool cannot speed up without changing the
    rounding.

    With a timeout, the mean and variance passes are fed in chunks with a deadline
    check in between, the running total carried across chunks in the same order (so
    results stay bit-identical). Validation and the ``sorted`` for the median are
    single C-level calls that cannot be interrupted: a deadline that expires during
    them is reported when they finish.

    Parameters
    ----------
    call : Call
        The processor's per-call state (mode, deadline, metrics, backend).
    data : sequence of int/float, or 1-D numeric ndarray
        At least one real number.

    Returns
    -------
    dict of str to float
        ``mean``, population ``variance``, ``median``.

    Raises
    ------
    TypeError
        ``data`` not a sequence, or an item not a real number (names its index).
    ValueError
        ``data`` is empty.
    ProcessorTimeoutError
        The call's timeout expired (checked between chunks of the passes).
    """
    inp = numeric_input(data, "data")
    if inp.n == 0:
        raise ValueError("data must not be empty: mean, variance and median of no data "
                         "are undefined")
    call.recorder.items = inp.n  # always inline: see the docstring
    values = inp.python_values()
    n = len(values)
    # Each pass runs in timed chunks with a deadline check in between (Call.inline_parts);
    # the additions still form one left-to-right chain, so results are unchanged.
    mean = _sum_left_to_right(call, values) / n
    squares = [(d := x - mean) * d for x in call.paced(values)]
    variance = _sum_left_to_right(call, squares) / n
    ordered = sorted(values)  # one C-level sort: not interruptible (see the docstring)
    mid = n // 2
    median = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return {"mean": mean, "variance": variance, "median": median}
