"""Inject faults into every operation family's pooled path, in this (child) process.

Usage: ``python -m tests.children.fault_matrix START_METHOD CASE [CASE ...]`` where a
case is ``family/fault`` (see :data:`FAMILIES`, :data:`FAULTS`). For each case it
writes ``@@ <case>`` to stderr (so the test can attribute anything printed there,
by this process or its workers, to the case), runs the call with the fault, then the
same call without it, and prints one JSON line of what happened. ``@@ exit`` ends
the run: anything after it was printed while the interpreter shut down.

Faults: ``raise`` (a worker exception: a bad item), ``sigkill`` (a busy worker is
SIGKILLed from outside mid-call), ``exit3`` (a worker calls ``os._exit(3)``),
``timeout`` (a ``timeout=`` shorter than the work) and ``sigint`` (this process gets
SIGINT mid-call, as from Ctrl-C). Built-in operations get the fault through a
wrapper around every task at the engine seam (:class:`tests.kernels.Faulty`); user
``map`` and pipeline stages through the user's own function.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from optimized import OptimizedParallelProcessor
from optimized.backends import LocalBackend
from tests import kernels

FAULTS = ("raise", "sigkill", "exit3", "timeout", "sigint")
WORKERS = 3  # the pipeline's stage-per-process layout needs 3
_TEXT = " ".join(["alpha", "beta", "Gamma!", "delta", "beta"] * 20_000)
_MATRIX = np.arange(200 * 150, dtype=np.float64).reshape(200, 150) % 7
_DATA = [float(i % 97) for i in range(4000)]

def _pipeline_at(pos: int) -> Callable[[Any, str, float | None], Any]:
    """Three identity stages, one process each, the user's faulty stage at ``pos``."""
    def call(p: Any, mode: str, timeout: float | None) -> Any:
        stages = [kernels.FaultyStage(mode) if i == pos else kernels.identity for i in range(3)]
        return p.run_pipeline(list(range(3000)), stages, replicas=[1, 1, 1], batch_size=100,
                              timeout=timeout)
    return call


#: family -> call(processor, fault mode for user code, timeout); "none" = no fault.
FAMILIES: dict[str, Callable[[Any, str, float | None], Any]] = {
    "map": lambda p, m, t: p.process_data_spawn_per_item(_DATA, timeout=t),
    "file_ipc": lambda p, m, t: p.process_with_file_based_ipc(_DATA, timeout=t),
    "queue_ops": lambda p, m, t: p.process_with_excessive_queue_ops(_DATA[:500], timeout=t),
    "sum": lambda p, m, t: p.parallel_sum_spawn_many(list(range(200_000)), timeout=t),
    "matrix": lambda p, m, t: p.parallel_matrix_multiply(_MATRIX, _MATRIX.T, timeout=t),
    "primes": lambda p, m, t: p.parallel_find_primes(2_000_000, timeout=t),
    "wordcount": lambda p, m, t: p.map_reduce_word_count(_TEXT, timeout=t),
    "batches": lambda p, m, t: p.batch_process_with_manager(
        [_DATA[i:i + 20] for i in range(0, 2000, 20)], timeout=t),
    "user_map": lambda p, m, t: p.map(kernels.FaultyStage(m), list(range(400)), chunksize=20,
                                      cost_per_item_s=1e-3, timeout=t),
    **{f"pipeline{pos}": _pipeline_at(pos) for pos in range(3)},
}
USER_CODE = {"user_map", "pipeline0", "pipeline1", "pipeline2"}


def _segments() -> list[str]:
    return sorted(p.name for p in Path("/dev/shm").glob(f"ppd_{os.getpid()}_*"))


def _inject(family: str, fault: str) -> tuple[str, Callable[[], None]]:
    """The fault mode for the worker code, and how to undo the engine-seam wrapper."""
    mode = {"raise": "raise", "exit3": "exit3"}.get(fault, "hang")
    if family in USER_CODE:
        return mode, lambda: None
    original, original_stream = LocalBackend.run, LocalBackend.stream

    def run(self: LocalBackend, fn: Any, tasks: Any, **kw: Any) -> Any:
        return original(self, kernels.Faulty(fn, mode), tasks, **kw)

    def stream(self: LocalBackend, steps: Any, inputs: Any, **kw: Any) -> Any:
        return original_stream(self, [kernels.Faulty(f, mode) for f in steps], inputs, **kw)

    # fault injection at the seam: both ways tasks reach the workers
    LocalBackend.run = run  # type: ignore[method-assign]
    LocalBackend.stream = stream  # type: ignore[method-assign]

    def undo() -> None:
        LocalBackend.run = original  # type: ignore[method-assign]  # undo the injection
        LocalBackend.stream = original_stream  # type: ignore[method-assign]

    return "none", undo


def _run_case(p: OptimizedParallelProcessor, oracle: OptimizedParallelProcessor,
              family: str, fault: str) -> dict[str, Any]:
    call = FAMILIES[family]
    before = p.worker_pids()
    mode, undo = _inject(family, fault)
    if fault == "sigkill":
        threading.Timer(0.3, os.kill, (before[0], signal.SIGKILL)).start()
    elif fault == "sigint":
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    out: dict[str, Any] = {"case": f"{family}/{fault}", "victim": before[0]}
    t0 = time.monotonic()
    try:
        call(p, mode, 0.3 if fault == "timeout" else None)
        out["error"] = None
    except BaseException as exc:  # noqa: B036 - KeyboardInterrupt is one expected outcome
        out.update(error=type(exc).__name__, message=str(exc),
                   mro=[c.__name__ for c in type(exc).__mro__],
                   cause="Traceback" in str(exc.__cause__ or ""))
    finally:
        undo()
    out["elapsed_s"] = time.monotonic() - t0
    time.sleep(0.1)  # a late Timer must not hit the next call
    out["next_ok"] = _same(call(p, "none", None), call(oracle, "none", None))
    out["old_workers_alive"] = [pid for pid in before if pid not in p.worker_pids()
                                and _alive(pid)]
    out["workers"] = len(p.worker_pids())
    out["segments"] = _segments()
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    return bool(a == b)


def main() -> None:
    start_method, cases = sys.argv[1] or None, sys.argv[2:]  # "": the platform default
    p = OptimizedParallelProcessor(WORKERS, start_method=start_method, execution="pool",
                                   matmul_parallel_threshold=64)
    oracle = OptimizedParallelProcessor(WORKERS, execution="inline")  # the expected results
    for case in cases:
        family, fault = case.split("/")
        print(f"@@ {case}", file=sys.stderr, flush=True)
        print(json.dumps(_run_case(p, oracle, family, fault)), flush=True)
    print("@@ exit", file=sys.stderr, flush=True)
    p.close()
    oracle.close()


if __name__ == "__main__":
    main()
