"""Chaos soak: one long-lived processor serves random calls while its workers are attacked.

Usage: ``python -m tests.children.chaos START_METHOD CALLS SEED [--fill]``.

The main thread makes ``CALLS`` calls, each a random operation at a random size
(``random.Random(SEED)``: a failing run reproduces), and compares every result with
an in-process processor's answer. A chaos thread, every 0.2-1 s, does one of:

- ``kill``: SIGKILL a random worker (busy or idle);
- ``stop``: SIGSTOP a random worker for 0.5 s, then SIGCONT;
- ``fill`` (with ``--fill``, in a private /dev/shm only): fill /dev/shm up to the
  1 MB the processor keeps free, for 0.5 s, so new segments do not fit.

A call must return exactly the oracle's answer or raise ``WorkerCrashedError`` /
``ProcessorTimeoutError`` (each call has a timeout of :data:`CALL_TIMEOUT_S`). After
``close()``: no child process (the resource tracker excepted), no ``ppd_*`` segment of
this run, no new entry in the temp dir. Prints one JSON line of figures.
"""
from __future__ import annotations

import ctypes
import gc
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import psutil

from optimized import OptimizedParallelProcessor, ProcessorTimeoutError, WorkerCrashedError
from optimized.shm import (
    SEGMENT_PREFIX,
    SHM_DIR,
    SHM_RESERVE_BYTES,
    segment_prefix,
    shm_free_bytes,
)
from tests import kernels

CALL_TIMEOUT_S = 20.0
_FILL_FILE = os.path.join(SHM_DIR, "chaos_fill")


def _data(n: int) -> list[float]:
    return [float(i % 101) for i in range(n)]


def _matrix(n: int) -> list[list[int]]:
    return (np.arange(n * n) % 11).reshape(n, n).tolist()


