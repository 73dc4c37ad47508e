"""Shared pieces of the asv suites: instances, sizes, processors, cached inputs, references.

Everything a suite needs to know about an operation (sizes per implementation, the
baseline's limit, gate sizes) comes from ``instances/workloads.json``, found relative to
this file: asv installs the project (non-editable) into its own environment and drops
``PYTHONPATH``, but always runs the benchmarks from the working tree.

Names here must not look like benchmarks to asv (no module-level ``time_*``,
``track_*``, ``peakmem_*``, ``mem_*``, ``setup`` or ``teardown``).
"""
from __future__ import annotations

import collections
import functools
import importlib
import importlib.util
import itertools
import math
import multiprocessing as mp
import os
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from evaluation.workloads import Operation, Workloads, build_args, load_workloads

if TYPE_CHECKING:  # only for the annotation: discovery must not import the package
    from optimized.chunking import ExecutionMode

__all__ = ["INSTANCES", "QUICK", "QUICK_ENV", "WORKLOADS", "GATE_WORKERS", "IMPLS",
           "TWO_CORES", "SCALE_IMPLS", "operation", "sizes", "scale_sizes", "workload_sizes",
           "largest_size", "memory_sizes",
           "gate_size", "make_processor",
           "close_processor", "local_kernel_start_method", "preimport_operation",
           "operation_args", "build_text", "single_reference", "OperationBenchmark",
           "spin", "SPIN_ITERATIONS", "EFFICIENCY_ITEMS", "map_sizes", "sequential_map",
           "parallel_efficiency", "median_overhead_share", "pipeline_stages",
           "throughput_ratio", "stage_inputs", "slow_stage", "SLOW_STAGE_ITEMS",
           "PER_ITEM_STAGES", "exact_matmul", "numpy_sieve", "counter_word_count",
           "FLOAT_MATMUL_SEED", "float_matrices", "PeakRss", "peak_rss_during",
           "PeakRssBenchmark", "wait_1ms", "WAITING_ITEMS"]

#: ``instances/`` of the working tree this suite belongs to.
INSTANCES = Path(__file__).resolve().parent.parent / "instances"
#: Environment variable: two small sizes per operation, huge cases skipped (smoke tests).
QUICK_ENV = "PPD_BENCH_QUICK"
QUICK = os.environ.get(QUICK_ENV, "").strip() not in ("", "0")

WORKLOADS: Workloads = load_workloads(INSTANCES)
#: Workers for every benchmark that is not about the worker count.
GATE_WORKERS: int = WORKLOADS.gate_workers
#: Workers of the benchmarks that compare against a single process on the 2-core
#: reference machine ("2 workers, 2 cores"): one worker per core, so the
#: pooled path uses exactly the cores a single process with NumPy's threads uses.
TWO_CORES = 2
#: Every ``impl`` value, in report order (see the package docstring). Quick mode (the
#: smoke run and ``--quick`` reports) leaves out the forced-path variants ``inline`` and
#: ``pool``: the same benchmark code with another ``execution``, ~40 % of the quick run's
#: points; the full run has them all.
IMPLS = ("baseline", "optimized", "single") if QUICK else \
    ("baseline", "optimized", "inline", "pool", "single")
