"""Map-reduce word count: index-partitioned counting vs one process per 100 words."""
from __future__ import annotations

from .common import (
    IMPLS,
    TWO_CORES,
    OperationBenchmark,
    at_scale,
    gate_size,
    largest_size,
    memory_sizes,
    sizes,
)
from .memory import PeakRssBenchmark


class MapReduceWordCount(OperationBenchmark):
    """``map_reduce_word_count(text)``; size = words of ``generate_test_text(size)``."""

    operation = "map_reduce_word_count"
    params = [list(IMPLS), sizes(operation)]
    param_names = ["impl", "size"]

    def time_map_reduce_word_count(self, impl: str, size: int) -> None:
        self.fn(*self.args)


globals().update(at_scale(MapReduceWordCount))  # MapReduceWordCountAtScale


class MapReduceWordCountWorkers(OperationBenchmark):
    """Scaling with the worker count on the pool path, at the R7 gate's size."""

    operation = "map_reduce_word_count"
    params = [["pool"], [gate_size("R7")], [1, 2, 4]]
    param_names = ["impl", "size", "workers"]

    def time_map_reduce_word_count(self, impl: str, size: int, workers: int) -> None:
        self.fn(*self.args)


class MapReduceWordCountTwoCores(OperationBenchmark):
    """The largest text (10**7 words) on 2 workers vs the single-process count.

    Target: 10**7 words faster than ``Counter(text.split())`` + fold on 2 workers
    (2-core machine). ``optimized`` is what a caller gets (``auto`` pools this size);
    the single-process reference runs no workers: its figure is MapReduceWordCount's
    ``single`` point at this size, in the same run.
    """

    operation = "map_reduce_word_count"
    params = [["optimized"], [largest_size(operation)], [TWO_CORES]]
    param_names = ["impl", "size", "workers"]

    def time_map_reduce_word_count(self, impl: str, size: int, workers: int) -> None:
        self.fn(*self.args)


class MapReduceWordCountTwoCoresPeakRss(PeakRssBenchmark):
    """Peak RSS (MiB) during one 10**7-word count on 2 workers: parent and largest worker.

    Target: the text is not copied once per worker. The workers are forked before
    the text exists; a worker maps only its own byte range of the shared segment, so
    its peak should stay well under the text's size (about 64 MB of str here),
    while the parent holds the text and its one shared UTF-8 copy.
    """

    operation = "map_reduce_word_count"
    size = largest_size(operation)
    workers = TWO_CORES

    def track_parent_peak_rss(self) -> float:
        return self.peaks().parent_mib

    def track_worker_peak_rss(self) -> float:
        return self.peaks().largest_worker_mib


class MapReduceWordCountMemory(OperationBenchmark):
    """Peak memory of the calling process; the smallest text is the trivial-case floor."""

    operation = "map_reduce_word_count"
    params = [list(IMPLS), memory_sizes(operation)]
    param_names = ["impl", "size"]

    def peakmem_map_reduce_word_count(self, impl: str, size: int) -> None:
        self.fn(*self.args)
