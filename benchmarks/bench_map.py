"""Map family: per-item kernel, file/queue IPC variants, statistics, sum, batches, user map.

Compute workload (``item_latency_s = 0``, D1) for both implementations at every size;
the latency workload (the original's 1 ms items) for the operations with a gate on it
(``*Latency`` suites: R2-latency, R3; the evaluation takes a gate's reference figure
from the benchmark of the gate's workload) up to the gate's size, and its IPC share
(:class:`IpcShare`, R3).
"""
from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from .common import (
    GATE_WORKERS,
    IMPLS,
    QUICK,
    WORKLOADS,
    OperationBenchmark,
    at_scale,
    close_processor,
    gate_size,
    kept_processor,
    local_kernel_start_method,
    make_processor,
    operation_args,
    sizes,
    workload_sizes,
)

# -- user map and the parallel-efficiency figure ------------------------------------------
# -- user map and the parallel-efficiency figure ---------------------------------------------
#: Iterations of :func:`spin`: about 200 us of CPU per item on the reference machine.
SPIN_ITERATIONS = 2400


#: Items of the parallel-efficiency workload (2,000 x ~200 us).
EFFICIENCY_ITEMS = 200 if QUICK else 2000


def spin(x: int) -> int:
    """A CPU-bound item: a fixed integer loop of about 200 us (no sleeping, no I/O)."""
    acc = x
    for i in range(SPIN_ITERATIONS):
        acc = (acc + i * i) % 1_000_003
    return acc


#: Items that mostly wait, through one call (2,000 x 1 ms on 4 workers).
WAITING_ITEMS = 2000


def wait_1ms(x: Any) -> Any:
    """An item that mostly waits: a 1 ms sleep (a stand-in for I/O), then ``x``."""
    time.sleep(0.001)
    return x