_EXECUTION: dict[str, ExecutionMode] = {"optimized": "auto", "inline": "inline", "pool": "pool"}
#: Implementations run at the scaling sizes (:func:`scale_sizes`): what a caller gets,
#: and the single-process reference its growth is compared with.
SCALE_IMPLS = ("optimized", "single")
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

    ``sizes["optimized"]`` union ``sizes["baseline"]`` union the sizes of the
    operation's gates: the evaluation compares implementations at the first gate's
    size and extrapolates only when that size was not run, so every gate size is
    measured. In quick mode (``PPD_BENCH_QUICK=1``) the two smallest baseline sizes
    and the largest quick size: every implementation runs at all three, so quick
    figures still compare them side by side, and the baseline has two points for the
    report's power-law fit.
    """
    op = operation(name)
    if QUICK:  # two sizes the baseline runs, one where "auto" may pick the pool
        return sorted(set(sorted(op.sizes["baseline"])[:2]) | {max(op.sizes["quick"])})
    return sorted(set(op.sizes["optimized"]) | set(op.sizes["baseline"])
                  | {g.size for g in op.gates} | set(scale_sizes(name)))


def scale_sizes(name: str) -> list[int]:
    """The scaling curve's extra sizes of ``name`` (instances ``sizes.scale``; none in quick mode).

    The time-vs-size curves reach the sizes users run at (10**9
    primes, 10**7 items, 5 * 10**7 words, 4000 x 4000). Only :data:`SCALE_IMPLS`
    run them - each point costs seconds to tens of seconds per sample - which is
    what the report's growth exponents compare.
    """
    return [] if QUICK else sorted(operation(name).sizes.get("scale", ()))


def workload_sizes(name: str, workload: str) -> list[int]:
    """:func:`sizes` of operation ``name`` that are run on ``workload``.

    The ``compute`` workload runs every size. Another workload (``latency``: 1 ms of
    sleep per item) runs only up to the largest size of the operation's gates on that
    workload - beyond it a call sleeps for tens of seconds and measures nothing new.
    """
    if workload not in WORKLOADS.workloads:
        raise ValueError(f"workload must be one of {sorted(WORKLOADS.workloads)}, "
                         f"got {workload!r}")
    all_sizes = sizes(name)
    if workload == "compute":
        return all_sizes
    gate_sizes = [g.size for g in operation(name).gates if g.workload == workload]
    if not gate_sizes:
        raise ValueError(f"{name} has no gate on the {workload!r} workload")
    return [s for s in all_sizes if s <= max(gate_sizes)]


def largest_size(name: str) -> int:
    """The largest size every implementation of ``name`` runs (the scaling sizes excluded;
    the largest quick size in quick mode)."""
    scale = set(scale_sizes(name))
    return max(s for s in sizes(name) if s not in scale)


def memory_sizes(name: str) -> list[int]:
    """``[smallest, largest]`` benchmark size: the trivial-case floor and the big case."""
    return [min(sizes(name)), largest_size(name)]


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


#: Seed of the float64 matrices (:func:`float_matrices`).
FLOAT_MATMUL_SEED = 20240601


@functools.lru_cache(maxsize=2)  # the timed size and the warm-up size
def float_matrices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two seeded ``n x n`` float64 ndarrays, entries uniform in ``[0, 1)`` (cached).

    The instances' matrix builder gives integer lists; this is the float64 ndarray
    case of the matrix targets (the pooled product against plain ``A @ B``).
    """
    rng = np.random.default_rng(FLOAT_MATMUL_SEED)
    return rng.random((n, n)), rng.random((n, n))


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


# -- peak resident memory of the parent and of the pool's workers ---------------------------
#: Linux: ``VmHWM`` (peak RSS) of any own process, reset by writing 5 to ``clear_refs``.
_PROC_PEAK = sys.platform.startswith("linux") and os.path.exists("/proc/self/clear_refs")
#: Seconds between samples where the kernel keeps no resettable peak (psutil sampling).
_SAMPLE_S = 0.002


class PeakRss(NamedTuple):
    """Peak resident set sizes during one call, MiB (and the parent's RSS just before it)."""

    parent_mib: float
    largest_worker_mib: float
    parent_start_mib: float = math.nan


def _status_mib(pid: int, field: str = "VmHWM") -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/{pid}/status has no {field} line")


def _proc_peaks(pids: Sequence[int], fn: Callable[[], Any]) -> tuple[list[float], float]:
    for pid in pids:  # peak := current RSS, so the figure is this call's
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    start = _status_mib(pids[0], "VmRSS")
    fn()
    return [_status_mib(pid) for pid in pids], start


