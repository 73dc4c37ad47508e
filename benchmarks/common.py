"""Shared pieces of the asv suites: instances, sizes, processors, cached inputs, references.

Everything a suite needs to know about an operation (sizes per implementation, the
baseline's limit, gate sizes) comes from ``instances/workloads.json``, found relative to
this file: asv installs the project (non-editable) into its own environment and drops
``PYTHONPATH``, but always runs the benchmarks from the working tree.

Names here must not look like benchmarks to asv (no module-level ``time_*``,
``track_*``, ``peakmem_*``, ``mem_*``, ``setup`` or ``teardown``).
"""
from __future__ import annotations

import functools
import importlib
import itertools
import math
import multiprocessing as mp
import os
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from evaluation.workloads import Operation, Workloads, build_args, load_workloads

__all__ = ["INSTANCES", "QUICK", "QUICK_ENV", "WORKLOADS", "GATE_WORKERS", "IMPLS",
           "operation", "sizes", "memory_sizes", "gate_size", "make_processor",
           "close_processor", "local_kernel_start_method", "preimport_operation",
           "operation_args", "build_text", "single_reference", "OperationBenchmark",
           "spin", "SPIN_ITERATIONS", "EFFICIENCY_ITEMS", "map_sizes", "sequential_map",
           "parallel_efficiency", "median_overhead_share", "pipeline_stages",
           "throughput_ratio", "stage_inputs", "slow_stage", "SLOW_STAGE_ITEMS",
           "PER_ITEM_STAGES", "exact_matmul", "numpy_sieve", "counter_word_count"]

#: ``instances/`` of the working tree this suite belongs to.
INSTANCES = Path(__file__).resolve().parent.parent / "instances"
#: Environment variable: two small sizes per operation, huge cases skipped (smoke tests).
QUICK_ENV = "PPD_BENCH_QUICK"
QUICK = os.environ.get(QUICK_ENV, "").strip() not in ("", "0")

WORKLOADS: Workloads = load_workloads(INSTANCES)
#: Workers for every benchmark that is not about the worker count.
GATE_WORKERS: int = WORKLOADS.gate_workers
#: Every ``impl`` value, in report order (see the package docstring).
IMPLS = ("baseline", "optimized", "inline", "pool", "single")
_EXECUTION = {"optimized": "auto", "inline": "inline", "pool": "pool"}
#: Module of :mod:`optimized.ops` that implements each operation family.
_OPS_MODULE = {"map": "mapping", "matrix": "matrix", "primes": "primes", "text": "wordcount",
               "pipeline": "pipeline"}


# -- instances ----------------------------------------------------------------------------
def operation(name: str) -> Operation:
    """The instance entry of public operation ``name``."""
    try:
        return WORKLOADS.operations[name]
    except KeyError:
        raise KeyError(f"{name!r} is not an operation of {WORKLOADS.path}") from None


def sizes(name: str) -> list[int]:
    """Benchmark sizes of operation ``name``.

    ``sizes["optimized"]`` union ``sizes["baseline"]``; in quick mode
    (``PPD_BENCH_QUICK=1``) the smallest baseline size and the largest quick size: every
    implementation runs at both, so quick figures still compare them side by side.
    """
    op = operation(name)
    if QUICK:  # one size the baseline runs, one where "auto" may pick the pool
        return sorted({min(op.sizes["baseline"]), max(op.sizes["quick"])})
    return sorted(set(op.sizes["optimized"]) | set(op.sizes["baseline"]))


def memory_sizes(name: str) -> list[int]:
    """``[smallest, largest]`` benchmark size: the trivial-case floor and the big case."""
    s = sizes(name)
    return [s[0], s[-1]]


def gate_size(gate_id: str) -> int:
    """The size a seed gate runs at, or the operation's smallest quick size in quick mode."""
    gate = WORKLOADS.gate(gate_id)
    return min(operation(gate.operation).sizes["quick"]) if QUICK else gate.size


def _is_largest(name: str, size: int) -> bool:
    return size >= max(operation(name).sizes["optimized"])


