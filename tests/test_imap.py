"""Streaming: ``map`` over any iterable, ``imap`` lazily, in bounded memory, and its failures."""
from __future__ import annotations

import gc
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from optimized import ProcessorTimeoutError, WorkerCrashedError

from . import kernels

pytestmark = pytest.mark.usefixtures("optimized_only")
START_METHODS = ["fork", "forkserver", "spawn"]


class Counting:
    """An iterator over ``range(n)`` (endless if None) that counts what was read from it."""

    def __init__(self, n: int | None = None, fail_at: int | None = None) -> None:
        self.read = 0
        self._n, self._fail_at = n, fail_at

    def __iter__(self) -> Iterator[int]:
        return self

    def __next__(self) -> int:
        if self._fail_at is not None and self.read == self._fail_at:
            raise OSError(f"the source failed at item {self.read}")
        if self._n is not None and self.read >= self._n:
            raise StopIteration
        self.read += 1
        return self.read - 1


def _until_raises(results: Any, exc: type[BaseException], match: str) -> tuple[list[Any], Any]:
    """The results yielded before ``results`` raised ``exc`` (and the exception info)."""
    got: list[Any] = []
    with pytest.raises(exc, match=match) as info:
        for v in results:
            got.append(v)
    return got, info


# -- map takes any iterable ----------------------------------------------------------------
@pytest.mark.timeout(60)
@pytest.mark.parametrize("execution", ["inline", "pool"])
def test_map_takes_generators_files_dicts_sets_and_several_iterables(
        make_processor: Callable[..., Any], execution: str, tmp_path: Path) -> None:
    p = make_processor(2, execution=execution)
    assert p.map(kernels.square, (x for x in range(50))) == [x * x for x in range(50)]
    assert p.map(abs, iter([-1, 2, -3])) == [1, 2, 3]
    assert p.map(len, {"ab": 1, "c": 2}) == [2, 1]  # a dict's keys, as Pool.map
    assert p.map(kernels.square, {3}) == [9]
    lines = tmp_path / "lines.txt"
    lines.write_text("a\nbb\nccc\n")
    with lines.open() as f:
        assert p.map(len, f) == [2, 3, 4]  # with their newlines, as iteration gives them
    # several iterables: the builtin's rule (pairs, up to the shortest)
    assert p.map(pow, [2, 3, 4], (5, 2)) == [32, 9]
    assert p.map(lambda a, b, c: a + b + c, range(3), [10] * 5, iter([100, 200, 300])) == \
        [110, 211, 312]


# -- imap: equal to the builtin for every kind of input --------------------------------------
@pytest.mark.timeout(60)
@pytest.mark.parametrize("execution", ["auto", "inline", "pool"])
@pytest.mark.parametrize("ordered", [True, False])
def test_imap_equals_the_builtin_map(make_processor: Callable[..., Any], execution: str,
                                     ordered: bool, tmp_path: Path) -> None:
    p = make_processor(2, execution=execution)
    want = [x * x for x in range(3000)]

    def same(got: Any) -> bool:
        got = list(got)
        return got == want if ordered else sorted(got) == want

    assert same(p.imap(kernels.square, (x for x in range(3000)), ordered=ordered))
    assert same(p.imap(kernels.square, range(3000), ordered=ordered, chunksize=7))
    assert same(p.imap(kernels.square, iter(list(range(3000))), ordered=ordered,
                       max_in_flight=1))
    assert list(p.imap(kernels.square, [])) == []
    assert list(p.imap(pow, [2, 3], itertools.repeat(2))) == [4, 9]
    lines = tmp_path / "lines.txt"
    lines.write_text("".join(f"{i}\n" for i in range(500)))
    with lines.open() as f:
        assert sorted(p.imap(int, f, ordered=ordered)) == list(range(500))
    assert p.last_metrics is not None and p.last_metrics.items == 500


@pytest.mark.timeout(120)
@pytest.mark.parametrize("start_method", START_METHODS)
def test_imap_under_every_start_method_with_a_lambda(make_processor: Callable[..., Any],
                                                     start_method: str) -> None:
    p = make_processor(2, execution="pool", start_method=start_method)
    offset = 5
    assert list(p.imap(lambda x: x + offset, (x for x in range(1000)))) == \
        [x + 5 for x in range(1000)]
    assert p.last_metrics is not None and p.last_metrics.path == "pool"


# -- reading lazily, within the window --------------------------------------------------------
@pytest.mark.timeout(60)
def test_a_slow_consumer_does_not_make_the_input_read_ahead(
        make_processor: Callable[..., Any]) -> None:
    p = make_processor(2, execution="pool")
    source = Counting(10**6)
    it = p.imap(kernels.square, source, chunksize=10, max_in_flight=3)
    for i in range(25):
        assert next(it) == i * i
        time.sleep(0.002)
        # what was yielded, plus at most the window's tasks of 10 items (and a part read)
        assert source.read <= i + 1 + 3 * 10 + 10, (i, source.read)
    it.close()
    assert source.read < 100


