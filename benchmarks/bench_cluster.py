"""What going distributed costs on one machine: the Dask backend beside the local pool.

``impl="dask"`` runs the operation through ``OptimizedParallelProcessor(scheduler=...)``
on a ``distributed.LocalCluster`` of 2 single-threaded worker processes, started in
``setup`` (outside the timed line) once per benchmark process and closed when it exits
(asv re-runs ``setup`` before every timed call); ``impl="pool"`` is the
local pool of 2 workers, both forced onto their workers (``execution="pool"``), at each
operation's largest benchmark size. Skipped when ``distributed`` is not installed.
Targets (``benchmark_targets``): primes below 10**8 and a 10**7-word count within 2x
of the local pool, and a trivial call's round trip under 20 ms.
"""
from __future__ import annotations

import functools
import shutil
import statistics
import tempfile
import time
from typing import Any

from .common import (
    TWO_CORES,
    at_point_end,
    close_processor,
    end_of_point,
    largest_size,
    operation,
    operation_args,
    preimport_operation,
)

IMPLS_CLUSTER = ["pool", "dask"]


def _local_cluster() -> tuple[Any, str]:
    """A ``LocalCluster`` and its private scratch folder (remove it with :func:`_close_cluster`).

    Dask keeps its scheduler's and workers' scratch space under ``temporary-directory``
    (default: the system temp dir) and leaves the ``dask-scratch-space`` folder behind
    on close; a folder of our own is removed with the cluster.
    """
    try:
        import dask
        from distributed import LocalCluster
    except ImportError as exc:  # the cluster extra is optional
        raise NotImplementedError(f"distributed is not installed ({exc})") from exc
    scratch = tempfile.mkdtemp(prefix="ppd-dask-")
    try:
        with dask.config.set({"temporary-directory": scratch}):
            cluster = LocalCluster(n_workers=TWO_CORES, threads_per_worker=1, processes=True,
                                   dashboard_address=None, host="127.0.0.1",
                                   local_directory=scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return cluster, scratch


def _close_cluster(cluster: Any, scratch: str | None) -> None:
    if cluster is not None:
        cluster.close(timeout=30)
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)


class _ClusterOperation:
    """One operation at its largest size on the local pool or a Dask ``LocalCluster``."""

    operation = ""
    #: Not an instance workload: marks these as the cluster comparison, not an
    #: operation's main ``["impl", "size"]`` suite (that one is in ``bench_<area>``).
    workload = "cluster"
    timeout = 600.0
    repeat: Any = (1, 3, 20.0)
    number = 1
    warmup_time = 0.0

    def setup(self, impl: str, size: int) -> None:
        preimport_operation(self.operation)
        processor, new = _kept(impl)
        self.args = operation_args(self.operation, size)
        self.fn = functools.partial(getattr(processor, self.operation),
                                    **operation(self.operation).call)
        if new:
            self.fn(*operation_args(self.operation,
                                    min(operation(self.operation).sizes["optimized"])))

    def teardown(self, impl: str, size: int) -> None:
        end_of_point()  # the kept cluster and its scratch folder go with the point


#: This benchmark process's processors by impl, with the cluster of the Dask one: made
#: on first use, kept across samples (asv re-runs ``setup`` before every timed call; a
#: cluster start takes seconds), closed when the process exits.
_KEPT: dict[str, tuple[Any, Any, str | None]] = {}


def _kept(impl: str) -> tuple[Any, bool]:
    """The ``pool`` or ``dask`` processor of this process, and whether it is new."""
    if impl in _KEPT:
        return _KEPT[impl][0], False
    from optimized import OptimizedParallelProcessor

    if impl == "dask":
        cluster, scratch = _local_cluster()
        try:
            processor = OptimizedParallelProcessor(scheduler=cluster.scheduler_address,
                                                   execution="pool")
        except BaseException:
            _close_cluster(cluster, scratch)
            raise
        _KEPT[impl] = (processor, cluster, scratch)
    else:
        _KEPT[impl] = (OptimizedParallelProcessor(TWO_CORES, execution="pool"), None, None)
    return _KEPT[impl][0], True


def _close_kept() -> None:
    while _KEPT:
        processor, cluster, scratch = _KEPT.popitem()[1]
        close_processor(processor)
        _close_cluster(cluster, scratch)


at_point_end(_close_kept)


class ClusterProcessDataSpawnPerItem(_ClusterOperation):
    operation = "process_data_spawn_per_item"
    params = [IMPLS_CLUSTER, [largest_size(operation)]]
    param_names = ["impl", "size"]

    def time_process_data_spawn_per_item(self, impl: str, size: int) -> None:
        self.fn(*self.args)


class ClusterParallelSum(_ClusterOperation):
    operation = "parallel_sum_spawn_many"
    params = [IMPLS_CLUSTER, [largest_size(operation)]]
    param_names = ["impl", "size"]

    def time_parallel_sum_spawn_many(self, impl: str, size: int) -> None:
        self.fn(*self.args)


class ClusterFindPrimes(_ClusterOperation):
    operation = "parallel_find_primes"
    params = [IMPLS_CLUSTER, [largest_size(operation)]]
    param_names = ["impl", "size"]

    def time_parallel_find_primes(self, impl: str, size: int) -> None:
        self.fn(*self.args)


class ClusterWordCount(_ClusterOperation):
    operation = "map_reduce_word_count"
    params = [IMPLS_CLUSTER, [largest_size(operation)]]
    param_names = ["impl", "size"]

    def time_map_reduce_word_count(self, impl: str, size: int) -> None:
        self.fn(*self.args)


class ClusterMatrixMultiply(_ClusterOperation):
    operation = "parallel_matrix_multiply"
    params = [IMPLS_CLUSTER, [largest_size(operation)]]
    param_names = ["impl", "size"]

    def time_parallel_matrix_multiply(self, impl: str, size: int) -> None:
        self.fn(*self.args)


class ClusterRoundTrip:
    """A trivial call on the Dask backend (``map`` of 10 items): median of 20, in ms.

    The function is the builtin ``abs``: it travels by reference and every worker has
    it (a function of this benchmark module would not import on the workers, which do
    not have asv's benchmark directory on their path).
    """

    unit = "milliseconds"
    timeout = 120.0

    def setup(self) -> None:
        from optimized import OptimizedParallelProcessor

        self.cluster, self.scratch = _local_cluster()
        self.processor = OptimizedParallelProcessor(scheduler=self.cluster.scheduler_address)
        self.processor.map(abs, [-1] * 10)

    def teardown(self) -> None:
        close_processor(getattr(self, "processor", None))
        _close_cluster(getattr(self, "cluster", None), getattr(self, "scratch", None))

    def track_trivial_call_ms(self) -> float:
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            self.processor.map(abs, [-1] * 10)
            times.append(time.perf_counter() - t0)
        return 1e3 * statistics.median(times)
