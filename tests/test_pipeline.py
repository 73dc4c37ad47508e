"""The batched, back-pressured pipeline (R6): results, layouts, bad input, failures, gate.

Expected values come from the formula of the original's three stages,
``((2 * x) + 10) ** 2``, computed here, never from an implementation. The equivalence
cases also run on the baseline (``--impl=baseline``); tests of options the baseline
does not have (stages, replicas, batch size, timeouts, forced paths) skip there. The
R6 gate runs on both and fails on the baseline, by measurement, within a time budget.
"""
from __future__ import annotations

import math
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimized import OptimizedParallelProcessor, ProcessorTimeoutError, WorkerCrashedError, batches
from optimized.data import generate_test_data
from optimized.ops import stages
from tests.budget import run_within

START_METHODS = ["fork", "forkserver", "spawn"]
#: Rounds per configuration in timed tests (medians; the machine is shared and noisy).
_ROUNDS = 7


def expected(data: Any) -> list[Any]:
    """The original pipeline's result, by its formula (``x * x``, as the original: a float's
    ``** 2`` can differ from it in the last bit)."""
    return [(y := x * 2 + 10) * y for x in data]


# -- module-level stage functions (picklable: sent to the workers) -------------------------
def to_text(x: Any) -> str:
    return f"<{x}>"


def text_len(s: str) -> int:
    return len(s)


def pair_up(x: Any) -> tuple[Any, Any]:
    return (x, x)


def jitter(x: int) -> int:
    """Uneven per-batch cost, so replicated batches overtake each other."""
    if x % 173 == 0:
        time.sleep(0.002)
    return x + 1


def fail_on_778(x: int) -> int:
    if x == 778:
        raise ValueError(f"stage refused item {x}")
    return x


def sleepy(x: Any) -> Any:
    time.sleep(0.01)
    return x


def die_on_500(x: int) -> int:
    if x == 500:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def make_local_function(x: int) -> Any:
    """Returns something that cannot be pickled (a nested function)."""
    def inner() -> int:
        return x
    return inner if x == 10 else x


@batches.batch_stage
def batch_kind(batch: Any) -> list[str]:
    """A batch stage reporting the batch type it was handed."""
    return [type(batch).__name__] * len(batch)


@batches.batch_stage
def numpy_negate(batch: Any) -> Any:
    return np.negative(np.asarray(batch))


@batches.batch_stage
def loses_an_item(batch: Any) -> Any:
    return list(batch)[:-1]


def wait_2ms(x: Any) -> Any:
    """A stage that waits (like I/O): replicas overlap even when the cores are busy."""
    time.sleep(0.002)
    return x


def busy_50us(x: Any) -> Any:
    """About 50 us of CPU per item (a busy loop): the 'slow stage'.

    Measured in CPU time, not wall time: a wall-clock spin would 'finish' items
    while its process waits for a core, overstating throughput on a busy machine.
    """
    end = time.process_time() + 50e-6
    while time.process_time() < end:
        pass
    return x


# -- equivalence with the original's semantics ----------------------------------------------
FIXED_CASES = {
    "empty": [],
    "one": [7],
    "small": [1, 2, 3, 4, 5],
    "negatives_and_zero": [-5, -1, 0, 1, 5, -1000],
    "floats": [0.5, -2.25, 1e-9, 3.75],
    "big_ints": [2 ** 70, -(2 ** 65) + 3, 10 ** 30],
    "generated_1000": generate_test_data(1000),
}


@pytest.mark.parametrize("case", sorted(FIXED_CASES))
def test_default_stages_match_the_originals_formula_in_input_order(processor, case) -> None:
    data = FIXED_CASES[case]
    assert processor.run_pipeline(list(data)) == expected(data)


def test_optimized_equals_the_baseline_on_the_same_input(optimized_only, processor) -> None:
    from baseline import UnoptimizedParallelProcessor
    data = list(range(-150, 150)) + [0.5, 2 ** 66]
    base = UnoptimizedParallelProcessor(4, 0.0)
    finished, _, base_result = run_within(base.run_pipeline, (data,), 60.0)
    assert finished, "the baseline did not finish 302 items within 60 s"
    assert processor.run_pipeline(data) == base_result == expected(data)