# -- processors ---------------------------------------------------------------------------
def make_processor(impl: str, num_workers: int = GATE_WORKERS, item_latency_s: float = 0.0,
                   **options: Any) -> Any:
    """A processor of implementation ``impl`` (``baseline``, ``optimized``, ``inline``, ``pool``).

    Parameters
    ----------
    impl : str
        ``"baseline"`` -> ``UnoptimizedParallelProcessor``; the others ->
        ``OptimizedParallelProcessor`` with ``execution`` auto / inline / pool.
    num_workers : int
        Worker processes.
    item_latency_s : float
        Simulated per-item latency (D1); the same value for both implementations.
    **options
        Further keyword arguments of the optimized constructor (e.g. ``start_method``).

    Returns
    -------
    processor
        Close it with :func:`close_processor`.
    """
    if impl == "baseline":
        if options:
            raise TypeError(f"the baseline processor takes no options, got {sorted(options)}")
        # Imported here, not at module level: discovery must not depend on either package.
        from baseline import UnoptimizedParallelProcessor
        return UnoptimizedParallelProcessor(num_workers, item_latency_s)
    if impl not in _EXECUTION:
        raise ValueError(f"impl must be one of {('baseline', *_EXECUTION)}, got {impl!r}")
    from optimized import OptimizedParallelProcessor
    return OptimizedParallelProcessor(num_workers, item_latency_s, execution=_EXECUTION[impl],
                                      **options)


def close_processor(processor: Any) -> None:
    """Close any processor without blocking for long (terminate + join if close fails)."""
    if processor is None:
        return
    if hasattr(processor, "terminate"):
        try:
            processor.close()
        except Exception:
            processor.terminate()
            processor.join(5)
    else:  # the baseline owns no long-lived process; cleanup() removes its temp files
        processor.cleanup()


def local_kernel_start_method() -> str | None:
    """Start method for pools that run functions defined in this benchmark package.

    asv imports ``benchmarks`` through its own import hook, which spawned or
    forkserver workers do not have; forked workers inherit the imported module.
    """
    return "fork" if "fork" in mp.get_all_start_methods() else None


def preimport_operation(name: str) -> None:
    """Import the op module now, so forked workers inherit it and no timed call imports it."""
    importlib.import_module(f"optimized.ops.{_OPS_MODULE[operation(name).family]}")


# -- inputs (seeded: the generators are deterministic; cached per benchmark process) -------
@functools.lru_cache(maxsize=3)
def operation_args(name: str, size: int) -> tuple[Any, ...]:
    """Positional arguments of operation ``name`` at ``size`` (the instances' builder).

    Both implementations get the very same objects (the optimized package's generators
    return the same values as the baseline's, faster). Cached: asv re-runs ``setup``
    before every sample.
    """
    op = operation(name)
    if op.builder == "test_text":
        return (build_text(size),)
    import optimized
    return build_args(op, size, optimized)


def build_text(words: int) -> str:
    """``generate_test_text(words)``, built without a temporary string per word.

    The generators join one string per word, so a 10**7-word text peaks at about
    ten times its own size while being built - in ``setup``, inside the process
    whose peak memory ``peakmem_map_reduce_word_count`` reports. Whole cycles of the
    word list are repeated instead; tests check the result is the same text.
    """
    cycle = WORKLOADS.word_cycle
    whole, rest = divmod(max(0, words), len(cycle))
    return "".join(w + " " for w in cycle) * whole + "".join(w + " " for w in cycle[:rest])


# -- best single-process references ---------------------------------------------------------
def _kernel_values(data: Sequence[float]) -> list[float]:
    """``x*x + sin(x)*cos(x)`` over ``data`` with NumPy; list in, list out."""
    x = np.asarray(data, dtype=np.float64)
    return (x * x + np.sin(x) * np.cos(x)).tolist()


def _kernel_batches(batches: Sequence[Sequence[float]]) -> list[float]:
    return _kernel_values(list(itertools.chain.from_iterable(batches)))


def _numpy_statistics(data: Sequence[float]) -> dict[str, float]:
    x = np.asarray(data, dtype=np.float64)
    return {"mean": float(x.mean()), "variance": float(x.var()), "median": float(np.median(x))}


def _pipeline_in_process(data: Sequence[Any]) -> list[Any]:
    """The default three stages (``x*2``, ``+10``, square) fused in one comprehension."""
    return [y * y for y in (x * 2 + 10 for x in data)]