@pytest.mark.timeout(60)
def test_breaking_out_of_an_endless_stream_returns_at_once_and_leaves_nothing(
        make_processor: Callable[..., Any]) -> None:
    p = make_processor(2, execution="pool")
    t0 = time.monotonic()
    for i, _ in enumerate(p.imap(kernels.sleep_then_return, itertools.repeat(0.01))):
        if i == 40:
            break
    gc.collect()
    assert time.monotonic() - t0 < 10
    t1 = time.monotonic()
    assert p.map(kernels.square, range(10)) == [x * x for x in range(10)]  # served at once
    assert time.monotonic() - t1 < 5
    assert not [t for t in threading.enumerate() if t.name.startswith("ThreadPoolExecutor")]
    # the autouse leak check then verifies: no child beyond the pool, no segment


@pytest.mark.timeout(60)
def test_close_and_the_with_block_cancel_what_is_pending(make_processor: Callable[..., Any]) -> None:
    p = make_processor(2, execution="pool")
    with p.imap(kernels.sleep_then_return, itertools.repeat(0.5), chunksize=1) as it:
        assert next(it) == 0.5
    t0 = time.monotonic()
    assert p.map(kernels.square, [3]) == [9]
    assert time.monotonic() - t0 < 5  # no 0.5 s tasks were left to finish first
    it.close()  # idempotent
    with pytest.raises(StopIteration):
        next(it)


@pytest.mark.timeout(60)
def test_an_iterator_abandoned_in_another_thread_lets_the_next_call_run(
        make_processor: Callable[..., Any]) -> None:
    p = make_processor(2, execution="pool")
    box: list[Any] = [p.imap(kernels.square, itertools.count(), chunksize=5)]
    assert next(box[0]) == 0  # this thread now holds the processor's turn
    closer = threading.Thread(target=lambda: box.pop().close())
    closer.start()
    closer.join(10)
    done: list[Any] = []
    other = threading.Thread(target=lambda: done.append(p.map(kernels.square, [4])))
    other.start()
    other.join(20)
    assert done == [[16]], "the turn was not given back when another thread closed the stream"


# -- failures, at their position ---------------------------------------------------------------
@pytest.mark.timeout(60)
@pytest.mark.parametrize("execution", ["inline", "pool"])
def test_a_source_that_raises_midway_yields_everything_before_it_first(
        make_processor: Callable[..., Any], execution: str) -> None:
    p = make_processor(2, execution=execution)
    got, _ = _until_raises(p.imap(kernels.square, Counting(fail_at=537), chunksize=100),
                           OSError, "failed at item 537")
    assert got == [x * x for x in range(537)]
    assert p.map(kernels.square, [2]) == [4]


@pytest.mark.timeout(60)
def test_a_worker_exception_surfaces_at_its_task_with_earlier_results_yielded(
        make_processor: Callable[..., Any]) -> None:
    p = make_processor(2, execution="pool")
    got, info = _until_raises(p.imap(kernels.boom_on_3, range(10), chunksize=1), ValueError,
                              "kernel refused item 3")
    assert got == [0, 1, 2]
    assert "boom_on_3" in str(info.value.__cause__)  # the worker's traceback
    assert p.map(kernels.square, [5]) == [25]


@pytest.mark.timeout(60)
def test_a_failure_that_comes_first_still_waits_for_the_results_before_it(
        make_processor: Callable[..., Any]) -> None:
    p = make_processor(4, execution="pool")
    got, _ = _until_raises(p.imap(kernels.boom_on_3_others_slow, range(8), chunksize=1),
                           ValueError, "kernel refused item 3")
    assert got == [0, 1, 2]  # they finished after item 3 failed, and were yielded first


@pytest.mark.timeout(60)
def test_a_killed_worker_is_a_worker_crash(make_processor: Callable[..., Any]) -> None:
    p = make_processor(2, execution="pool")
    with pytest.raises(WorkerCrashedError, match="imap"):
        list(p.imap(kernels.die_on_5, range(20), chunksize=1))
    assert list(p.imap(kernels.square, range(3))) == [0, 1, 4]


@pytest.mark.timeout(60)
def test_timeout_bounds_the_wait_for_each_result_not_the_whole_stream(
        make_processor: Callable[..., Any]) -> None:
    p = make_processor(2, execution="pool")
    # 30 results of 0.1 s each: 1.5 s in all on 2 workers, never 1 s for one result
    assert len(list(p.imap(kernels.sleep_then_return, [0.1] * 30, chunksize=1,
                           timeout=1.0))) == 30
    t0 = time.monotonic()
    with pytest.raises(ProcessorTimeoutError, match="imap"):
        list(p.imap(kernels.sleep_then_return, [0.01, 30.0, 0.01], chunksize=1, timeout=0.5))
    assert time.monotonic() - t0 < 10
    assert p.map(kernels.square, [6]) == [36]


# -- memory ------------------------------------------------------------------------------------
def _hwm_mib() -> float:
    return int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]) / 1024


@pytest.mark.timeout(120)
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's VmHWM")
def test_streaming_ten_million_items_keeps_the_parent_small(
        make_processor: Callable[..., Any]) -> None:
    p = make_processor(2, execution="pool")
    assert sum(p.imap(kernels.square, range(1000))) == sum(x * x for x in range(1000))
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current RSS
    base = _hwm_mib()
    total = sum(p.imap(abs, (x for x in range(10**7))))
    growth = _hwm_mib() - base
    assert total == sum(range(10**7))
    # A list of the results alone would be ~80 MB of pointers + ints: far over this.
    assert growth < 50, f"the parent grew {growth:.1f} MiB streaming 10**7 items"
