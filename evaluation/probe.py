"""Probe the original where the benchmarks stop: what it really does at larger sizes (D16).

The benchmarks run the baseline only up to ``baseline_max``; beyond it the report used
to extrapolate, and a power law fitted to overhead-dominated sizes can be off by 10x
exactly where the original hangs or crashes. This stage runs each baseline operation at
sizes growing about 3x from its largest benchmark size up to the seed's size, one call
per size in a child process group of its own (:mod:`evaluation.probe_child`), and
records what happened::

    finished      the call returned the right result (its time)
    wrong result  it returned, but not what the oracle returns (its time, and how it
                  differs: "the right results in the wrong order", ...)
    hangs         blocked: no CPU progress for 5 s and every thread of the group in a
                  wait (/proc), with the evidence (:mod:`evaluation.procstate`) - e.g.
                  "deadlocks after 81 s of work: ... the parent joins its workers
                  (do_wait) while a worker's queue feeder is blocked writing to a full
                  pipe (anon_pipe_write)". Judged as soon as it is true.
    over budget   still computing when the budget ran out (slow, not stuck)
    crashes       it died (out of memory, fork failing, a child killed), or grew past
                  the probe's process or memory cap
    refused       not started: it would start more than MAX_PROCESSES at once

CPU figures are per-process deltas between consecutive samples (:func:`cpu_between`):
a worker that exits between two samples never subtracts its CPU time, so no share can
be negative. Each size's budget follows the work model (:func:`size_budget`): twice the
time the original's own work count predicts from the previous size, within
``[budget_s, 3 * budget_s]``.

The probe never harms the machine: sizes that would start more than
:data:`MAX_PROCESSES` processes are refused up front (the work model of
:func:`processes_started`), a group that grows past that count or past
:data:`MAX_MEMORY_SHARE` of RAM is killed, every group is SIGKILLed when its call ends
or its budget expires, and afterwards the probe checks that no process of the group
is left (``leftover`` counts any still alive after the kill). An operation goes on past
a wrong result (it returned: its time is a fact) and stops at its first size that does
not return; the whole stage stops when its total budget is spent.
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import psutil

from .analysis import reference_size
from .procstate import describe_block, threads_waiting
from .work import work_model
from .workloads import Operation, Workloads

__all__ = ["MAX_PROCESSES", "MAX_MEMORY_SHARE", "ProbeOutcome", "processes_started",
           "probe_sizes", "probe_call", "probe_all", "KINDS", "RETURNED", "cpu_between", "size_budget"]

#: Processes the baseline may start at once during a probe.
MAX_PROCESSES = 2000
#: Share of the machine's RAM the probed group may use before it is killed.
MAX_MEMORY_SHARE = 0.5
#: Seconds without CPU progress (group CPU < 5 % of one core) that count as a hang.
_IDLE_WINDOW_S = 5.0
_IDLE_CPU_SHARE = 0.05
_POLL_S = 0.25
KINDS = ("finished", "wrong result", "hangs", "over budget", "crashes", "refused", "not run")
#: Kinds of a call that returned (with its time): the probe goes on to the next size.
RETURNED = ("finished", "wrong result")


@dataclass
class ProbeOutcome:
    """What one probed call did."""

    operation: str
    size: int
    kind: str
    seconds: float | None
    detail: str
    peak_processes: int = 0
    leftover: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON)."""
        return asdict(self)


def processes_started(op: Operation, size: int, num_workers: int = 4) -> int:
    """Processes the original starts at once for ``op`` at ``size`` (its own design).

    Parameters
    ----------
    op : Operation
        The operation.
    size : int
        Items, batches, matrix dimension, limit or words (the instances' builder).
    num_workers : int
        The baseline's worker count (the probe uses 4).

    Returns
    -------
    int
        Child processes alive together at the peak, from the original's code: one per
        item, per chunk (``chunk_size``), per matrix element, per 100-word chunk, per
        batch (plus its Manager), or a fixed few.
    """
    chunk = int(dict(op.call).get("chunk_size", 0) or 0)
    per = {"process_data_spawn_per_item": size,
           "process_with_file_based_ipc": math.ceil(size / (chunk or 10)),
           "parallel_sum_spawn_many": math.ceil(size / (chunk or 5)),
           "parallel_matrix_multiply": size * size,
           "map_reduce_word_count": math.ceil(size / (chunk or 100)),
           "batch_process_with_manager": size + 1,
           "run_pipeline": 3 + 1,
           "compute_statistics_sequential": 0}
    return per.get(op.name, num_workers)