def test_tuple_range_and_ndarray_inputs_give_lists(optimized_only, processor) -> None:
    assert processor.run_pipeline((1, 2, 3)) == expected([1, 2, 3])
    assert processor.run_pipeline(range(5)) == expected(range(5))
    out = processor.run_pipeline(np.arange(-3, 4, dtype=np.int64))
    assert out == expected(range(-3, 4)) and all(type(v) is int for v in out)


_ints = st.lists(st.one_of(st.integers(-10 ** 6, 10 ** 6), st.integers(-2 ** 90, 2 ** 90)),
                 max_size=120)


@pytest.mark.parametrize("mode, workers", [("inline", 2), ("pool", 4)])
def test_both_forced_paths_match_the_formula(optimized_only, make_processor, mode,
                                             workers) -> None:
    p = make_processor(workers, execution=mode)

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=_ints, batch=st.integers(1, 50))
    def check(data: list[int], batch: int) -> None:
        assert p.run_pipeline(data, batch_size=batch) == expected(data)
        if data:
            assert p.last_metrics.path == mode

    check()


def test_auto_runs_cheap_stages_inline_and_slow_ones_on_the_pool(optimized_only,
                                                                 processor) -> None:
    data = list(range(3000))
    assert processor.run_pipeline(data) == expected(data)
    assert processor.last_metrics.path == "inline"  # 3 arithmetic ops: the pool cannot win
    assert processor.run_pipeline(data[:400], [busy_50us]) == data[:400]
    assert processor.last_metrics.path == "pool"    # 20 ms of CPU: the pool wins


def busy_5ms(x: Any) -> Any:
    """5 ms of this thread's CPU per item."""
    end = time.thread_time() + 5e-3
    while time.thread_time() < end:
        pass
    return x


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity")
def test_probe_does_not_mistake_a_busy_core_for_waiting(optimized_only) -> None:
    """A CPU-bound stage that loses its core to another process is still CPU-bound.

    This process and a spinning child share one CPU during the probe, so the stage
    is descheduled (involuntarily) for about half its wall time; the probe must call
    that time CPU, not waiting (waiting would send cheap stages to the pool). A stage
    that sleeps still counts as waiting.
    """
    from optimized.ops import pipeline
    cpu = sorted(os.sched_getaffinity(0))[0]
    saved = os.sched_getaffinity(0)
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                           preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    try:
        os.sched_setaffinity(0, {cpu})
        time.sleep(0.2)  # the hog is spinning
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw
        _, busy = pipeline._probe([busy_5ms], [1, 2, 3], 100)
        preempted = resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw - before
    finally:
        os.sched_setaffinity(0, saved)
        hog.kill()
        hog.wait(5)
    assert preempted > 0, "the probe was never descheduled: the test did not test anything"
    assert busy.wait_s == 0 and busy.cpu_s >= 4e-3, busy
    _, waits = pipeline._probe([wait_2ms], [1, 2, 3], 100)
    assert waits.wait_s >= 1e-3, waits


# -- custom stages, layouts, batch sizes -----------------------------------------------------
def test_custom_stages_with_any_picklable_items(optimized_only, make_processor) -> None:
    p = make_processor(4, execution="pool")
    data = [("a", 1), None, "text", 3.5, frozenset({1})] * 300
    assert p.run_pipeline(data, [to_text, text_len], batch_size=64) == \
        [len(f"<{x}>") for x in data]
    assert p.run_pipeline(data, [pair_up]) == [(x, x) for x in data]
    m = p.last_metrics
    assert m.path == "pool" and m.items == len(data)
    assert m.extra["stages"] == ["pair_up"] and m.extra["batch_size"] == 500


@pytest.mark.parametrize("mode", ["inline", "pool"])
def test_user_batch_stages_get_arrays_for_numeric_data_and_lists_otherwise(
        optimized_only, make_processor, mode) -> None:
    p = make_processor(2, execution=mode)
    assert p.run_pipeline(list(range(1200)), [batch_kind], batch_size=500) == ["ndarray"] * 1200
    assert p.run_pipeline(np.linspace(0, 1, 7), [batch_kind]) == ["ndarray"] * 7
    assert p.run_pipeline([0.5, 1] * 300, [batch_kind]) == ["list"] * 600  # may hold ints
    assert p.run_pipeline(["a"] * 600, [batch_kind]) == ["list"] * 600
    data = list(range(-500, 700))
    out = p.run_pipeline(data, [stages.double, numpy_negate, to_text], batch_size=100)
    assert out == [f"<{-(x * 2)}>" for x in data]  # batch, batch, per-item, in order


