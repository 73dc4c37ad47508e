"""The processor on a Dask distributed cluster (D12).

Three real clusters on loopback, each as separate OS processes:

- ``cli``: ``dask scheduler --host 127.0.0.1 --port <free> --no-dashboard`` and two
  ``dask worker tcp://127.0.0.1:<port> --nthreads 1`` processes (with their nannies),
  stopped in the finalizer with SIGTERM, then SIGKILL, and proven gone;
- ``local``: ``distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1)``;
- ``tls``: the same over ``tls://`` with ``Security.temporary()`` (mutual TLS).

Every public method is compared with the local pool's result on the same input, at
sizes that make several tasks (``execution="pool"``). Fault tests kill a worker
mid-call, give a bad address, lose the scheduler mid-call, and connect to the TLS
cluster without credentials.
"""
from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from tests import kernels, process_groups
from tests.conftest import long_lived
from tests.process_groups import alive

distributed = pytest.importorskip("distributed", reason="the cluster extra is not installed")

from optimized import OptimizedParallelProcessor, ProcessorTimeoutError  # noqa: E402
from optimized.backends.dask import RemoteTraceback  # noqa: E402

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("optimized_only")]

ROOT = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).with_name("dask")
START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _ClusterProcesses:
    """OS processes of one test cluster, registered so the leak guard allows them.

    ``roots``: processes started for the cluster (they and their descendants count), or
    ``nannies``: a LocalCluster's nannies (they live in this process and restart a
    killed worker as a new process; ``Nanny.pid`` is its current worker).
    """

    def __init__(self, roots: list[int] | None = None,
                 nannies: Callable[[], list[Any]] | None = None) -> None:
        self.roots = roots or []
        self.nannies = nannies
        self.closed = False

    def worker_pids(self) -> list[int]:
        roots = list(self.roots)
        if self.nannies is not None:
            roots += [n.pid for n in self.nannies() if n.pid]
        pids = []
        for pid in roots:
            try:
                proc = psutil.Process(pid)
                pids.append(pid)
                pids.extend(c.pid for c in proc.children(recursive=True))
            except psutil.Error:
                pass
        return pids


def _dask(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """``dask ARGS`` in a process group of its own that dies with this test run."""
    proc = subprocess.Popen([str(DASK), *args], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    process_groups.register(proc.pid)
    return proc


def _stop(procs: list[subprocess.Popen[bytes]], handle: _ClusterProcesses) -> None:
    """SIGTERM every process group, SIGKILL what is left after 10 s; assert none remains."""
    everything = set(handle.worker_pids())
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
    end = time.monotonic() + 10  # children (a resource tracker) exit once their pipe closes
    while (left := alive(everything)) and time.monotonic() < end:
        time.sleep(0.1)
    handle.closed = True
    for p in procs:
        process_groups.unregister(p.pid)
    assert not left, f"cluster processes left after the finalizer: {left}"


@pytest.fixture(scope="module")
def cli_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scheduler and two single-threaded workers started with the ``dask`` command."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scratch = tmp_path_factory.mktemp("dask-cli")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DASK_TEMPORARY_DIRECTORY": str(scratch)}
    procs = [_dask(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                   env, scratch)]
    for _ in range(2):
        procs.append(_dask(["worker", address, "--nthreads", "1", "--no-dashboard",
                            "--local-directory", str(scratch)], env, scratch))
    handle = long_lived(_ClusterProcesses(roots=[p.pid for p in procs]))
    try:
        with distributed.Client(address, timeout=START_TIMEOUT_S) as client:
            client.wait_for_workers(2, timeout=START_TIMEOUT_S)
        yield address
    finally:
        _stop(procs, handle)


def _local_cluster(tmp_path_factory: pytest.TempPathFactory, **kw: Any) -> Iterator[Any]:
    cluster = distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                       dashboard_address=None, host="127.0.0.1",
                                       local_directory=str(tmp_path_factory.mktemp("dask")),
                                       **kw)
    handle = long_lived(_ClusterProcesses(nannies=lambda: list(cluster.workers.values())))
    try:
        yield cluster
    finally:
        pids = set(handle.worker_pids())
        cluster.close(timeout=20)
        end = time.monotonic() + 10
        while (left := alive(pids)) and time.monotonic() < end:
            time.sleep(0.1)
        handle.closed = True
        described = []
        for pid in left:
            try:
                proc = psutil.Process(pid)
                described.append((pid, proc.status(), " ".join(proc.cmdline())[:100]))
            except psutil.Error:
                pass
        assert not described, f"LocalCluster processes left after close: {described}"


