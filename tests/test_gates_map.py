"""The seed's time gates for the map family (R2, R3), 4 workers, warm processor.

Targets come from ``instances/workloads.json``. The same tests run on the baseline
(``--impl=baseline``), which must fail them by measurement: it runs inside a time
budget (:mod:`tests.budget`) so that it can never hang the suite.
"""
from __future__ import annotations

import statistics
import time

import pytest

from tests.budget import run_within

pytestmark = pytest.mark.gate
REPEATS = 5


def median_seconds(fn, *args, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def sequential_seconds(p, data, sample: int = 500) -> float:
    """The same items run one after another in this process (measured on a sample)."""
    part = data[:sample]
    t0 = time.perf_counter()
    for x in part:
        p.process_single_item(x)
    return (time.perf_counter() - t0) * len(data) / len(part)


def timed(impl, p, fn, args, budget_s, gate: str) -> float:
    """Median seconds (optimized) or one budgeted run (baseline).

    A baseline run that does not finish, raises or dies fails the gate here, with
    the reason (a crash has no time: it must never pass for a fast run).
    """
    if impl == "optimized":
        fn(*args)  # warm: first call after construction
        return median_seconds(fn, *args)
    res = run_within(fn, args, budget_s)
    if not res.ok:
        pytest.fail(f"{gate}: the baseline's {fn.__name__} {res.describe()}", pytrace=False)
    return res.seconds


@pytest.mark.parametrize("execution", ["auto", "pool"])
def test_gate_R2_100k_items_under_2s(make_processor, impl, workloads, execution) -> None:
    g = workloads.gate("R2")
    p = make_processor(g.workers, workloads.workloads[g.workload], execution=execution)
    data = list(range(1, g.size + 1))
    secs = timed(impl, p, p.process_data_spawn_per_item, (data,), 3 * g.limit,
                 f"R2 ({g.size} items, limit {g.limit:g} s)")
    assert secs < g.limit, f"R2: {g.size} items took {secs:.3f} s (limit {g.limit:g} s)"


def test_gate_R2_latency_pool_keeps_every_worker_busy(make_processor, impl, workloads) -> None:
    g = workloads.gate("R2-latency")
    p = make_processor(g.workers, workloads.workloads[g.workload])
    data = list(range(1, g.size + 1))
    seq = sequential_seconds(p, data)
    target = g.limit * seq / g.workers
    secs = timed(impl, p, p.process_data_spawn_per_item, (data,), 3 * target,
                 f"R2-latency ({g.size} x 1 ms, target {target:.3f} s = {g.limit} x sequential "
                 f"{seq:.3f} s / {g.workers})")
    assert secs <= target, (f"R2-latency: {secs:.3f} s > {target:.3f} s = {g.limit} x sequential "
                            f"{seq:.3f} s / {g.workers} workers (ratio {secs * g.workers / seq:.3f})")


def test_gate_R3_ipc_share_under_10_percent(make_processor, impl, workloads) -> None:
    g = workloads.gate("R3")
    p = make_processor(g.workers, workloads.workloads[g.workload])
    data = list(range(1, g.size + 1))
    seq = sequential_seconds(p, data)
    budget = 3 * seq / g.workers / (1 - g.limit)
    secs = timed(impl, p, p.process_with_file_based_ipc, (data,), budget,
                 f"R3 ({g.size} items, overhead limit {g.limit:.0%})")
    share = max(0.0, 1 - (seq / g.workers) / secs)  # wall time not spent on the work itself
    assert share < g.limit, (f"R3: overhead {share:.1%} of {secs:.3f} s wall "
                             f"(work {seq:.3f} s over {g.workers} workers); limit {g.limit:.0%}")
    if impl == "optimized":  # the processor's own accounting agrees
        m = p.last_metrics
        assert m.overhead_share < g.limit, f"R3 (processor metrics): overhead {m.overhead_share:.1%}"