def test_a_batch_stage_losing_items_raises_and_pool_recovers(optimized_only,
                                                             make_processor) -> None:
    p = make_processor(2, execution="pool")
    with pytest.raises(ValueError, match="loses_an_item must return .* 100 items"):
        p.run_pipeline(list(range(1000)), [loses_an_item], batch_size=100)
    assert p.run_pipeline(list(range(1000))) == expected(range(1000))


def test_default_layout_fuses_the_stages_and_uses_every_worker(optimized_only,
                                                               make_processor) -> None:
    p = make_processor(4, execution="pool")
    data = list(range(20_000))
    assert p.run_pipeline(data, batch_size=250) == expected(data)
    extra = p.last_metrics.extra
    assert extra["layout"] == [["double", "add_ten", "square"]] and extra["fused"] is True
    assert extra["replicas"] == [4]
    assert sum(extra["replica_batches"][0]) == len(data) // 250  # each batch exactly once
    assert p.last_metrics.tasks == 4


def test_replicated_stage_keeps_order_and_completeness(optimized_only, make_processor) -> None:
    p = make_processor(4, execution="pool")
    data = list(range(30_000))
    out = p.run_pipeline(data, [stages.double, jitter, stages.square],
                         replicas=[1, 2, 1], batch_size=100)
    assert out == [(2 * x + 1) ** 2 for x in data]
    extra = p.last_metrics.extra
    assert extra["replicas"] == [1, 2, 1] and extra["fused"] is False
    assert extra["layout"] == [["double"], ["jitter"], ["square"]]
    # every stage task saw all 300 batches once; the two replicas shared stage 2's queue
    assert [sum(b) for b in extra["replica_batches"]] == [300, 300, 300]
    assert len(extra["replica_batches"][1]) == 2


def test_replicas_of_a_waiting_stage_work_concurrently(optimized_only, make_processor) -> None:
    """Replication, measured where the machine's load cannot interfere: a stage that
    waits 2 ms per item, 300 items in 30 batches (>= 0.6 s on one replica). Five
    workers on two cores is fine here: waiting needs no core."""
    p = make_processor(5, execution="pool")
    data = list(range(300))
    fns = [stages.double, wait_2ms, stages.square]
    runs: dict[str, list[float]] = {"[1, 1, 1]": [], "[1, 3, 1]": []}
    for _ in range(3):  # interleaved, median: one descheduled run cannot decide it
        for layout in ([1, 1, 1], [1, 3, 1]):
            t0 = time.perf_counter()
            assert p.run_pipeline(data, fns, batch_size=10, replicas=layout) == \
                [(2 * x) ** 2 for x in data]
            runs[str(layout)].append(time.perf_counter() - t0)
    seconds = {k: statistics.median(v) for k, v in runs.items()}
    assert all(b > 0 for b in p.last_metrics.extra["replica_batches"][1])  # all 3 replicas served
    # Ideal 3x (measured 2.0x-3.3x on the shared machine); serial replicas would give 1x.
    speedup = seconds["[1, 1, 1]"] / seconds["[1, 3, 1]"]
    assert speedup >= 1.5, f"3 replicas of a waiting stage: {speedup:.2f}x faster ({seconds})"


