"""The asv suites: configuration, naming convention, coverage, references, a smoke run.

- ``asv.conf.json`` is validated against a schema of asv's documented keys (asv itself
  silently ignores a misspelled key), and the schema only holds keys asv knows.
- Every public operation of the processor has a ``time_<method>`` benchmark, with the
  naming convention the evaluation report relies on (``benchmarks/__init__.py``).
- The single-process references the benchmarks compare against give right answers.
- Every gate's size is among the sizes of the benchmark the evaluation reads for the
  gate's operation and workload, so the report measures it instead of extrapolating.
- The peak-RSS helper of the ``track_*_peak_rss`` suites sees the workers' memory.
- The whole suite runs once through asv in quick mode (``PPD_BENCH_QUICK=1``,
  ``asv run --python=same --quick``; the session's shared run, ``tests/asv_session.py``,
  whose results the end-to-end evaluation test reuses) in under 3 minutes
  without any failing benchmark and without leaving a process or a shared-memory
  segment behind.
"""
from __future__ import annotations

import importlib
import inspect
import itertools
import json
import os
import pkgutil
import re
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import psutil
import pytest

from evaluation.workloads import SCALE_SUITE_SUFFIX, load_workloads
from tests.asv_session import SuiteRun

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "asv.conf.json"
SHM_DIR = Path("/dev/shm")

#: Public processor methods that are lifecycle or introspection, not operations on data.
#: Start-up and shutdown are benchmarked on their own (``bench_startup``).
NOT_OPERATIONS = {"close", "cleanup", "terminate", "join", "worker_pids", "chunk_size",
                  # the original's JSON file helpers, kept for code that calls them (D3)
                  "serialize_to_file", "deserialize_from_file",
                  # the original's in-process helpers, kept for compatibility (R8); their
                  # work is benchmarked through parallel_find_primes / map_reduce_word_count
                  "find_primes_worker", "map_reduce_word_count_mapper"}
# dask: bench_cluster; primesieve: bench_primes' optional C++ reference
IMPLS = {"baseline", "optimized", "inline", "pool", "single", "dask", "primesieve"}
KINDS = ("time_", "peakmem_", "mem_", "track_", "timeraw_")

_STR_LIST = {"type": "array", "items": {"type": "string"}}
_CMD = {"anyOf": [{"type": "string"}, _STR_LIST, {"type": "null"}]}
#: asv 0.6's documented ``asv.conf.json`` keys (docs: "asv.conf.json reference").
ASV_CONF_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "project", "repo"],
    "properties": {
        "version": {"const": 1},
        "project": {"type": "string", "minLength": 1},
        "project_url": {"type": "string"},
        "repo": {"type": "string", "minLength": 1},
        "repo_subdir": {"type": "string"},
        "branches": {**_STR_LIST, "minItems": 1},
        "dvcs": {"enum": ["git", "hg"]},
        "environment_type": {"type": "string"},
        "install_timeout": {"type": "number", "exclusiveMinimum": 0},
        "default_benchmark_timeout": {"type": "number", "exclusiveMinimum": 0},
        "show_commit_url": {"type": "string"},
        "pythons": _STR_LIST,
        "conda_channels": _STR_LIST,
        "conda_environment_file": {"type": ["string", "null"]},
        "matrix": {"type": "object",
                   "additionalProperties": False,
                   "properties": {k: {"type": "object"}
                                  for k in ("req", "env", "env_nobuild")}},
        "exclude": {"type": "array", "items": {"type": "object"}},
        "include": {"type": "array", "items": {"type": "object"}},
        "benchmark_dir": {"type": "string"},
        "env_dir": {"type": "string"},
        "results_dir": {"type": "string"},
        "html_dir": {"type": "string"},
        "hash_length": {"type": "integer", "minimum": 1},
        "build_cache_size": {"type": "integer", "minimum": 0},
        "build_command": _CMD,
        "install_command": _CMD,
        "uninstall_command": _CMD,
        "launch_method": {"enum": ["auto", "spawn", "forkserver"]},
        "plugins": _STR_LIST,
        "regressions_first_commits": {"type": "object"},
        "regressions_thresholds": {"type": "object",
                                   "additionalProperties": {"type": "number"}},
    },
}


