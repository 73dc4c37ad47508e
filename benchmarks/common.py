"""What several asv suites share: instances, sizes, processors, cached inputs, the generic
operation benchmark. The ``single`` references are in :mod:`benchmarks.references`, peak
memory in :mod:`benchmarks.memory`; what one suite alone uses lives in that suite.

Everything a suite needs to know about an operation (sizes per implementation, the
baseline's limit, gate sizes) comes from ``instances/workloads.json``, found relative to
this file: asv installs the project (non-editable) into its own environment and drops
``PYTHONPATH``, but always runs the benchmarks from the working tree.

Names here must not look like benchmarks to asv (no module-level ``time_*``,
``track_*``, ``peakmem_*``, ``mem_*``, ``setup`` or ``teardown``).
"""
from __future__ import annotations

import atexit
import functools
import importlib
import importlib.util
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evaluation.workloads import SCALE_SUITE_SUFFIX, Operation, Workloads, load_workloads

from .references import single_reference

try:
    from evaluation.inputs import build_args
except ImportError:  # asv benchmarks older commits too; they kept it in evaluation.workloads
    from evaluation.workloads import build_args  # type: ignore[attr-defined,no-redef]

if TYPE_CHECKING:  # only for the annotation: discovery must not import the package
    from optimized.chunking import ExecutionMode

__all__ = [
    # the instances: operations and their sizes
    "INSTANCES", "QUICK", "QUICK_ENV", "WORKLOADS", "GATE_WORKERS", "IMPLS", "TWO_CORES",
    "SCALE_IMPLS", "operation", "sizes", "scale_sizes", "at_scale", "workload_sizes", "largest_size",
    "memory_sizes", "gate_size",
    # processors and their inputs
    "make_processor", "close_processor", "kept_processor", "close_kept", "settle",
    "at_point_end", "end_of_point",
    "local_kernel_start_method", "preimport_operation",
    "operation_args", "build_text",
    # the generic operation benchmark
    "OperationBenchmark"]

