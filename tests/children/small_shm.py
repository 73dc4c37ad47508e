"""Every operation family with a /dev/shm too small for its arrays (run under a small tmpfs).

Usage: ``python -m tests.children.small_shm {repro,suite,scale} [start_method]``,
normally as ``unshare -m sh -c 'mount -t tmpfs -o size=8m tmpfs /dev/shm && ...'``.

- ``repro``: the call that ended the caller with SIGBUS under a 64 MB /dev/shm
  (``process_data_spawn_per_item`` of 10**7 items).
- ``suite``: sizes whose arrays exceed 8 MB yet run in seconds.
- ``scale``: each operation's largest benchmark size and its scaling size.

Each result is compared with an in-process processor's (no pool, no shared memory).
Prints one JSON line: per operation and size whether it matched and its seconds, the
WARNING lines of the ``optimized`` logger, and the ``ppd_*`` names left in /dev/shm.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

import optimized
from evaluation.inputs import build_args
from evaluation.workloads import load_workloads
from optimized import OptimizedParallelProcessor

#: Suite sizes by builder: every array over 8 MB, each call a few seconds at most.
SUITE_SIZES = {"test_data": 1_200_000, "test_batches": 1_200_000, "test_matrix": 1100,
               "limit": 30_000_000, "test_text": 1_500_000}


class Warnings(logging.Handler):
    """Keeps the text of every WARNING (or worse) record."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _sizes(op: Any, mode: str) -> list[int]:
    if mode == "repro":
        return [10**7] if op.name == "process_data_spawn_per_item" else []
    if mode == "scale":
        return sorted({max(op.sizes["optimized"]), *op.sizes.get("scale", ())})
    size = SUITE_SIZES[op.builder]
    return [max(1, size // op.batch_len) if op.builder == "test_batches" else size]


def main() -> None:
    mode = sys.argv[1]
    start_method = sys.argv[2] if len(sys.argv) > 2 else None
    caught = Warnings()
    logging.getLogger("optimized").addHandler(caught)
    results: list[dict[str, Any]] = []
    with OptimizedParallelProcessor(2, execution="pool", start_method=start_method,
                                    matmul_parallel_threshold=64) as pool, \
            OptimizedParallelProcessor(1, execution="inline") as oracle:
        for op in load_workloads().operations.values():
            for size in _sizes(op, mode):
                args = build_args(op, size, optimized)
                t0 = time.perf_counter()
                got = getattr(pool, op.name)(*args, **op.call)
                seconds = time.perf_counter() - t0
                want = getattr(oracle, op.name)(*args, **op.call)
                results.append({"op": op.name, "size": size, "ok": got == want,
                                "seconds": round(seconds, 2)})
                del got, want, args
    left = sorted(n for n in os.listdir("/dev/shm") if n.startswith("ppd_"))
    print(json.dumps({"results": results, "warnings": caught.lines, "left": left}))


if __name__ == "__main__":
    main()