def _load_conf(path: Path = CONF) -> dict[str, Any]:
    """The config as asv parses it (JSON5: // comments allowed), ``version`` included."""
    import json5  # asv's own parser for asv.conf.json (asv.util.load_json)
    return json5.loads(path.read_text(encoding="utf-8"))


# -- asv.conf.json ----------------------------------------------------------------------------
def test_schema_only_holds_keys_asv_reads() -> None:
    from asv.config import Config
    known = set(vars(Config())) | {"version", "build_cache_size"}
    unknown = set(ASV_CONF_SCHEMA["properties"]) - known
    assert not unknown, f"schema keys asv 0.6 does not read: {sorted(unknown)}"


def test_schema_rejects_a_misspelled_key() -> None:
    conf = dict(_load_conf(), branchs=["main"])
    with pytest.raises(jsonschema.ValidationError, match="branchs"):
        jsonschema.validate(conf, ASV_CONF_SCHEMA)


def test_asv_conf_is_valid_and_as_specified() -> None:
    conf = _load_conf()
    jsonschema.validate(conf, ASV_CONF_SCHEMA)
    assert conf["repo"] == "."
    assert conf["dvcs"] == "git"
    assert conf["branches"] == ["main"]
    assert conf["environment_type"] == "virtualenv"
    assert conf["benchmark_dir"] == "benchmarks"
    assert {conf[k] for k in ("env_dir", "results_dir", "html_dir")} == {
        ".asv/env", ".asv/results", ".asv/html"}
    assert ".asv/" in (ROOT / ".gitignore").read_text().split(), ".asv/ must be git-ignored"
    from asv.config import Config
    loaded = Config.load(str(CONF))
    assert loaded.branches == ["main"] and loaded.benchmark_dir == "benchmarks"


# -- discovery: naming convention and coverage ------------------------------------------------
def _bench_modules() -> list[Any]:
    pkg = importlib.import_module("benchmarks")
    return [importlib.import_module(f"benchmarks.{m.name}")
            for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("bench_")]


def _benchmarks() -> Iterator[tuple[str, Any, str]]:
    """``(module.Class.method, class, method name)`` of every benchmark, as asv finds them."""
    for mod in _bench_modules():
        for cname, cls in vars(mod).items():
            if not inspect.isclass(cls) or cls.__module__ != mod.__name__:
                continue
            for attr in dir(cls):
                if attr.startswith(KINDS):
                    yield f"{mod.__name__.split('.')[-1]}.{cname}.{attr}", cls, attr


def _public_methods() -> set[str]:
    from optimized import OptimizedParallelProcessor as P
    return {name for name, member in inspect.getmembers(P)
            if not name.startswith("_") and inspect.isfunction(member)}


def test_every_public_operation_has_a_time_benchmark() -> None:
    public = _public_methods()
    assert NOT_OPERATIONS <= public, f"stale exemptions: {sorted(NOT_OPERATIONS - public)}"
    timed = {attr[len("time_"):] for _, _, attr in _benchmarks() if attr.startswith("time_")}
    missing = sorted(public - NOT_OPERATIONS - timed)
    assert not missing, f"public operations without a time_<method> benchmark: {missing}"
    assert {"startup", "close"} <= timed, "start-up and shutdown must be benchmarked"


