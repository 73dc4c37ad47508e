"""Shared fixtures: implementation selection, processor lifecycle, leak checks.

The implementation under test is chosen with ``--impl=baseline|optimized`` or the
``PPD_IMPL`` environment variable (default ``optimized``), so the same tests run
against the slow original. After every test (the autouse guard :func:`no_leaks`) none
of these may be left: a child process (recursive; multiprocessing's resource tracker
and fork server excepted), a shared-memory segment of ours, a new entry in the temp
dir - the session's own, set as ``TMPDIR`` so child processes use it too - or a
processor ``close()`` that took over 10 s. Leftovers are waited for briefly, then
killed or removed, and the test fails.
"""
from __future__ import annotations

import importlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from evaluation.running.candidates import CandidateError, materialize, parse_candidate
from evaluation.running.grade_child import load_class
from evaluation.workloads import IMPLEMENTATIONS, Workloads, load_workloads

ROOT = Path(__file__).resolve().parent.parent
SHM_DIR = Path("/dev/shm")
SHM_PREFIX = "ppd_"
_LEAK_GRACE_S = 5.0
_CLOSE_LIMIT_S = 10.0
#: The session's private temp dir (TMPDIR for this process and its children).
_SESSION_TMP: Path | None = None


def _signals_as_from_a_terminal() -> None:
    """SIGINT, SIGTERM and SIGQUIT as a terminal gives them, whoever started the suite.

    A command started in the background of a non-interactive shell (``make test &`` in a
    script, ``nohup``) inherits SIGINT and SIGQUIT ignored, and some supervisors start
    it with signals blocked; an ignored or blocked signal stays so across ``exec``, in
    every child the tests start. Tests that interrupt a call with SIGINT (Ctrl-C) or
    stop a child with SIGTERM would then see nothing happen. A caught signal is reset
    at ``exec``, so restoring Python's handlers here restores the defaults in children.
    """
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGQUIT})
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGQUIT):
        if signal.getsignal(sig) is signal.SIG_IGN:
            signal.signal(sig, signal.SIG_DFL)


def pytest_configure(config: pytest.Config) -> None:
    """Check ``--impl`` at once; give the session a temp dir of its own (for the guard);
    signals as from a terminal (:func:`_signals_as_from_a_terminal`)."""
    _signals_as_from_a_terminal()
    _impl_name(config)  # a candidate spec that does not resolve: a usage error, exit 4
    global _SESSION_TMP
    _SESSION_TMP = Path(tempfile.mkdtemp(prefix=f"ppd-tests-{os.getpid()}-"))
    os.environ["TMPDIR"] = str(_SESSION_TMP)
    tempfile.tempdir = str(_SESSION_TMP)  # pytest's own tmp_path base lives here too


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session temp dir - after multiprocessing has removed its own in it."""
    if _SESSION_TMP is None:
        return
    for path in _SESSION_TMP.iterdir():
        if not path.name.startswith("pymp-"):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(True)
    # multiprocessing deletes its pymp-* dir at exit (finalizer exit priority -100);
    # a lower priority runs after it, so neither removes the other's directory.
    from multiprocessing import util
    util.Finalize(None, shutil.rmtree, args=(str(_SESSION_TMP),),
                  kwargs={"ignore_errors": True}, exitpriority=-200)


#: Temp entries that belong to the tools, not to a test: pytest's ``tmp_path`` base, and
#: multiprocessing's per-process ``pymp-*`` dir (the fork server's socket lives there;
#: like the fork server itself it lasts until interpreter exit, which removes it).
_TOOL_TEMP_PREFIXES = ("pytest-of-", "pymp-")


def _temp_entries() -> set[str]:
    """Entries of the session temp dir, except the tools' own (see above)."""
    if _SESSION_TMP is None or not _SESSION_TMP.exists():
        return set()
    return {p.name for p in _SESSION_TMP.iterdir() if not p.name.startswith(_TOOL_TEMP_PREFIXES)}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--impl", default=None,
                     help="implementation under test: baseline, optimized, or a candidate "
                          "NAME=SPEC (module:Class, file.py:Class, folder:Class, "
                          "patch:file.patch); default: $PPD_IMPL or 'optimized'")


def _impl_name(config: pytest.Config) -> str:
    name = config.getoption("--impl") or os.environ.get("PPD_IMPL", "optimized")
    if name not in IMPLEMENTATIONS:
        try:
            parse_candidate(name, ROOT)
        except CandidateError as exc:
            raise pytest.UsageError(f"--impl / PPD_IMPL must be one of {IMPLEMENTATIONS} or a "
                                    f"candidate NAME=SPEC: {exc}") from None
    return name


