"""Behavioural anti-pattern checks (R1, R3, R6): they FAIL on the baseline, pass here.

Nothing here greps source code: each test counts what a call actually does - process
starts, files opened for writing, queue puts, Manager servers - by instrumenting the
standard library in the calling process for the duration of one call, after the
processor has been constructed (the pool's own start-up is not counted).
"""
from __future__ import annotations

import multiprocessing.managers
import multiprocessing.process
import multiprocessing.queues
import math
import os
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import pytest

N = 200
CALLS: dict[str, Callable[[Any, list[int]], Any]] = {
    "process_data_spawn_per_item": lambda p, d: p.process_data_spawn_per_item(d),
    "process_with_file_based_ipc": lambda p, d: p.process_with_file_based_ipc(d),
    "process_with_excessive_queue_ops": lambda p, d: p.process_with_excessive_queue_ops(d),
    "parallel_sum_spawn_many": lambda p, d: p.parallel_sum_spawn_many(d),
    "batch_process_with_manager": lambda p, d: p.batch_process_with_manager([d[i:i + 20] for i in range(0, len(d), 20)]),
    "parallel_matrix_multiply": lambda p, d: p.parallel_matrix_multiply([[1, 2], [3, 4]], [[5, 6], [7, 8]]),
    "parallel_find_primes": lambda p, d: p.parallel_find_primes(len(d)),
    "map_reduce_word_count": lambda p, d: p.map_reduce_word_count("the quick brown fox " * 50),
    "run_pipeline": lambda p, d: p.run_pipeline(d),
}


class Counts:
    def __init__(self) -> None:
        self.process_starts = 0
        self.writes: list[str] = []
        self.queue_puts = 0
        self.managers = 0


_active: list[Counts] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _active or event != "open":
        return
    path, mode, flags = (args + (None, None, None))[:3]
    writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
        isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
    if writing and not str(path).startswith("/dev/null"):
        _active[-1].writes.append(str(path))


sys.addaudithook(_audit)  # audit hooks cannot be removed; it is inert outside `counting`


@contextmanager
def counting(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counts]:
    counts = Counts()
    start = multiprocessing.process.BaseProcess.start
    put = multiprocessing.queues.Queue.put
    mstart = multiprocessing.managers.BaseManager.start

    def counted_start(self, *a, **k):
        counts.process_starts += 1
        return start(self, *a, **k)

    def counted_put(self, *a, **k):
        counts.queue_puts += 1
        return put(self, *a, **k)

    def counted_manager(self, *a, **k):
        counts.managers += 1
        return mstart(self, *a, **k)

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", counted_start)
    monkeypatch.setattr(multiprocessing.queues.Queue, "put", counted_put)
    monkeypatch.setattr(multiprocessing.managers.BaseManager, "start", counted_manager)
    _active.append(counts)
    try:
        yield counts
    finally:
        _active.pop()
        monkeypatch.undo()


@pytest.fixture
def pooled(make_processor, impl):
    """The processor on its pooled path (the baseline has only one path)."""
    return make_processor(4, 0.0, execution="pool") if impl == "optimized" else make_processor(4, 0.0)


@pytest.mark.parametrize("op", sorted(CALLS))
def test_no_process_is_started_during_a_call(pooled, op, monkeypatch) -> None:
    data = list(range(1, N + 1))
    with counting(monkeypatch) as c:
        CALLS[op](pooled, data)
    assert c.process_starts == 0, f"{op} started {c.process_starts} processes during one call"


@pytest.mark.parametrize("op", sorted(CALLS))
def test_no_file_is_written_during_a_call(pooled, op, monkeypatch) -> None:
    data = list(range(1, N + 1))
    with counting(monkeypatch) as c:
        CALLS[op](pooled, data)
    assert c.writes == [], f"{op} opened {len(c.writes)} files for writing, e.g. {c.writes[:3]}"


@pytest.mark.parametrize("op", ["process_with_excessive_queue_ops", "process_data_spawn_per_item",
                                "run_pipeline"])
def test_queue_puts_are_per_batch_not_per_item(pooled, op, monkeypatch) -> None:
    data = list(range(1, 2001))
    with counting(monkeypatch) as c:
        CALLS[op](pooled, data)
    # at most one put per 100-item batch plus one control message per worker
    limit = len(data) // 100 + pooled.num_workers * 2
    assert c.queue_puts <= limit, f"{op}: {c.queue_puts} queue puts for {len(data)} items (limit {limit})"


def test_no_manager_process(pooled, monkeypatch) -> None:
    with counting(monkeypatch) as c:
        CALLS["batch_process_with_manager"](pooled, list(range(1, N + 1)))
        CALLS["run_pipeline"](pooled, list(range(1, N + 1)))
    assert c.managers == 0, f"{c.managers} Manager server process(es) started"


def test_results_are_complete_and_in_input_order(pooled) -> None:
    """D6: the baseline returns completion order and can lose results to empty()."""
    data = list(range(1, N + 1))
    expected = [x * x + math.sin(x) * math.cos(x) for x in data]
    for op in ("process_data_spawn_per_item", "process_with_excessive_queue_ops"):
        got = CALLS[op](pooled, data)
        assert got == pytest.approx(expected, rel=1e-12), f"{op}: results missing or out of order"