#: Operation name -> (sizes, call(processor, size, timeout)). Sizes make several
#: pooled tasks in tens of ms.
OPERATIONS: dict[str, tuple[tuple[int, ...], Callable[[Any, int, float | None], Any]]] = {
    "map": ((3000, 60_000), lambda p, n, t: p.process_data_spawn_per_item(
        _data(n), timeout=t)),
    "file_ipc": ((1000, 20_000), lambda p, n, t: p.process_with_file_based_ipc(
        _data(n), timeout=t)),
    "queue_ops": ((500, 20_000), lambda p, n, t: p.process_with_excessive_queue_ops(
        _data(n), timeout=t)),
    "sum": ((50_000, 300_000), lambda p, n, t: p.parallel_sum_spawn_many(
        list(range(n)), timeout=t)),
    "batches": ((20, 200), lambda p, n, t: p.batch_process_with_manager(
        [_data(50) for _ in range(n)], timeout=t)),
    "matrix": ((64, 160), lambda p, n, t: p.parallel_matrix_multiply(
        _matrix(n), _matrix(n), timeout=t)),
    "primes": ((300_000, 3_000_000), lambda p, n, t: p.parallel_find_primes(n, timeout=t)),
    "wordcount": ((20_000, 200_000), lambda p, n, t: p.map_reduce_word_count(
        " ".join(["the", "Quick", "brown", "fox!"] * (n // 4)), timeout=t)),
    "pipeline": ((5000, 50_000), lambda p, n, t: p.run_pipeline(list(range(n)), timeout=t)),
    "user_map": ((2000, 20_000), lambda p, n, t: p.map(kernels.square, list(range(n)),
                                                       chunksize=500, timeout=t)),
}


def _settled_rss(me: psutil.Process) -> int:
    """RSS after a garbage collection and ``malloc_trim``: memory held, not free-list slack.

    glibc keeps freed blocks in its arenas (RSS creeps up by a few MB over thousands of
    varied calls while the Python heap traced by tracemalloc stays flat at ~1 MB); what a
    leak is about is memory still in use, so both points are measured after a trim.
    """
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
    return int(me.memory_info().rss)


def _workers() -> list[psutil.Process]:
    """This process's pool workers (not the resource tracker or the fork server)."""
    out = []
    for c in psutil.Process().children():
        try:
            cmd = " ".join(c.cmdline())
        except psutil.Error:
            continue
        if "resource_tracker" not in cmd and "forkserver" not in cmd:
            out.append(c)
    return out


class Chaos(threading.Thread):
    """Injects one fault every 0.2-1 s until stopped; counts them by kind."""

    def __init__(self, rng: random.Random, fill: bool, busy: threading.Event) -> None:
        super().__init__(daemon=True)
        self.rng, self.fill, self.busy = rng, fill, busy
        self.done = threading.Event()
        self.faults: Counter[str] = Counter()
        self.error: str | None = None  # what stopped the thread early, if anything

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # reported: a chaos thread that died injects nothing
            self.error = f"{type(exc).__name__}: {exc}"

    def _loop(self) -> None:
        kinds = ["kill", "stop", "fill"] if self.fill else ["kill", "stop"]
        while not self.done.wait(self.rng.uniform(0.2, 1.0)):
            kind = self.rng.choice(kinds)
            if kind == "fill":
                if self._fill_for(0.5):
                    self.faults["fill"] += 1
                continue
            victims = _workers()
            if not victims:
                continue
            victim = self.rng.choice(victims)
            state = "busy" if self.busy.is_set() else "idle"
            try:
                if kind == "kill":
                    victim.send_signal(signal.SIGKILL)
                else:
                    victim.send_signal(signal.SIGSTOP)
                    try:
                        self.done.wait(0.5)
                    finally:
                        victim.send_signal(signal.SIGCONT)
            except psutil.Error:  # it died meanwhile (another fault, or a restart)
                continue
            self.faults[f"{kind} ({state})"] += 1

    def _fill_for(self, seconds: float) -> bool:
        """Leave only the processor's reserve free for ``seconds``; False if it could not."""
        size = (shm_free_bytes() or 0) - SHM_RESERVE_BYTES
        if size <= 0:
            return False
        with open(_FILL_FILE, "wb") as f:
            try:
                os.posix_fallocate(f.fileno(), 0, size)
            except OSError:  # the processor took some of it meanwhile
                os.unlink(_FILL_FILE)
                return False
            try:
                self.done.wait(seconds)
            finally:
                os.unlink(_FILL_FILE)
        return True


def main() -> None:
    start_method, calls, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    fill = "--fill" in sys.argv[4:]
    rng = random.Random(seed)
    plan = [(name, rng.choice(OPERATIONS[name][0]))
            for name in (rng.choice(sorted(OPERATIONS)) for _ in range(calls))]
    with OptimizedParallelProcessor(1, execution="inline") as oracle:
        expected = {key: OPERATIONS[key[0]][1](oracle, key[1], None) for key in set(plan)}
    p = OptimizedParallelProcessor(2, execution="pool", start_method=start_method,
                                   matmul_parallel_threshold=32)
    me = psutil.Process()
    busy = threading.Event()
    chaos = Chaos(random.Random(seed + 1), fill, busy)
    outcomes: Counter[str] = Counter()
    wrong: list[tuple[int, str, int]] = []
    unexpected: list[str] = []
    rss_warm = 0
    trail: list[int] = []  # RSS in MB every 250 calls: a plateau, or a climb
    temp_before = set(os.listdir(tempfile.gettempdir()))
    slowest = 0.0
    t0 = time.monotonic()
    chaos.start()
    try:
        for i, (name, size) in enumerate(plan):
            if i == calls // 2:  # warm: metrics_history (1,000 calls) is full by then
                rss_warm = _settled_rss(me)
            if i % 250 == 0:
                trail.append(me.memory_info().rss >> 20)
            busy.set()
            started = time.monotonic()
            try:
                got = OPERATIONS[name][1](p, size, CALL_TIMEOUT_S)
            except (WorkerCrashedError, ProcessorTimeoutError) as exc:
                outcomes[type(exc).__name__] += 1
                continue
            except Exception as exc:  # anything else breaks the contract
                unexpected.append(f"call {i} {name}({size}): {type(exc).__name__}: {exc}")
                continue
            finally:
                busy.clear()
                slowest = max(slowest, time.monotonic() - started)
            if got == expected[(name, size)]:
                outcomes["correct"] += 1
            else:
                wrong.append((i, name, size))
    finally:
        chaos.done.set()
        chaos.join()
        seconds = time.monotonic() - t0
        rss_end = _settled_rss(me)
        p.close()
    time.sleep(0.2)
    left_procs = [c.pid for c in _workers() if c.status() != psutil.STATUS_ZOMBIE]
    # A private /dev/shm (--fill) holds only this run's names; the machine's, others' too.
    mine = SEGMENT_PREFIX if fill else segment_prefix()
    left_shm = sorted(n for n in os.listdir(SHM_DIR) if n.startswith(mine))
    left_temp = sorted(set(os.listdir(tempfile.gettempdir())) - temp_before)
    print(json.dumps({
        "start_method": start_method, "calls": calls, "seed": seed, "seconds": round(seconds, 1),
        "faults": dict(chaos.faults), "chaos_error": chaos.error, "outcomes": dict(outcomes), "wrong": wrong,
        "unexpected": unexpected, "restarts": p._backend.restarts,
        "rss_growth": (rss_end - rss_warm) / rss_warm if rss_warm else None,
        "rss_mb_every_250_calls": trail,
        "slowest_call_s": round(slowest, 2), "call_timeout_s": CALL_TIMEOUT_S,
        "left_processes": left_procs, "left_segments": left_shm, "left_temp": left_temp}))


if __name__ == "__main__":
    main()
