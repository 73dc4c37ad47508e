"""User callables as people write them (D15): lambdas, closures, ``__main__`` functions.

Module-level functions travel by reference (unchanged); what plain pickle cannot carry
travels by value with cloudpickle, under fork, forkserver and spawn; a callable that
nothing can serialise is a ``TypeError`` naming what failed, before any dispatch. And
``verbose=True`` shows its metrics line on stderr when no logging is configured.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from optimized.backends import START_METHODS
from optimized.callables import Shipped, portable
from tests import kernels
from tests.conftest import refuse_dispatch

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.usefixtures("optimized_only")


def test_module_level_functions_travel_by_reference() -> None:
    assert portable(kernels.square, "func") is kernels.square
    assert portable(abs, "func") is abs
    assert isinstance(portable(lambda x: x, "func"), Shipped)


@pytest.mark.parametrize("start_method", START_METHODS)
def test_lambdas_and_closures_run_on_the_pool(make_processor: Callable[..., Any],
                                              start_method: str) -> None:
    p = make_processor(2, execution="pool", start_method=start_method)
    offset = 7

    def add_offset(x: int) -> int:  # a closure over a local
        return x + offset

    items = list(range(300))
    assert p.map(lambda x: x * 3, items, chunksize=50) == [x * 3 for x in items]
    assert p.map(add_offset, items, chunksize=50) == [x + 7 for x in items]
    got = p.run_pipeline(items, [lambda x: x * 2, add_offset, kernels.square],
                         batch_size=40)
    assert got == [(x * 2 + 7) ** 2 for x in items]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("start_method", START_METHODS)
def test_functions_defined_in_main_work_like_in_a_notebook(start_method: str) -> None:
    # `python -c`: __main__ has no file, so spawned/forkserver workers cannot import it.
    code = textwrap.dedent(f"""
        from optimized import OptimizedParallelProcessor
        def triple(x):
            return 3 * x
        with OptimizedParallelProcessor(2, execution="pool", start_method={start_method!r}) as p:
            print(p.map(triple, list(range(100)), chunksize=10) == [3 * x for x in range(100)],
                  p.run_pipeline(list(range(50)), [triple], batch_size=10) == [3 * x for x in range(50)])
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=100, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["True", "True"], proc.stdout + proc.stderr
    assert proc.stderr == "", proc.stderr[-3000:]


def test_unserialisable_callable_fails_before_dispatch(make_processor: Callable[..., Any],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    p = make_processor(2, execution="pool")
    lock = threading.Lock()

    def holds_a_lock(x: int) -> int:
        with lock:
            return x

    attempted = refuse_dispatch(monkeypatch, p)
    with pytest.raises(TypeError, match=r"func cannot be sent .*cannot pickle '_thread.lock'"):
        p.map(holds_a_lock, [1, 2, 3])
    with pytest.raises(TypeError, match=r"stages\[1\] \(.*holds_a_lock\) cannot be sent"):
        p.run_pipeline([1, 2, 3], [kernels.identity, holds_a_lock])
    assert attempted == []


def test_inline_runs_any_callable_unchanged(make_processor: Callable[..., Any]) -> None:
    p = make_processor(1, execution="inline")
    lock = threading.Lock()
    seen: list[int] = []

    def record(x: int) -> int:  # holds a lock and mutates local state: fine in-process
        with lock:
            seen.append(x)
        return x

    assert p.map(record, [1, 2, 3]) == [1, 2, 3] and seen == [1, 2, 3]


@pytest.mark.timeout(60)
def test_verbose_shows_the_metrics_line_on_stderr_without_logging_setup() -> None:
    code = ("from optimized import OptimizedParallelProcessor\n"
            "with OptimizedParallelProcessor(1, verbose=True) as p:\n"
            "    p.parallel_sum_spawn_many([1, 2, 3])\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=50, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert "[optimized] parallel_sum_spawn_many: 3 items" in proc.stderr, proc.stderr
    logged = code.replace("from optimized", "import logging, sys\nlogging.basicConfig("
                          "stream=sys.stdout, level=logging.INFO)\nfrom optimized")
    proc = subprocess.run([sys.executable, "-c", logged], cwd=ROOT, capture_output=True,
                          text=True, timeout=50, stdin=subprocess.DEVNULL)
    assert "parallel_sum_spawn_many: 3 items" in proc.stdout and proc.stderr == "", proc
