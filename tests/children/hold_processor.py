"""Hold an open processor, optionally busy in one call, until killed from outside.

Usage: ``python -m tests.children.hold_processor START_METHOD MODE``. Prints one JSON
line (its own pid, the workers' pids, the fork server's and resource tracker's pids),
then ``calling`` once the call is about to start, then runs the call forever (or
sleeps, for ``idle``). The test SIGKILLs it and checks that everything it started
goes away on its own (D14).
"""
from __future__ import annotations

import json
import os
import sys
import time
from multiprocessing import forkserver, resource_tracker

import numpy as np

from optimized import OptimizedParallelProcessor
from tests import kernels

#: What each mode keeps its workers doing.
MODES = ("idle", "map_sleep", "map_spin", "primes", "matmul", "pipeline")


def _helper_pids() -> dict[str, int | None]:
    fs = getattr(forkserver._forkserver, "_forkserver_pid", None)
    rt = getattr(resource_tracker._resource_tracker, "_pid", None)
    return {"forkserver": fs, "resource_tracker": rt}


def _busy(p: OptimizedParallelProcessor, mode: str) -> None:
    if mode == "map_sleep":  # a user's long call: 10 ms items, forever in practice
        p.process_data_spawn_per_item(list(range(100_000)))
    elif mode == "map_spin":  # a Python loop: 1 s of CPU per item
        p.map(kernels.busy_us, [10**6] * 1000, chunksize=1, cost_per_item_s=1.0)
    elif mode == "primes":  # NumPy sieve kernels in the workers
        while True:
            p.parallel_find_primes(2 * 10**8)
    elif mode == "matmul":  # BLAS in the workers (row blocks)
        a = np.random.default_rng(0).random((3000, 3000))
        while True:
            p.parallel_matrix_multiply(a, a)
    elif mode == "pipeline":  # stage loops blocked on a slow stage
        p.run_pipeline([0.01] * 100_000, [kernels.sleep_then_return], batch_size=10)
    else:
        time.sleep(3600)


def main() -> None:
    start_method, mode = sys.argv[1], sys.argv[2]
    if mode not in MODES:
        raise SystemExit(f"mode must be one of {MODES}, got {mode!r}")
    latency = 0.01 if mode == "map_sleep" else 0.0
    p = OptimizedParallelProcessor(2, latency, start_method=start_method, execution="pool")
    p.map(kernels.square, list(range(20)), chunksize=1)  # every worker touched once
    p.parallel_find_primes(10**6)  # segments made: the resource tracker runs
    print(json.dumps({"pid": os.getpid(), "workers": p.worker_pids(), **_helper_pids()}),
          flush=True)
    print("calling", flush=True)
    _busy(p, mode)


if __name__ == "__main__":
    main()
