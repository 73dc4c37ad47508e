"""Correctness tests of the baseline (the slow original), against independent oracles.

Every expected value here is computed by code written in this file (or by the
standard library / numpy), never by the baseline itself. Results whose order the
baseline does not define (spawn-per-item, queue ops) are compared as multisets.
Every test must leave no child process behind (see ``no_leftover_children``).
"""

from __future__ import annotations

import collections
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import psutil
import pytest

from baseline import (
    UnoptimizedParallelProcessor,
    generate_test_data,
    generate_test_matrix,
    generate_test_text,
)
from baseline.processor import FORK_CONTEXT

pytestmark = pytest.mark.baseline_only

REPO_ROOT = Path(__file__).resolve().parents[1]

DEMO_STEP_NAMES = [
    "Spawn process per item",
    "File-based IPC",
    "Excessive queue operations",
    "Parallel sum (spawn many)",
    "Matrix multiply (process per element)",
    "Map-reduce word count",
    "Find primes",
    "Pipeline",
    "Batch processing with Manager",
]


# --------------------------------------------------------------------------- #
# Fixtures and oracles
# --------------------------------------------------------------------------- #
@pytest.fixture(autouse=True)
def no_leftover_children():
    """Fail a test that leaves child processes of the test process running.

    Children that existed before the test (e.g. started by other fixtures) are
    ignored; new ones get up to 5 s to exit. Stragglers are killed (they are
    ours) after being reported, so one failure does not cascade.
    """
    me = psutil.Process()
    before = {c.pid for c in me.children(recursive=True)}
    yield
    new = [c for c in me.children(recursive=True) if c.pid not in before]
    _, alive = psutil.wait_procs(new, timeout=5)
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    assert not alive, f"child processes left behind: {[p.pid for p in alive]}"


@pytest.fixture
def proc() -> UnoptimizedParallelProcessor:
    """A baseline processor without simulated latency (fast tests)."""
    p = UnoptimizedParallelProcessor(num_workers=4, item_latency_s=0.0)
    yield p
    p.cleanup()


def item_oracle(x: float) -> float:
    return x * x + math.sin(x) * math.cos(x)


def assert_same_multiset(actual, expected) -> None:
    assert len(actual) == len(expected)
    assert sorted(actual) == pytest.approx(sorted(expected), rel=1e-12, abs=0.0)


def sieve(limit: int) -> list[int]:
    if limit < 3:
        return []
    is_prime = [True] * limit
    is_prime[0] = is_prime[1] = False
    for p in range(2, math.isqrt(limit - 1) + 1):
        if is_prime[p]:
            for m in range(p * p, limit, p):
                is_prime[m] = False
    return [n for n, flag in enumerate(is_prime) if flag]


def word_count_oracle(text: str) -> collections.Counter:
    cleaned = ("".join(c.lower() for c in tok if c.isalpha()) for tok in text.split())
    return collections.Counter(w for w in cleaned if w)


def matmul_oracle(A, B):
    n, m, p = len(A), len(B), len(B[0])
    return [[sum(A[i][k] * B[k][j] for k in range(m)) for j in range(p)] for i in range(n)]


MIXED_DATA = [3, -2, 0, 7.5, 1, 12, -0.25, 5, 5, 100, 2, 9]


# --------------------------------------------------------------------------- #
# Construction and the per-item function
# --------------------------------------------------------------------------- #
def test_constructor_defaults_and_public_surface():
    p = UnoptimizedParallelProcessor()
    assert p.num_workers == 4
    assert p.item_latency_s == 0.001
    assert p.results == []
    assert p.temp_files == []
    assert isinstance(p.lock, type(FORK_CONTEXT.Lock()))
    assert p.lock.acquire(timeout=1)
    p.lock.release()


@pytest.mark.parametrize("kwargs", [{"num_workers": 0}, {"num_workers": -3},
                                    {"item_latency_s": -1.0}, {"num_workers": 2.5}])
def test_constructor_rejects_nothing(kwargs):
    p = UnoptimizedParallelProcessor(**kwargs)
    for name, value in kwargs.items():
        assert getattr(p, name) == value


def test_fork_context_is_explicit():
    assert FORK_CONTEXT.get_start_method() == "fork"


@pytest.mark.parametrize("x", [0, 1, -1, 2.5, 10, -7.25, 1e3])
def test_process_single_item_formula(proc, x):
    assert proc.process_single_item(x) == pytest.approx(item_oracle(x), rel=1e-15)


def test_process_single_item_sleeps_latency_and_skips_zero(monkeypatch):
    import baseline.processor as module

    calls = []
    monkeypatch.setattr(module.time, "sleep", lambda s: calls.append(s))
    UnoptimizedParallelProcessor(item_latency_s=0.0).process_single_item(2)
    assert calls == []
    UnoptimizedParallelProcessor(item_latency_s=0.004).process_single_item(2)
    assert calls == [0.004]