def pytest_report_header(config: pytest.Config) -> str:
    return f"implementation under test: {_impl_name(config)}"


@pytest.fixture(scope="session")
def impl(pytestconfig: pytest.Config) -> str:
    """Name of the implementation under test."""
    return _impl_name(pytestconfig)


@pytest.fixture(scope="session")
def impl_module(impl: str) -> Any:
    """The package whose generators build inputs: the implementation's, or for a
    candidate the harness's own (a candidate never builds its workloads)."""
    return importlib.import_module(impl if impl in IMPLEMENTATIONS else "optimized")


@pytest.fixture(scope="session")
def processor_class(impl: str) -> Iterator[type]:
    """The class under test: one of the two packages', or a candidate's (imported here).

    A candidate is run like the baseline: the tests of the original's API apply to it,
    the tests of this project's own extensions are skipped as not applicable.
    """
    if impl in IMPLEMENTATIONS:
        yield getattr(importlib.import_module(impl), "OptimizedParallelProcessor"
                      if impl == "optimized" else "UnoptimizedParallelProcessor")
        return
    from tests import budget
    budget.IN_PROCESS = True  # see tests.budget: a candidate may keep a pool
    with materialize(parse_candidate(impl, ROOT)) as code:
        yield load_class(code.as_dict())


@pytest.fixture(scope="session")
def asv_quick_suite(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The session's one quick asv run of the whole suite (``tests/asv_session.py``)."""
    from tests.asv_session import run_quick_suite
    return run_quick_suite(tmp_path_factory.mktemp("asv-quick"))


@pytest.fixture(scope="session")
def workloads() -> Workloads:
    """The validated workload instances (sizes, gates, known answers)."""
    return load_workloads(ROOT / "instances")


def close_processor(p: Any) -> None:
    """Close any processor; never blocks for long (terminate + join on the pooled one)."""
    if hasattr(p, "terminate"):
        try:
            p.close()
        except Exception:
            p.terminate()
            p.join(5)
    elif hasattr(p, "cleanup"):
        p.cleanup()


@pytest.fixture
def make_processor(processor_class: type, impl: str) -> Iterator[Callable[..., Any]]:
    """Factory: ``make_processor(num_workers=4, item_latency_s=0.0, **optimized_only_opts)``.

    Options other than the two shared constructor arguments apply to the optimized
    processor only (the baseline has none). Every processor made here is closed in
    the finalizer, with timeouts.
    """
    made: list[Any] = []

    def make(num_workers: int = 4, item_latency_s: float = 0.0, **opts: Any) -> Any:
        if impl == "optimized":
            p = processor_class(num_workers, item_latency_s, **opts)
        else:
            p = processor_class(num_workers, item_latency_s)
        made.append(p)
        return p

    yield make
    for p in made:
        close_processor(p)


@pytest.fixture
def optimized_only(impl: str) -> None:
    """Skip a test of the optimized processor's own options (paths, stages, timeouts)."""
    if impl == "baseline":
        pytest.skip("an optimized-only option or path: the baseline has no such thing")
    if impl != "optimized":
        pytest.skip("not applicable: tests an extension of this project (the candidate "
                    "implements the original's API)")


@pytest.fixture(scope="module", params=["inline", "pool"])
def forced(request: pytest.FixtureRequest, impl: str,
           module_processor: Callable[..., Any]) -> Any:
    """An optimized 2-worker processor forced to one path (shared by a module's tests)."""
    if impl != "optimized":
        pytest.skip("forced execution paths exist only in the optimized processor")
    return module_processor(2, execution=request.param)


@pytest.fixture
def processor(make_processor: Callable[..., Any]) -> Any:
    """A 4-worker processor of the implementation under test, compute workload."""
    return make_processor(4, 0.0)


#: Processors deliberately shared by several tests (module-scoped fixtures); their
#: workers are not leaks. Register with :func:`long_lived`.
_LONG_LIVED: list[Any] = []


def long_lived(p: Any) -> Any:
    """Mark a processor as shared across tests (its workers are not counted as leaks)."""
    _LONG_LIVED.append(p)
    return p


def _allowed_pids() -> set[int]:
    pids: set[int] = set()
    for p in _LONG_LIVED:
        if hasattr(p, "worker_pids") and not getattr(p, "closed", True):
            pids.update(p.worker_pids())
    return pids


@pytest.fixture(scope="module")
def module_processor(processor_class: type, impl: str) -> Iterator[Callable[..., Any]]:
    """Like ``make_processor`` but the processors live for the whole test module."""
    made: list[Any] = []

    def make(num_workers: int = 4, item_latency_s: float = 0.0, **opts: Any) -> Any:
        p = (processor_class(num_workers, item_latency_s, **opts) if impl == "optimized"
             else processor_class(num_workers, item_latency_s))
        made.append(long_lived(p))
        return p

    yield make
    for p in made:
        close_processor(p)
        _LONG_LIVED.remove(p)


def record_segments(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the names of the shared-memory segments the local backend creates from now on.

    (Comparing /dev/shm before and after would also see segments of other processes
    on a shared machine; these names are exactly ours.) Every segment of an operation
    comes from :meth:`LocalBackend.share` / :meth:`LocalBackend.buffer`.
    """
    from optimized.backends import local
    from optimized.shm import SharedArray
    names: list[str] = []

    class Recording(SharedArray):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            names.append(self.spec.name)

    monkeypatch.setattr(local, "SharedArray", Recording)
    return names


def refuse_dispatch(monkeypatch: pytest.MonkeyPatch, processor: Any) -> list[str]:
    """Make any dispatch by ``processor`` - tasks, or arrays placed for them - fail loudly.

    Returns the list of what was attempted: a bad-input test asserts it stays empty,
    proving validation finished before any work started (D2).
    """
    attempted: list[str] = []

    def refuse(name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            attempted.append(name)
            raise AssertionError(f"{name} called before validation finished")
        return fail

    for method in ("run", "submit", "stream", "share", "buffer"):
        monkeypatch.setattr(processor._backend, method, refuse(f"backend.{method}"))
    return attempted


def our_segments() -> set[str]:
    """Segments created by this test process (other sessions' runs are not ours)."""
    from optimized.shm import segment_prefix
    if not SHM_DIR.exists():
        return set()
    return {p.name for p in SHM_DIR.glob(segment_prefix() + "*")}


def _live_children() -> list[psutil.Process]:
    out = []
    for c in psutil.Process().children(recursive=True):
        try:
            if c.status() != psutil.STATUS_ZOMBIE:
                out.append(c)
        except psutil.NoSuchProcess:
            pass
    return out


def _is_resource_tracker(p: psutil.Process) -> bool:
    try:
        return any("resource_tracker" in part or "forkserver" in part for part in p.cmdline())
    except psutil.Error:
        return False


def _timed_closes(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record how long every ``OptimizedParallelProcessor.close()`` of the test takes."""
    from optimized import OptimizedParallelProcessor
    seconds: list[float] = []
    original = OptimizedParallelProcessor.close

    def close(self: Any) -> None:
        t0 = time.monotonic()
        try:
            original(self)
        finally:
            seconds.append(time.monotonic() - t0)

    monkeypatch.setattr(OptimizedParallelProcessor, "close", close)
    return seconds


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves a child process, a segment or a temp file behind.

    multiprocessing's own helpers (the resource tracker, the forkserver) are
    long-lived by design and shared by all tests, so they are not counted. A
    processor ``close()`` slower than 10 s fails the test as well.
    """
    before_shm = our_segments()
    before_tmp = _temp_entries()
    patch = pytest.MonkeyPatch()
    closes = _timed_closes(patch)
    try:
        yield
    finally:
        patch.undo()
    deadline = time.monotonic() + _LEAK_GRACE_S
    while True:
        allowed = _allowed_pids()
        procs = [p for p in _live_children()
                 if not _is_resource_tracker(p) and p.pid not in allowed]
        shm = our_segments() - before_shm
        tmp = _temp_entries() - before_tmp
        if (not procs and not shm and not tmp) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    problems = []
    if procs:
        problems.append(f"{len(procs)} child process(es) left: "
                        f"{[(p.pid, p.name()) for p in procs if p.is_running()]}")
    if shm:
        problems.append(f"shared-memory segments left in /dev/shm: {sorted(shm)}")
    if tmp:
        problems.append(f"new entries left in the temp dir {_SESSION_TMP}: {sorted(tmp)}")
        for name in tmp:
            assert _SESSION_TMP is not None
            path = _SESSION_TMP / name
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(True)
    slow = [s for s in closes if s > _CLOSE_LIMIT_S]
    if slow:
        problems.append(f"close() took {max(slow):.1f} s (limit {_CLOSE_LIMIT_S:g} s)")
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)
