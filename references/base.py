"""What both peers share: the original's in-process helpers, written once.

A subclass supplies the parallel part - :meth:`OriginalAPI._run` (``fn(*args)`` for
each argument tuple, results in order) - and everything else follows: the map family
over a few chunks per worker, sums, words, primes and the pipeline.
"""
from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from . import kernels

#: Chunks per worker: enough to balance uneven chunks, few enough to amortise pickling.
CHUNKS_PER_WORKER = 4


class OriginalAPI:
    """The original's methods over :meth:`_run`; results in input order."""

    def __init__(self, num_workers: int = 4, item_latency_s: float = 0.001) -> None:
        self.num_workers = num_workers
        self.item_latency_s = item_latency_s
        self.results: list[Any] = []
        self.temp_files: list[str] = []
        self.lock = mp.Lock()

    def _run(self, fn: Callable[..., Any], calls: Iterable[tuple[Any, ...]]) -> list[Any]:
        raise NotImplementedError

    def _parts(self, seq: Any) -> list[Any]:
        return kernels.chunks(seq, self.num_workers * CHUNKS_PER_WORKER)

    def _map_items(self, data: Any) -> list[float]:
        parts = self._run(kernels.items, ((p, self.item_latency_s)
                                          for p in self._parts(list(data))))
        return [y for part in parts for y in part]

    def process_single_item(self, item: Any) -> float:
        return kernels.item(item, self.item_latency_s)

    def process_data_spawn_per_item(self, data: Any) -> list[float]:
        return self._map_items(data)

    def serialize_to_file(self, data: Any, filename: str) -> None:
        with open(filename, "w") as f:
            json.dump(data, f)
        self.temp_files.append(filename)

    def deserialize_from_file(self, filename: str) -> Any:
        with open(filename) as f:
            return json.load(f)

    def process_with_file_based_ipc(self, data: Any, chunk_size: int = 10) -> list[float]:
        return self._map_items(data)  # the workers' pipes, not files

    def process_with_excessive_queue_ops(self, data: Any) -> list[float]:
        return self._map_items(data)

    def compute_statistics_sequential(self, data: Any) -> dict[str, float]:
        values = list(data)
        return {"mean": statistics.fmean(values), "variance": statistics.pvariance(values),
                "median": statistics.median(values)}

    def parallel_sum_spawn_many(self, data: Any, chunk_size: int = 5) -> Any:
        return sum(self._run(sum, ((p,) for p in self._parts(list(data)))))

    def parallel_matrix_multiply(self, A: Any, B: Any) -> list[list[Any]]:
        return (np.array(A) @ np.array(B)).tolist()

    def map_reduce_word_count_mapper(self, chunk: str, queue: Any = None) -> dict[str, int]:
        counts = dict(kernels.words(chunk))
        if queue is not None:
            queue.put(counts)
        return counts

    def map_reduce_word_count(self, text: str, chunk_size: int = 100) -> dict[str, int]:
        texts = [" ".join(part) for part in self._parts(text.split())]
        return dict(sum(self._run(kernels.words, ((t,) for t in texts)), Counter()))

    def find_primes_worker(self, start: int, end: int, queue: Any) -> list[int]:
        primes = kernels.primes_in(start, end)
        queue.put(primes)
        return primes

    def parallel_find_primes(self, limit: int) -> list[int]:
        step = max(1, -(-limit // (self.num_workers * CHUNKS_PER_WORKER)))
        parts = self._run(kernels.primes_in, ((lo, min(lo + step, limit))
                                              for lo in range(0, limit, step)))
        return [p for part in parts for p in part]

    def run_pipeline(self, data: Any) -> list[Any]:
        parts = self._run(kernels.pipeline, ((p,) for p in self._parts(list(data))))
        return [y for part in parts for y in part]

    def batch_process_with_manager(self, data_batches: Any) -> list[float]:
        return self._map_items([x for batch in data_batches for x in batch])

    def cleanup(self) -> None:
        """Remove the files :meth:`serialize_to_file` wrote."""
        for name in self.temp_files:
            with contextlib.suppress(FileNotFoundError):
                os.remove(name)
        self.temp_files.clear()
