"""A /dev/shm too small for a call's arrays: the right result through the pipes, never SIGBUS.

- Unit level (every machine): the segment reservation is made to fail (ENOSPC from
  ``posix_fallocate``); every operation family still returns the in-process answer,
  with one WARNING per processor, and leaves no segment. ``shm="require"`` raises
  :class:`SharedMemoryFullError` before any task; ``shm="never"`` creates no segment.
- In a container's conditions (root only: a private mount namespace with a small
  tmpfs on /dev/shm, as ``docker run`` gives without ``--shm-size``): the 10**7-item
  call that used to end the caller with SIGBUS under 64 MB, and every family under
  8 MB (:mod:`tests.children.small_shm`).
- Segments named after a worker that died are unlinked when the parent learns of it.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import optimized
from evaluation.inputs import build_args
from evaluation.workloads import Workloads
from optimized import OptimizedParallelProcessor, SharedMemoryFullError, WorkerCrashedError
from optimized import shm as shm_module
from optimized.shm import SharedArray, live_segments, unlink_segments_of
from tests import kernels
from tests.conftest import record_segments
from tests.private_shm import run_with_small_shm, why_unavailable

pytestmark = pytest.mark.usefixtures("optimized_only")

#: Sizes (by builder) that make several pooled tasks and arrays of a few hundred kB.
UNIT_SIZES = {"test_data": 20_000, "test_batches": 20_000, "test_matrix": 80,
              "limit": 2_000_000, "test_text": 50_000}


@pytest.fixture
def no_room(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every segment reservation fails with ENOSPC, as on a full tmpfs; returns the sizes asked."""
    asked: list[int] = []

    def full(fd: int, offset: int, length: int) -> None:
        asked.append(length)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(shm_module.os, "posix_fallocate", full)
    return asked


def _shm_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and "/dev/shm" in r.getMessage()]