def _sampled_peaks(pids: Sequence[int], fn: Callable[[], Any]) -> tuple[list[float], float]:
    """Largest RSS seen every :data:`_SAMPLE_S` while ``fn`` runs (may miss short spikes)."""
    import psutil  # harness dependency; PeakRssBenchmark skips where it is missing

    procs = [psutil.Process(pid) for pid in pids]
    peaks = [p.memory_info().rss / 2 ** 20 for p in procs]
    start = peaks[0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for i, p in enumerate(procs):
                peaks[i] = max(peaks[i], p.memory_info().rss / 2 ** 20)
            time.sleep(_SAMPLE_S)

    sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    sampler.start()
    try:
        fn()
    finally:
        done.set()
        sampler.join()
    return peaks, start


def peak_rss_during(processor: Any, fn: Callable[[], Any]) -> PeakRss:
    """Peak RSS (MiB) of this process and of the largest of ``processor``'s workers in ``fn()``.

    asv's ``peakmem_`` sees the benchmark process only; the pool's workers are other
    processes (``processor.worker_pids()``). On Linux the kernel's own peak (``VmHWM``,
    reset just before the call) is exact; elsewhere RSS is sampled with psutil. A
    forked worker's RSS counts the pages it maps - shared-memory pages it touched
    included - so a worker holding a private copy of the input shows it.

    Raises
    ------
    RuntimeError
        The pool's workers changed during the call (a worker died): the figure would
        describe processes that no longer exist.
    """
    workers = list(processor.worker_pids())
    if not workers:
        raise RuntimeError("the processor has no worker processes to measure")
    pids = [os.getpid(), *workers]
    peaks, start = (_proc_peaks if _PROC_PEAK else _sampled_peaks)(pids, fn)
    if list(processor.worker_pids()) != workers:
        raise RuntimeError(f"the pool's workers changed during the call ({workers} -> "
                           f"{processor.worker_pids()}): no peak to report")
    return PeakRss(peaks[0], max(peaks[1:]), start)


# -- the generic operation benchmark --------------------------------------------------------
#: Seconds after creating a processor before its timings represent a warm pool. Quick
#: mode (one sample per point, a smoke run whose figures decide nothing) does not wait:
#: it saves ~0.3 s on each of ~100 points of the suite's quick run.
_SETTLE_S = 0.0 if QUICK else 0.3


def _touch(values: Any) -> None:
    """Reference every item of ``values`` (lists of lists too) once, at C speed."""
    if isinstance(values, (list, tuple)):
        collections.deque(values, maxlen=0)
        if values and isinstance(values[0], (list, tuple)):
            for inner in values:
                _touch(inner)


class OperationBenchmark:
    """Base of the ``time_<operation>`` / ``peakmem_<operation>`` suites.

    A subclass sets ``operation`` (a public method name with an instance entry),
    ``params`` and ``param_names`` (``["impl", "size"]`` plus optionally ``"workers"``)
    and defines one-line benchmark methods calling ``self.fn(*self.args)``.
    ``setup`` builds the input (cached), creates the processor (closed in
    ``teardown``) and skips the baseline above ``baseline_max``. A subclass may set
    ``workload`` (an instance workload: the processors' simulated item latency) and
    override :meth:`inputs` / :meth:`reference` to time other inputs than the
    instances' builder.
    """

    operation: str = ""
    #: Instance workload (``compute``: no simulated latency; ``latency``: 1 ms per item).
    workload: str = "compute"
    #: Seconds for one parameter combination (setup and every sample included).
    timeout = 600.0
    #: (min samples, max samples, seconds budget) for ordinary cases; see ``_budget``.
    repeat: Any = (2, 5, 3.0)
    #: Implementations that run at the operation's scaling sizes.
    scale_impls: tuple[str, ...] = SCALE_IMPLS

    def setup(self, impl: str, size: int, workers: int = GATE_WORKERS) -> None:
        self.processor: Any = None
        op = operation(self.operation)
        if impl == "baseline" and not op.baseline_runs(size):
            raise NotImplementedError(
                f"baseline skipped: {self.operation} at size {size} > baseline_max "
                f"{op.baseline_max} ({op.baseline_max_reason})")
        if size in scale_sizes(self.operation) and impl not in self.scale_impls:
            raise NotImplementedError(f"{impl} skipped at the scaling size {size:,}: only "
                                      f"{', '.join(self.scale_impls)} run it")
        self._budget(impl, size)
        self.args = self.inputs(size)
        if impl == "single":
            ref = self.reference()
            if ref is None:
                raise NotImplementedError(f"no single-process reference for {self.operation}")
            self.fn: Callable[..., Any] = ref
            ref(*self.inputs(min(sizes(self.operation))))  # lazy imports
            return
        if impl != "baseline":
            preimport_operation(self.operation)
        created = time.perf_counter()
        self.processor = make_processor(impl, workers, WORKLOADS.workloads[self.workload])
        self.fn = functools.partial(getattr(self.processor, self.operation), **op.call)
        if impl != "baseline":
            # Warm pool: asv runs setup before every sample, so every sample gets a new
            # processor whose first calls pay one-time costs a long-lived processor pays
            # once: lazy imports, and copy-on-write page faults in the parent right after
            # forking the workers (measured: 100x100 matmul 3-7 ms on a new processor's
            # first call, 0.8 ms after). One untimed call at the timed size pays them;
            # the largest sizes (seconds per call) warm on the smallest input instead.
            # Items that sleep (latency workload) have no such costs worth a full call.
            small = _is_largest(self.operation, size) or self.workload != "compute"
            warm = self.inputs(min(sizes(self.operation)) if small else size)
            self.fn(*warm)
            if small and self.workload == "compute":
                # The timed input predates the fork: the first pass over it writes the
                # refcount of every item, a copy-on-write fault per page (measured: sum
                # of 10**7 ints 0.20 s on a new processor's first call, 0.03 s after;
                # nothing of it under forkserver). A cheap pass pays those faults here.
                _touch(self.args)
            # For about 0.25 s after the workers start, calls in the parent run slower
            # (measured: 100x100 matmul mean 1.2 ms, spikes to 30 ms, vs 0.75 ms after;
            # the new workers still use CPU), and the first calls after the fork pay
            # copy-on-write faults in the parent (2x2 matmul: 520 us, 115, 90, ... then
            # 55 us). A long-lived processor is past both: keep calling until it settles.
            while time.perf_counter() - created < _SETTLE_S:
                self.fn(*warm)

    def teardown(self, *params: Any) -> None:
        close_processor(getattr(self, "processor", None))
        self.processor = None

    def inputs(self, size: int) -> tuple[Any, ...]:
        """Positional arguments of the timed call at ``size`` (default: the instances')."""
        return operation_args(self.operation, size)

    def reference(self) -> Callable[..., Any] | None:
        """The ``single`` implementation: best single-process code for the same inputs."""
        return single_reference(self.operation)

    def _budget(self, impl: str, size: int) -> None:
        # asv re-runs setup (a fresh pool) before every sample; slow cases get few
        # samples and no asv warm-up round, so a full run stays within its budget.
        if impl == "baseline" or _is_largest(self.operation, size):
            self.repeat = (1, 3, 6.0)
            self.warmup_time = 0.0


class PeakRssBenchmark:
    """Base of the peak-memory ``track_`` suites of one big call of the optimized processor.

    A subclass sets ``operation``, ``size`` and ``workers`` and defines one-line
    ``track_parent_peak_rss`` / ``track_worker_peak_rss`` returning
    ``self.peaks().parent_mib`` / ``.largest_worker_mib``. The processor
    (``execution="auto"``) is created before the input exists, so forked workers do
    not map the parent's copy of it.
    """

    operation: str = ""
    size: int = 0
    workers: int = TWO_CORES
    unit = "MiB"
    timeout = 600.0
    rounds = 1  # one call per figure: a peak is a property of the call, not a noisy time

    def setup(self) -> None:
        self.processor: Any = None
        self._peaks: PeakRss | None = None
        if not _PROC_PEAK and importlib.util.find_spec("psutil") is None:
            # asv's own environments install the project's runtime needs only (numpy)
            raise NotImplementedError("no /proc peak RSS here and psutil is not installed")
        preimport_operation(self.operation)
        self.processor = make_processor("optimized", self.workers)
        op = operation(self.operation)
        self.fn = functools.partial(getattr(self.processor, self.operation), **op.call)
        self.fn(*operation_args(self.operation, min(sizes(self.operation))))  # warm
        self.args = operation_args(self.operation, self.size)

    def teardown(self, *params: Any) -> None:
        close_processor(getattr(self, "processor", None))
        self.processor = None

    def peaks(self) -> PeakRss:
        """Peak RSS of the parent and the largest worker during one call (measured once)."""
        if self._peaks is None:
            def call() -> None:
                self.result = self.fn(*self.args)  # kept: its own size is a figure too

            self._peaks = peak_rss_during(self.processor, call)
        return self._peaks

    def growth_over_result(self, size_of: Callable[[Any], int]) -> float:
        """The parent's RSS growth during the call over ``size_of(result)`` (a ratio).

        1.0 means the call needed no memory beyond what its result itself holds.
        """
        peaks = self.peaks()
        return (peaks.parent_mib - peaks.parent_start_mib) * 2 ** 20 / size_of(self.result)


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


#: Items that mostly wait, through one call (2,000 x 1 ms on 4 workers).
WAITING_ITEMS = 2000


def wait_1ms(x: Any) -> Any:
    """An item that mostly waits: a 1 ms sleep (a stand-in for I/O), then ``x``."""
    time.sleep(0.001)
    return x


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
                        repeats: int = 5) -> float:
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
    """Where the processor keeps its default stages (asv also runs older commits)."""
    try:
        return importlib.import_module("optimized.ops.stages")
    except ImportError:  # commits before the stages module kept them in the pipeline module
        return importlib.import_module("optimized.ops.pipeline")


