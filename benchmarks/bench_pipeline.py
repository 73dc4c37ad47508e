"""Three-stage pipeline: batched, bounded queues vs per-item queues and a Manager list."""
from __future__ import annotations

from .common import (IMPLS, WORKLOADS, OperationBenchmark, close_processor, gate_size,
                     make_processor, operation_args, pipeline_stages, sizes, throughput_ratio)


class RunPipeline(OperationBenchmark):
    # size = number of items through the default stages (x*2, x+10, x*x)
    operation = "run_pipeline"
    params = [list(IMPLS), sizes(operation)]
    param_names = ["impl", "size"]

    def time_run_pipeline(self, impl: str, size: int) -> None:
        self.fn(*self.args)


class PipelineThroughput:
    """R6: pipeline throughput / throughput of its slowest stage alone (1 = no loss).

    The R6 gate's setting (100,000 items, 4 workers, default stages), measured as the
    gate does (:func:`~benchmarks.common.throughput_ratio`). The processor is forced
    onto its pool: with ``execution="auto"`` these arithmetic stages run in-process,
    where there is no multi-process pipeline to measure.
    """

    unit = "ratio to slowest stage"
    timeout = 300.0

    def setup(self) -> None:
        gate = WORKLOADS.gate("R6")
        self.data = operation_args(gate.operation, gate_size("R6"))[0]
        self.stages = pipeline_stages()
        self.processor = make_processor("pool", gate.workers)

    def teardown(self) -> None:
        close_processor(getattr(self, "processor", None))

    def track_throughput_ratio(self) -> float:
        return throughput_ratio(self.processor, self.data, self.stages)
