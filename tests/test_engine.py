"""The engine: one pool per processor, its lifecycle and the failure contract (R1, R8, D11).

Optimized-only: the baseline has no pool, timeouts or metrics. Every test checks
(through the autouse ``no_leaks`` fixture) that no process or segment is left over.
"""
from __future__ import annotations

import gc
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from optimized import (
    OptimizedParallelProcessor,
    ProcessorClosedError,
    ProcessorTimeoutError,
    WorkerCrashedError,
)
from optimized.ops import mapping
from optimized.shm import live_segments
from tests import kernels
from tests.conftest import our_segments, record_segments
from tests.process_groups import alive

ROOT = Path(__file__).resolve().parent.parent
START_METHODS = ["fork", "forkserver", "spawn"]


@pytest.fixture(autouse=True)
def _optimized_only(impl: str) -> None:
    if impl != "optimized":
        pytest.skip("engine tests concern the optimized processor's pool")


def _gone(pids, timeout: float = 5.0) -> bool:
    # alive() tolerates a pid that exits while it is being looked at (a bare
    # pid_exists-then-Process pair raised NoSuchProcess in that window once)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not alive(pids):
            return True
        time.sleep(0.05)
    return False


def _in_shm(names) -> list[str]:
    """Which of these segment names still exist in /dev/shm."""
    return sorted(n for n in names if Path("/dev/shm", n).exists())


def _expected_kernel(values) -> list[float]:
    return [x * x + math.sin(x) * math.cos(x) for x in values]


# Kernel replacements for the shared-memory path: installed in the parent before the
# pool is forked, so the workers' ``_shm_chunk_task`` uses them.
_REAL_VECTOR = mapping.single_item_vector


def _vector_refusing_3(x: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
    if np.any(np.asarray(x) == 3):
        raise ValueError("kernel refused item 3")
    return _REAL_VECTOR(x, *args, **kwargs)


def _vector_dying_on_5(x: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
    if np.any(np.asarray(x) == 5):
        os.kill(os.getpid(), signal.SIGKILL)
    return _REAL_VECTOR(x, *args, **kwargs)


# -- construction and lifecycle --------------------------------------------------------
def test_pool_is_started_once_at_construction_and_reused(make_processor) -> None:
    p = make_processor(3, execution="pool")
    pids = p.worker_pids()
    assert len(pids) == 3
    for _ in range(3):
        p.process_data_spawn_per_item(list(range(500)))
        p.parallel_sum_spawn_many(list(range(500)))
    assert p.worker_pids() == pids  # the same processes served every call


def test_default_worker_count_is_cpu_count(make_processor) -> None:
    p = make_processor(None)
    assert p.num_workers == os.cpu_count() and len(p.worker_pids()) == os.cpu_count()


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-3, ValueError), (2.5, TypeError),
                                      ("4", TypeError), (True, TypeError)])
def test_bad_worker_count_is_rejected_before_any_process_starts(bad, exc) -> None:
    before = {c.pid for c in psutil.Process().children(recursive=True)}
    with pytest.raises(exc, match="num_workers"):
        OptimizedParallelProcessor(bad)
    after = {c.pid for c in psutil.Process().children(recursive=True)}
    assert after <= before


@pytest.mark.parametrize("kwargs, match", [
    ({"execution": "turbo"}, "execution"), ({"start_method": "thread"}, "start_method"),
    ({"item_latency_s": -1}, "item_latency_s"), ({"pipeline_batch_size": 0}, "pipeline_batch_size"),
])
def test_bad_options_are_rejected(kwargs, match) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        OptimizedParallelProcessor(2, **kwargs)


def test_context_manager_closes_and_close_is_idempotent() -> None:
    with OptimizedParallelProcessor(2) as p:
        pids = p.worker_pids()
        assert p.process_data_spawn_per_item([1, 2]) == pytest.approx(
            [1 + 0.8414709848078965 * 0.5403023058681398, 4 + 0.9092974268256817 * -0.4161468365471424])
    assert p.closed and _gone(pids)
    p.close()
    p.cleanup()  # the original's name, an alias (D3)
    with pytest.raises(ProcessorClosedError, match="closed"):
        p.process_data_spawn_per_item([1])