def test_every_instance_operation_is_timed_at_every_size() -> None:
    wl = load_workloads(ROOT / "instances")
    common = importlib.import_module("benchmarks.common")
    by_op: dict[str, list[Any]] = {}
    for _, cls, attr in _benchmarks():
        if attr.startswith("time_"):
            by_op.setdefault(attr[len("time_"):], []).append(cls)
    for name, op in wl.operations.items():
        assert name in by_op, f"operation {name} of the instances has no time_{name}"
        classes = [c for c in by_op[name] if c.param_names == ["impl", "size"]
                   and getattr(c, "workload", "compute") == "compute"]
        main = [c for c in classes if not c.__name__.endswith(SCALE_SUITE_SUFFIX)]
        assert len(main) == 1, f"time_{name}: want one ['impl', 'size'] compute suite"
        impls, sizes = set(main[0].params[0]), set(main[0].params[1])
        assert {"baseline", "optimized"} <= impls, (name, impls)
        gate_sizes = {g.size for g in op.gates}
        assert gate_sizes <= set(common.sizes(name)), (name, gate_sizes)
        companions = [c for c in classes if c not in main]
        if common.QUICK or "scale" not in op.sizes:
            assert sizes == set(common.sizes(name)) and not companions, name
            continue
        assert sizes == set(op.sizes["optimized"]) | set(op.sizes["baseline"]) | gate_sizes, name
        # the scaling sizes: the same benchmark code, one round, what the growth table reads
        assert [c.__name__ for c in companions] == [main[0].__name__ + SCALE_SUITE_SUFFIX], name
        scale = companions[0]
        assert issubclass(scale, main[0]) and scale.rounds == 1, name
        assert scale.params == [list(common.SCALE_IMPLS), sorted(op.sizes["scale"])], name


def _bench_frame() -> pd.DataFrame:
    """One ``ok`` row per time_ benchmark point, shaped like ``asv_results.load_results``."""
    from evaluation.figures.bench import parse_benchmark_name
    ops = {op for op in _public_methods() - NOT_OPERATIONS}
    rows = []
    for name, cls, attr in _benchmarks():
        if not attr.startswith("time_"):
            continue
        parts = parse_benchmark_name(name)
        names = list(cls.param_names)
        for combo in itertools.product(*cls.params):
            p = dict(zip(names, combo, strict=True))
            rows.append({"benchmark": name, **parts,
                         "operation": parts["metric"] if parts["metric"] in ops else None,
                         "impl": p.get("impl"), "size": p.get("size"),
                         "workers": p.get("workers"),
                         "params": json.dumps(p, sort_keys=True, default=str),
                         "status": "ok", "median": 1.0})
    return pd.DataFrame(rows)


def test_every_gate_size_is_measured_by_the_benchmark_the_evaluation_reads() -> None:
    """The evaluation picks one time_ benchmark per gate (its workload first): that
    benchmark must run the optimized implementation at the gate's size."""
    common = importlib.import_module("benchmarks.common")
    if common.QUICK:
        pytest.skip("quick mode runs two sizes per operation by design")
    from evaluation.figures.reference import reference_size, timed_rows
    wl = load_workloads(ROOT / "instances")
    bench = _bench_frame()
    bench["workers"] = bench["workers"].astype(float)  # NaN where not a parameter
    for gate in wl.gates:
        rows = timed_rows(bench, gate.operation, gate.workload, gate.workers, wl)
        assert not rows.empty, f"{gate.id}: the evaluation finds no time_{gate.operation}"
        which = rows["benchmark"].iloc[0]
        measured = set(rows[rows["impl"] == "optimized"]["size"])
        assert gate.size in measured, (f"{gate.id}: {which} (the benchmark the evaluation "
                                       f"reads) does not run size {gate.size}: {measured}")
        if gate.workload != "compute":
            assert gate.workload in which.lower(), (gate.id, which)
    for op in wl.operations.values():
        size, _ = reference_size(op)
        assert size in common.sizes(op.name), (op.name, size)


def test_naming_convention() -> None:
    ops = _public_methods() - NOT_OPERATIONS
    seen = 0
    for name, cls, attr in _benchmarks():
        metric = attr.split("_", 1)[1]
        if attr.startswith("track_"):
            assert getattr(cls, "unit", None), f"{name}: track_ benchmarks must set unit"
            continue
        if metric not in ops:
            continue
        seen += 1
        names = list(cls.param_names)
        assert names[:2] == ["impl", "size"] and names[2:] in ([], ["workers"]), (name, names)
        assert set(cls.params[0]) <= IMPLS, (name, cls.params[0])
        assert all(isinstance(s, int) and s > 0 for s in cls.params[1]), name
        assert cls.timeout >= 60, f"{name}: timeout too small for its largest case"
    assert seen >= len(ops)


