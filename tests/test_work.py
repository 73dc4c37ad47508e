"""The original's work functions (evaluation/figures/work.py), checked against the original itself.

Each count is validated by instrumenting the baseline: ``sys.settrace`` counts how often
the line doing the work runs (a trial division, a bubble-sort comparison), and a
counting ``Process`` class counts the processes it starts. Then the fit
``t = c0 + c1 * W(n)``, its hold-out check, and the figures it gives in the report.
"""
from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import baseline
from baseline import UnoptimizedParallelProcessor
from baseline import processor as baseline_processor
from evaluation.figures.baseline_truth import apply_probe, baseline_at_seed_size, probe_points
from evaluation.figures.bench import RESULT_COLUMNS
from evaluation.figures.extrapolate import MAX_HOLDOUT_ERROR
from evaluation.figures.reference import reference_figures
from evaluation.figures.work import fit_work, trial_divisions_critical_path, work, work_model
from evaluation.inputs import build_args
from evaluation.workloads import load_workloads

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[1]
WL = load_workloads(ROOT / "instances")


def _line_of(fn: Callable[..., Any], text: str) -> int:
    lines, start = inspect.getsourcelines(fn)
    hits = [start + i for i, line in enumerate(lines) if text in line]
    assert len(hits) == 1, (text, hits)
    return hits[0]


@contextmanager
def _line_counter(fn: Callable[..., Any], text: str) -> Iterator[list[int]]:
    """Count executions of the one line of ``fn`` containing ``text`` (this thread)."""
    code, line = fn.__code__, _line_of(fn, text)
    count = [0]

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "line" and frame.f_lineno == line:
            count[0] += 1
        return local

    def global_(frame: Any, event: str, arg: Any) -> Any:
        return local if frame.f_code is code else None

    sys.settrace(global_)
    try:
        yield count
    finally:
        sys.settrace(None)


class _Sink:
    def put(self, value: Any) -> None:
        self.value = value


