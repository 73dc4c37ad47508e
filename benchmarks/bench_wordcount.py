"""Map-reduce word count: index-partitioned counting vs one process per 100 words."""
from __future__ import annotations

from .common import IMPLS, OperationBenchmark, gate_size, memory_sizes, sizes


class MapReduceWordCount(OperationBenchmark):
    # size = number of words of generate_test_text(size)
    operation = "map_reduce_word_count"
    params = [list(IMPLS), sizes(operation)]
    param_names = ["impl", "size"]

    def time_map_reduce_word_count(self, impl: str, size: int) -> None:
        self.fn(*self.args)


class MapReduceWordCountWorkers(OperationBenchmark):
    """Scaling with the worker count on the pool path, at the R7 gate's size."""

    operation = "map_reduce_word_count"
    params = [["pool"], [gate_size("R7")], [1, 2, 4]]
    param_names = ["impl", "size", "workers"]

    def time_map_reduce_word_count(self, impl: str, size: int, workers: int) -> None:
        self.fn(*self.args)


class MapReduceWordCountMemory(OperationBenchmark):
    """Peak memory of the calling process; the smallest text is the trivial-case floor."""

    operation = "map_reduce_word_count"
    params = [list(IMPLS), memory_sizes(operation)]
    param_names = ["impl", "size"]

    def peakmem_map_reduce_word_count(self, impl: str, size: int) -> None:
        self.fn(*self.args)
