"""Three-stage pipeline: batched, bounded queues vs per-item queues and a Manager list."""
from __future__ import annotations

from .common import (
    IMPLS,
    PER_ITEM_STAGES,
    SLOW_STAGE_ITEMS,
    WORKLOADS,
    OperationBenchmark,
    close_processor,
    gate_size,
    local_kernel_start_method,
    make_processor,
    operation_args,
    pipeline_stages,
    sizes,
    slow_stage,
    throughput_ratio,
)


class RunPipeline(OperationBenchmark):
    """``run_pipeline(data)``; size = items through the default stages (x*2, x+10, x*x)."""

    operation = "run_pipeline"
    params = [list(IMPLS), sizes(operation)]
    param_names = ["impl", "size"]

    def time_run_pipeline(self, impl: str, size: int) -> None:
        self.fn(*self.args)


class PipelineThroughput:
    """R6: pipeline throughput / throughput of its slowest stage alone (1 = no loss).

    The R6 gate's setting (100,000 items, 4 workers), measured as the gate does
    (:func:`~benchmarks.common.throughput_ratio`), for the default stages (batch
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
        self.processor = make_processor("pool", 4, start_method=local_kernel_start_method())
        self.replicas = self._REPLICAS[layout]
        self.processor.run_pipeline(self.data[:200], self.stages, replicas=self.replicas)

    def teardown(self, layout: str) -> None:
        close_processor(getattr(self, "processor", None))

    def time_slow_stage_pipeline(self, layout: str) -> None:
        self.processor.run_pipeline(self.data, self.stages, replicas=self.replicas)