#: The local cluster's scheduler gives up on a task after it killed this many workers
#: (Dask's default is 3; 1 keeps the KilledWorker test short).
ALLOWED_FAILURES = 1


@pytest.fixture(scope="module")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        yield from _local_cluster(tmp_path_factory)


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    security = distributed.Security.temporary()  # needs the cryptography package
    for cluster in _local_cluster(tmp_path_factory, security=security, protocol="tls://"):
        yield cluster, security


@pytest.fixture(scope="module", params=["cli", "local", "tls"])
def cluster_processor(request: pytest.FixtureRequest) -> Iterator[OptimizedParallelProcessor]:
    """A pool-mode processor on each kind of cluster."""
    if request.param == "cli":
        p = OptimizedParallelProcessor(scheduler=request.getfixturevalue("cli_cluster"),
                                       execution="pool")
    elif request.param == "local":
        p = OptimizedParallelProcessor(
            scheduler=request.getfixturevalue("local_cluster").scheduler_address,
            execution="pool")
    else:
        cluster, security = request.getfixturevalue("tls_cluster")
        assert cluster.scheduler_address.startswith("tls://")
        p = OptimizedParallelProcessor(scheduler=cluster.scheduler_address, security=security,
                                       execution="pool")
    yield p
    p.close()


@pytest.fixture(scope="module")
def local_pool() -> Iterator[OptimizedParallelProcessor]:
    p = long_lived(OptimizedParallelProcessor(2, execution="pool"))
    yield p
    p.close()


# -- every public method, same results as the local pool --------------------------------
_RNG = np.random.default_rng(10)
_DATA = [int(x) for x in _RNG.integers(-1000, 1000, 20_000)]
_A = _RNG.integers(-50, 50, (240, 120))
_B = _RNG.integers(-50, 50, (120, 90))
_TEXT = " ".join(_RNG.choice(["alpha", "beta", "gamma", "delta", "é"], 60_000).tolist())

CALLS: dict[str, Callable[[OptimizedParallelProcessor], Any]] = {
    "process_data_spawn_per_item": lambda p: p.process_data_spawn_per_item(_DATA),
    "process_data_spawn_per_item[ndarray]":
        lambda p: p.process_data_spawn_per_item(np.asarray(_DATA, dtype=float)),
    "process_with_file_based_ipc": lambda p: p.process_with_file_based_ipc(_DATA),
    "process_with_excessive_queue_ops": lambda p: p.process_with_excessive_queue_ops(_DATA),
    "compute_statistics_sequential": lambda p: p.compute_statistics_sequential(_DATA),
    "parallel_sum_spawn_many": lambda p: p.parallel_sum_spawn_many(_DATA),
    "parallel_sum_spawn_many[floats]":
        lambda p: p.parallel_sum_spawn_many([x / 7 for x in _DATA]),
    "batch_process_with_manager":
        lambda p: p.batch_process_with_manager([_DATA[:300], _DATA[300:9000], _DATA[9000:]]),
    "parallel_matrix_multiply[int]": lambda p: p.parallel_matrix_multiply(_A, _B),
    "parallel_matrix_multiply[float lists]":
        lambda p: p.parallel_matrix_multiply((_A / 3).tolist(), (_B / 7).tolist()),
    "parallel_matrix_multiply[big ints]":
        lambda p: p.parallel_matrix_multiply((_A[:40] * 2**40).tolist(), (_B * 2**40).tolist()),
    "parallel_find_primes": lambda p: p.parallel_find_primes(3_000_000),
    "map_reduce_word_count": lambda p: p.map_reduce_word_count(_TEXT),
    "map[module function]": lambda p: p.map(kernels.square, _DATA),
    "map[lambda]": lambda p: p.map(lambda x: (x, x % 7), _DATA),
    "run_pipeline": lambda p: p.run_pipeline(_DATA),
    "run_pipeline[replicas]":
        lambda p: p.run_pipeline(_DATA, stages=[abs, str], replicas=[1, 1]),
    "process_single_item": lambda p: p.process_single_item(12),
    "find_primes_worker": lambda p: p.find_primes_worker(100, 400),
    "map_reduce_word_count_mapper": lambda p: p.map_reduce_word_count_mapper("a b a"),
}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype \
            and np.array_equal(a, b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("name", list(CALLS))
def test_every_public_method_matches_the_local_pool(cluster_processor, local_pool,
                                                    name: str) -> None:
    expected = CALLS[name](local_pool)
    got = CALLS[name](cluster_processor)
    assert _same(got, expected), f"{name}: cluster result differs from the local pool's"
    m = cluster_processor.last_metrics
    if m is not None and m.path == "pool":  # the work really went to the cluster
        assert m.tasks >= 2, (name, m.tasks)


def test_num_workers_and_dispatch_cost_come_from_the_cluster(cluster_processor) -> None:
    backend = cluster_processor._backend
    assert cluster_processor.num_workers == 2 == backend.cores  # 2 workers x 1 thread
    print(f"\n[figure] Dask round trip measured at connect: {backend.round_trip_s * 1e3:.1f} ms")
    assert 0 < backend.round_trip_s < 1.0
    assert backend.min_task_s >= 0.02
    assert cluster_processor.worker_pids() == []  # no worker is a child of this process


def test_a_task_exception_keeps_its_type_and_remote_traceback(cluster_processor) -> None:
    with pytest.raises(ValueError, match="kernel refused item 3") as info:
        cluster_processor.map(kernels.boom_on_3, list(range(10)), chunksize=2)
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback) and "boom_on_3" in cause.text
    assert cluster_processor.map(kernels.square, [1, 2]) == [1, 4]  # still usable