#: ``instances/`` of the working tree this suite belongs to.
INSTANCES = Path(__file__).resolve().parent.parent / "instances"
#: Environment variable: two small sizes per operation, huge cases skipped (smoke tests).
QUICK_ENV = "PPD_BENCH_QUICK"
QUICK = os.environ.get(QUICK_ENV, "").strip() not in ("", "0")
#: A test hook (set by ``tests/test_compare.py``, never by the harness): ``OPERATION:FACTOR``
#: makes every timed call of that operation take FACTOR times as long (an injected
#: regression that ``--compare`` must flag).
SLOWDOWN_ENV = "PPD_BENCH_SLOWDOWN"

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
    report's power-law fit. The scaling sizes are not among them: :func:`scale_sizes`.
    """
    op = operation(name)
    if QUICK:  # two sizes the baseline runs, one where "auto" may pick the pool
        return sorted(set(sorted(op.sizes["baseline"])[:2]) | {max(op.sizes["quick"])})
    return sorted(set(op.sizes["optimized"]) | set(op.sizes["baseline"])
                  | {g.size for g in op.gates})


def scale_sizes(name: str) -> list[int]:
    """The scaling curve's extra sizes of ``name`` (instances ``sizes.scale``; none in quick mode).

    The time-vs-size curves reach the sizes users run at (10**9
    primes, 10**7 items, 5 * 10**7 words, 4000 x 4000). Only :data:`SCALE_IMPLS`
    run them - each point costs seconds to tens of seconds per sample - which is
    what the report's growth exponents compare. They run in a companion suite of
    one round (:func:`at_scale`).
    """
    return [] if QUICK else sorted(operation(name).sizes.get("scale", ()))


def at_scale(main: type[OperationBenchmark]) -> dict[str, type[OperationBenchmark]]:
    """``main``'s companion suite at the operation's scaling sizes, by its class name.

    The same benchmark code (a subclass) with :data:`SCALE_IMPLS` x :func:`scale_sizes`
    and one asv round: a point there costs seconds per call and feeds the growth
    figures only (no seed gate, target or ``--compare`` verdict rests on it). ``setup``
    makes one untimed call at the size, then asv takes one sample: two calls per point,
    as asv's two rounds of one cold sample each took, in one process instead of two
    (its set-up - the input, a pool - paid once), and the sample is a warm call like
    every other point's. The report joins it to
    ``main``'s curve (:func:`evaluation.figures.reference.timed_rows`). Empty in quick
    mode (no scaling sizes). A module binds it with ``globals().update(at_scale(Main))``.
    """
    scale = scale_sizes(main.operation)
    if not scale:
        return {}
    name = main.__name__ + SCALE_SUITE_SUFFIX
    doc = (f"{main.__name__} at the scaling sizes {', '.join(f'{s:,}' for s in scale)}: "
           f"{', '.join(main.scale_impls)} only, one asv round (growth figures).")
    companion = type(name, (main,), {
        "__doc__": doc, "__module__": main.__module__, "__qualname__": name,
        "params": [list(main.scale_impls), scale], "rounds": 1})
    return {name: companion}


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
    return max(sizes(name))


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


#: Processors of this benchmark process, by kind (:func:`kept_processor`).
_KEPT: dict[tuple[Any, ...], Any] = {}
#: (processor, operation, size) already warmed in this process.
_WARMED: set[tuple[Any, ...]] = set()


def kept_processor(impl: str, num_workers: int = GATE_WORKERS, item_latency_s: float = 0.0,
                   **options: Any) -> tuple[Any, bool]:
    """This benchmark process's processor of a kind, made on first use and then kept.

    asv re-runs a benchmark's ``setup`` before every timed call (and every warm-up call),
    in a process of its own per point and round. A processor made in ``setup`` each time
    would put a pool start, warm-up calls and the settling after a fork around every
    sample - time that measures nothing, and a long-lived processor (what the timings
    describe) pays it once. So a point's process keeps one processor per kind; it ends
    with that process (its workers watch their owner, D14), or :func:`close_kept` ends it.

    Returns
    -------
    (processor, bool)
        The processor, and whether it was made by this call.
    """
    key = (impl, num_workers, item_latency_s, tuple(sorted(options.items())))
    kept = _KEPT.get(key)
    if kept is not None and not getattr(kept, "closed", False):
        return kept, False
    _KEPT[key] = make_processor(impl, num_workers, item_latency_s, **options)
    return _KEPT[key], True


def close_kept() -> None:
    """Close every kept processor (at the benchmark process's exit).

    Under asv's forkserver launch a point's process leaves with ``os._exit`` (no atexit):
    its kept processors' workers then exit on their own, as they watch their owner (D14).
    They are not closed at the point's end (:func:`at_point_end`): a close costs
    ~0.05 s, paid by ~1,100 points and rounds per full run, for nothing the owner watch
    does not do.
    """
    while _KEPT:
        close_processor(_KEPT.popitem()[1])
    _WARMED.clear()


atexit.register(close_kept)

#: Callbacks of :func:`at_point_end`, in registration order.
_AT_POINT_END: list[Callable[[], None]] = []


def at_point_end(callback: Callable[[], None]) -> None:
    """Run ``callback`` when this benchmark process's point ends, however asv launched it.

    asv (``--launch-method=forkserver``) runs each point and round in a forked process
    that leaves with ``os._exit`` right after the point's last ``teardown``: atexit
    handlers never run there. What must not outlive the point (a Dask cluster and its
    scratch folder, a candidate's processor, a ``multiprocessing.Pool``) is released at
    that last teardown (:func:`end_of_point`), and at exit under asv's spawn launch.
    """
    _AT_POINT_END.append(callback)
    atexit.register(callback)


def end_of_point() -> None:
    """Call from a benchmark's ``teardown``: runs the :func:`at_point_end` callbacks when
    asv tears the point down for the last time.

    asv_runner also tears down between two samples - through ``Benchmark.redo_setup``,
    which sets the point up again at once; a teardown called from there is not the last.
    """
    frame = sys._getframe(1)
    for _ in range(4):  # teardown <- do_teardown <- redo_setup (between samples)
        frame = frame.f_back  # type: ignore[assignment]
        if frame is None:
            break
        if frame.f_code.co_name == "redo_setup":
            return
    for callback in _AT_POINT_END:
        callback()


def local_kernel_start_method() -> str | None:
    """Start method for pools that run functions defined in this benchmark package.

    asv imports ``benchmarks`` through its own import hook, which spawned or
    forkserver workers do not have; forked workers inherit the imported module.
    """
    return "fork" if "fork" in mp.get_all_start_methods() else None


def preimport_operation(name: str) -> None:
    """Import the op module now, so forked workers inherit it and no timed call imports it."""
    importlib.import_module(f"optimized.ops.{_OPS_MODULE[operation(name).family]}")


def _preimport_packages() -> None:
    """Import both packages, their operation modules and NumPy once, in asv's server.

    asv (``--launch-method=forkserver``) imports the suite once and forks a process per
    point and round from it: what is imported here, every point process has already.
    Imported in each point's ``setup`` instead, they cost 50-120 ms per point and round
    (measured on ParallelSumSpawnMany: ``setup`` of a ``single`` point at 50 items took
    49-114 ms, almost all of it imports) - about a minute over a full run's ~1,100.
    Nothing here starts a thread or a process (a fork of the server must be safe).
    A package that fails to import is left to ``setup``, which then reports it.
    """
    for module in ("numpy", "baseline", "optimized",
                   *(f"optimized.ops.{m}" for m in sorted(set(_OPS_MODULE.values())))):
        try:
            importlib.import_module(module)
        except ImportError:
            return


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


# -- the generic operation benchmark --------------------------------------------------------
#: Seconds after creating a processor before its timings represent a warm pool. Quick
#: mode (one sample per point, a smoke run whose figures decide nothing) does not wait:
#: it saves ~0.3 s on each of ~100 points of the suite's quick run.
_SETTLE_S = 0.0 if QUICK else 0.3
#: How long the workers must use no CPU to count as idle (one poll).
_IDLE_POLL_S = 0.02


def settle(call: Callable[[], Any], pids: list[int], created: float) -> None:
    """Call ``call`` until the processes ``pids`` use no CPU, at most ``_SETTLE_S`` after ``created``.

    Right after a pool starts, calls in the parent run slower while the new workers
    still use CPU (measured: 100x100 matmul through the pool 12-83 ms, then 2-3 ms once
    the workers went idle 0.11-0.14 s after the start - OpenBLAS threads busy-waiting in
    each forked worker, which the workers no longer re-create: a forked pool is idle
    at its first poll now, a spawned one once its workers' imports are done), and the first calls after the
    fork pay copy-on-write faults in the parent (2x2 matmul: 520 us, 115, 90, ... then
    55 us). A long-lived processor is past both, and so is a settled one.

    Parameters
    ----------
    call : callable
        One small call through the processor (the warm-up input).
    pids : list of int
        The processes whose CPU use must stop (the pool's workers).
    created : float
        ``time.perf_counter()`` when the processor was made.
    """
    while time.perf_counter() - created < _SETTLE_S:
        call()
        before = _cpu_ticks(pids)  # between calls: only start-up work moves it
        time.sleep(_IDLE_POLL_S)
        if before is not None and _cpu_ticks(pids) == before:
            return


def _cpu_ticks(pids: list[int]) -> int | None:
    """Clock ticks of CPU the processes used so far (Linux ``/proc``), None elsewhere."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            return None
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def _slowed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``, or - for the operation :data:`SLOWDOWN_ENV` names - ``fn`` made slower."""
    target, _, factor = os.environ.get(SLOWDOWN_ENV, "").partition(":")
    if target != name:
        return fn

    def slower(*args: Any) -> Any:
        t0 = time.perf_counter()
        out = fn(*args)
        end = t0 + float(factor) * (time.perf_counter() - t0)
        while time.perf_counter() < end:  # a spin, not a sleep: exact for sub-ms calls
            pass
        return out

    return slower


#: Seconds of sleeping items from which an ``inline`` point takes one sample per round.
SLEEP_BOUND_S = 0.25


class OperationBenchmark:
    """Base of the ``time_<operation>`` / ``peakmem_<operation>`` suites.

    A subclass sets ``operation`` (a public method name with an instance entry),
    ``params`` and ``param_names`` (``["impl", "size"]`` plus optionally ``"workers"``)
    and defines one-line benchmark methods calling ``self.fn(*self.args)``.
    ``setup`` takes the point's kept processor (:func:`kept_processor`, warmed once per
    size), builds the input and skips the baseline above ``baseline_max``. A subclass may set
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
    #: Seconds of asv warm-up calls per point and round (asv's default: 0.1). Without any,
    #: the first samples after ``setup`` ran 2-4x slower (median max/min of a point's
    #: samples 2.0 instead of 1.3 on ParallelSumSpawnMany and RunPipeline), though
    #: ``setup`` had made a call at the timed size and settled the pool. What warms a point
    #: is time, not calls: 20 calls in ``setup`` instead (RunPipeline's first ~8 calls run
    #: 1.1-2x slower) gave medians 7-11 % higher than 0.1 s of calls, in four interleaved
    #: runs. 0.06 s against 0.1 s, four interleaved pairs of RunPipeline,
    #: ParallelSumSpawnMany and ProcessWithFileBasedIpc (92 points): medians 0.96-1.02x,
    #: max/min of a point's samples 1.29-1.53 against 1.29-1.59 (the same setting varies
    #: that much from run to run), ~9 s less per run of the three suites.
    warmup_time = 0.06
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
        if impl == "single":
            self.args = self.inputs(size)
            ref = self.reference()
            if ref is None:
                raise NotImplementedError(f"no single-process reference for {self.operation}")
            self.fn: Callable[..., Any] = _slowed(self.operation, ref)
            ref(*self.inputs(min(sizes(self.operation))))  # lazy imports
            if size in scale_sizes(self.operation):
                ref(*self.args)  # its one sample is a warm call, as the processor's (_warm)
            return
        if impl != "baseline":
            preimport_operation(self.operation)
        created = time.perf_counter()
        self.processor, new = kept_processor(impl, workers, WORKLOADS.workloads[self.workload])
        # The inputs after the processor: built after its workers forked, they share no
        # page with them (no copy-on-write fault on a first pass), and building them
        # overlaps the settling below.
        self.args = self.inputs(size)
        self.fn = functools.partial(getattr(self.processor, self.operation), **op.call)
        warmed = (id(self.processor), self.operation, size)
        if impl != "baseline" and (new or warmed not in _WARMED):  # (a new one may reuse an id)
            _WARMED.add(warmed)
            self._warm(size, created if new else None)
        self.fn = _slowed(self.operation, self.fn)

    def _warm(self, size: int, created: float | None) -> None:
        """Pay a new processor's one-time costs at this size before anything is timed.

        ``created``: when the processor was made (None: it already served another size).
        """
        # A processor's first calls pay one-time costs a long-lived processor pays once:
        # lazy imports, and copy-on-write page faults in the parent right after forking
        # the workers (measured: 100x100 matmul 3-7 ms on a new processor's first call,
        # 0.8 ms after). One untimed call at the timed size pays them; the largest sizes
        # (seconds per call) warm on the smallest input instead - except the scaling
        # sizes, whose one sample would otherwise carry a first call's costs at that
        # size (run_pipeline at 10**7: 0.79-1.42 s cold over three runs). Items that
        # sleep (latency workload) have no such costs worth a full call.
        small = (_is_largest(self.operation, size) and size not in scale_sizes(self.operation)
                 ) or self.workload != "compute"
        warm = self.inputs(min(sizes(self.operation)) if small else size)
        self.fn(*warm)
        if created is not None:
            settle(lambda: self.fn(*warm), list(getattr(self.processor, "worker_pids", list)()),
                   created)

    def teardown(self, *params: Any) -> None:
        self.processor = None  # kept for the next sample (kept_processor)

    def inputs(self, size: int) -> tuple[Any, ...]:
        """Positional arguments of the timed call at ``size`` (default: the instances')."""
        return operation_args(self.operation, size)

    def reference(self) -> Callable[..., Any] | None:
        """The ``single`` implementation: :func:`benchmarks.references.single_reference`."""
        return single_reference(self.operation)

    def _budget(self, impl: str, size: int) -> None:
        # Slow cases get few samples and no asv warm-up round, so a full run stays
        # within its budget: the baseline and the largest sizes at most 3 per round,
        # the scaling sizes (seconds per call, growth figures only) one per round.
        if size in scale_sizes(self.operation):
            self.repeat = (1, 1, 0.0)
            self.warmup_time = 0.0
        elif impl == "inline" and WORKLOADS.workloads[self.workload] * size >= SLEEP_BOUND_S:
            # One process sleeping through its items (a latency suite's sequential
            # reference): its samples agreed within 1-2 % (max/min 1.01-1.02 over 4-10
            # samples at 300-2,000 items), and a sleep has nothing to warm up. One sample
            # per round, no warm-up call: 2 calls per point instead of 6 (~30 s a run).
            self.repeat = (1, 1, 0.0)
            self.warmup_time = 0.0
            self.number = 1
        elif impl == "baseline" or _is_largest(self.operation, size):
            self.repeat = (1, 3, 6.0)
            self.warmup_time = 0.0
            # asv takes a second sample by default (min_run_count=2) even past the
            # budget: a 9 s point would cost 18 s for a figure that one sample states.
            self.min_run_count = 1


_preimport_packages()
