"""Items that wait (D13): threads inside each worker, same results, order and contract.

The map family on the latency workload and ``map`` of a function that mostly waits run
a bounded number of threads in each worker; CPU-bound items keep one. Results are
bit-identical to the in-process run and in input order; a timeout still ends the call
within its limit; an exception in a thread is re-raised with the worker traceback; a
worker that dies with its threads is a ``WorkerCrashedError``; the processor is usable
after each.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from optimized import ProcessorTimeoutError, WorkerCrashedError
from optimized.backends import START_METHODS
from optimized.chunking import Cost
from optimized.threads import MAX_THREADS_PER_WORKER, thread_map, threads_for, threads_for_call
from tests import kernels

pytestmark = pytest.mark.usefixtures("optimized_only")


def test_thread_count_follows_the_wait_share() -> None:
    assert threads_for(Cost(cpu_s=2e-4)) == 1  # CPU-bound: no threads
    assert threads_for(Cost(cpu_s=1e-4, wait_s=1e-4)) == 1  # half waiting: not "mostly"
    assert threads_for(Cost(cpu_s=1e-4, wait_s=4e-4)) == 5  # 1 + wait/cpu
    assert threads_for(Cost(cpu_s=2.5e-7, wait_s=1.08e-3)) == MAX_THREADS_PER_WORKER
    assert threads_for(Cost(cpu_s=1e-4, wait_s=1e-4), forced=True) == 2
    assert threads_for(Cost()) == 1


def test_threads_per_call_grow_with_the_call() -> None:
    wait = Cost(cpu_s=2.5e-7, wait_s=1e-3)  # the latency workload's item
    counts = [threads_for_call(wait, n, 4) for n in range(0, 40_001, 50)]
    assert counts == sorted(counts) and counts[-1] == MAX_THREADS_PER_WORKER
    assert threads_for_call(wait, 40, 4) == 1  # 10 ms per worker: nothing to overlap
    # The report's latency rows where the original runs (100 and 300 items): threads, so
    # the call beats the original's process per 10 items (was 1 thread: 1.04x / 1.23x).
    assert threads_for_call(wait, 100, 4) >= 2 and threads_for_call(wait, 300, 4) >= 2
    assert threads_for_call(wait, 2000, 4) == 5  # sqrt(0.5 s / 20 ms) exactly, not 6
    assert threads_for_call(Cost(cpu_s=2e-4), 10**6, 4) == 1  # CPU-bound: never


def test_thread_map_keeps_order_and_raises_the_first_failure() -> None:
    items = list(range(100))
    assert thread_map(kernels.square, items, 8) == [x * x for x in items]
    assert thread_map(kernels.square, items, 1) == [x * x for x in items]
    with pytest.raises(ValueError, match="refused item 3"):
        thread_map(kernels.boom_on_3, items, 8)


@pytest.mark.parametrize("start_method", START_METHODS)
def test_latency_items_run_threaded_and_bit_identical(make_processor: Callable[..., Any],
                                                      start_method: str) -> None:
    p = make_processor(4, 0.001, execution="pool", start_method=start_method)
    ref = make_processor(1, 0.0, execution="inline")
    data = [i * 0.37 - 50 for i in range(800)]
    got = p.process_data_spawn_per_item(data)
    assert p.last_metrics.extra["threads_per_worker"] > 1
    assert p.last_metrics.tasks % 4 == 0  # equal rounds per worker (balanced_bounds)
    assert got == ref.process_data_spawn_per_item(data)  # same floats, same order
    arr = np.arange(500, dtype=np.int64) - 250
    assert np.array_equal(p.process_with_file_based_ipc(arr), ref.process_with_file_based_ipc(arr))
    big = [2**60 + i for i in range(300)]  # exact Python path (beyond 2**53), threaded too
    assert p.process_with_excessive_queue_ops(big) == ref.process_with_excessive_queue_ops(big)
    batches = [data[i:i + 37] for i in range(0, 400, 37)]
    assert p.batch_process_with_manager(batches) == ref.batch_process_with_manager(batches)


@pytest.mark.timeout(60)
def test_waiting_items_are_overlapped(make_processor: Callable[..., Any]) -> None:
    p = make_processor(4, 0.001, execution="pool")
    data = list(range(2000))
    p.process_data_spawn_per_item(data)  # warm
    t0 = time.perf_counter()
    p.process_data_spawn_per_item(data)
    secs = time.perf_counter() - t0
    # Without threads 2,000 x 1 ms on 4 workers cannot beat 2000 * 1 ms / 4 = 0.5 s.
    assert secs < 0.4, f"2,000 waiting items took {secs:.3f} s: the waits were not overlapped"


def test_user_map_threads_only_for_functions_that_wait(make_processor: Callable[..., Any]) -> None:
    p = make_processor(4)
    waits = p.map(kernels.sleep_then_return, [0.002] * 400)
    assert waits == [0.002] * 400 and p.last_metrics.extra["threads_per_worker"] > 1
    spins = p.map(kernels.busy_us, [300.0] * 200)
    assert spins == [300.0] * 200
    assert p.last_metrics.extra.get("threads_per_worker", 1) == 1  # CPU-bound: one per worker
    forced = p.map(kernels.square, list(range(300)), cost_per_item_s=1e-3, concurrency="threads")
    assert forced == [x * x for x in range(300)]
    assert p.last_metrics.extra["threads_per_worker"] == MAX_THREADS_PER_WORKER
    plain = p.map(kernels.sleep_then_return, [0.002] * 100, concurrency="processes")
    assert plain == [0.002] * 100 and p.last_metrics.extra["threads_per_worker"] == 1


@pytest.mark.timeout(60)
@pytest.mark.parametrize("start_method", START_METHODS)
def test_timeout_on_the_thread_path_ends_the_call(make_processor: Callable[..., Any],
                                                  start_method: str) -> None:
    p = make_processor(2, 0.05, execution="pool", start_method=start_method)
    t0 = time.perf_counter()
    with pytest.raises(ProcessorTimeoutError):
        p.process_data_spawn_per_item(list(range(2000)), timeout=0.3)  # ~3 s of waits
    assert time.perf_counter() - t0 < 0.3 + 3.0
    assert p.process_data_spawn_per_item([2.0]) == [4.0 + math.sin(2.0) * math.cos(2.0)]


def test_exception_in_a_thread_keeps_its_type_and_worker_traceback(
        make_processor: Callable[..., Any]) -> None:
    p = make_processor(2)
    with pytest.raises(kernels.InjectedFault) as info:
        p.map(kernels.FaultyStage("raise"), list(range(200)), concurrency="threads", chunksize=50)
    assert "Traceback" in str(info.value.__cause__)
    assert p.map(kernels.square, list(range(10))) == [x * x for x in range(10)]


@pytest.mark.timeout(60)
def test_worker_dying_with_its_threads_is_a_crash(make_processor: Callable[..., Any]) -> None:
    p = make_processor(2)
    with pytest.raises(WorkerCrashedError, match="exited with exit code 3"):
        p.map(kernels.FaultyStage("exit3"), list(range(200)), concurrency="threads", chunksize=50)
    assert p.map(kernels.square, list(range(10))) == [x * x for x in range(10)]


def test_bad_concurrency_is_rejected(make_processor: Callable[..., Any]) -> None:
    p = make_processor(1)
    with pytest.raises(ValueError, match="concurrency must be one of"):
        p.map(kernels.square, [1], concurrency="fibers")