def test_timeout_raises_cancels_and_the_processor_stays_usable(cluster_processor) -> None:
    t0 = time.monotonic()
    with pytest.raises(ProcessorTimeoutError, match="cancelled") as info:
        cluster_processor.map(kernels.sleep_then_return, [0.5] * 8, chunksize=1, timeout=0.3)
    elapsed = time.monotonic() - t0
    assert isinstance(info.value, TimeoutError)
    assert elapsed < 0.3 + 1.0, f"timeout=0.3 raised after {elapsed:.2f} s"
    assert cluster_processor.map(kernels.square, [3]) == [9]


def test_imap_streams_on_the_cluster_with_the_same_contract(cluster_processor) -> None:
    p = cluster_processor
    assert list(p.imap(kernels.square, (x for x in range(500)))) == [x * x for x in range(500)]
    assert sorted(p.imap(kernels.square, range(300), ordered=False, chunksize=7)) == \
        [x * x for x in range(300)]
    got = []
    with pytest.raises(ValueError, match="kernel refused item 3") as info:
        for v in p.imap(kernels.boom_on_3_others_slow, range(10), chunksize=1):
            got.append(v)
    assert got == [0, 1, 2] and isinstance(info.value.__cause__, RemoteTraceback)
    for i, _ in enumerate(p.imap(kernels.sleep_then_return, itertools.repeat(0.01), chunksize=1)):
        if i == 10:
            break  # an endless input: leaving early cancels what is pending
    with pytest.raises(ProcessorTimeoutError):
        list(p.imap(kernels.sleep_then_return, [0.01, 5.0], chunksize=1, timeout=0.5))
    assert p.map(kernels.square, [7]) == [49]


# -- connection, ownership, security ------------------------------------------------------
def test_an_unreachable_scheduler_fails_within_the_limit() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    t0 = time.monotonic()
    with pytest.raises(ConnectionError, match=address.replace(".", r"\.")):
        OptimizedParallelProcessor(scheduler=address, connect_timeout=2)
    assert time.monotonic() - t0 < 10


def test_close_leaves_the_cluster_and_a_users_client_alone(local_cluster) -> None:
    address = local_cluster.scheduler_address
    OptimizedParallelProcessor(scheduler=address).close()  # its own Client, closed
    with distributed.Client(address, set_as_default=False) as client:
        p = OptimizedParallelProcessor(scheduler=client, execution="pool")
        assert p.map(kernels.square, list(range(300))) == [x * x for x in range(300)]
        p.close()
        assert client.status == "running"  # the user's client is left open
        assert client.submit(kernels.square, 5).result() == 25  # and the cluster is up
    with pytest.raises(Exception, match="closed"):
        p.map(kernels.square, [1])