def sequential_map(func: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """``[func(x) for x in items]``: the single-process reference of ``map``."""
    return [func(x) for x in items]


def map_sizes() -> list[int]:
    """Item counts for ``time_map`` (``map`` has no instance entry of its own)."""
    return [100] if QUICK else [100, EFFICIENCY_ITEMS]


def _median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def parallel_efficiency(processor: Any, func: Callable[[Any], Any], items: Sequence[Any],
                        repeats: int = 5) -> float:
    """``sequential time / (workers x wall time of processor.map)``, medians of ``repeats``.

    1.0 means every worker was busy with useful work the whole time.
    """
    expected = [func(x) for x in items]
    if processor.map(func, items) != expected:
        raise AssertionError("processor.map returned a wrong result")
    sequential = _median_seconds(lambda: [func(x) for x in items], repeats)
    wall = _median_seconds(lambda: processor.map(func, items), repeats)
    return sequential / (processor.num_workers * wall)


def median_overhead_share(call: Callable[[], Any], processor: Any, repeats: int = 3) -> float:
    """Median of ``processor.last_metrics.overhead_share`` over ``repeats`` calls."""
    shares = []
    for _ in range(repeats):
        call()
        shares.append(processor.last_metrics.overhead_share)
    return statistics.median(shares)

#: The implementations timed on the latency workload: ``inline`` is the sequential
#: in-process run (it sleeps 1 ms per item too); the NumPy ``single`` reference does
#: not sleep, so it has no latency figure.
LATENCY_IMPLS = [i for i in ("baseline", "optimized", "inline", "pool") if i in IMPLS]


class ProcessDataSpawnPerItem(OperationBenchmark):
    """``process_data_spawn_per_item(data)``: the per-item kernel over ``size`` floats."""

    operation = "process_data_spawn_per_item"
    params = [list(IMPLS), sizes(operation)]
    param_names = ["impl", "size"]

    def time_process_data_spawn_per_item(self, impl: str, size: int) -> None:
        self.fn(*self.args)


globals().update(at_scale(ProcessDataSpawnPerItem))  # ProcessDataSpawnPerItemAtScale


class ProcessDataSpawnPerItemLatency(OperationBenchmark):
    """The same on the latency workload (1 ms per item), up to the R2-latency gate's size."""

    operation = "process_data_spawn_per_item"
    workload = "latency"
    params = [LATENCY_IMPLS, workload_sizes(operation, workload)]
    param_names = ["impl", "size"]

    def time_process_data_spawn_per_item(self, impl: str, size: int) -> None:
        self.fn(*self.args)


class ProcessWithFileBasedIpc(OperationBenchmark):
    """``process_with_file_based_ipc(data, chunk_size=10)`` (no files in the optimized one)."""

    operation = "process_with_file_based_ipc"
    params = [list(IMPLS), sizes(operation)]
    param_names = ["impl", "size"]

    def time_process_with_file_based_ipc(self, impl: str, size: int) -> None:
        self.fn(*self.args)


globals().update(at_scale(ProcessWithFileBasedIpc))  # ProcessWithFileBasedIpcAtScale


class ProcessWithFileBasedIpcLatency(OperationBenchmark):
    """The same on the latency workload (1 ms per item), up to the R3 gate's size.

    R3's setting (2,000 items of the original's 1 ms): the evaluation's reference
    figure for this operation.
    """

    operation = "process_with_file_based_ipc"
    workload = "latency"
    params = [LATENCY_IMPLS, workload_sizes(operation, workload)]
    param_names = ["impl", "size"]

    def time_process_with_file_based_ipc(self, impl: str, size: int) -> None:
        self.fn(*self.args)


class ProcessWithExcessiveQueueOps(OperationBenchmark):
    """``process_with_excessive_queue_ops(data)``: every result, in order, none lost."""

    operation = "process_with_excessive_queue_ops"
    params = [list(IMPLS), sizes(operation)]
    param_names = ["impl", "size"]

    def time_process_with_excessive_queue_ops(self, impl: str, size: int) -> None:
        self.fn(*self.args)


globals().update(at_scale(ProcessWithExcessiveQueueOps))  # ProcessWithExcessiveQueueOpsAtScale


class ComputeStatisticsSequential(OperationBenchmark):
    """``compute_statistics_sequential(data)``: mean, variance, median of ``size`` floats."""

    # Always in-process in the optimized processor (exact left-to-right sums): forcing
    # inline or pool would time the same code twice more.
    operation = "compute_statistics_sequential"
    params = [["baseline", "optimized", "single"], sizes(operation)]
    param_names = ["impl", "size"]

    def time_compute_statistics_sequential(self, impl: str, size: int) -> None:
        self.fn(*self.args)


globals().update(at_scale(ComputeStatisticsSequential))  # ComputeStatisticsSequentialAtScale


class ParallelSumSpawnMany(OperationBenchmark):
    """``parallel_sum_spawn_many(data, chunk_size=5)``: the sum of ``size`` floats."""

    operation = "parallel_sum_spawn_many"
    params = [list(IMPLS), sizes(operation)]
    param_names = ["impl", "size"]

    def time_parallel_sum_spawn_many(self, impl: str, size: int) -> None:
        self.fn(*self.args)


globals().update(at_scale(ParallelSumSpawnMany))  # ParallelSumSpawnManyAtScale


class BatchProcessWithManager(OperationBenchmark):
    """``batch_process_with_manager(batches)``; size = batches of the instance's batch_len items."""

    operation = "batch_process_with_manager"
    params = [list(IMPLS), sizes(operation)]
    param_names = ["impl", "size"]

    def time_batch_process_with_manager(self, impl: str, size: int) -> None:
        self.fn(*self.args)


globals().update(at_scale(BatchProcessWithManager))  # BatchProcessWithManagerAtScale


class ProcessSingleItem:
    """One call of the scalar per-item kernel (no parallelism; size is 1 item)."""

    params = [["baseline", "optimized"], [1]]
    param_names = ["impl", "size"]
    timeout = 60.0

    def setup(self, impl: str, size: int) -> None:
        self.processor, new = kept_processor(impl, GATE_WORKERS, 0.0)
        self.item = 12345
        if new:
            self.processor.process_single_item(self.item)  # first-call costs out of the timing

    def time_process_single_item(self, impl: str, size: int) -> None:
        self.processor.process_single_item(self.item)


class Map:
    """The general entry point ``map(func, items)`` with a ~200 us CPU-bound kernel.

    ``map`` has no instance entry: sizes are the parallel-efficiency workload's item
    count and a small one. The baseline has no ``map``.
    """

    params = [["optimized", "inline", "pool", "single"], map_sizes()]
    param_names = ["impl", "size"]
    timeout = 120.0
    repeat = (2, 5, 3.0)

    def setup(self, impl: str, size: int) -> None:
        self.processor: Any = None
        self.items = list(range(size))
        if impl == "single":
            self.run = functools.partial(sequential_map, spin, self.items)
            return
        self.processor, new = kept_processor(impl, GATE_WORKERS,
                                             start_method=local_kernel_start_method())
        self.run = functools.partial(self.processor.map, spin, self.items)
        if new:
            self.processor.map(spin, self.items[:10])  # warm pool: first-call costs untimed

    def time_map(self, impl: str, size: int) -> None:
        self.run()


#: The callables of :class:`MapCallables`, one per kind in a benchmark process.
_CALLABLES: dict[str, Callable[[Any], Any]] = {}


def _callable(kind: str) -> Callable[[Any], Any]:
    offset = 0
    return {"module_function": spin, "lambda": lambda x: spin(x),
            "closure": lambda x: spin(x + offset)}[kind]


class MapCallables:
    """``map`` with the same ~200 us kernel sent three ways (D15).

    ``module_function``: by reference (pickle); ``lambda`` and ``closure``: by value
    (cloudpickle, loaded once per worker). The by-reference path must not get slower
    for the by-value one to exist; the two by-value ones show what shipping costs.
    """

    params = [["module_function", "lambda", "closure"]]
    param_names = ["callable"]
    timeout = 120.0
    repeat = (2, 5, 3.0)

    def setup(self, kind: str) -> None:
        self.items = list(range(EFFICIENCY_ITEMS))
        # One callable per kind and process: shipped once per worker, as a user's is.
        self.func = _CALLABLES.setdefault(kind, _callable(kind))
        self.processor, new = kept_processor("optimized", GATE_WORKERS,
                                             start_method=local_kernel_start_method())
        if new:
            self.processor.map(self.func, self.items[:10])  # warm: first-call costs untimed

    def time_map_callable(self, kind: str) -> None:
        self.processor.map(self.func, self.items)


class ParallelEfficiency:
    """CPU-bound items (2,000 x ~200 us) through ``map`` on 2 workers.

    sequential time / (2 x wall time): 1.0 = both workers busy with useful work
    throughout; what is missing is dispatch, pickling and idle time.
    """

    unit = "efficiency (1 = perfect)"
    timeout = 180.0
    workers = 2

    def setup(self) -> None:
        self.items = list(range(EFFICIENCY_ITEMS))
        self.processor = make_processor("optimized", self.workers,
                                        start_method=local_kernel_start_method())

    def teardown(self) -> None:
        close_processor(getattr(self, "processor", None))

    def track_parallel_efficiency(self) -> float:
        return parallel_efficiency(self.processor, spin, self.items)


class WaitingItems:
    """Items that mostly wait (D13): 2,000 items of 1 ms on 4 workers.

    ``process_data_spawn_per_item`` on the latency workload (the original's 1 ms sleep)
    and ``map`` of a 1 ms-sleeping function (its wait share measured on the first
    item): each worker overlaps the waits with threads. Median of 5 calls, in ms.
    """

    unit = "milliseconds"
    timeout = 120.0

    def setup(self) -> None:
        self.items = list(range(WAITING_ITEMS))
        self.processor = make_processor("optimized", GATE_WORKERS, 0.001,
                                        start_method=local_kernel_start_method())
        self.processor.process_data_spawn_per_item(self.items)  # warm: one-time costs
        self.processor.map(wait_1ms, self.items[:50])

    def teardown(self) -> None:
        close_processor(getattr(self, "processor", None))

    def _median_ms(self, call: Any) -> float:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
        return 1e3 * statistics.median(times)

    def track_latency_items_ms(self) -> float:
        return self._median_ms(lambda: self.processor.process_data_spawn_per_item(self.items))

    def track_waiting_user_map_ms(self) -> float:
        return self._median_ms(lambda: self.processor.map(wait_1ms, self.items))


class IpcShare:
    """R3: share of wall time not spent in the kernels (IPC, pickling, idle workers).

    ``last_metrics.overhead_share`` of ``process_with_file_based_ipc`` on the latency
    workload (the original's 1 ms items), 2,000 items, 4 workers - the R3 gate's setting
    (median of 3 calls).
    """

    unit = "share of wall time"
    timeout = 180.0

    def setup(self) -> None:
        gate = WORKLOADS.gate("R3")
        self.args = operation_args(gate.operation, gate_size("R3"))
        self.processor = make_processor("optimized", gate.workers,
                                        WORKLOADS.workloads[gate.workload])
        self.call = functools.partial(getattr(self.processor, gate.operation), *self.args)
        self.call()  # warm-up: the first call's one-time costs are not IPC

    def teardown(self) -> None:
        close_processor(getattr(self, "processor", None))

    def track_ipc_share(self) -> float:
        return median_overhead_share(self.call, self.processor)