def test_baseline_is_skipped_above_its_limit_without_starting_anything() -> None:
    bench = importlib.import_module("benchmarks.bench_primes").ParallelFindPrimes()
    op = load_workloads(ROOT / "instances").operations["parallel_find_primes"]
    too_big = min(s for s in op.sizes["optimized"] if s > op.baseline_max)
    with pytest.raises(NotImplementedError, match="baseline_max"):
        bench.setup("baseline", too_big)
    bench.teardown("baseline", too_big)


@pytest.mark.parametrize("impl", ["optimized", "pool", "baseline", "single"])
def test_setup_time_teardown_cycle_leaves_nothing(impl: str) -> None:
    # the autouse no_leaks fixture (conftest) fails this if a process or segment remains
    common = importlib.import_module("benchmarks.common")
    bench = importlib.import_module("benchmarks.bench_primes").ParallelFindPrimes()
    kept: list[Any] = []
    try:
        for _ in range(3):  # asv's samples: setup before each call, one kept processor
            bench.setup(impl, 1000)
            kept.append(bench.processor)
            bench.time_parallel_find_primes(impl, 1000)
            bench.teardown(impl, 1000)
            assert bench.processor is None
    finally:
        common.close_kept()  # what the benchmark process's exit does
    assert all(p is kept[0] for p in kept)  # None for "single": no processor at all
    assert kept[0] is None or getattr(kept[0], "closed", True)


def _samples_asv_takes(bench: Any, seconds_per_sample: float) -> int:
    """How many samples asv_runner's timing loop takes in one round (its stop rule)."""
    min_repeat, max_repeat, max_time = bench.repeat
    min_runs = getattr(bench, "min_run_count", 2)  # asv's default
    taken = 0
    while taken < max_repeat:
        taken += 1
        if taken >= max(min_repeat, min_runs) and taken * seconds_per_sample > max_time:
            break
    return taken


def test_slow_points_take_one_sample_and_ordinary_points_several() -> None:
    bench = importlib.import_module("benchmarks.bench_primes").ParallelFindPrimes()
    common = importlib.import_module("benchmarks.common")
    name = "parallel_find_primes"
    largest = max(load_workloads(ROOT / "instances").operations[name].sizes["optimized"])
    slow_points = [("baseline", 1000), ("optimized", largest),
                   *(("single", s) for s in common.scale_sizes(name))]
    for impl, size in slow_points:  # seconds per call: one sample states the figure
        fresh = type(bench)()
        fresh._budget(impl, size)
        assert _samples_asv_takes(fresh, 9.0) == 1, (impl, size, fresh.repeat)
        assert fresh.warmup_time == 0.0
    ordinary = type(bench)()
    ordinary._budget("optimized", 1000)
    assert _samples_asv_takes(ordinary, 0.01) == ordinary.repeat[1]  # fast calls: the most
    assert ordinary.warmup_time > 0  # warm-up calls before its samples (see the class)


def test_a_sleeping_inline_point_takes_one_sample_per_round_and_no_warm_up_call() -> None:
    """The latency suites' sequential reference (1 ms items) from 0.25 s of sleep: one call
    per round; the same suite's processor points and short inline points keep their samples."""
    bench_map = importlib.import_module("benchmarks.bench_map")
    common = importlib.import_module("benchmarks.common")
    suite = bench_map.ProcessWithFileBasedIpcLatency
    latency = common.WORKLOADS.workloads[suite.workload]
    sizes = suite.params[1]
    long_ = [s for s in sizes if s * latency >= common.SLEEP_BOUND_S]
    short = [s for s in sizes if s * latency < common.SLEEP_BOUND_S]
    assert long_ and short, sizes  # both kinds exist in the suite
    for size in long_:
        b = suite()
        b._budget("inline", size)
        assert (b.repeat, b.warmup_time, b.number) == ((1, 1, 0.0), 0.0, 1), size
        assert _samples_asv_takes(b, size * latency) == 1
    for impl, size in [("inline", short[-1]), ("optimized", long_[-1]), ("pool", long_[-1])]:
        b = suite()
        b._budget(impl, size)
        assert b.repeat == suite.repeat and getattr(b, "number", 0) == 0, (impl, size)
        assert _samples_asv_takes(b, 0.01) > 1, (impl, size)


