"""Behavioural anti-pattern checks (R1, R3, R6): they FAIL on the baseline, pass here.

Nothing here greps source code: each test counts what a call actually does - process
starts, files opened for writing, queue puts, Manager servers - by instrumenting the
standard library for the duration of one call, in every process that takes part.

How children are seen. The counters live in shared memory (a fork-context
``multiprocessing.Array``) created before any process of the call exists, and the
instrumentation (class-level patches plus an audit hook) is installed before those
processes are forked, so they inherit it and count into the same cells:

* optimized: the pool's workers are forked when the processor is constructed, so the
  processor is constructed inside the counting context (start method ``fork``), and
  what the construction itself did is subtracted (``Counts.start_call``);
* baseline: every call runs under :func:`tests.budget.run_within` (it can deadlock);
  the instrumentation is installed inside the budget child, so the harness's own
  child is not counted, and every process the call forks inherits it. If the budget
  runs out, what was counted until then is still in shared memory and reported.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import multiprocessing.managers
import multiprocessing.process
import multiprocessing.queues
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from tests.budget import run_within

N = 200
WORKERS = 4
#: Wall-clock budget of one baseline call (2,000 per-item processes take ~7 s here).
BASELINE_BUDGET_S = 30.0
CALLS: dict[str, Callable[[Any, list[int]], Any]] = {
    "process_data_spawn_per_item": lambda p, d: p.process_data_spawn_per_item(d),
    "process_with_file_based_ipc": lambda p, d: p.process_with_file_based_ipc(d),
    "process_with_excessive_queue_ops": lambda p, d: p.process_with_excessive_queue_ops(d),
    "parallel_sum_spawn_many": lambda p, d: p.parallel_sum_spawn_many(d),
    "batch_process_with_manager":
        lambda p, d: p.batch_process_with_manager([d[i:i + 20] for i in range(0, len(d), 20)]),
    "parallel_matrix_multiply": lambda p, d: p.parallel_matrix_multiply([[1, 2], [3, 4]], [[5, 6], [7, 8]]),
    "parallel_find_primes": lambda p, d: p.parallel_find_primes(len(d)),
    "map_reduce_word_count": lambda p, d: p.map_reduce_word_count("the quick brown fox " * 50),
    "run_pipeline": lambda p, d: p.run_pipeline(d),
}

FIELDS = ("process_starts", "queue_puts", "managers", "writes")
_SAMPLE_BYTES = 2048  # room for the first few written paths, for the failure message


class Counts:
    """What a call did, counted in the calling process and in every process forked from it.

    Attributes ``process_starts``, ``queue_puts``, ``managers`` and ``writes`` are
    the counts since :meth:`start_call`; ``written_paths`` samples the files opened
    for writing.
    """

    def __init__(self) -> None:
        ctx = mp.get_context("fork")
        self._cells = ctx.Array("q", len(FIELDS))  # shared memory, with a lock
        self._sample = ctx.Array("c", _SAMPLE_BYTES)
        self._base = [0] * len(FIELDS)

    def add(self, field: str) -> None:
        """Count one event (in whichever process it happens)."""
        with self._cells.get_lock():
            self._cells[FIELDS.index(field)] += 1

    def add_write(self, path: str) -> None:
        """Count one file opened for writing and keep its name if there is room."""
        with self._cells.get_lock():
            self._cells[FIELDS.index("writes")] += 1
            used = self._sample.value
            entry = path.encode(errors="replace") + b"\n"
            if len(used) + len(entry) < _SAMPLE_BYTES:
                self._sample.value = used + entry

    def _now(self) -> list[int]:
        # Read without the lock: a child killed at the end of a budget may still hold it.
        return list(self._cells.get_obj())

    def start_call(self) -> None:
        """From now on: what happened before (the processor's construction) is not counted."""
        self._base = self._now()

    def __getattr__(self, name: str) -> int:
        if name in FIELDS:
            return self._now()[FIELDS.index(name)] - self._base[FIELDS.index(name)]
        raise AttributeError(name)

    @property
    def written_paths(self) -> list[str]:
        return self._sample.get_obj().value.decode(errors="replace").split()

    def __repr__(self) -> str:
        return ", ".join(f"{f}={getattr(self, f)}" for f in FIELDS)


_active: list[Counts] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _active or event != "open":
        return
    path, mode, flags = (args + (None, None, None))[:3]
    writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
        isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
    if writing and not str(path).startswith("/dev/null"):
        _active[-1].add_write(str(path))


# Audit hooks cannot be removed (and survive fork); it is inert outside `instrumented`.
sys.addaudithook(_audit)


@contextmanager
def instrumented(counts: Counts) -> Iterator[Counts]:
    """Count process starts, successful queue puts, Manager starts and file writes.

    Installed in this process; every process forked while it is installed inherits
    it (and keeps it for life), counting into the same shared cells.
    """
    targets = [(multiprocessing.process.BaseProcess, "start", "process_starts"),
               (multiprocessing.queues.Queue, "put", "queue_puts"),
               (multiprocessing.managers.BaseManager, "start", "managers")]
    originals = [(cls, name, cls.__dict__[name]) for cls, name, _ in targets]

    def counted(original: Callable[..., Any], field: str) -> Callable[..., Any]:
        def wrapper(self: Any, *a: Any, **k: Any) -> Any:
            out = original(self, *a, **k)
            counts.add(field)  # after success: a put that timed out (queue full) is retried
            return out
        return wrapper

    for cls, name, field in targets:
        setattr(cls, name, counted(cls.__dict__[name], field))
    _active.append(counts)
    try:
        yield counts
    finally:
        _active.remove(counts)
        for cls, name, original in originals:
            setattr(cls, name, original)


def _baseline_calls(counts: Counts, processor: Any, ops: Sequence[str], data: list[int]) -> list[Any]:
    """Run in the budget child: the calls, instrumented (their children inherit it)."""
    with instrumented(counts):
        return [CALLS[op](processor, data) for op in ops]


def run_counted(impl: str, make_processor: Callable[..., Any], ops: Sequence[str],
                data: list[int]) -> tuple[Counts, list[Any]]:
    """Make a processor and run ``ops`` on ``data``, counting in every process involved.

    Returns the counts of the calls (not of the construction) and their results. A
    baseline call that does not finish in its budget, raises or dies fails the test,
    with what it had done by then.
    """
    counts = Counts()
    if impl == "optimized":
        with instrumented(counts):
            # Constructed here: the pool's workers are forked now and inherit the counting.
            p = make_processor(WORKERS, 0.0, execution="pool", start_method="fork")
            counts.start_call()
            return counts, [CALLS[op](p, data) for op in ops]
    p = make_processor(WORKERS, 0.0)
    counts.start_call()
    res = run_within(_baseline_calls, (counts, p, ops, data), BASELINE_BUDGET_S)
    if not res.ok:
        pytest.fail(f"{'+'.join(ops)} on {len(data)} items {res.describe()}; "
                    f"counted until then: {counts}", pytrace=False)
    return counts, res.result


def test_counting_sees_work_done_in_forked_children(tmp_path) -> None:
    """The instrumentation itself: a child's start, put and write reach the parent's counts."""
    counts = Counts()
    ctx = mp.get_context("fork")
    with instrumented(counts):
        counts.start_call()
        q = ctx.Queue()
        child = ctx.Process(target=_child_work, args=(q, str(tmp_path / "child.txt")))
        child.start()
        child.join(30)
        assert q.get(timeout=10) == "done"
    assert child.exitcode == 0
    assert (counts.process_starts, counts.queue_puts, counts.writes) == (1, 1, 1), counts
    assert counts.written_paths == [str(tmp_path / "child.txt")]


def _child_work(q: Any, path: str) -> None:
    with open(path, "w") as f:
        f.write("x")
    q.put("done")


@pytest.mark.parametrize("op", sorted(CALLS))
def test_no_process_is_started_during_a_call(make_processor, impl, op) -> None:
    c, _ = run_counted(impl, make_processor, [op], list(range(1, N + 1)))
    assert c.process_starts == 0, f"{op} started {c.process_starts} processes during one call"


@pytest.mark.parametrize("op", sorted(CALLS))
def test_no_file_is_written_during_a_call(make_processor, impl, op) -> None:
    c, _ = run_counted(impl, make_processor, [op], list(range(1, N + 1)))
    assert c.writes == 0, f"{op} opened {c.writes} files for writing, e.g. {c.written_paths[:3]}"


@pytest.mark.parametrize("op", ["process_with_excessive_queue_ops", "process_data_spawn_per_item",
                                "run_pipeline"])
def test_queue_puts_are_per_batch_not_per_item(make_processor, impl, op) -> None:
    data = list(range(1, 2001))
    c, _ = run_counted(impl, make_processor, [op], data)
    # at most one put per 100-item batch plus two control messages per worker
    limit = len(data) // 100 + WORKERS * 2
    assert c.queue_puts <= limit, f"{op}: {c.queue_puts} queue puts for {len(data)} items (limit {limit})"


def test_no_manager_process(make_processor, impl) -> None:
    c, _ = run_counted(impl, make_processor, ["batch_process_with_manager", "run_pipeline"],
                       list(range(1, N + 1)))
    assert c.managers == 0, f"{c.managers} Manager server process(es) started"


def test_results_are_complete_and_in_input_order(make_processor, impl) -> None:
    """D6: the baseline returns completion order and can lose results to empty()."""
    data = list(range(1, N + 1))
    expected = [x * x + math.sin(x) * math.cos(x) for x in data]
    ops = ("process_data_spawn_per_item", "process_with_excessive_queue_ops")
    _, results = run_counted(impl, make_processor, ops, data)
    for op, got in zip(ops, results, strict=True):
        assert got == pytest.approx(expected, rel=1e-12), f"{op}: results missing or out of order"