def _args(op: Any) -> tuple[Any, ...]:
    size = UNIT_SIZES[op.builder]
    return build_args(op, max(1, size // op.batch_len) if op.batch_len else size, optimized)


@pytest.mark.timeout(120)
def test_every_family_is_right_without_room_in_dev_shm(
        no_room: list[int], workloads: Workloads, make_processor: Callable[..., Any],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="optimized")
    pool = make_processor(2, execution="pool", matmul_parallel_threshold=16)
    oracle = make_processor(1, execution="inline")
    for op in workloads.operations.values():
        args = _args(op)
        assert getattr(pool, op.name)(*args, **op.call) == getattr(oracle, op.name)(
            *args, **op.call), op.name
    assert no_room, "no call tried to reserve a segment: the fallback was never exercised"
    warned = _shm_warnings(caplog)
    assert len(warned) == 1, warned
    assert "docker run --shm-size=" in warned[0] and "free" in warned[0]
    assert not live_segments()


@pytest.mark.timeout(60)
def test_require_raises_before_any_task(no_room: list[int], make_processor: Callable[..., Any],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    p = make_processor(2, execution="pool", shm="require")
    ran: list[str] = []
    for method in ("run", "stream", "submit"):
        monkeypatch.setattr(p._backend, method,
                            lambda *a, _m=method, **k: ran.append(_m))  # noqa: ARG005
    with pytest.raises(SharedMemoryFullError, match=r"--shm-size=1g") as info:
        p.process_data_spawn_per_item(list(range(50_000)))
    assert isinstance(info.value, MemoryError)
    assert info.value.needed == 50_000 * 8
    assert ran == []
    assert not live_segments()


@pytest.mark.timeout(60)
def test_never_creates_no_segment(make_processor: Callable[..., Any],
                                  monkeypatch: pytest.MonkeyPatch,
                                  caplog: pytest.LogCaptureFixture) -> None:
    names = record_segments(monkeypatch)
    p = make_processor(2, execution="pool", shm="never", matmul_parallel_threshold=16)
    data = list(range(30_000))
    assert p.process_data_spawn_per_item(data) == [p.process_single_item(x) for x in data]
    m = (np.arange(64 * 48) % 7).reshape(64, 48).tolist()
    assert p.parallel_matrix_multiply(m, [list(r) for r in zip(*m, strict=True)]) == (
        np.array(m) @ np.array(m).T).tolist()
    assert names == []
    assert _shm_warnings(caplog) == []


@pytest.mark.parametrize("bad", ["sometimes", "", 1, None, True])
def test_bad_shm_option_is_rejected(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"shm must be one of \('auto', 'require', 'never'\)"):
        OptimizedParallelProcessor(1, shm=bad)


def test_shm_option_is_local_only() -> None:
    with pytest.raises(ValueError, match="shm= applies to the local pool"):
        OptimizedParallelProcessor(scheduler="tcp://127.0.0.1:1", shm="never")


@pytest.mark.timeout(30)
def test_failed_reservation_leaves_no_segment(no_room: list[int]) -> None:
    with pytest.raises(SharedMemoryFullError):
        SharedArray((1000,), np.float64)
    assert no_room == [8000]
    assert not live_segments()


def test_a_segment_that_cannot_fit_is_refused_without_creating_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shm_module, "shm_free_bytes", lambda: 4 << 20)
    with pytest.raises(SharedMemoryFullError, match=r"has 4\.0 MB free.*of 8\.0 MB"):
        SharedArray((1 << 20,), np.float64)
    assert not live_segments()


def test_unlink_segments_of_removes_only_that_pid() -> None:
    mine = Path(shm_module.SHM_DIR) / "ppd_999999999_abc"
    other = Path(shm_module.SHM_DIR) / "ppd_9999999990_abc"
    for path in (mine, other):
        path.write_bytes(b"x")
    try:
        assert unlink_segments_of([999999999]) == [mine.name]
        assert not mine.exists() and other.exists()
    finally:
        other.unlink(missing_ok=True)
        mine.unlink(missing_ok=True)


@pytest.mark.timeout(60)
def test_a_dead_workers_segment_goes_with_it(make_processor: Callable[..., Any]) -> None:
    p = make_processor(2, execution="pool")
    pids = p.worker_pids()
    with pytest.raises(WorkerCrashedError, match="SIGKILL"):
        p.map(kernels.leave_segment_and_die, list(range(10)), chunksize=1)
    left = [n for pid in pids for n in os.listdir("/dev/shm") if n.startswith(f"ppd_{pid}_")]
    assert left == []
    assert p.map(kernels.square, [1, 2, 3]) == [1, 4, 9]


def _in_small_shm(size: str, *argv: str, timeout: float) -> subprocess.CompletedProcess[str]:
    why = why_unavailable()
    if why:
        pytest.skip(why)
    return run_with_small_shm(size, list(argv), timeout=timeout)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_ten_million_items_under_a_64_mb_dev_shm() -> None:
    """The call that ended the caller with SIGBUS (exit 135) in a default container."""
    proc = _in_small_shm("64m", "-m", "tests.children.small_shm", "repro", timeout=110)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    out = json.loads(proc.stdout.splitlines()[-1])
    assert [(r["size"], r["ok"]) for r in out["results"]] == [(10**7, True)], out["results"]
    assert len(out["warnings"]) == 1, out["warnings"]
    assert out["left"] == []
    assert "resource_tracker" not in proc.stderr, proc.stderr


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_every_family_under_an_8_mb_dev_shm(start_method: str) -> None:
    proc = _in_small_shm("8m", "-m", "tests.children.small_shm", "suite", start_method,
                         timeout=110)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    out = json.loads(proc.stdout.splitlines()[-1])
    wrong = [r for r in out["results"] if not r["ok"]]
    assert wrong == [] and len(out["results"]) == 10, out["results"]
    assert len(out["warnings"]) == 1, out["warnings"]
    assert out["left"] == []
    assert "resource_tracker" not in proc.stderr, proc.stderr