def probe_sizes(op: Operation) -> list[int]:
    """Sizes to probe: ~3x steps from the largest benchmark size up to the seed's size."""
    seed, _ = reference_size(op)
    size = max(op.sizes["baseline"])
    out = []
    while size < seed:
        size = min(seed, size * 3)
        out.append(size)
    return out


def _group_stats(root: psutil.Process) -> tuple[int, dict[int, float], int]:
    """(live processes, CPU seconds per pid, RSS bytes) of ``root`` and its descendants."""
    procs = [root]
    try:
        procs += root.children(recursive=True)
    except psutil.Error:
        pass
    cpu: dict[int, float] = {}
    rss = 0
    alive = 0
    for p in procs:
        try:
            t = p.cpu_times()
            cpu[p.pid] = t.user + t.system
            rss += p.memory_info().rss
            alive += p.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            continue
    return alive, cpu, int(rss)


def cpu_between(a: dict[int, float], b: dict[int, float]) -> tuple[float, int]:
    """CPU seconds the group used from sample ``a`` to sample ``b``, and how many exited.

    Per process, never as a difference of group totals: a process that exited between
    the samples would otherwise subtract its whole CPU time (a negative share). A process
    in both samples adds its own delta; one that is new in ``b`` adds its CPU time so
    far; one that exited adds nothing more than ``a`` saw and is counted as exited.
    """
    used = sum(max(0.0, c - a.get(pid, 0.0)) for pid, c in b.items())
    return used, sum(1 for pid in a if pid not in b)


