"""Peak resident memory of the calling process and of a processor's workers during one call.

asv's ``peakmem_`` benchmarks see the benchmark process only; the pool's workers are
other processes. :func:`peak_rss_during` measures both around one call (Linux: the
kernel's own peak, ``VmHWM``, reset just before it; elsewhere psutil sampling), and
:class:`PeakRssBenchmark` is the base of the suites that report them as ``track_``
figures.
"""
from __future__ import annotations

import functools
import importlib.util
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from .common import (
    TWO_CORES,
    close_processor,
    make_processor,
    operation,
    operation_args,
    preimport_operation,
    sizes,
)

__all__ = ["PeakRss", "peak_rss_during", "PeakRssBenchmark"]


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