@pytest.mark.parametrize("limit", [3, 10, 97, 600])
def test_trial_divisions_match_the_originals_loop(limit: int) -> None:
    p = UnoptimizedParallelProcessor(4, 0.0)
    worker = UnoptimizedParallelProcessor.find_primes_worker
    size = max(1, limit // 4)
    per_range = []
    for w in range(4):
        lo = min(w * size, limit)
        hi = limit if w == 3 else min(lo + size, limit)
        with _line_counter(worker, "if n % d == 0:") as count:
            p.find_primes_worker(lo, hi, _Sink())
        per_range.append(count[0])
    primes = [n for n in range(2, limit) if all(n % d for d in range(2, n))]
    bubble = len(primes) * (len(primes) - 1) / 2
    assert trial_divisions_critical_path(limit) == max(per_range) + bubble


def test_statistics_work_matches_the_originals_loops() -> None:
    p = UnoptimizedParallelProcessor(4, 0.0)
    fn = UnoptimizedParallelProcessor.compute_statistics_sequential
    data = list(np.random.default_rng(3).integers(0, 100, 60))
    with _line_counter(fn, "if sorted_data[j] > sorted_data[j + 1]:") as comparisons:
        p.compute_statistics_sequential(data)
    n = len(data)
    assert comparisons[0] == n * (n - 1) / 2
    assert work(WL.operations["compute_statistics_sequential"], n) == 3 * n + comparisons[0]


@pytest.mark.parametrize("name, size", [
    ("process_data_spawn_per_item", 7), ("process_with_file_based_ipc", 23),
    ("parallel_sum_spawn_many", 12), ("parallel_matrix_multiply", 3),
    ("map_reduce_word_count", 250), ("batch_process_with_manager", 3),
])
def test_processes_started_match_the_original(monkeypatch: pytest.MonkeyPatch, name: str,
                                              size: int) -> None:
    op = WL.operations[name]
    started: list[str] = []
    ctx = baseline_processor.FORK_CONTEXT

    class Counting(ctx.Process):  # type: ignore[name-defined,misc]
        def start(self) -> None:
            started.append(self.name)
            super().start()

    monkeypatch.setattr(ctx, "Process", Counting)
    p = UnoptimizedParallelProcessor(4, 0.0)
    try:
        getattr(p, name)(*build_args(op, size, baseline), **op.call)
    finally:
        p.cleanup()
    expected = work(op, size)
    if name == "batch_process_with_manager":  # W adds one Manager round trip per item
        expected -= size * op.batch_len
    assert len(started) == expected, (name, size, len(started), expected)


def test_every_operation_has_a_work_model() -> None:
    assert all(work_model(op) is not None for op in WL.operations.values())


def test_fit_recovers_the_constants_and_predicts_beyond() -> None:
    op = WL.operations["parallel_find_primes"]
    sizes = [500, 2000, 10_000, 30_000]
    times = [0.05 + 2.5e-8 * work(op, n) for n in sizes]
    fit = fit_work(op, sizes, times)
    assert fit.c0 == pytest.approx(0.05, rel=1e-6) and fit.c1 == pytest.approx(2.5e-8, rel=1e-6)
    assert fit.predict(100_000) == pytest.approx(0.05 + 2.5e-8 * work(op, 100_000), rel=1e-6)


def test_measured_primes_are_predicted_by_the_work_model() -> None:
    # Run directly on this machine: 1e4 0.12 s, 3e4 0.68 s, 1e5 6.81 s. The power
    # law fitted on 500-10,000 predicted 0.71 s at 1e5 (10x low).
    op = WL.operations["parallel_find_primes"]
    fit = fit_work(op, [10_000, 30_000], [0.12, 0.68])
    assert abs(fit.predict(100_000) - 6.81) / 6.81 < 0.15, fit.predict(100_000)


def _bench(op: str, points: dict[int, float]) -> pd.DataFrame:
    rows = [{"benchmark": f"bench_x.S.time_{op}", "module": "bench_x", "suite": "S",
             "kind": "time", "metric": op, "operation": op, "impl": "baseline",
             "size": float(n), "workers": np.nan, "median": t, "spread": 0.0, "status": "ok",
             "params": json.dumps({"impl": "baseline", "size": n})}
            for n, t in points.items()]
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def test_report_extrapolates_the_baseline_with_its_work_model_and_holdout() -> None:
    op = WL.operations["parallel_find_primes"]
    true = {n: 0.03 + 2.6e-8 * work(op, n) for n in (500, 2000, 10_000)}
    figs = reference_figures(_bench(op.name, true), WL, impls=("baseline",))
    row = figs.set_index("operation").loc[op.name]
    assert row["extrapolated"] and "trial divisions" in row["model"]
    assert row["holdout_error"] < 1e-6
    assert row["seconds"] == pytest.approx(0.03 + 2.6e-8 * work(op, 1_000_000), rel=1e-6)
    # probe points beyond the benchmarks are fitted too, and named in report.json
    probe = [{"operation": op.name, "size": 100_000, "kind": "finished", "seconds": 6.5,
              "detail": ""}]
    figs = apply_probe(reference_figures(_bench(op.name, true), WL, impls=("baseline",),
                                         baseline_points=probe_points(probe)), probe)
    entry = baseline_at_seed_size(figs)[op.name]
    assert entry["kind"] == "extrapolated" and entry["model"].startswith("t = c0 + c1 * W(n)")
    row = figs.set_index("operation").loc[op.name]
    assert row["reason"] == "work-model" and entry["holdout_error"] is not None
    assert (row["reason_details"]["lo"], row["reason_details"]["hi"]) == (500, 100_000)


def test_a_work_fit_that_mispredicts_its_largest_size_is_refused() -> None:
    op = WL.operations["parallel_find_primes"]
    points = {500: 0.01, 2000: 0.02, 10_000: 0.03}  # flat: not the work the code does
    row = reference_figures(_bench(op.name, points), WL,
                            impls=("baseline",)).set_index("operation").loc[op.name]
    assert not row["extrapolated"] and row["seconds"] != row["seconds"]
    assert row["reason"] == "refused-holdout" and row["holdout_error"] > MAX_HOLDOUT_ERROR
    two = reference_figures(_bench(op.name, {500: 0.01, 2000: 0.02}), WL,
                            impls=("baseline",)).set_index("operation").loc[op.name]
    assert two["reason"] == "refused-no-holdout"