def _kill_group(pgid: int) -> int:
    """SIGKILL every process of group ``pgid``; how many were still there."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return 0
    left = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = sum(1 for p in psutil.process_iter(["pid"]) if _pgid(p.pid) == pgid
                   and _status(p) != psutil.STATUS_ZOMBIE)
        if not left:
            break
        time.sleep(0.05)
    return left


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _status(p: psutil.Process) -> str:
    try:
        return str(p.status())
    except psutil.Error:
        return psutil.STATUS_ZOMBIE


def probe_call(op: Operation, size: int, budget_s: float, *,
               command: list[str] | None = None, cwd: Path | None = None,
               max_processes: int = MAX_PROCESSES) -> ProbeOutcome:
    """Run one baseline call at ``size`` in its own process group and classify it.

    Parameters
    ----------
    op : Operation
        The operation.
    size : int
        Its size argument.
    budget_s : float
        Wall seconds the call may take.
    command : list of str, optional
        The child's command line (tests substitute a fake baseline); default
        ``python -m evaluation.probe_child OP SIZE``.
    cwd : Path, optional
        The child's working directory.
    max_processes : int
        Refuse (and kill at) this many processes.

    Returns
    -------
    ProbeOutcome
    """
    need = processes_started(op, size)
    if command is None and need > max_processes:
        return ProbeOutcome(op.name, size, "refused", None,
                            f"it would start {need:,} processes at once (probe cap "
                            f"{max_processes:,})")
    cmd = command or [sys.executable, "-m", "evaluation.probe_child", op.name, str(size)]
    child = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    root = psutil.Process(child.pid)
    ram = psutil.virtual_memory().total
    t0 = time.monotonic()
    samples: list[tuple[float, dict[int, float]]] = []
    peak = 0
    kind = detail = ""
    while child.poll() is None:
        alive, cpu, rss = _group_stats(root)
        now = time.monotonic()
        peak = max(peak, alive)
        samples.append((now, cpu))
        if alive > max_processes:
            kind, detail = "crashes", f"grew past {max_processes:,} processes (killed)"
        elif rss > MAX_MEMORY_SHARE * ram:
            kind, detail = "crashes", (f"used {rss / 2**30:.1f} GiB, over "
                                       f"{MAX_MEMORY_SHARE:.0%} of RAM (killed)")
        elif (stuck := _blocked(samples, t0, child.pid)) is not None:
            kind, detail = "hangs", stuck
        elif now - t0 > budget_s:
            kind, detail = _expired(samples, now, alive, budget_s)
        if kind:
            break
        time.sleep(_POLL_S)
    seconds = time.monotonic() - t0
    leftover = _kill_group(child.pid)
    out, err = child.communicate(timeout=30)
    if kind:
        return ProbeOutcome(op.name, size, kind, None, detail, peak, leftover)
    return _finished(op, size, child.returncode, out, err, seconds, peak, leftover)


def _share(window: list[tuple[float, dict[int, float]]]) -> tuple[float, int]:
    """(CPU share of one core, processes that exited) over ``window``'s samples.

    Summed over consecutive samples, not taken between the window's ends: a worker
    born and gone inside the window still counts (all but its last poll interval).
    """
    (t_a, _), (t_b, last) = window[0], window[-1]
    used = sum(cpu_between(a, b)[0] for (_, a), (_, b) in pairwise(window))
    exited = len({pid for _, c in window for pid in c} - last.keys())
    return used / max(t_b - t_a, 1e-9), exited


def _last_progress(samples: list[tuple[float, dict[int, float]]]) -> float:
    """Time of the last sample by which the group had used CPU (at >= 5 % of a core)."""
    for (t_a, a), (t_b, b) in reversed(list(pairwise(samples))):
        if cpu_between(a, b)[0] >= _IDLE_CPU_SHARE * (t_b - t_a):
            return t_b
    return samples[0][0]


def _blocked(samples: list[tuple[float, dict[int, float]]], t0: float,
             root: int) -> str | None:
    """The hang's description if the group is blocked now, else None.

    Blocked means: no CPU progress over the last :data:`_IDLE_WINDOW_S` seconds *and*
    every thread of every live process in a wait (``/proc``). A call is judged so as
    soon as it is true, not when its budget ends: a deadlock does not resolve itself,
    and the seconds of work before it are a fact worth reporting.
    """
    now = samples[-1][0]
    window = [(t, c) for t, c in samples if t >= now - _IDLE_WINDOW_S]
    if now - t0 < _IDLE_WINDOW_S or len(window) < 2:
        return None
    share, exited = _share(window)
    live = list(window[-1][1])
    if share >= _IDLE_CPU_SHARE or threads_waiting(live) is not True:
        return None
    how = describe_block(root, [pid for pid in live if pid != root])
    word = "deadlocks" if how.startswith("the parent joins") else "blocked"
    gone = f", {exited} exited meanwhile" if exited else ""
    return (f"{word} after {_last_progress(samples) - t0:.0f} s of work: no progress "
            f"({share:.0%} CPU over the last {_IDLE_WINDOW_S:g} s, every thread of "
            f"{len(live)} processes waiting{gone}){': ' + how if how else ''}")


def _expired(samples: list[tuple[float, dict[int, float]]], now: float, alive: int,
             budget_s: float) -> tuple[str, str]:
    """Budget spent and not seen blocked: still computing, or idle without evidence?"""
    window = [(t, c) for t, c in samples if t >= now - _IDLE_WINDOW_S]
    if len(window) >= 2:
        share, exited = _share(window)
        gone = f", {exited} exited meanwhile" if exited else ""
        span = window[-1][0] - window[0][0]
        if share < _IDLE_CPU_SHARE and threads_waiting(window[-1][1]) is None:
            return "hangs", (f"no progress: {share:.0%} CPU over the last {span:.0f} s of "
                             f"{budget_s:g} s, {alive} processes alive (thread states "
                             f"unknown){gone}")
        return "over budget", (f"still computing after {budget_s:g} s ({share:.0%} CPU over "
                               f"the last {span:.0f} s, {alive} processes{gone})")
    return "over budget", f"still running after {budget_s:g} s"


def _finished(op: Operation, size: int, code: int | None, out: str, err: str,
              seconds: float, peak: int, leftover: int) -> ProbeOutcome:
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if code == 0 and lines:
        rec = json.loads(lines[-1])
        if rec.get("ok"):
            return ProbeOutcome(op.name, size, "finished", float(rec["seconds"]), "", peak,
                                leftover)
        return ProbeOutcome(op.name, size, "wrong result", float(rec["seconds"]),
                            str(rec.get("detail") or "the result differs from the oracle"),
                            peak, leftover)
    tail = [line for line in err.strip().splitlines() if line.strip()]
    why = tail[-1][:200] if tail else ""
    if code is not None and code < 0:
        how = f"killed by {signal.Signals(-code).name}"
    else:
        how = f"exit code {code}"
    return ProbeOutcome(op.name, size, "crashes", None,
                        f"{how}{': ' + why if why else ''}", peak, leftover)


def size_budget(op: Operation, size: int, previous: tuple[int, float] | None,
                budget_s: float, cap_s: float) -> float:
    """Wall seconds to give ``op`` at ``size``: twice what its work model predicts.

    Parameters
    ----------
    op : Operation
        The operation.
    size : int
        The size about to be probed.
    previous : (int, float), optional
        Size and seconds of the last probed call of ``op`` that returned.
    budget_s : float
        The least budget (and the budget when nothing predicts one).
    cap_s : float
        The most budget.

    Returns
    -------
    float
        ``2 * t_prev * W(size) / W(prev)`` (the original's own work count,
        :mod:`evaluation.work`) within ``[budget_s, cap_s]``: a size that does ~8x the
        work of the last one is given the time to show whether it finishes, hangs or
        deadlocks, rather than being cut off at a fixed minute.
    """
    model = work_model(op)
    if previous is None or model is None:
        return budget_s
    prev_size, prev_s = previous
    w_prev, w = model[1](prev_size), model[1](size)
    if w_prev <= 0:
        return budget_s
    return float(min(cap_s, max(budget_s, 2.0 * prev_s * w / w_prev)))


def probe_all(workloads: Workloads, *, budget_s: float = 60.0, total_s: float = 300.0,
              cap_s: float | None = None, cwd: Path | None = None,
              names: Iterable[str] | None = None,
              on_outcome: Callable[[ProbeOutcome], None] | None = None) -> list[ProbeOutcome]:
    """Probe every operation (or ``names``) as the module docstring says.

    Parameters
    ----------
    workloads : Workloads
        Operations, their benchmark sizes and seed sizes.
    budget_s : float
        Least per-size budget (wall seconds); a size the work model predicts to take
        longer gets more (:func:`size_budget`).
    total_s : float
        Budget of the whole stage; sizes left when it is spent are ``not run``.
    cap_s : float, optional
        Most per-size budget; default ``3 * budget_s``.
    cwd : Path, optional
        The children's working directory (the repository).
    names : iterable of str, optional
        Operations to probe; default all.
    on_outcome : callable, optional
        Called with each outcome as it is known (progress).

    Returns
    -------
    list of ProbeOutcome
        Per operation, its sizes in order up to the first that does not return (a wrong
        result returns: the probe goes on past it, so the seed's size is reached).
    """
    wanted = set(names) if names is not None else None
    cap = 3 * budget_s if cap_s is None else cap_s
    t0 = time.monotonic()
    out: list[ProbeOutcome] = []
    for op in workloads.operations.values():
        if wanted is not None and op.name not in wanted:
            continue
        previous: tuple[int, float] | None = None
        for size in probe_sizes(op):
            left = total_s - (time.monotonic() - t0)
            if left < 1:
                res = ProbeOutcome(op.name, size, "not run", None,
                                   f"the probe's {total_s:g} s were spent")
            else:
                budget = size_budget(op, size, previous, budget_s, cap)
                res = probe_call(op, size, min(budget, left), cwd=cwd)
            out.append(res)
            if on_outcome:
                on_outcome(res)
            if res.kind not in RETURNED:
                break
            previous = (size, float(res.seconds or 0.0))
    return out