@pytest.mark.parametrize("batch_size", [1, 7, 999, 1000, 1001, 10 ** 6])
def test_batch_size_edges(optimized_only, make_processor, batch_size) -> None:
    p = make_processor(3, execution="pool")
    data = list(range(-500, 500))
    assert p.run_pipeline(data, batch_size=batch_size, replicas=[1, 1, 1]) == expected(data)
    assert p.last_metrics.extra["batch_size"] == batch_size
    assert sum(p.last_metrics.extra["replica_batches"][0]) == -(-len(data) // batch_size)


def test_processor_batch_size_option_is_the_default(optimized_only, make_processor) -> None:
    p = make_processor(2, execution="pool", pipeline_batch_size=128, pipeline_queue_depth=1)
    data = list(range(1000))
    assert p.run_pipeline(data) == expected(data)
    assert p.last_metrics.extra["batch_size"] == 128
    assert sum(p.last_metrics.extra["replica_batches"][0]) == 8


def test_pool_is_reused_across_pipeline_calls(optimized_only, make_processor) -> None:
    p = make_processor(4, execution="pool")
    pids = p.worker_pids()
    for layout in (None, [1, 1, 1], [2, 1, 1], [1, 1, 2]):
        assert p.run_pipeline(list(range(2000)), replicas=layout) == expected(range(2000))
    assert p.worker_pids() == pids  # stage tasks ran on the pool's workers (R1)


# -- bad input (D2): clear errors before anything is dispatched ------------------------------
@pytest.fixture
def no_dispatch(make_processor, monkeypatch) -> Any:
    """A pooled processor whose pool fails the test if anything is submitted to it."""
    p = make_processor(4, execution="pool")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("work was dispatched before the input was validated")

    monkeypatch.setattr(p._backend, "submit", refuse)
    monkeypatch.setattr(p._backend, "run", refuse)
    return p


def _lock_holding_stage() -> Any:
    """A stage nothing can serialise: a closure (sent by value) over a lock."""
    lock = threading.Lock()

    def holds_a_lock(x: Any) -> Any:
        with lock:
            return x
    return holds_a_lock


_holds_a_lock = _lock_holding_stage()


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"stages": [stages.double, 42]}, TypeError, r"stages\[1\] must be a callable"),
    ({"stages": [_holds_a_lock]}, TypeError, r"stages\[0\].*cannot pickle '_thread.lock'"),
    ({"stages": stages.double}, TypeError, "sequence of functions"),
    ({"stages": []}, ValueError, "at least one"),
    ({"stages": "abc"}, TypeError, "stages must be a sequence"),
    ({"replicas": [1, 1]}, ValueError, r"3 stage\(s\), got 2"),
    ({"replicas": [2, 2, 1]}, ValueError, r"need 5 workers.*pool has 4"),
    ({"replicas": [1, 0, 1]}, ValueError, r"replicas\[1\]"),
    ({"replicas": [1, 1.5, 1]}, TypeError, r"replicas\[1\]"),
    ({"replicas": 3}, TypeError, "replicas must be a sequence"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": True}, TypeError, "batch_size"),
    ({"batch_size": 2.5}, TypeError, "batch_size"),
])
def test_bad_arguments_raise_before_dispatch(optimized_only, no_dispatch, kwargs, exc,
                                             match) -> None:
    with pytest.raises(exc, match=match):
        no_dispatch.run_pipeline(list(range(10)), **kwargs)


def test_any_stage_runs_on_the_inline_path(optimized_only, make_processor) -> None:
    p = make_processor(2, execution="inline")  # nothing is sent, so nothing is pickled
    assert p.run_pipeline([1, 2, 3], [lambda x: x * 10, _holds_a_lock]) == [10, 20, 30]


@pytest.mark.parametrize("data, exc, match", [
    ([1, 2, "3"], TypeError, r"data\[2\]"),
    ([1, None], TypeError, r"data\[1\]"),
    ("123", TypeError, "data must be"),
    (42, TypeError, "data must be"),
    (np.zeros((2, 2)), ValueError, "one-dimensional"),
])
def test_bad_data_for_the_default_stages(optimized_only, no_dispatch, data, exc, match) -> None:
    with pytest.raises(exc, match=match):
        no_dispatch.run_pipeline(data)


def test_empty_data_gives_an_empty_list_without_dispatch(optimized_only, no_dispatch) -> None:
    assert no_dispatch.run_pipeline([]) == []
    assert no_dispatch.run_pipeline([], [to_text]) == []


def test_unpicklable_data_item_raises_type_error_and_pool_recovers(optimized_only,
                                                                   make_processor) -> None:
    p = make_processor(4, execution="pool")
    with pytest.raises(TypeError, match=r"picklable.*items 0\.\.2"):
        p.run_pipeline([1, make_local_function(10), 3], [to_text])
    assert p.run_pipeline(list(range(100))) == expected(range(100))