def _object_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a.astype(object) @ b.astype(object)


def _split_int_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact ``a @ b`` for int64 arrays with float64 BLAS, splitting ``a`` into digits.

    A float64 product is exact while ``inner * max|a| * max|b| < 2**53``. Otherwise
    ``a = hi * 2**k + lo`` with ``0 <= lo < 2**k`` small enough for one exact BLAS call,
    and ``hi`` is handled the same way, recursively.
    """
    inner = a.shape[1]
    max_a = int(np.abs(a).max(initial=0))
    max_b = int(np.abs(b).max(initial=0))
    if inner * max_a * max_b < 2 ** 53:
        return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
    k = ((2 ** 53 - 1) // max(1, inner * max_b)).bit_length() - 1
    if inner * max_a * max_b >= 2 ** 62 or k < 1:  # int64 could overflow: exact objects
        return _object_matmul(a, b)
    lo = a & ((1 << k) - 1)
    hi = a >> k  # arithmetic shift: a == hi * 2**k + lo, also for negative entries
    return (_split_int_matmul(hi, b) << k) + (lo.astype(np.float64) @ b.astype(np.float64)
                                              ).astype(np.int64)


def exact_matmul(A: Any, B: Any) -> list[list[Any]]:
    """Best single-process exact ``A @ B`` for lists of lists (float64 BLAS throughout).

    Floats: one BLAS call. Integers: BLAS on digit splits (exact, see
    :func:`_split_int_matmul`); NumPy's own int64 matmul does not use BLAS and is
    tens of times slower at 2000 x 2000.
    """
    a, b = np.asarray(A), np.asarray(B)
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        return (a.astype(np.float64) @ b.astype(np.float64)).tolist()
    if a.dtype.kind not in "iu" or b.dtype.kind not in "iu":
        return _object_matmul(a, b).tolist()
    return _split_int_matmul(a.astype(np.int64), b.astype(np.int64)).tolist()


def numpy_sieve(limit: int) -> list[int]:
    """Primes below ``limit``: a plain odd-only NumPy Sieve of Eratosthenes."""
    if limit <= 2:
        return []
    odd = np.ones(limit // 2, dtype=bool)  # index i <-> 2*i + 1
    odd[0] = False
    for i in range(1, (math.isqrt(limit - 1) - 1) // 2 + 1):
        if odd[i]:
            p = 2 * i + 1
            odd[p * p // 2::p] = False
    return [2] + (2 * np.flatnonzero(odd) + 1).tolist()


def counter_word_count(text: str) -> dict[str, int]:
    """``Counter(text.split())``, then each distinct token cleaned once (D9) and folded."""
    counts: dict[str, int] = {}
    for token, n in Counter(text.split()).items():
        word = "".join(c.lower() for c in token if c.isalpha())
        if word:
            counts[word] = counts.get(word, 0) + n
    return counts


def _from_ops(module: str, attr: str, fallback: Callable[..., Any]) -> Callable[..., Any]:
    """The optimized package's own single-process reference if it has one, else ours."""
    try:
        return getattr(importlib.import_module(f"optimized.ops.{module}"), attr)
    except (ImportError, AttributeError):
        return fallback


def single_reference(name: str) -> Callable[..., Any] | None:
    """Best single-process implementation of operation ``name`` (same arguments), or None."""
    refs: dict[str, Callable[[], Callable[..., Any]]] = {
        "process_data_spawn_per_item": lambda: _kernel_values,
        "process_with_file_based_ipc": lambda: _kernel_values,
        "process_with_excessive_queue_ops": lambda: _kernel_values,
        "compute_statistics_sequential": lambda: _numpy_statistics,
        "parallel_sum_spawn_many": lambda: sum,
        "batch_process_with_manager": lambda: _kernel_batches,
        "parallel_matrix_multiply": lambda: exact_matmul,
        "parallel_find_primes": lambda: _from_ops("primes", "sieve_single_process", numpy_sieve),
        "map_reduce_word_count": lambda: _from_ops("wordcount", "count_words_single_process",
                                                   counter_word_count),
        "run_pipeline": lambda: _pipeline_in_process,
    }
    make = refs.get(name)
    return make() if make else None