def _apply_stages() -> Callable[..., Any]:
    """The processor's ``apply_stages`` (in ``optimized.batches`` since the backends seam)."""
    try:
        return importlib.import_module("optimized.batches").apply_stages
    except ImportError:
        return _stages_module().apply_stages


def pipeline_stages() -> tuple[Callable[[Any], Any], ...]:
    """The processor's default stages (installed, picklable under any start method)."""
    return tuple(_stages_module().DEFAULT_STAGES)


def stage_inputs(stage: Callable[[Any], Any], inputs: list[Any]) -> list[Any]:
    """What ``stage`` alone makes of ``inputs``, as a list (per-item or batch stage alike)."""
    out = _apply_stages()([stage], inputs)
    return out.tolist() if isinstance(out, np.ndarray) else list(out)


def throughput_ratio(processor: Any, data: Sequence[Any],
                     stages: Sequence[Callable[[Any], Any]], repeats: int = 3,
                     replicas: Sequence[int] | None = None) -> float:
    """R6: pipeline throughput over the throughput of its slowest stage run alone.

    As the R6 gate measures it: the pipeline ``run_pipeline(data, stages)`` against
    each of its stages alone - a one-stage ``run_pipeline`` on the same processor, fed
    the input that stage sees inside the pipeline; all timed interleaved (one untimed
    warm-up round), medians of ``repeats``. Throughput = items / wall time.

    ``replicas`` (``run_pipeline``'s layout, one count per stage; default: the
    processor's own layout) applies to both sides: stage ``i`` alone runs with
    ``replicas=[replicas[i]]``, so it has the processes it has inside the pipeline.
    """
    n = len(data)
    if replicas is not None and len(replicas) != len(stages):
        raise ValueError(f"replicas needs one count per stage ({len(stages)}), "
                         f"got {list(replicas)!r}")
    layout = {} if replicas is None else {"replicas": list(replicas)}
    if len(processor.run_pipeline(data, list(stages), **layout)) != n:
        raise AssertionError("run_pipeline lost or duplicated items")
    cases: dict[str, Callable[[], Any]] = {
        "pipeline": functools.partial(processor.run_pipeline, data, list(stages), **layout)}
    inputs = list(data)
    for i, stage in enumerate(stages):
        alone = {} if replicas is None else {"replicas": [replicas[i]]}
        cases[f"stage{i}"] = functools.partial(processor.run_pipeline, inputs, [stage], **alone)
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