# -- single-process references -----------------------------------------------------------------
def test_reference_sieve_matches_known_counts() -> None:
    refs = importlib.import_module("benchmarks.references")
    wl = load_workloads(ROOT / "instances")
    for limit in (10, 100, 10_000, 100_000):
        primes = refs.numpy_sieve(limit)
        assert len(primes) == wl.prime_count(limit) and primes == sorted(primes)
        assert all(p < limit for p in primes)
    assert refs.numpy_sieve(2) == [] and refs.numpy_sieve(3) == [2]


def test_reference_word_count_has_the_baselines_semantics() -> None:
    refs = importlib.import_module("benchmarks.references")
    text = "The the THE, fox's 42 -- Straße\u2003ǅx é\x1cend"
    expected: dict[str, int] = {}
    for token in text.split():  # the original mapper, literally
        word = "".join(c.lower() for c in token if c.isalpha())
        if word:
            expected[word] = expected.get(word, 0) + 1
    assert refs.counter_word_count(text) == expected
    wl = load_workloads(ROOT / "instances")
    import optimized
    words = refs.counter_word_count(optimized.generate_test_text(14 * 7))
    assert words == {w: 7 for w in wl.word_cycle}


def test_text_builder_matches_both_generators() -> None:
    common = importlib.import_module("benchmarks.common")
    import baseline
    import optimized
    for words in (0, 1, 13, 14, 15, 29, 1000):
        text = common.build_text(words)
        assert text == optimized.generate_test_text(words), words
        assert text == baseline.generate_test_text(words), words
    op = load_workloads(ROOT / "instances").operations["map_reduce_word_count"]
    assert common.operation_args(op.name, 700) == (optimized.generate_test_text(700),)