# -- the generic operation benchmark --------------------------------------------------------
#: Seconds after creating a processor before its timings represent a warm pool.
_SETTLE_S = 0.3


class OperationBenchmark:
    """Base of the ``time_<operation>`` / ``peakmem_<operation>`` suites.

    A subclass sets ``operation`` (a public method name with an instance entry),
    ``params`` and ``param_names`` (``["impl", "size"]`` plus optionally ``"workers"``)
    and defines one-line benchmark methods calling ``self.fn(*self.args)``.
    ``setup`` builds the input (cached), creates the processor (closed in
    ``teardown``) and skips the baseline above ``baseline_max``.
    """

    operation: str = ""
    #: Seconds for one parameter combination (setup and every sample included).
    timeout = 600.0
    #: (min samples, max samples, seconds budget) for ordinary cases; see ``_budget``.
    repeat: Any = (2, 5, 3.0)

    def setup(self, impl: str, size: int, workers: int = GATE_WORKERS) -> None:
        self.processor: Any = None
        op = operation(self.operation)
        if impl == "baseline" and not op.baseline_runs(size):
            raise NotImplementedError(
                f"baseline skipped: {self.operation} at size {size} > baseline_max "
                f"{op.baseline_max} ({op.baseline_max_reason})")
        self._budget(impl, size)
        self.args = operation_args(self.operation, size)
        if impl == "single":
            ref = single_reference(self.operation)
            if ref is None:
                raise NotImplementedError(f"no single-process reference for {self.operation}")
            self.fn: Callable[..., Any] = ref
            ref(*operation_args(self.operation, min(sizes(self.operation))))  # lazy imports
            return
        if impl != "baseline":
            preimport_operation(self.operation)
        created = time.perf_counter()
        self.processor = make_processor(impl, workers)
        self.fn = functools.partial(getattr(self.processor, self.operation), **op.call)
        if impl != "baseline":
            # Warm pool: asv runs setup before every sample, so every sample gets a new
            # processor whose first calls pay one-time costs a long-lived processor pays
            # once: lazy imports, and copy-on-write page faults in the parent right after
            # forking the workers (measured: 100x100 matmul 3-7 ms on a new processor's
            # first call, 0.8 ms after). One untimed call at the timed size pays them;
            # the largest sizes (seconds per call) warm on the smallest input instead.
            warm = min(sizes(self.operation)) if _is_largest(self.operation, size) else size
            self.fn(*operation_args(self.operation, warm))
            # For about 0.25 s after the workers start, calls in the parent run slower
            # (measured: 100x100 matmul mean 1.2 ms, spikes to 30 ms, vs 0.75 ms after;
            # the new workers still use CPU). A long-lived processor is past that.
            time.sleep(max(0.0, _SETTLE_S - (time.perf_counter() - created)))

    def teardown(self, *params: Any) -> None:
        close_processor(getattr(self, "processor", None))
        self.processor = None

    def _budget(self, impl: str, size: int) -> None:
        # asv re-runs setup (a fresh pool) before every sample; slow cases get few
        # samples and no asv warm-up round, so a full run stays within its budget.
        if impl == "baseline" or _is_largest(self.operation, size):
            self.repeat = (1, 3, 6.0)
            self.warmup_time = 0.0


# -- user map and the parallel-efficiency figure ---------------------------------------------
#: Iterations of :func:`spin`: about 200 us of CPU per item on the reference machine.
SPIN_ITERATIONS = 2400
#: Items of the parallel-efficiency workload (2,000 x ~200 us).
EFFICIENCY_ITEMS = 200 if QUICK else 2000


def spin(x: int) -> int:
    """A CPU-bound item: a fixed integer loop of about 200 us (no sleeping, no I/O)."""
    acc = x
    for i in range(SPIN_ITERATIONS):
        acc = (acc + i * i) % 1_000_003
    return acc


#: Items through the pipeline with one slow stage (the replication benchmark).
SLOW_STAGE_ITEMS = 2000 if QUICK else 10_000


