"""Three-stage pipeline: batched, bounded queues vs per-item queues and a Manager list."""
from __future__ import annotations

import functools
import importlib
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .common import (
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
)

# -- stages and the throughput figure ------------------------------------------------------
#: Iterations of :func:`slow_stage`: about 50 us of CPU per item on the reference machine.
_SLOW_STAGE_ITERATIONS = 600


#: Items through the pipeline with one slow stage (the replication benchmark).
SLOW_STAGE_ITEMS = 2000 if QUICK else 10_000


def slow_stage(x: Any) -> Any:
    """A pipeline stage of about 50 us of CPU per item (a fixed integer loop); returns ``x``."""
    acc = 0
    for i in range(_SLOW_STAGE_ITERATIONS):
        acc = (acc + i * i) % 1_000_003
    return x if acc >= 0 else None


def item_double(x: Any) -> Any:
    """The original's stage 1 as a plain per-item function (one Python call per item)."""
    return x * 2


def item_add_ten(x: Any) -> Any:
    """The original's stage 2, per item."""
    return x + 10


def item_square(x: Any) -> Any:
    """The original's stage 3, per item."""
    return x * x


#: The original's stages as per-item functions, for comparison with the batch stages.
PER_ITEM_STAGES = (item_double, item_add_ten, item_square)


def _stages_module() -> Any:
    """Where the processor keeps its default stages (asv also runs older commits)."""
    try:
        return importlib.import_module("optimized.ops.stages")
    except ImportError:  # commits before the stages module kept them in the pipeline module
        return importlib.import_module("optimized.ops.pipeline")


def _apply_stages() -> Callable[..., Any]:
    """The processor's ``apply_stages`` (in ``optimized.batches`` since the backends seam)."""
    try:
        return importlib.import_module("optimized.batches").apply_stages
    except ImportError:
        return _stages_module().apply_stages


def pipeline_stages() -> tuple[Callable[[Any], Any], ...]:
    """The processor's default stages (installed, picklable under any start method)."""
    return tuple(_stages_module().DEFAULT_STAGES)


def stage_inputs(stage: Callable[[Any], Any], inputs: list[Any]) -> list[Any]:
    """What ``stage`` alone makes of ``inputs``, as a list (per-item or batch stage alike)."""
    out = _apply_stages()([stage], inputs)
    return out.tolist() if isinstance(out, np.ndarray) else list(out)


def throughput_ratio(processor: Any, data: Sequence[Any],
                     stages: Sequence[Callable[[Any], Any]], repeats: int = 3,
                     replicas: Sequence[int] | None = None) -> float:
    """R6: pipeline throughput over the throughput of its slowest stage run alone.

    As the R6 gate measures it: the pipeline ``run_pipeline(data, stages)`` against
    each of its stages alone - a one-stage ``run_pipeline`` on the same processor, fed
    the input that stage sees inside the pipeline; all timed interleaved (one untimed
    warm-up round), medians of ``repeats``. Throughput = items / wall time.

    ``replicas`` (``run_pipeline``'s layout, one count per stage; default: the
    processor's own layout) applies to both sides: stage ``i`` alone runs with
    ``replicas=[replicas[i]]``, so it has the processes it has inside the pipeline.
    """
    n = len(data)
    if replicas is not None and len(replicas) != len(stages):
        raise ValueError(f"replicas needs one count per stage ({len(stages)}), "
                         f"got {list(replicas)!r}")
    layout = {} if replicas is None else {"replicas": list(replicas)}
    if len(processor.run_pipeline(data, list(stages), **layout)) != n:
        raise AssertionError("run_pipeline lost or duplicated items")
    cases: dict[str, Callable[[], Any]] = {
        "pipeline": functools.partial(processor.run_pipeline, data, list(stages), **layout)}
    inputs = list(data)
    for i, stage in enumerate(stages):
        alone = {} if replicas is None else {"replicas": [replicas[i]]}
        cases[f"stage{i}"] = functools.partial(processor.run_pipeline, inputs, [stage], **alone)
        inputs = stage_inputs(stage, inputs)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for rnd in range(repeats + 1):
        for name, run in cases.items():
            t0 = time.perf_counter()
            run()
            if rnd:  # round 0 warms every configuration up
                times[name].append(time.perf_counter() - t0)
    pipeline_s = statistics.median(times.pop("pipeline"))
    slowest_s = max(statistics.median(t) for t in times.values())
    return (n / pipeline_s) / (n / slowest_s)


class RunPipeline(OperationBenchmark):
    """``run_pipeline(data)``; size = items through the default stages (x*2, x+10, x*x)."""

    operation = "run_pipeline"
    params = [list(IMPLS), sizes(operation)]
    param_names = ["impl", "size"]

    def time_run_pipeline(self, impl: str, size: int) -> None:
        self.fn(*self.args)


globals().update(at_scale(RunPipeline))  # RunPipelineAtScale


class PipelineThroughput:
    """R6: pipeline throughput / throughput of its slowest stage alone (1 = no loss).

    The R6 gate's setting (100,000 items, 4 workers), measured as the gate does
    (:func:`throughput_ratio`), for the default stages (batch
    stages, what ``run_pipeline(data)`` runs) in the default layout and in the
    stage-per-process layout (``replicas=[1, 1, 1]``: each stage one process, each
    stage alone on one process too), and for the same arithmetic written as plain
    per-item functions (one Python call per item and stage). The processor is
    forced onto its pool: with ``execution="auto"`` these arithmetic stages run
    in-process, where there is no multi-process pipeline to measure.
    """

    unit = "ratio to slowest stage"
    timeout = 300.0

    def setup(self) -> None:
        gate = WORKLOADS.gate("R6")
        self.data = operation_args(gate.operation, gate_size("R6"))[0]
        self.processor = make_processor("pool", gate.workers,
                                        start_method=local_kernel_start_method())

    def teardown(self) -> None:
        close_processor(getattr(self, "processor", None))

    def track_throughput_ratio(self) -> float:
        return throughput_ratio(self.processor, self.data, pipeline_stages())

    def track_throughput_ratio_stage_per_process(self) -> float:
        return throughput_ratio(self.processor, self.data, pipeline_stages(), replicas=[1, 1, 1])

    def track_throughput_ratio_per_item_stages(self) -> float:
        return throughput_ratio(self.processor, self.data, PER_ITEM_STAGES)


class SlowStageReplication:
    """One slow stage (~50 us of CPU per item) between two cheap ones, 4 workers, 2 cores.

    ``one each``: every stage its own task on one worker (``replicas=[1, 1, 1]``), so
    the slow stage is the bottleneck; ``slow x2``: the slow stage on two workers
    reading one queue (``[1, 2, 1]``); ``fused``: the default layout (the stages
    chained in one task, replicated on every worker). On 2 cores replication can at
    best double the slow stage's throughput.
    """

    params = [["one each", "slow x2", "fused"]]
    param_names = ["layout"]
    timeout = 300.0
    _REPLICAS = {"one each": [1, 1, 1], "slow x2": [1, 2, 1], "fused": None}

    def setup(self, layout: str) -> None:
        self.data = list(range(SLOW_STAGE_ITEMS))
        self.stages = [pipeline_stages()[0], slow_stage, pipeline_stages()[2]]
        self.processor, new = kept_processor("pool", 4, start_method=local_kernel_start_method())
        self.replicas = self._REPLICAS[layout]
        if new:
            self.processor.run_pipeline(self.data[:200], self.stages, replicas=self.replicas)

    def time_slow_stage_pipeline(self, layout: str) -> None:
        self.processor.run_pipeline(self.data, self.stages, replicas=self.replicas)
