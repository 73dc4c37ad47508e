"""One baseline call at one size, in its own process group.

``python -m evaluation.running.probe_child OP SIZE``.

Started by :mod:`evaluation.running.probe`. Builds the operation's arguments exactly as the
benchmarks do (the instances' builder), runs the original's method on a 4-worker
``UnoptimizedParallelProcessor`` (the compute workload: no simulated latency), checks
the result against the optimized processor run in-process (the oracle the tests use),
and prints one JSON line: ``{"seconds": ..., "ok": true|false, "detail": ...}``. A hang
or a crash prints nothing: the parent watching this process tells which it was.
"""
from __future__ import annotations

import json
import sys
import time

import baseline
import optimized
from evaluation.inputs import build_args
from evaluation.running.results_diff import difference, oracle, same
from evaluation.workloads import load_workloads


def main() -> None:
    name, size = sys.argv[1], int(sys.argv[2])
    op = load_workloads().operations[name]
    args = build_args(op, size, optimized)
    proc = baseline.UnoptimizedParallelProcessor(4, 0.0)
    t0 = time.perf_counter()
    got = getattr(proc, name)(*args, **dict(op.call))
    seconds = time.perf_counter() - t0
    proc.cleanup()
    want = oracle(op, args)
    ok = same(got, want)
    print(json.dumps({"seconds": seconds, "ok": ok, "detail": "" if ok else difference(got, want)}),
          flush=True)


if __name__ == "__main__":
    main()