def slow_stage(x: Any) -> Any:
    """A pipeline stage of about 50 us of CPU per item (a fixed integer loop); returns ``x``."""
    acc = 0
    for i in range(SPIN_ITERATIONS // 4):
        acc = (acc + i * i) % 1_000_003
    return x if acc >= 0 else None


def item_double(x: Any) -> Any:
    """The original's stage 1 as a plain per-item function (one Python call per item)."""
    return x * 2


def item_add_ten(x: Any) -> Any:
    """The original's stage 2, per item."""
    return x + 10


def item_square(x: Any) -> Any:
    """The original's stage 3, per item."""
    return x * x


#: The original's stages as per-item functions, for comparison with the batch stages.
PER_ITEM_STAGES = (item_double, item_add_ten, item_square)


def sequential_map(func: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """``[func(x) for x in items]``: the single-process reference of ``map``."""
    return [func(x) for x in items]


def map_sizes() -> list[int]:
    """Item counts for ``time_map`` (``map`` has no instance entry of its own)."""
    return [100] if QUICK else [100, EFFICIENCY_ITEMS]


def _median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def parallel_efficiency(processor: Any, func: Callable[[Any], Any], items: Sequence[Any],
                        repeats: int = 3) -> float:
    """``sequential time / (workers x wall time of processor.map)``, medians of ``repeats``.

    1.0 means every worker was busy with useful work the whole time.
    """
    expected = [func(x) for x in items]
    if processor.map(func, items) != expected:
        raise AssertionError("processor.map returned a wrong result")
    sequential = _median_seconds(lambda: [func(x) for x in items], repeats)
    wall = _median_seconds(lambda: processor.map(func, items), repeats)
    return sequential / (processor.num_workers * wall)


def median_overhead_share(call: Callable[[], Any], processor: Any, repeats: int = 3) -> float:
    """Median of ``processor.last_metrics.overhead_share`` over ``repeats`` calls."""
    shares = []
    for _ in range(repeats):
        call()
        shares.append(processor.last_metrics.overhead_share)
    return statistics.median(shares)


def _stages_module() -> Any:
    """Where the processor keeps its stage functions (asv also runs older commits)."""
    try:
        return importlib.import_module("optimized.ops.stages")
    except ImportError:  # commits before the stages module kept them in the pipeline module
        return importlib.import_module("optimized.ops.pipeline")


def pipeline_stages() -> tuple[Callable[[Any], Any], ...]:
    """The processor's default stages (installed, picklable under any start method)."""
    return tuple(_stages_module().DEFAULT_STAGES)


def stage_inputs(stage: Callable[[Any], Any], inputs: list[Any]) -> list[Any]:
    """What ``stage`` alone makes of ``inputs``, as a list (per-item or batch stage alike)."""
    out = _stages_module().apply_stages([stage], inputs)
    return out.tolist() if isinstance(out, np.ndarray) else list(out)


def throughput_ratio(processor: Any, data: Sequence[Any],
                     stages: Sequence[Callable[[Any], Any]], repeats: int = 3) -> float:
    """R6: pipeline throughput over the throughput of its slowest stage run alone.

    As the R6 gate measures it: the pipeline ``run_pipeline(data, stages)`` against
    each of its stages alone - a one-stage ``run_pipeline`` on the same processor, fed
    the input that stage sees inside the pipeline; all timed interleaved (one untimed
    warm-up round), medians of ``repeats``. Throughput = items / wall time.
    """
    n = len(data)
    if len(processor.run_pipeline(data, list(stages))) != n:
        raise AssertionError("run_pipeline lost or duplicated items")
    cases: dict[str, Callable[[], Any]] = {
        "pipeline": functools.partial(processor.run_pipeline, data, list(stages))}
    inputs = list(data)
    for i, stage in enumerate(stages):
        cases[f"stage{i}"] = functools.partial(processor.run_pipeline, inputs, [stage])
        inputs = stage_inputs(stage, inputs)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for rnd in range(repeats + 1):
        for name, run in cases.items():
            t0 = time.perf_counter()
            run()
            if rnd:  # round 0 warms every configuration up
                times[name].append(time.perf_counter() - t0)
    pipeline_s = statistics.median(times.pop("pipeline"))
    slowest_s = max(statistics.median(t) for t in times.values())
    return (n / pipeline_s) / (n / slowest_s)
