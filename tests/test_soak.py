"""Load, soak and scale: many calls on one processor, 10**7 items, processors side by side.

- Soak: ``PPD_SOAK_CALLS`` (default 1,000) consecutive calls cycling through every
  operation family on one pooled processor: every result equals the in-process
  oracle's, the worker pids never change (no silent respawn), and after a warm-up
  the RSS of the parent and of each worker stays within 10 %.
- Scale: 10**7 items through ``process_data_spawn_per_item`` and ``run_pipeline`` in a
  child Python (:mod:`tests.children.scale`): exact count and order, and the peak
  memory of the parent and of the workers within the bounds the docstrings state.
- Concurrency: two processors alive at once work independently; one processor
  called from two threads at once serialises the calls, and both are correct.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from optimized import OptimizedParallelProcessor
from tests import kernels

ROOT = Path(__file__).resolve().parent.parent
SOAK_CALLS = int(os.environ.get("PPD_SOAK_CALLS", "1000"))
RSS_GROWTH_LIMIT = 0.10
SCALE_N = 10**7

pytestmark = pytest.mark.usefixtures("optimized_only")

_TEXT = " ".join(["the", "Quick", "brown", "fox!", "the"] * 4000)
_M = (np.arange(120 * 90) % 11).reshape(120, 90).tolist()
_DATA = [float(i % 101) for i in range(3000)]

#: One call of every operation family (sizes that make several pooled tasks).
OPERATIONS: list[tuple[str, Callable[[Any], Any]]] = [
    ("map", lambda p: p.process_data_spawn_per_item(_DATA)),
    ("file_ipc", lambda p: p.process_with_file_based_ipc(_DATA[:1000])),
    ("queue_ops", lambda p: p.process_with_excessive_queue_ops(_DATA[:500])),
    ("statistics", lambda p: p.compute_statistics_sequential(_DATA)),
    ("sum", lambda p: p.parallel_sum_spawn_many(list(range(50_000)))),
    ("batches", lambda p: p.batch_process_with_manager([_DATA[i:i + 50] for i in range(0, 1000, 50)])),
    ("matrix", lambda p: p.parallel_matrix_multiply(_M, [list(r) for r in zip(*_M, strict=True)])),
    ("primes", lambda p: p.parallel_find_primes(300_000)),
    ("wordcount", lambda p: p.map_reduce_word_count(_TEXT)),
    ("pipeline", lambda p: p.run_pipeline(list(range(5000)))),
    ("user_map", lambda p: p.map(kernels.square, list(range(2000)), chunksize=100)),
]


def _rss(pids: list[int]) -> list[int]:
    return [psutil.Process(pid).memory_info().rss for pid in pids]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_soak_mixed_calls_on_one_processor(make_processor: Callable[..., Any],
                                           record_property: Any) -> None:
    with OptimizedParallelProcessor(1, execution="inline") as oracle:
        expected = {name: call(oracle) for name, call in OPERATIONS}
    p = make_processor(2, execution="pool", matmul_parallel_threshold=64)
    pids = p.worker_pids()
    warmup = 3 * len(OPERATIONS)
    wrong: list[tuple[int, str]] = []
    rss_after_warmup: list[int] = []
    for i in range(SOAK_CALLS):
        name, call = OPERATIONS[i % len(OPERATIONS)]
        if call(p) != expected[name]:
            wrong.append((i, name))
        if i + 1 == warmup:
            rss_after_warmup = _rss([os.getpid(), *pids])
        assert p.worker_pids() == pids, f"call {i} ({name}): the workers were replaced"
    rss_end = _rss([os.getpid(), *pids])
    growth = [end / start - 1 for start, end in zip(rss_after_warmup, rss_end, strict=True)]
    record_property("reliability", json.dumps({
        "kind": "soak", "calls": SOAK_CALLS, "wrong": len(wrong),
        "rss_growth_parent": round(growth[0], 4), "rss_growth_workers_max": round(max(growth[1:]), 4),
        "respawns": 0}))
    assert not wrong, f"{len(wrong)} wrong results, first: {wrong[:5]}"
    assert max(growth) <= RSS_GROWTH_LIMIT, (
        f"RSS grew after warm-up: parent {growth[0]:+.1%}, workers "
        f"{', '.join(f'{g:+.1%}' for g in growth[1:])} (limit {RSS_GROWTH_LIMIT:.0%}) "
        f"over {SOAK_CALLS} calls")


def _scale(mode: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "tests.children.scale", mode, str(SCALE_N)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


#: Peak memory during the call, as multiples of the input's own size (the list and
#: its number objects) above the idle process: what the docstrings of
#: ``process_data_spawn_per_item`` and ``run_pipeline`` state (docs/reliability.md, "Memory at scale").
PARENT_BOUND = {"map": 2.0, "pipeline": 2.0}
WORKERS_BOUND = {"map": 0.5, "pipeline": 0.5}


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", ["map", "pipeline"])
def test_ten_million_items_exact_and_within_the_memory_bound(mode: str, record_property: Any) -> None:
    r = _scale(mode)
    parent = (r["parent_peak_rss"] - r["parent_idle_rss"]) / r["input_bytes"]
    workers = (r["workers_peak_rss"] - r["workers_idle_rss"]) / r["input_bytes"]
    record_property("reliability", json.dumps({
        "kind": "scale", "mode": mode, "n": r["n"], "seconds": round(r["seconds"], 2),
        "input_mb": round(r["input_bytes"] / 2**20, 1), "parent_peak_x_input": round(parent, 2),
        "workers_peak_x_input": round(workers, 2)}))
    assert r["count"] == SCALE_N and r["increasing"] and r["last_ok"], r
    assert parent <= PARENT_BOUND[mode], (f"{mode}: parent peak {parent:.2f} x the input's "
                                          f"{r['input_bytes'] / 2**20:.0f} MB (bound {PARENT_BOUND[mode]})")
    assert workers <= WORKERS_BOUND[mode], (f"{mode}: workers' peak {workers:.2f} x the input "
                                            f"(bound {WORKERS_BOUND[mode]})")


@pytest.mark.timeout(120)
def test_two_processors_alive_at_once_work_independently(make_processor: Callable[..., Any]) -> None:
    a = make_processor(2, execution="pool")
    b = make_processor(2, execution="pool")
    assert set(a.worker_pids()).isdisjoint(b.worker_pids())
    assert a.parallel_find_primes(10_000) == b.parallel_find_primes(10_000)
    with pytest.raises(ValueError):
        a.map(kernels.boom_on_3, list(range(10)), chunksize=1)
    assert b.map(kernels.square, list(range(100)), chunksize=10) == [x * x for x in range(100)]
    b.close()
    assert a.run_pipeline(list(range(1000))) == [((x * 2) + 10) ** 2 for x in range(1000)]


@pytest.mark.timeout(120)
def test_one_processor_called_from_two_threads_serialises_the_calls(
        make_processor: Callable[..., Any]) -> None:
    p = make_processor(2, execution="pool")
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def run(name: str, call: Callable[[], Any]) -> None:
        try:
            results[name] = call()
        except BaseException as exc:  # noqa: B036 - reported to the main thread
            errors.append(exc)

    calls = {
        "pipeline": lambda: p.run_pipeline(list(range(20_000)), batch_size=100),
        "map": lambda: p.map(kernels.sleep_then_return, [0.01] * 40, chunksize=2),
        "primes": lambda: p.parallel_find_primes(200_000),
        "pipeline2": lambda: p.run_pipeline(list(range(7_000)), batch_size=50),
    }
    threads = [threading.Thread(target=run, args=item) for item in calls.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a call deadlocked"
    assert not errors, errors
    assert results["pipeline"] == [((x * 2) + 10) ** 2 for x in range(20_000)]
    assert results["pipeline2"] == [((x * 2) + 10) ** 2 for x in range(7_000)]
    assert results["map"] == [0.01] * 40
    assert len(results["primes"]) == 17984 and results["primes"][-1] == 199999


@pytest.mark.timeout(60)
def test_a_call_waiting_for_another_thread_obeys_its_timeout(make_processor: Callable[..., Any]) -> None:
    from optimized import ProcessorTimeoutError
    p = make_processor(2, execution="pool")
    slow = threading.Thread(target=p.map, args=(kernels.sleep_then_return, [1.0] * 4),
                            kwargs={"chunksize": 1})
    slow.start()
    try:
        import time
        time.sleep(0.3)  # the slow call holds the processor
        with pytest.raises(ProcessorTimeoutError):
            p.parallel_sum_spawn_many([1, 2, 3], timeout=0.2)
    finally:
        slow.join(30)
    assert p.parallel_sum_spawn_many([1, 2, 3]) == 6
