"""Demo of the baseline processor: ``python -m baseline``.

Runs the original's nine demonstration steps at the original's sizes and prints,
for each, its name, its wall time and a short summary of the result. The summary
compares the result with the expected size/order, so the baseline's latent
defects (completion order, lost results) show up when they happen.

Options ``--workers`` and ``--latency`` set the processor's ``num_workers`` and
``item_latency_s`` (defaults: the original's 4 and 1 ms).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from baseline.data import generate_test_data, generate_test_matrix, generate_test_text
from baseline.processor import UnoptimizedParallelProcessor


def _order_note(results: Sequence[float], expected: Sequence[float]) -> str:
    count = f"{len(results)}/{len(expected)} results"
    if len(results) < len(expected):
        count += f" ({len(expected) - len(results)} LOST)"
    if list(results) == list(expected):
        return count + ", input order"
    if sorted(results) == sorted(expected):
        return count + ", completion order (not input order)"
    return count + ", values differ from expected"


def _steps(
    proc: UnoptimizedParallelProcessor,
) -> list[tuple[str, Callable[[], Any], Callable[[Any], str]]]:
    def expected(items: Sequence[float]) -> list[float]:
        return [x * x + math.sin(x) * math.cos(x) for x in items]

    data50 = generate_test_data(50)
    data100 = generate_test_data(100)
    data200 = generate_test_data(200)
    matrix = generate_test_matrix(5, 5)
    text = generate_test_text(500)
    pipeline_data = generate_test_data(50)
    batches = [generate_test_data(20) for _ in range(5)]

    return [
        (
            "1. Spawn process per item",
            lambda: proc.process_data_spawn_per_item(data50),
            lambda r: _order_note(r, expected(data50)),
        ),
        (
            "2. File-based IPC",
            lambda: proc.process_with_file_based_ipc(data100),
            lambda r: _order_note(r, expected(data100)),
        ),
        (
            "3. Excessive queue operations",
            lambda: proc.process_with_excessive_queue_ops(data200),
            lambda r: _order_note(r, expected(data200)),
        ),
        (
            "4. Parallel sum (spawn many)",
            lambda: proc.parallel_sum_spawn_many(data100),
            lambda r: f"sum = {r} (expected {sum(data100)})",
        ),
        (
            "5. Matrix multiply (process per element)",
            lambda: proc.parallel_matrix_multiply(matrix, matrix),
            lambda r: f"{len(r)}x{len(r[0]) if r else 0} result, r[0][0] = {r[0][0]}, "
            f"r[4][4] = {r[4][4]}",
        ),
        (
            "6. Map-reduce word count",
            lambda: proc.map_reduce_word_count(text),
            lambda r: f"{len(r)} distinct words, {sum(r.values())} words in total",
        ),
        (
            "7. Find primes",
            lambda: proc.parallel_find_primes(500),
            lambda r: f"{len(r)} primes below 500 (expected 95), largest {r[-1] if r else None}",
        ),
        (
            "8. Pipeline",
            lambda: proc.run_pipeline(pipeline_data),
            lambda r: _order_note(r, [(2 * x + 10) ** 2 for x in pipeline_data]),
        ),
        (
            "9. Batch processing with Manager",
            lambda: proc.batch_process_with_manager(batches),
            lambda r: _order_note(r, expected([x for b in batches for x in b])),
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the nine demonstration steps and print name, time and summary.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Process exit code (0).
    """
    parser = argparse.ArgumentParser(prog="python -m baseline", description=__doc__)
    parser.add_argument("--workers", type=int, default=4, help="num_workers (default 4)")
    parser.add_argument(
        "--latency", type=float, default=0.001, help="item_latency_s (default 0.001)"
    )
    args = parser.parse_args(argv)

    proc = UnoptimizedParallelProcessor(num_workers=args.workers, item_latency_s=args.latency)
    print(
        f"UnoptimizedParallelProcessor(num_workers={args.workers}, "
        f"item_latency_s={args.latency})"
    )
    total = 0.0
    try:
        for name, run, summarize in _steps(proc):
            start = time.perf_counter()
            result = run()
            elapsed = time.perf_counter() - start
            total += elapsed
            print(f"{name}: {elapsed:.3f} s - {summarize(result)}", flush=True)
    finally:
        proc.cleanup()
    print(f"Total: {total:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
