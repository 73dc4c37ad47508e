"""Push 10**7 (or N) items through one operation and report the peak memory.

Usage: ``python -m tests.children.scale {map,pipeline} N``. Prints one JSON line: the
item count and order checks, the input's own size in bytes (the list and its number
objects), and the peak resident memory of this process and of its workers during
the call (sampled every 5 ms; psutil), all measured here.
"""
from __future__ import annotations

import json
import sys
import threading
import time

import numpy as np
import psutil

from optimized import OptimizedParallelProcessor


class PeakSampler(threading.Thread):
    """Samples the RSS of this process and of ``pids`` until stopped; keeps the peaks."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.me = psutil.Process()
        self.workers = [psutil.Process(p) for p in pids]
        self.parent_peak = self.workers_peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.parent_peak = max(self.parent_peak, self.me.memory_info().rss)
            total = 0
            for w in self.workers:
                try:
                    total += w.memory_info().rss
                except psutil.Error:
                    pass
            self.workers_peak = max(self.workers_peak, total)
            time.sleep(0.005)


def _input_bytes(data: list) -> int:
    """The list plus its item objects (all the same type and size here)."""
    return sys.getsizeof(data) + len(data) * sys.getsizeof(data[-1])


def main() -> None:
    mode, n = sys.argv[1], int(sys.argv[2])
    p = OptimizedParallelProcessor(2, execution="pool")
    data: list = ([float(i) for i in range(n)] if mode == "map" else list(range(n)))
    idle_rss = psutil.Process().memory_info().rss
    sampler = PeakSampler(p.worker_pids())
    workers_idle = sum(psutil.Process(w).memory_info().rss for w in p.worker_pids())
    sampler.start()
    t0 = time.perf_counter()
    out = p.process_data_spawn_per_item(data) if mode == "map" else p.run_pipeline(data)
    seconds = time.perf_counter() - t0
    sampler.done.set()
    sampler.join()
    arr = np.asarray(out, dtype=np.float64)
    increasing = bool(np.all(np.diff(arr[1:]) > 0))  # both kernels grow strictly with x >= 1
    want_last = ((n - 1) * 2 + 10) ** 2 if mode == "pipeline" else None
    print(json.dumps({
        "mode": mode, "n": n, "count": len(out), "increasing": increasing,
        "last_ok": want_last is None or out[-1] == want_last, "seconds": seconds,
        "input_bytes": _input_bytes(data), "parent_idle_rss": idle_rss,
        "parent_peak_rss": sampler.parent_peak, "workers_idle_rss": workers_idle,
        "workers_peak_rss": sampler.workers_peak}))
    p.close()


if __name__ == "__main__":
    main()