def test_exit_with_exception_terminates_workers() -> None:
    with pytest.raises(RuntimeError, match="user error"):
        with OptimizedParallelProcessor(2) as p:
            pids = p.worker_pids()
            raise RuntimeError("user error")
    assert _gone(pids, 5.0)


def test_garbage_collected_processor_leaves_no_process() -> None:
    p = OptimizedParallelProcessor(2)
    pids = p.worker_pids()
    del p
    gc.collect()
    assert _gone(pids, 10.0)


def test_processor_left_open_at_interpreter_exit_leaves_no_process(tmp_path) -> None:
    script = textwrap.dedent("""
        from optimized import OptimizedParallelProcessor
        p = OptimizedParallelProcessor(2)
        p.process_data_spawn_per_item(list(range(1000)))
        print(*p.worker_pids(), flush=True)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    pids = [int(x) for x in out.stdout.split()]
    assert len(pids) == 2 and _gone(pids, 5.0)


# -- start methods (D10): one shared body, parametrised ---------------------------------
@pytest.mark.parametrize("start_method", START_METHODS)
def test_every_start_method_runs_pooled_work_and_reports_errors(make_processor, start_method) -> None:
    p = make_processor(2, execution="pool", start_method=start_method)
    assert p.start_method == start_method
    data = list(range(-50, 250))
    expected = [x * x + __import__("math").sin(x) * __import__("math").cos(x) for x in data]
    assert p.process_data_spawn_per_item(data) == pytest.approx(expected, rel=1e-12)
    assert p.map(kernels.square, list(range(300)), cost_per_item_s=1e-3) == [x * x for x in range(300)]
    with pytest.raises(ValueError, match="refused item 3"):
        p.map(kernels.boom_on_3, list(range(10)), cost_per_item_s=1.0)
    assert p.parallel_sum_spawn_many(list(range(1000))) == 499500


@pytest.mark.parametrize("start_method", START_METHODS)
def test_workers_start_with_their_blas_cap_and_then_sit_idle(make_processor, start_method) -> None:
    # D8: 4 workers on this machine's cores get cores // 4 BLAS threads (at least 1). A
    # forked worker inherits the cap; one that set it after the fork made OpenBLAS
    # re-create its threads, which busy-waited ~0.1 s each (CPU the first calls lost).
    a = np.ones((64, 64))
    _ = a @ a  # the parent's BLAS loaded and used
    parent_threads = kernels.blas_threads(None)
    p = make_processor(4, execution="pool", start_method=start_method)
    if start_method == "fork":  # (spawned workers may still be importing: the first
        # to start can answer every start-up ping)
        pids = list(p.worker_pids())
        cpu_at_start = {pid: sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids}
        time.sleep(0.3)
        idle_cpu = {pid: sum(psutil.Process(pid).cpu_times()[:2]) - cpu_at_start[pid]
                    for pid in pids}
        assert all(used < 0.05 for used in idle_cpu.values()), \
            f"forked workers used CPU while idle after start (s): {idle_cpu}"
    cap = max(1, (os.cpu_count() or 1) // 4)
    got = p.map(kernels.blas_threads, list(range(8)), chunksize=1, cost_per_item_s=1.0)
    assert set(got) <= set(range(cap + 1)), f"workers' BLAS threads {got}, cap {cap}"
    assert kernels.blas_threads(None) == parent_threads  # the owner's own cap is back


# -- the general entry point ---------------------------------------------------------------
def test_map_keeps_input_order_and_supports_unordered(make_processor) -> None:
    p = make_processor(4, execution="pool")
    items = list(range(2000))
    assert p.map(kernels.square, items, chunksize=7) == [x * x for x in items]
    unordered = p.map(kernels.square, items, chunksize=7, ordered=False)
    assert sorted(unordered) == sorted(x * x for x in items) and len(unordered) == len(items)
    assert p.last_metrics.tasks == -(-len(items) // 7)  # forced pool: no probe task


def test_map_rejects_unserialisable_functions_before_dispatch(make_processor) -> None:
    p = make_processor(2, execution="pool")
    lock = threading.Lock()
    with pytest.raises(TypeError, match="cannot pickle '_thread.lock'"):
        p.map(lambda x: lock and x, [1, 2, 3], cost_per_item_s=1.0)  # captures a lock
    assert p.map(lambda x: x + 1, [1, 2, 3], cost_per_item_s=1.0) == [2, 3, 4]  # cloudpickle
    with pytest.raises(TypeError, match="func must be callable"):
        p.map(42, [1, 2])
    with pytest.raises(TypeError, match="items must be an iterable of items, not a str"):
        p.map(kernels.square, "123")
    with pytest.raises(ValueError, match="chunksize"):
        p.map(kernels.square, [1], chunksize=0)


# -- the failure contract (D11) -----------------------------------------------------------
def test_worker_exception_carries_the_worker_traceback_and_pool_stays_usable(make_processor) -> None:
    p = make_processor(2, execution="pool")
    with pytest.raises(ValueError, match="refused item 3") as info:
        p.map(kernels.boom_on_3, list(range(10)), chunksize=1, cost_per_item_s=1.0)
    cause = info.value.__cause__
    assert cause is not None and "Traceback" in str(cause) and "boom_on_3" in str(cause)
    assert p.map(kernels.square, [1, 2, 3], cost_per_item_s=1.0) == [1, 4, 9]


def test_worker_killed_by_sigkill_raises_promptly_and_next_call_works(make_processor) -> None:
    p = make_processor(2, execution="pool")
    old = p.worker_pids()
    t0 = time.perf_counter()
    with pytest.raises(WorkerCrashedError, match=r"worker process \d+ was killed by SIGKILL \(-9\)"
                       r".*OOM killer"):
        p.map(kernels.die_on_5, list(range(10)), chunksize=1, cost_per_item_s=1.0)
    assert time.perf_counter() - t0 < 10
    got = p.map(kernels.square, list(range(10)), chunksize=2, cost_per_item_s=1.0)
    assert got == [x * x for x in range(10)]
    assert set(p.worker_pids()).isdisjoint(old) and _gone(old)


def test_worker_dying_at_start_up_is_named_with_its_exit_status(monkeypatch) -> None:
    from optimized import worker
    monkeypatch.setattr(worker, "init_worker", kernels.exit_1)  # forked workers run it
    t0 = time.perf_counter()
    with pytest.raises(WorkerCrashedError,
                       match=r"worker process \d+ exited with exit code 1 while the pool started"):
        OptimizedParallelProcessor(2, start_method="fork")
    assert time.perf_counter() - t0 < 10


def test_worker_killed_from_outside_mid_call(make_processor) -> None:
    p = make_processor(2, execution="pool")
    victim = p.worker_pids()[0]
    threading.Timer(0.3, os.kill, (victim, signal.SIGKILL)).start()
    t0 = time.perf_counter()
    with pytest.raises(WorkerCrashedError, match=rf"worker process {victim} was killed by SIGKILL"):
        p.map(kernels.sleep_then_return, [0.2] * 20, chunksize=1, cost_per_item_s=1.0)
    assert time.perf_counter() - t0 < 10
    assert p.process_data_spawn_per_item([0.0]) == [0.0]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("start_method", START_METHODS)
def test_worker_dead_between_calls_is_replaced_with_one_warning(make_processor, caplog,
                                                                start_method) -> None:
    """An idle worker killed (the OOM killer at night) lost nothing: the next call works."""
    import logging
    caplog.set_level(logging.WARNING, logger="optimized")
    p = make_processor(2, execution="pool", start_method=start_method)
    victim = p.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    assert _gone([victim])
    got = p.map(kernels.square, list(range(40)), chunksize=5)
    assert got == [x * x for x in range(40)]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1, warned
    assert f"worker process {victim} was killed by SIGKILL (-9) while it had no task" \
        in warned[0]
    assert victim not in p.worker_pids() and len(p.worker_pids()) == 2
    assert p.map(kernels.square, [3]) == [9]
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


@pytest.mark.parametrize("start_method", START_METHODS)
def test_worker_killed_while_sending_its_result_leaves_no_stuck_thread(make_processor,
                                                                       start_method) -> None:
    """A worker SIGKILLed half-way through writing a result (64 MiB, killed after 1 MiB).

    The executor's manager thread was left waiting for the rest of the message
    forever, and interpreter exit waits for that thread: the engine must free it.
    """
    p = make_processor(1, execution="pool", start_method=start_method)
    manager = p._backend._holder["executor"]._executor_manager_thread
    t0 = time.perf_counter()
    with pytest.raises(WorkerCrashedError, match="killed by SIGKILL"):
        p.map(kernels.die_while_sending_result, [1 << 26], cost_per_item_s=1.0)
    took = time.perf_counter() - t0
    assert not manager.is_alive(), "the killed pool's manager thread is still waiting"
    assert took < 3, f"the crash took {took:.1f} s to report"
    assert p.map(kernels.square, [1, 2, 3], cost_per_item_s=1.0) == [1, 4, 9]


def _ordered_call(p: Any, timeout: float | None = None) -> Any:
    from optimized.call import Call
    from optimized.deadline import Deadline
    from optimized.options import CallOptions
    return Call("run_ordered", p._backend, p.num_workers, Deadline("run_ordered", timeout),
                CallOptions(execution="pool"))


def test_run_ordered_consumes_in_task_order_while_later_tasks_run(make_processor) -> None:
    """Task 0 is the slowest; every result still reaches ``consume`` in task order, and
    the first one long before the last task ends (the parent works while workers do)."""
    p = make_processor(2, execution="pool")
    sleeps = [0.3] + [0.1 + i / 1000 for i in range(1, 8)]  # ~0.75 s of work on 2 workers
    seen: list[tuple[float, float]] = []
    t0 = time.perf_counter()
    _ordered_call(p).run_ordered(kernels.sleep_then_return, [(s,) for s in sleeps],
                                 lambda v: seen.append((v, time.perf_counter() - t0)),
                                 window=4)
    total = time.perf_counter() - t0
    assert [v for v, _ in seen] == sleeps
    assert seen[0][1] < total - 0.2, (seen, total)


def test_run_ordered_failure_in_consume_ends_the_call_and_leaves_no_task(make_processor) -> None:
    p = make_processor(2, execution="pool")
    old = p.worker_pids()

    def consume(value: float) -> None:
        raise ValueError(f"refused {value}")

    with pytest.raises(ValueError, match="refused 0.05"):
        _ordered_call(p).run_ordered(kernels.sleep_then_return, [(0.05,)] + [(5.0,)] * 3,
                                     consume, window=4)
    assert _gone(old)  # the tasks still running were killed with their workers
    t0 = time.perf_counter()
    with pytest.raises(ProcessorTimeoutError):
        _ordered_call(p, timeout=0.3).run_ordered(
            kernels.sleep_then_return, [(0.01,)] * 4, lambda v: time.sleep(0.2), window=2)
    assert time.perf_counter() - t0 < 2
    assert p.map(kernels.square, [1, 2, 3], cost_per_item_s=1.0) == [1, 4, 9]


@pytest.mark.parametrize("failure", ["exception", "sigkill"])
def test_shared_memory_path_failure_unlinks_segments_and_next_call_works(
        make_processor, monkeypatch, failure) -> None:
    """D11 on the path that owns segments: the input copy and the output array are unlinked."""
    kernel, exc, match = {
        "exception": (_vector_refusing_3, ValueError, "refused item 3"),
        "sigkill": (_vector_dying_on_5, WorkerCrashedError, r"was killed by SIGKILL \(-9\)"),
    }[failure]
    monkeypatch.setattr(mapping, "single_item_vector", kernel)  # inherited by the forked workers
    made = record_segments(monkeypatch)
    before = our_segments()
    p = make_processor(2, execution="pool", start_method="fork")
    old = p.worker_pids()
    t0 = time.perf_counter()
    with pytest.raises(exc, match=match):
        p.process_data_spawn_per_item(np.arange(-50.0, 350.0))
    assert time.perf_counter() - t0 < 10
    assert len(made) == 2, f"the call did not take the shared-memory path (segments: {made})"
    assert _in_shm(made) == [] and our_segments() - before == set() and not live_segments()
    data = np.arange(6.0, 406.0)  # neither 3 nor 5: the replaced kernel lets it through
    got = p.process_data_spawn_per_item(data)
    assert isinstance(got, np.ndarray) and got.tolist() == pytest.approx(_expected_kernel(data.tolist()),
                                                                         rel=1e-12)
    assert len(made) == 4 and _in_shm(made) == [] and not live_segments()
    if failure == "sigkill":
        assert set(p.worker_pids()).isdisjoint(old) and _gone(old)


@pytest.mark.parametrize("op", ["map", "process_data_spawn_per_item"])
def test_timeout_raises_kills_busy_workers_and_frees_memory(make_processor, monkeypatch, op) -> None:
    made = record_segments(monkeypatch)
    before = our_segments()
    p = make_processor(2, item_latency_s=0.05, execution="pool")
    old = p.worker_pids()
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError) as info:
        if op == "map":
            p.map(kernels.sleep_then_return, [5.0] * 4, chunksize=1, timeout=0.5)
        else:
            p.process_data_spawn_per_item(list(range(400)), timeout=0.5)
    assert isinstance(info.value, ProcessorTimeoutError) and "timeout=0.5" in str(info.value)
    assert time.perf_counter() - t0 < 5
    if op == "process_data_spawn_per_item":  # numeric input: the shared-memory path
        assert len(made) == 2, f"the call did not take the shared-memory path (segments: {made})"
    assert _gone(old) and not live_segments()
    assert _in_shm(made) == [] and our_segments() - before == set()
    assert p.process_data_spawn_per_item([1.0, 2.0], timeout=30) == pytest.approx(
        [1 + 0.4546487134128409, 4 - 0.37840124765396416])


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-1, ValueError), (math.inf, ValueError),
                                      (math.nan, ValueError), ("5", TypeError),
                                      (True, TypeError), ([1], TypeError)])
def test_bad_timeout_is_rejected(optimized_only, processor, bad, exc) -> None:
    with pytest.raises(exc, match="timeout"):
        processor.process_data_spawn_per_item([1], timeout=bad)


def _wait_for_segments(pid: int, timeout: float = 20.0) -> list[str]:
    """Segments process ``pid`` owns in /dev/shm, once there are any (or [] at the timeout)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = sorted(p.name for p in Path("/dev/shm").glob(f"ppd_{pid}_*"))
        if found:
            return found
        time.sleep(0.05)
    return []


def test_ctrl_c_in_a_long_call_terminates_workers_and_leaves_no_orphans(tmp_path) -> None:
    """Ctrl-C during a shared-memory call: workers gone, segments unlinked, next call works.

    The child reports, after the interrupt, its own ``ppd_<pid>_*`` segments still in
    /dev/shm (must be none) and the result of a second call (must be right).
    """
    script = textwrap.dedent("""
        import json, math, sys
        from pathlib import Path
        from optimized import OptimizedParallelProcessor
        from optimized.shm import segment_prefix
        # 2,000 items x 50 ms over 2 workers: ~50 s, far longer than the test waits
        p = OptimizedParallelProcessor(2, item_latency_s=0.05, execution="pool")
        print(*p.worker_pids(), flush=True)
        try:
            p.process_data_spawn_per_item(list(range(2000)))
        except KeyboardInterrupt:
            left = sorted(x.name for x in Path("/dev/shm").glob(segment_prefix() + "*"))
            data = [1.0, 2.0, 3.0, 4.0]
            got = p.process_data_spawn_per_item(data)
            ok = got == [x * x + math.sin(x) * math.cos(x) for x in data]
            report = {"left": left, "second_call_ok": ok, "second_pids": p.worker_pids()}
            p.close()
            print("interrupted", json.dumps(report), flush=True)
            sys.exit(130)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True)
    try:
        pids = [int(x) for x in proc.stdout.readline().split()]
        assert len(pids) == 2
        during = _wait_for_segments(proc.pid)  # the call is under way, on the shm path
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        leaked = sorted(p.name for p in Path("/dev/shm").glob(f"ppd_{proc.pid}_*"))
        for name in leaked:  # never leave a dead child's segments on the machine
            Path("/dev/shm", name).unlink(missing_ok=True)
    assert during, "the interrupted call never created its shared-memory segments"
    assert proc.returncode == 130 and "interrupted" in out, (out, err)
    report = json.loads(out.split("interrupted", 1)[1])
    assert report["left"] == [], f"segments left in /dev/shm after Ctrl-C: {report['left']}"
    assert report["second_call_ok"], "the call after Ctrl-C returned a wrong result"
    assert leaked == [], f"the child's segments outlived it: {leaked}"
    assert _gone(pids, 5.0) and _gone(report["second_pids"], 5.0)


# -- metrics (R8) ---------------------------------------------------------------------------
def test_metrics_describe_the_last_call(make_processor, caplog) -> None:
    p = make_processor(2, item_latency_s=0.001, execution="pool", verbose=True)
    with caplog.at_level("INFO", logger="optimized"):
        p.process_data_spawn_per_item(list(range(400)))
    m = p.last_metrics
    assert m.operation == "process_data_spawn_per_item" and m.items == 400 and m.path == "pool"
    threads = m.extra["threads_per_worker"]  # 1 ms sleeps: overlapped by threads (D13)
    assert m.wall_s > 0.4 * 400 * 0.001 / (2 * threads)
    assert m.items_per_s == pytest.approx(400 / m.wall_s)
    assert m.tasks >= 2 and m.work_s >= 400 * 0.001 / threads
    # 1 ms sleeps keep both sides honest: the work is mostly waiting, the IPC small
    assert m.overhead_share < 0.5, m
    assert 0 < m.worker_cpu_s < 400 * 0.001, m  # sleeping is not CPU (400 x 1 ms of sleep)
    assert m.cpu_utilisation < 1.0, m
    assert any("process_data_spawn_per_item: 400 items, pool" in r.message for r in caplog.records)
    assert p.metrics_history[-1] is m


def test_progress_bar_does_not_change_results(make_processor, capsys) -> None:
    p = make_processor(2, execution="pool", progress=True)
    assert p.map(kernels.square, list(range(1000)), chunksize=50, cost_per_item_s=1e-3) == \
        [x * x for x in range(1000)]
    assert "map" in capsys.readouterr().err  # tqdm writes to stderr


@pytest.mark.parametrize("start_method", START_METHODS)
def test_every_operation_family_runs_pooled_under_each_start_method(make_processor, workloads,
                                                                     start_method) -> None:
    """D10: shared memory, the sieve, the matrix blocks and word ranges under every method."""
    import optimized
    p = make_processor(2, execution="pool", start_method=start_method)
    assert len(p.parallel_find_primes(100_000)) == workloads.prime_count(100_000)
    m = optimized.generate_test_matrix(30, 30)
    assert p.parallel_matrix_multiply(m, m)[29][29] == 30 * 30 * sum(k * k for k in range(1, 31))
    counts = p.map_reduce_word_count(optimized.generate_test_text(14_000))
    assert counts == {w: 1000 for w in optimized.data.WORD_CYCLE}
    assert p.run_pipeline(list(range(1000))) == [(2 * x + 10) ** 2 for x in range(1000)]
    assert p.compute_statistics_sequential([1, 2, 3, 4])["median"] == 2.5


@pytest.mark.timeout(120)
def test_ctrl_c_works_even_when_the_suite_was_started_with_sigint_ignored() -> None:
    """``make test &`` in a script starts everything with SIGINT ignored (and a supervisor
    may block signals): the suite restores them (conftest), so its Ctrl-C test still sees
    a Ctrl-C instead of a call that runs to its end."""
    launcher = textwrap.dedent("""
        import signal, subprocess, sys
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        sys.exit(subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 "tests/test_engine.py::test_ctrl_c_in_a_long_call_terminates_"
                                 "workers_and_leaves_no_orphans"]).returncode)
    """)
    proc = subprocess.run([sys.executable, "-c", launcher], cwd=ROOT, capture_output=True,
                          text=True, timeout=110)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
