"""One baseline call at one size, in its own process group: ``python -m evaluation.probe_child OP SIZE``.

Started by :mod:`evaluation.probe`. Builds the operation's arguments exactly as the
benchmarks do (the instances' builder), runs the original's method on a 4-worker
``UnoptimizedParallelProcessor`` (the compute workload: no simulated latency), checks
the result against the optimized processor run in-process (the oracle the tests use),
and prints one JSON line: ``{"seconds": ..., "ok": true|false, "detail": ...}``. A hang
or a crash prints nothing: the parent watching this process tells which it was.
"""
from __future__ import annotations

import json
import math
import sys
import time
from typing import Any

import baseline
import optimized
from evaluation.workloads import build_args, load_workloads


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (a != a and b != b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def main() -> None:
    name, size = sys.argv[1], int(sys.argv[2])
    op = load_workloads().operations[name]
    args = build_args(op, size, optimized)
    proc = baseline.UnoptimizedParallelProcessor(4, 0.0)
    t0 = time.perf_counter()
    got = getattr(proc, name)(*args, **dict(op.call))
    seconds = time.perf_counter() - t0
    proc.cleanup()
    with optimized.OptimizedParallelProcessor(1, execution="inline") as oracle:
        want = getattr(oracle, name)(*args, **dict(op.call))
    ok = _same(got, want)
    print(json.dumps({"seconds": seconds, "ok": ok, "detail": "" if ok else _how(got, want)}),
          flush=True)


def _how(got: Any, want: Any) -> str:
    """What is wrong with a result, in words."""
    if isinstance(got, list) and isinstance(want, list):
        if len(got) != len(want):
            return f"{len(got):,} results where {len(want):,} were due (lost or duplicated)"
        if sorted(map(repr, got)) == sorted(map(repr, want)):
            return "the right results in the wrong order"
        bad = sum(not _same(a, b) for a, b in zip(got, want, strict=True))
        return f"{bad:,} of {len(want):,} results differ from the oracle"
    return "the result differs from the oracle"


if __name__ == "__main__":
    main()
