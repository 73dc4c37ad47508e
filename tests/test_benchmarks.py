"""The asv suites: configuration, naming convention, coverage, references, a smoke run.

- ``asv.conf.json`` is validated against a schema of asv's documented keys (asv itself
  silently ignores a misspelled key), and the schema only holds keys asv knows.
- Every public operation of the processor has a ``time_<method>`` benchmark, with the
  naming convention the evaluation report relies on (``benchmarks/__init__.py``).
- The single-process references the benchmarks compare against give right answers.
- The whole suite runs once through asv in quick mode (``PPD_BENCH_QUICK=1``,
  ``asv run --python=same --quick --dry-run``) without any failing benchmark and
  without leaving a process or a shared-memory segment behind.
"""
from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import re
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import numpy as np
import psutil
import pytest

from evaluation.workloads import load_workloads

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "asv.conf.json"
SHM_DIR = Path("/dev/shm")

#: Public processor methods that are lifecycle or introspection, not operations on data.
#: Start-up and shutdown are benchmarked on their own (``bench_startup``).
NOT_OPERATIONS = {"close", "cleanup", "terminate", "join", "worker_pids", "chunk_size",
                  # the original's in-process helpers, kept for compatibility (R8); their
                  # work is benchmarked through parallel_find_primes / map_reduce_word_count
                  "find_primes_worker", "map_reduce_word_count_mapper"}
IMPLS = {"baseline", "optimized", "inline", "pool", "single"}
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
        classes = [c for c in by_op[name] if c.param_names == ["impl", "size"]]
        assert classes, f"time_{name} has no ['impl', 'size'] suite"
        impls, sizes = set(classes[0].params[0]), set(classes[0].params[1])
        assert {"baseline", "optimized"} <= impls, (name, impls)
        if not common.QUICK:
            assert sizes == set(op.sizes["optimized"]) | set(op.sizes["baseline"]), name


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
    bench = importlib.import_module("benchmarks.bench_primes").ParallelFindPrimes()
    bench.setup(impl, 1000)
    try:
        bench.time_parallel_find_primes(impl, 1000)
    finally:
        bench.teardown(impl, 1000)
    assert bench.processor is None


# -- single-process references -----------------------------------------------------------------
def test_reference_sieve_matches_known_counts() -> None:
    common = importlib.import_module("benchmarks.common")
    wl = load_workloads(ROOT / "instances")
    for limit in (10, 100, 10_000, 100_000):
        primes = common.numpy_sieve(limit)
        assert len(primes) == wl.prime_count(limit) and primes == sorted(primes)
        assert all(p < limit for p in primes)
    assert common.numpy_sieve(2) == [] and common.numpy_sieve(3) == [2]


def test_reference_word_count_has_the_baselines_semantics() -> None:
    common = importlib.import_module("benchmarks.common")
    text = "The the THE, fox's 42 -- Straße\u2003ǅx é\x1cend"
    expected: dict[str, int] = {}
    for token in text.split():  # the original mapper, literally
        word = "".join(c.lower() for c in token if c.isalpha())
        if word:
            expected[word] = expected.get(word, 0) + 1
    assert common.counter_word_count(text) == expected
    wl = load_workloads(ROOT / "instances")
    import optimized
    words = common.counter_word_count(optimized.generate_test_text(14 * 7))
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
    common = importlib.import_module("benchmarks.common")
    n, m, p = shape
    rng = np.random.default_rng(7)
    A = rng.integers(-high, high, size=(n, m)).tolist()
    B = rng.integers(-high, high, size=(m, p)).tolist()
    exact = [[sum(a * b for a, b in zip(row, col)) for col in zip(*B)] for row in A]
    if path != "object":  # prove the fast path is the one taken
        monkeypatch.setattr(common, "_object_matmul", lambda a, b: pytest.fail("object path"))
    got = common.exact_matmul(A, B)
    assert got == exact and all(type(v) is int for r in got for v in r)


def test_reference_matmul_floats_and_fractions() -> None:
    common = importlib.import_module("benchmarks.common")
    assert common.exact_matmul([[0.5, 1.0]], [[2.0], [4.0]]) == [[5.0]]
    assert common.exact_matmul([[Fraction(1, 3)]], [[3]]) == [[1]]
    import optimized
    m = optimized.generate_test_matrix(60, 60)
    assert common.exact_matmul(m, m)[59][59] == sum((60 * (k + 1)) ** 2 for k in range(60))