# -- failure contract (D11) --------------------------------------------------------------
def test_stage_exception_surfaces_with_its_traceback_and_pool_recovers(optimized_only,
                                                                       make_processor) -> None:
    p = make_processor(4, execution="pool")
    data = list(range(3000))
    for replicas in (None, [1, 2]):
        with pytest.raises(ValueError, match="stage refused item 778") as info:
            p.run_pipeline(data, [stages.double, fail_on_778], replicas=replicas)
        remote = str(info.value.__cause__)
        assert "fail_on_778" in remote and "raise ValueError" in remote  # worker traceback
        assert any("pipeline stage task" in n for n in info.value.__notes__)
        assert p.run_pipeline(data) == expected(data)  # usable afterwards


def test_timeout_with_a_slow_stage_raises_promptly_and_pool_recovers(optimized_only,
                                                                     make_processor) -> None:
    p = make_processor(4, execution="pool")
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError) as info:
        p.run_pipeline(list(range(2000)), [sleepy], batch_size=10, timeout=0.3)
    elapsed = time.perf_counter() - t0
    assert isinstance(info.value, ProcessorTimeoutError)
    assert elapsed < 0.3 + 5.0, f"timeout took {elapsed:.2f} s to surface"
    assert p.run_pipeline(list(range(500))) == expected(range(500))


def test_killed_worker_raises_worker_crashed_and_pool_recovers(optimized_only,
                                                              make_processor) -> None:
    p = make_processor(4, execution="pool")
    with pytest.raises(WorkerCrashedError):
        p.run_pipeline(list(range(1000)), [die_on_500], timeout=30)
    assert p.run_pipeline(list(range(1000))) == expected(range(1000))


def test_unpicklable_stage_result_raises_type_error(optimized_only, make_processor) -> None:
    p = make_processor(4, execution="pool")
    with pytest.raises(TypeError, match="cannot be pickled"):
        p.run_pipeline(list(range(100)), [make_local_function], timeout=30)
    assert p.run_pipeline([1, 2]) == expected([1, 2])