# --------------------------------------------------------------------------- #
# Spawn-per-item and queue ops (order undefined: multisets)
# --------------------------------------------------------------------------- #
def test_spawn_per_item_multiset(proc):
    result = proc.process_data_spawn_per_item(MIXED_DATA)
    assert_same_multiset(result, [item_oracle(x) for x in MIXED_DATA])


def test_spawn_per_item_empty(proc):
    assert proc.process_data_spawn_per_item([]) == []


def test_spawn_per_item_with_default_latency():
    p = UnoptimizedParallelProcessor()
    data = [1, 2, 3, 4]
    assert_same_multiset(p.process_data_spawn_per_item(data), [item_oracle(x) for x in data])


@pytest.mark.parametrize("workers", [1, 3, 4])
def test_queue_ops_multiset(workers):
    p = UnoptimizedParallelProcessor(num_workers=workers, item_latency_s=0.0)
    data = MIXED_DATA * 4
    assert_same_multiset(
        p.process_with_excessive_queue_ops(data), [item_oracle(x) for x in data]
    )


def test_queue_ops_empty(proc):
    assert proc.process_with_excessive_queue_ops([]) == []


# --------------------------------------------------------------------------- #
# File-based IPC
# --------------------------------------------------------------------------- #
@pytest.fixture
def private_tempdir(tmp_path, monkeypatch):
    """Make tempfile.mkdtemp() create its directories inside an empty tmp dir."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.mark.parametrize("chunk_size", [1, 3, 10, 100])
def test_file_ipc_input_order_and_no_leftovers(proc, private_tempdir, chunk_size):
    data = MIXED_DATA + list(range(20, 35))
    result = proc.process_with_file_based_ipc(data, chunk_size=chunk_size)
    assert result == pytest.approx([item_oracle(x) for x in data], rel=1e-15)
    assert proc.temp_files == []
    assert list(private_tempdir.iterdir()) == []


def test_file_ipc_default_chunk_and_empty(proc, private_tempdir):
    data = list(range(1, 26))
    assert proc.process_with_file_based_ipc(data) == pytest.approx(
        [item_oracle(x) for x in data], rel=1e-15
    )
    assert proc.process_with_file_based_ipc([]) == []
    assert proc.temp_files == []
    assert list(private_tempdir.iterdir()) == []


def test_serialize_roundtrip_records_temp_file(proc, tmp_path):
    target = tmp_path / "chunk.json"
    payload = [1, 2.5, -3, 1e-300]
    proc.serialize_to_file(payload, str(target))
    assert proc.temp_files == [str(target)]
    assert proc.deserialize_from_file(str(target)) == payload


def test_cleanup_removes_leftover_temp_files(proc, tmp_path):
    files = [tmp_path / f"left_{i}.json" for i in range(3)]
    for i, f in enumerate(files):
        proc.serialize_to_file([i], str(f))
    files[1].unlink()  # already gone: cleanup must not choke on it
    proc.cleanup()
    assert proc.temp_files == []
    assert not any(f.exists() for f in files)
    proc.cleanup()  # idempotent


# --------------------------------------------------------------------------- #
# Statistics, sum, matrix multiply
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "data",
    [[5], [4, 1], [3, 1, 2], [9, -1, 4, 4, 0, 2.5, 7, -3], [1.5, 2.25, 2.25, 10, -4.75]],
)
def test_statistics_against_statistics_module(proc, data):
    original = list(data)
    stats = proc.compute_statistics_sequential(data)
    assert set(stats) == {"mean", "variance", "median"}
    assert stats["mean"] == pytest.approx(statistics.fmean(data), rel=1e-12)
    assert stats["variance"] == pytest.approx(statistics.pvariance(data), rel=1e-12, abs=1e-12)
    assert stats["median"] == pytest.approx(statistics.median(data), rel=1e-12)
    assert data == original  # sorts a copy


@pytest.mark.parametrize("chunk_size", [1, 5, 7, 1000])
def test_parallel_sum(proc, chunk_size):
    data = list(range(-10, 33))
    assert proc.parallel_sum_spawn_many(data, chunk_size=chunk_size) == sum(data)


def test_parallel_sum_default_chunk_floats_and_empty(proc):
    data = [0.5 * i for i in range(23)]
    assert proc.parallel_sum_spawn_many(data) == pytest.approx(math.fsum(data), rel=1e-12)
    assert proc.parallel_sum_spawn_many([]) == 0


def test_matrix_multiply_square_ints_exact(proc):
    A = [[1, 2, 3], [4, 5, 6], [7, 8, 10]]
    B = [[-1, 0, 2], [3, 1, 1], [0, 4, -2]]
    result = proc.parallel_matrix_multiply(A, B)
    assert result == matmul_oracle(A, B)
    assert all(isinstance(v, int) for row in result for v in row)
    assert isinstance(result, list) and all(isinstance(r, list) for r in result)


def test_matrix_multiply_rectangular_floats_vs_numpy(proc):
    rng = np.random.default_rng(7)
    A = rng.standard_normal((2, 3)).tolist()
    B = rng.standard_normal((3, 4)).tolist()
    result = proc.parallel_matrix_multiply(A, B)
    assert np.asarray(result).shape == (2, 4)
    np.testing.assert_allclose(np.asarray(result), np.asarray(A) @ np.asarray(B), rtol=1e-12)


def test_matrix_multiply_generated_matrix(proc):
    M = generate_test_matrix(3, 3)
    assert proc.parallel_matrix_multiply(M, M) == matmul_oracle(M, M)


def test_matrix_multiply_empty(proc):
    assert proc.parallel_matrix_multiply([], [[1, 2]]) == []


# --------------------------------------------------------------------------- #
# Word count
# --------------------------------------------------------------------------- #
WORD_TEXT = (
    "The quick, brown FOX -- jumps over the lazy dog! 42 dogs? it's Python's "
    "Straße\tSTRASSE\nİstanbul naïve NAÏVE 3.14 ... the\u2003end \x1cthe\x1fend "
) * 3


@pytest.mark.parametrize("chunk_size", [1, 3, 100, 10_000])
def test_word_count_against_counter(proc, chunk_size):
    result = proc.map_reduce_word_count(WORD_TEXT, chunk_size=chunk_size)
    assert isinstance(result, dict)
    assert result == dict(word_count_oracle(WORD_TEXT))


def test_word_count_generated_text_and_empty(proc):
    text = generate_test_text(250)
    assert proc.map_reduce_word_count(text) == dict(word_count_oracle(text))
    assert proc.map_reduce_word_count("") == {}
    assert proc.map_reduce_word_count("  123 ... !! ") == {}


def test_mapper_direct_and_with_queue(proc):
    chunk = "Hello hello, WORLD 99 w0rld"
    expected = {"hello": 2, "world": 1, "wrld": 1}
    assert proc.map_reduce_word_count_mapper(chunk) == expected
    q = FORK_CONTEXT.Queue()
    assert proc.map_reduce_word_count_mapper(chunk, q) == expected
    assert q.get(timeout=5) == expected
    q.close()
    q.join_thread()


# --------------------------------------------------------------------------- #
# Primes
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("limit", [0, 1, 2, 3, 4, 10, 11, 97, 98, 500])
@pytest.mark.parametrize("workers", [1, 3, 4, 7])
def test_primes_against_sieve(limit, workers):
    p = UnoptimizedParallelProcessor(num_workers=workers, item_latency_s=0.0)
    assert p.parallel_find_primes(limit) == sieve(limit)


def test_primes_negative_limit(proc):
    assert proc.parallel_find_primes(-5) == []


def test_find_primes_worker_direct(proc):
    q = FORK_CONTEXT.Queue()
    expected = [p for p in sieve(60) if p >= 20]
    assert proc.find_primes_worker(20, 60, q) == expected
    assert q.get(timeout=5) == expected
    q.close()
    q.join_thread()


# --------------------------------------------------------------------------- #
# Pipeline and batches
# --------------------------------------------------------------------------- #
def test_pipeline_multiset(proc):
    data = MIXED_DATA + list(range(30))
    assert_same_multiset(proc.run_pipeline(data), [(2 * x + 10) ** 2 for x in data])


def test_pipeline_empty(proc):
    assert proc.run_pipeline([]) == []


def test_batches_concatenated_in_batch_order(proc):
    batches = [[1, 2, 3], [], [10.5, -4], list(range(20, 27)), [0]]
    expected = [item_oracle(x) for batch in batches for x in batch]
    assert proc.batch_process_with_manager(batches) == pytest.approx(expected, rel=1e-15)


def test_batches_empty(proc):
    assert proc.batch_process_with_manager([]) == []


# --------------------------------------------------------------------------- #
# Generators
# --------------------------------------------------------------------------- #
def test_generate_test_data():
    assert generate_test_data(0) == []
    assert generate_test_data(1) == [1]
    assert generate_test_data(7) == [1, 2, 3, 4, 5, 6, 7]


def test_generate_test_matrix():
    assert generate_test_matrix(0, 3) == []
    assert generate_test_matrix(2, 3) == [[1, 2, 3], [2, 4, 6]]
    m = generate_test_matrix(4, 5)
    assert m == [[(i + 1) * (j + 1) for j in range(5)] for i in range(4)]


def test_generate_test_text():
    vocab = ("the quick brown fox jumps over lazy dog python programming "
             "parallel processing data analysis").split()
    assert generate_test_text(0) == ""
    assert generate_test_text(2) == "the quick "
    text = generate_test_text(31)
    assert text.endswith(" ") and "  " not in text
    assert text.split(" ")[:-1] == [vocab[i % len(vocab)] for i in range(31)]


# --------------------------------------------------------------------------- #
# Demo entry point
# --------------------------------------------------------------------------- #
def test_demo_runs_and_prints_all_nine_steps():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    completed = subprocess.run(
        [sys.executable, "-m", "baseline"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    for name in DEMO_STEP_NAMES:
        assert name in completed.stdout, f"step {name!r} missing from:\n{completed.stdout}"