def test_tls_cluster_refuses_a_client_without_credentials(tls_cluster) -> None:
    cluster, _ = tls_cluster
    address = cluster.scheduler_address
    with pytest.raises(ValueError, match="uses TLS: pass security="):
        OptimizedParallelProcessor(scheduler=address)
    stranger = distributed.Security.temporary()  # a valid TLS set-up, but not this cluster's CA
    t0 = time.monotonic()
    with pytest.raises(ConnectionError, match="could not connect") as info:
        OptimizedParallelProcessor(scheduler=address, security=stranger, connect_timeout=5)
    elapsed = time.monotonic() - t0
    print(f"\n[figure] TLS with foreign credentials refused after {elapsed:.1f} s: {info.value}")
    assert elapsed < 10, f"refusal took {elapsed:.1f} s"
    with pytest.raises(ConnectionError):  # plain TCP to a TLS scheduler
        OptimizedParallelProcessor(scheduler=address.replace("tls://", "tcp://"),
                                   connect_timeout=3)


def test_distributed_is_imported_only_for_a_cluster() -> None:
    code = ("import sys, optimized\n"
            "p = optimized.OptimizedParallelProcessor(1)\n"
            "p.map(abs, [-1]); p.close()\n"
            "print('distributed' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    with pytest.raises(ImportError, match=r'pip install "parallel-data-processing\[cluster\]"'):
        OptimizedParallelProcessor(scheduler="tcp://127.0.0.1:1")


@pytest.mark.parametrize("kwargs, error", [
    ({"scheduler": 8786}, TypeError),
    ({"scheduler": "tcp://127.0.0.1:1", "start_method": "spawn"}, ValueError),
    ({"security": object()}, ValueError),
    ({"scheduler": "tcp://127.0.0.1:1", "connect_timeout": -1}, ValueError),
])
def test_bad_cluster_arguments_fail_before_connecting(kwargs: dict[str, Any],
                                                      error: type) -> None:
    t0 = time.monotonic()
    with pytest.raises(error):
        OptimizedParallelProcessor(**kwargs)
    assert time.monotonic() - t0 < 1.5


def test_a_task_that_keeps_killing_workers_is_a_worker_crash(local_cluster) -> None:
    from optimized import WorkerCrashedError

    with distributed.Client(local_cluster.scheduler_address, set_as_default=False) as client:
        assert client.run_on_scheduler(
            lambda dask_scheduler: dask_scheduler.allowed_failures) == ALLOWED_FAILURES
        p = OptimizedParallelProcessor(scheduler=client, execution="pool")
        t0 = time.monotonic()
        with pytest.raises(WorkerCrashedError, match="Dask gave up on a task"):
            p.map(kernels.die_on_5, list(range(10)), chunksize=1)
        print(f"\n[figure] KilledWorker after {ALLOWED_FAILURES + 1} worker deaths: "
              f"WorkerCrashedError in {time.monotonic() - t0:.1f} s")
        client.wait_for_workers(2, timeout=START_TIMEOUT_S)  # the nannies restart them
        assert p.map(kernels.square, list(range(300))) == [x * x for x in range(300)]
        p.close()


def test_tasks_cancelled_by_the_scheduler_are_a_worker_crash(local_cluster) -> None:
    """What a worker lost with a call's only copy of scattered input looks like to a call."""
    from optimized import WorkerCrashedError

    with distributed.Client(local_cluster.scheduler_address, set_as_default=False) as client:
        p = OptimizedParallelProcessor(scheduler=client, execution="pool")

        def cancel_the_calls_tasks() -> None:
            keys = [k for k in list(client.futures) if str(k).startswith("run_task")]
            client.cancel([distributed.Future(k, client) for k in keys], force=True)

        timer = threading.Timer(0.5, cancel_the_calls_tasks)
        timer.start()
        try:
            with pytest.raises(WorkerCrashedError, match="the scheduler cancelled this call"):
                p.map(kernels.sleep_then_return, [0.1] * 40, chunksize=1, timeout=30)
        finally:
            timer.join()
        assert p.map(kernels.square, list(range(300))) == [x * x for x in range(300)]
        p.close()


def test_a_worker_lost_between_calls_is_not_an_error(cli_cluster) -> None:
    with distributed.Client(cli_cluster, set_as_default=False) as client:
        p = OptimizedParallelProcessor(scheduler=client, execution="pool")
        assert p.map(kernels.square, list(range(300))) == [x * x for x in range(300)]
        victim = _task_pids(client)[0]
        os.kill(victim, signal.SIGKILL)
        assert _gone_soon(victim)
        assert p.map(kernels.square, list(range(300))) == [x * x for x in range(300)]
        assert p.parallel_find_primes(10**6)[-1] == 999_983
        p.close()
        client.wait_for_workers(2, timeout=START_TIMEOUT_S)  # the nanny restarts it


def _gone_soon(pid: int, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while alive([pid]) and time.monotonic() < end:
        time.sleep(0.05)
    return not alive([pid])


# -- faults on the CLI cluster ------------------------------------------------------------
def _task_pids(client: Any) -> list[int]:
    return sorted(client.run(os.getpid).values())


def test_a_worker_killed_mid_call_is_survived(cli_cluster) -> None:
    from optimized import WorkerCrashedError

    with distributed.Client(cli_cluster, set_as_default=False) as client:
        victim = _task_pids(client)[0]
        p = OptimizedParallelProcessor(scheduler=client, execution="pool")
        items = [0.05] * 60  # 60 x 50 ms on 2 workers: ~1.5 s
        timer = threading.Timer(0.5, os.kill, (victim, signal.SIGKILL))
        timer.start()
        t0 = time.monotonic()
        try:
            got = p.map(kernels.sleep_then_return, items, chunksize=1)
        except WorkerCrashedError as exc:  # allowed: Dask gave up on a task
            print(f"\n[figure] worker killed mid-call: WorkerCrashedError: {exc}")
        else:
            assert got == items, "a rescheduled task's result is wrong, lost or doubled"
            print(f"\n[figure] worker killed mid-call: completed correctly in "
                  f"{time.monotonic() - t0:.2f} s on the survivor(s)")
        finally:
            timer.join()
        assert not alive([victim])
        assert p.map(kernels.square, list(range(500))) == [x * x for x in range(500)]
        p.close()
        client.wait_for_workers(2, timeout=START_TIMEOUT_S)  # the nanny restarts it


def test_no_worker_then_losing_the_scheduler_mid_call_are_clear_errors(tmp_path: Path) -> None:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DASK_TEMPORARY_DIRECTORY": str(tmp_path)}
    procs = [_dask(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                   env, tmp_path)]
    handle = long_lived(_ClusterProcesses(roots=[p.pid for p in procs]))
    try:
        with distributed.Client(address, timeout=START_TIMEOUT_S, set_as_default=False):
            pass  # the scheduler is up, and has no worker yet
        t0 = time.monotonic()
        with pytest.raises(ConnectionError, match="has no worker"):
            OptimizedParallelProcessor(scheduler=address, connect_timeout=1.5)
        assert time.monotonic() - t0 < 10
        procs.append(_dask(["worker", address, "--nthreads", "1", "--no-nanny",
                            "--no-dashboard", "--local-directory", str(tmp_path)],
                           env, tmp_path))
        handle.roots.append(procs[-1].pid)
        p = OptimizedParallelProcessor(scheduler=address, execution="pool",
                                       connect_timeout=START_TIMEOUT_S)
        timer = threading.Timer(0.5, os.killpg, (procs[0].pid, signal.SIGKILL))
        timer.start()
        t0 = time.monotonic()
        with pytest.raises((ConnectionError, OSError)) as info:
            p.map(kernels.sleep_then_return, [0.2] * 50, chunksize=1, timeout=60)
        elapsed = time.monotonic() - t0
        timer.join()
        print(f"\n[figure] scheduler lost mid-call: {type(info.value).__name__} after "
              f"{elapsed:.1f} s: {info.value}")
        assert elapsed < 45, f"losing the scheduler took {elapsed:.0f} s to report"
        p.close()
    finally:
        _stop(procs, handle)