def test_ctrl_c_kills_the_stage_workers_and_the_pool_restarts_lazily(optimized_only,
                                                                      make_processor) -> None:
    p = make_processor(4, execution="pool")
    before = p.worker_pids()
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            p.run_pipeline(list(range(2000)), [sleepy], batch_size=10)
    finally:
        timer.cancel()
    assert p.worker_pids() == []  # killed, and no new processes started after Ctrl-C
    assert not [pid for pid in before if psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert p.run_pipeline(list(range(100))) == expected(range(100))  # fresh pool on demand
    assert len(p.worker_pids()) == 4


# -- start methods (D10) -------------------------------------------------------------------
@pytest.mark.parametrize("start_method", START_METHODS)
def test_pooled_pipeline_under_each_start_method(optimized_only, make_processor,
                                                 start_method) -> None:
    p = make_processor(3, execution="pool", start_method=start_method)
    data = list(range(-1000, 1000))
    assert p.run_pipeline(data, batch_size=100) == expected(data)
    assert p.run_pipeline(data, replicas=[1, 1, 1], batch_size=300) == expected(data)


# -- the R6 gate ---------------------------------------------------------------------------
Case = tuple[tuple[Any, ...], dict[str, Any]]


@dataclass(frozen=True)
class Rate:
    """Median throughput of one configuration and its CPU per item (all processes)."""

    items_per_s: float
    cpu_per_item_s: float  # nan when the implementation reports no metrics


def _median_rates(p: Any, cases: dict[str, Case], n: int, rounds: int,
                  warm_up: bool = True) -> dict[str, Rate]:
    """Median over ``rounds`` interleaved runs of ``run_pipeline(*args, **kwargs)`` per case.

    Interleaving exposes every case to the same background load; an untimed warm-up
    round comes first unless ``warm_up`` is False.
    """
    times: dict[str, list[float]] = {name: [] for name in cases}
    cpus: dict[str, list[float]] = {name: [] for name in cases}
    for r in range(0 if warm_up else 1, rounds + 1):
        for name, (args, kwargs) in cases.items():
            t0 = time.perf_counter()
            p.run_pipeline(*args, **kwargs)
            if r:  # round 0 warms the processor up
                times[name].append(time.perf_counter() - t0)
                m = getattr(p, "last_metrics", None)
                cpus[name].append((m.parent_cpu_s + m.worker_cpu_s) / n if m else math.nan)
    return {name: Rate(n / statistics.median(times[name]), statistics.median(cpus[name]))
            for name in cases}


def _stage_alone_cases(data: list[int]) -> dict[str, Case]:
    """Each default stage alone: a one-stage pipeline fed the input it sees in the pipeline."""
    cases, inputs = {}, data
    for fn in stages.DEFAULT_STAGES:
        cases[fn.__name__] = ((inputs, [fn]), {})
        inputs = batches.as_list(batches.apply_stages([fn], inputs))
    return cases


def _slowest(rates: dict[str, Rate]) -> str:
    names = [f.__name__ for f in stages.DEFAULT_STAGES]
    return min(names, key=lambda name: rates[name].items_per_s)


@pytest.mark.gate("R6")
def test_gate_r6_pipeline_throughput_vs_slowest_stage_alone(impl, workloads,
                                                            make_processor) -> None:
    """R6: pipeline throughput >= limit x the throughput of its slowest stage alone.

    "Alone" = the same stage function in a one-stage pipeline through the same
    processor, same batch size, fed the input that stage sees in the pipeline; all
    four configurations are timed interleaved, median of :data:`_ROUNDS`. The
    processor is forced onto the pool: with ``execution="auto"`` these arithmetic
    stages run in-process (faster than any pool), where there is no pipeline to
    measure. The baseline cannot run one stage alone, so its pipeline (one run,
    inside a time budget) is compared with the same reference measured through the
    optimized processor's pool.
    """
    gate = workloads.gate("R6")
    data = generate_test_data(gate.size)
    note = ""
    if impl == "optimized":
        p = make_processor(gate.workers, execution="pool")
        assert p.run_pipeline(data) == expected(data)
        rates = _median_rates(p, {"pipeline": ((data,), {}), **_stage_alone_cases(data)},
                              len(data), _ROUNDS)
        stage = _slowest(rates)
        pipe_rate, verdict = rates["pipeline"].items_per_s, f"median of {_ROUNDS} runs"
        work = rates[stage].cpu_per_item_s / rates["pipeline"].cpu_per_item_s
        note = (f"; CPU work per item (all processes): pipeline "
                f"{rates['pipeline'].cpu_per_item_s * 1e6:.2f} us, {stage} alone "
                f"{rates[stage].cpu_per_item_s * 1e6:.2f} us - work ratio {work:.2f}, the "
                f"ceiling of the ratio whenever the cores are the bottleneck")
    else:
        ref = OptimizedParallelProcessor(gate.workers, execution="pool")
        try:
            rates = _median_rates(ref, _stage_alone_cases(data), len(data), 3)
        finally:
            ref.close()
        stage = _slowest(rates)
        base = make_processor(gate.workers, 0.0)
        budget = 60.0
        finished, seconds, result = run_within(base.run_pipeline, (data,), budget)
        pipe_rate = gate.size / seconds
        if finished:
            assert result == expected(data), "the baseline's pipeline result is wrong"
        verdict = ("one run" if finished
                   else f"did not finish within {budget:g} s: an upper bound")
    stage_rate = rates[stage].items_per_s
    ratio = pipe_rate / stage_rate
    message = (f"R6 {impl}: pipeline {pipe_rate:,.0f} items/s ({verdict}) vs slowest stage alone "
               f"({stage}, optimized pool, median) {stage_rate:,.0f} items/s: ratio {ratio:.3g} < "
               f"{gate.limit:g} ({gate.size:,} items, {gate.workers} workers, batch size 500, "
               f"{os.cpu_count()} cores){note}")
    assert ratio >= gate.limit, message


# -- measurements (printed; not a gate) -------------------------------------------------------


def test_auto_mode_with_a_timeout_probes_on_the_pool(optimized_only, make_processor) -> None:
    """A slow first item must not escape the timeout in auto mode (its probe is interruptible)."""
    from tests.kernels import sleep_then_return
    p = make_processor(2)  # auto
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError, match="run_pipeline"):
        p.run_pipeline([5.0, 5.0, 5.0], [sleep_then_return], timeout=0.5)
    assert time.perf_counter() - t0 < 3.0
    assert p.run_pipeline([0.0, 0.001], [sleep_then_return], timeout=30) == [0.0, 0.001]
    assert p.run_pipeline(list(range(50)), timeout=30) == expected(list(range(50)))