@pytest.mark.parametrize("shape,high,path", [
    ((3, 4, 2), 10, "float64"),            # one exact BLAS call
    ((40, 300, 30), 2 ** 25, "split"),     # 300 * 2**50 > 2**53: digit splits
    ((5, 7, 3), 2 ** 45, "object"),        # could overflow int64: Python ints
])
def test_reference_matmul_is_exact(shape: tuple[int, int, int], high: int, path: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    refs = importlib.import_module("benchmarks.references")
    n, m, p = shape
    rng = np.random.default_rng(7)
    A = rng.integers(-high, high, size=(n, m)).tolist()
    B = rng.integers(-high, high, size=(m, p)).tolist()
    exact = [[sum(a * b for a, b in zip(row, col, strict=True)) for col in zip(*B, strict=True)] for row in A]
    if path != "object":  # prove the fast path is the one taken
        monkeypatch.setattr(refs, "_object_matmul", lambda a, b: pytest.fail("object path"))
    got = refs.exact_matmul(A, B)
    assert got == exact and all(type(v) is int for r in got for v in r)


def test_reference_matmul_floats_and_fractions() -> None:
    refs = importlib.import_module("benchmarks.references")
    assert refs.exact_matmul([[0.5, 1.0]], [[2.0], [4.0]]) == [[5.0]]
    assert refs.exact_matmul([[Fraction(1, 3)]], [[3]]) == [[1]]
    import optimized
    m = optimized.generate_test_matrix(60, 60)
    assert refs.exact_matmul(m, m)[59][59] == sum((60 * (k + 1)) ** 2 for k in range(60))


def test_reference_kernels_match_the_processor() -> None:
    refs = importlib.import_module("benchmarks.references")
    from optimized.ops.mapping import single_item_value
    data = list(range(-50, 50))
    ref = refs.single_reference("process_data_spawn_per_item")(data)
    assert ref == pytest.approx([single_item_value(x) for x in data], rel=1e-12, abs=1e-12)
    stats = refs.single_reference("compute_statistics_sequential")([1, 2, 3, 10])
    assert stats == {"mean": 4.0, "variance": 12.5, "median": 2.5}
    assert refs.single_reference("run_pipeline")([1, 2]) == [144, 196]
    assert refs.single_reference("parallel_sum_spawn_many")(data) == sum(data)


# -- peak RSS of the parent and the workers (track_*_peak_rss) ---------------------------------
def _hold_mib(mib: int) -> int:
    """Worker: hold ``mib`` MiB of touched memory for 0.3 s (a sampler must see it)."""
    block = b"\x01" * (mib * 2 ** 20)
    time.sleep(0.3)
    return len(block) // 2 ** 20


@pytest.mark.parametrize("kernel_peak", [True, False], ids=["VmHWM", "psutil-sampling"])
def test_peak_rss_sees_the_largest_worker_and_only_this_call(
        kernel_peak: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = importlib.import_module("benchmarks.memory")
    if kernel_peak and not memory._PROC_PEAK:
        pytest.skip("no /proc/<pid>/clear_refs on this system")
    monkeypatch.setattr(memory, "_PROC_PEAK", kernel_peak)
    p = memory.make_processor("pool", 2, start_method="fork")  # forked: sees _hold_mib
    try:
        first = memory.peak_rss_during(p, lambda: p.map(_hold_mib, [150, 0], chunksize=1))
        again = memory.peak_rss_during(p, lambda: p.map(_hold_mib, [0, 0], chunksize=1))
    finally:
        memory.close_processor(p)
    assert first.largest_worker_mib > 150, first
    # the parent allocated nothing: its peak stays near its current size
    assert first.parent_mib < psutil.Process().memory_info().rss / 2 ** 20 + 50, first
    # the peak is reset per call: the second call's workers hold nothing big
    assert again.largest_worker_mib < first.largest_worker_mib - 100, (first, again)


def test_throughput_ratio_applies_the_layout_to_both_sides(monkeypatch: pytest.MonkeyPatch) -> None:
    bench_pipeline = importlib.import_module("benchmarks.bench_pipeline")
    calls: list[tuple[int, Any]] = []

    class Recorder:
        def run_pipeline(self, data: Any, stages: Any, **kw: Any) -> list[Any]:
            calls.append((len(stages), kw.get("replicas")))
            return list(data)

    monkeypatch.setattr(bench_pipeline, "stage_inputs", lambda stage, inputs: inputs)
    stages = ("a", "b", "c")
    assert bench_pipeline.throughput_ratio(Recorder(), [1, 2, 3], stages, 1, replicas=[1, 2, 1]) > 0
    # the pipeline with the layout; each stage alone with its own count of processes
    assert {(n, tuple(r)) for n, r in calls} == {(3, (1, 2, 1)), (1, (1,)), (1, (2,))}
    with pytest.raises(ValueError, match="one count per stage"):
        bench_pipeline.throughput_ratio(Recorder(), [1], stages, 1, replicas=[1, 1])


# -- the smoke run through asv -----------------------------------------------------------------
_SEGMENT_CREATOR = re.compile(r"^ppd_(\d+)_")


def leaked_segments(new: set[str], session_pids: set[int]) -> list[str]:
    """Of the ``ppd_<creator pid>_<hex>`` segments that appeared during a run, the leaks.

    A segment is leaked when its creator is dead (nobody can unlink it any more) or was
    a process of the run's session; a live process outside the session is another
    user of the shared machine at work. A name without a creator pid counts as leaked.
    """
    leaked = []
    for name in sorted(new):
        m = _SEGMENT_CREATOR.match(name)
        pid = int(m.group(1)) if m else None
        if pid is None or pid in session_pids or not psutil.pid_exists(pid):
            leaked.append(name)
    return leaked


def test_leaked_segments_tells_dead_and_session_creators_from_live_strangers() -> None:
    me, dead = os.getpid(), 2 ** 22 + 12345  # above any default pid_max: never alive
    assert not psutil.pid_exists(dead)
    new = {f"ppd_{me}_ab12", f"ppd_{dead}_cd34", f"ppd_{os.getppid()}_ef56", "ppd_junk"}
    assert leaked_segments(new, session_pids={me}) == sorted(
        [f"ppd_{me}_ab12", f"ppd_{dead}_cd34", "ppd_junk"])
    assert leaked_segments({f"ppd_{os.getppid()}_ef56"}, session_pids=set()) == []


#: The smoke run of the whole suite takes under 3 minutes.
SMOKE_LIMIT_S = 180.0


@pytest.mark.slow
@pytest.mark.timeout(330)
def test_asv_quick_run_has_no_failing_benchmark(asv_quick_suite: SuiteRun,
                                                capsys: pytest.CaptureFixture) -> None:
    run = asv_quick_suite
    assert run.machine.code == 0, run.machine.out
    assert run.check.code == 0 and "No problems found" in run.check.out, run.check.out
    ran = run.run
    assert not ran.timed_out, f"asv run took more than {ran.seconds:.0f} s:\n{ran.out[-4000:]}"
    code, out = ran.code, ran.out
    with capsys.disabled():
        print(f"\n[figure] asv quick run of the whole suite: {ran.seconds:.0f} s "
              f"(limit {SMOKE_LIMIT_S:.0f} s)")

    failed = [line for line in out.splitlines()
              if re.search(r"\bfailed\b", line) and "asv: skipped" not in line]
    assert code == 0 and not failed, f"asv exit {code}; failures:\n" + "\n".join(failed) + \
        "\n--- output tail ---\n" + out[-6000:]
    total = re.search(r"Running (\d+) total benchmarks", out)
    # the quick run (PPD_BENCH_QUICK=1) has no scaling sizes, hence no <Suite>AtScale suites
    expected = len({name for name, cls, _ in _benchmarks()
                    if not cls.__name__.endswith(SCALE_SUITE_SUFFIX)})
    assert total and int(total.group(1)) == expected, (total and total.group(0), expected)
    for step in (run.machine, run.check, ran):
        assert not step.leftovers, f"processes left behind by the benchmarks: {step.leftovers}"
    new = {p.name for p in SHM_DIR.glob("ppd_*")} - run.shm_before
    shm_left = leaked_segments(new, ran.session_pids)
    assert not shm_left, f"shared-memory segments left behind: {shm_left}"
    # every track_ figure was reported, as a finite number
    # (asv shortens long names from the left: "...odule.Class.track_x")
    tracks = dict(re.findall(r"(\S*\.track_\w+)\s+(\S+)\s*$", out, flags=re.M))
    expected_tracks = [name for name, _, a in _benchmarks() if a.startswith("track_")]
    unreported = [name for name in expected_tracks
                  if not any(name.endswith(shown.lstrip(".")) for shown in tracks)]
    assert not unreported and len(tracks) == len(expected_tracks), (unreported, tracks)
    assert all(np.isfinite(float(v)) for v in tracks.values()), tracks
    assert list(run.results_dir.glob(f"*/{run.commit[:8]}-*.json")), "no result file saved"
    assert ran.seconds < SMOKE_LIMIT_S, (
        f"the quick asv run took {ran.seconds:.0f} s (limit: under {SMOKE_LIMIT_S:.0f} s)")


def test_a_point_releases_what_it_kept_at_its_last_teardown_only(monkeypatch) -> None:
    # asv's forked point processes leave with os._exit (no atexit): a Dask cluster, its
    # scratch folder, a candidate's pool must be released at the point's last teardown -
    # and not at the teardowns asv_runner makes between samples (through redo_setup).
    common = importlib.import_module("benchmarks.common")
    released: list[str] = []
    monkeypatch.setattr(common, "_AT_POINT_END", [lambda: released.append("x")])

    class Point:
        def teardown(self) -> None:
            common.end_of_point()

    def do_teardown(point: Point) -> None:  # asv_runner's names and nesting
        point.teardown()

    def redo_setup(point: Point) -> None:
        do_teardown(point)

    redo_setup(Point())
    assert released == []
    do_teardown(Point())  # the last one, from asv_runner's run
    assert released == ["x"]


def test_asv_runner_still_tears_down_between_samples_through_redo_setup() -> None:
    # end_of_point() tells the last teardown by that name (asv<0.7, asv_runner pinned).
    from asv_runner.benchmarks._base import Benchmark
    source = inspect.getsource(Benchmark.redo_setup)
    assert "self.do_teardown()" in source and "self.do_setup()" in source