def test_reference_kernels_match_the_processor() -> None:
    common = importlib.import_module("benchmarks.common")
    from optimized.ops.mapping import single_item_value
    data = list(range(-50, 50))
    ref = common.single_reference("process_data_spawn_per_item")(data)
    assert ref == pytest.approx([single_item_value(x) for x in data], rel=1e-12, abs=1e-12)
    stats = common.single_reference("compute_statistics_sequential")([1, 2, 3, 10])
    assert stats == {"mean": 4.0, "variance": 12.5, "median": 2.5}
    assert common.single_reference("run_pipeline")([1, 2]) == [144, 196]
    assert common.single_reference("parallel_sum_spawn_many")(data) == sum(data)


# -- the smoke run through asv -----------------------------------------------------------------
def _private_conf(tmp: Path) -> Path:
    """asv.conf.json with absolute paths; env, results and html in ``tmp``."""
    conf = _load_conf()
    conf["repo"] = str(ROOT)
    conf["benchmark_dir"] = str(ROOT / conf["benchmark_dir"])
    for key in ("env_dir", "results_dir", "html_dir"):
        conf[key] = str(tmp / key)
    path = tmp / "asv.conf.json"
    path.write_text(json.dumps(conf, indent=2))
    return path


def _session_leftovers(sid: int) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["status"]):
        try:
            if os.getsid(p.pid) == sid and p.info["status"] != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (ProcessLookupError, PermissionError, psutil.Error):
            pass
    return out


def _run(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, list[str]]:
    """Run in a new session; return (exit code, output, leftover processes of that session)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"{' '.join(cmd[2:4])} took more than {timeout:.0f} s:\n{out[-4000:]}")
    deadline = time.monotonic() + 10  # the resource tracker exits once its pipe closes
    while (left := _session_leftovers(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    described = []
    for p in left:
        try:
            described.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
            p.kill()
        except psutil.Error:
            pass
    return proc.returncode, out, described


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_asv_quick_run_has_no_failing_benchmark(tmp_path: Path) -> None:
    conf = _private_conf(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PPD_IMPL"}
    env.update(HOME=str(tmp_path), PPD_BENCH_QUICK="1")  # machine file in tmp, quick sizes
    asv = [sys.executable, "-m", "asv"]
    machine = ["--machine", "ppd-smoke"]
    shm_before = {p.name for p in SHM_DIR.glob("ppd_*")}

    code, out, _ = _run([*asv, "machine", "--yes", *machine, "--config", str(conf)], env, 60)
    assert code == 0, out
    code, out, _ = _run([*asv, "check", "--python=same", "--config", str(conf)], env, 60)
    assert code == 0 and "No problems found" in out, out
    code, out, left = _run([*asv, "run", "--python=same", "--quick", "--dry-run",
                            "--show-stderr", *machine, "--config", str(conf)], env, 270)

    failed = [line for line in out.splitlines()
              if re.search(r"\bfailed\b", line) and "asv: skipped" not in line]
    assert code == 0 and not failed, f"asv exit {code}; failures:\n" + "\n".join(failed) + \
        "\n--- output tail ---\n" + out[-6000:]
    total = re.search(r"Running (\d+) total benchmarks", out)
    expected = len({name for name, _, _ in _benchmarks()})
    assert total and int(total.group(1)) == expected, (total and total.group(0), expected)
    assert not left, f"processes left behind by the benchmarks: {left}"
    shm_left = {p.name for p in SHM_DIR.glob("ppd_*")} - shm_before
    assert not shm_left, f"shared-memory segments left behind: {sorted(shm_left)}"
    # every track_ figure was reported, as a finite number
    tracks = dict(re.findall(r"\.(track_\w+)\s+(\S+)\s*$", out, flags=re.M))
    assert set(tracks) == {a for _, _, a in _benchmarks() if a.startswith("track_")}, tracks
    assert all(np.isfinite(float(v)) for v in tracks.values()), tracks
