"""Probe the original where the benchmarks stop: what it really does at larger sizes (D16).

The benchmarks run the baseline only up to ``baseline_max``; beyond it the report used
to extrapolate, and a power law fitted to overhead-dominated sizes can be off by 10x
exactly where the original hangs or crashes. This stage runs each baseline operation at
sizes growing about 3x from its largest benchmark size up to the seed's size, one call
per size in a child process group of its own (:mod:`evaluation.running.probe_child`), and
records what happened::

    finished      the call returned the right result (its time)
    wrong result  it returned, but not what the oracle returns (its time, and how it
                  differs: "the right results in the wrong order", ...)
    hangs         blocked: no CPU progress for 5 s and every thread of the group in a
                  wait (/proc), with the evidence (:mod:`evaluation.running.procstate`) - e.g.
                  "deadlocks after 81 s of work: ... the parent joins its workers
                  (do_wait) while a worker's queue feeder is blocked writing to a full
                  pipe (anon_pipe_write)". Judged as soon as it is true.
    over budget   still computing when the budget ran out (slow, not stuck)
    crashes       it died (out of memory, fork failing, a child killed), or grew past
                  the probe's process or memory cap
    refused       not started: it would start more than MAX_PROCESSES at once

CPU figures are per-process deltas between consecutive samples (:mod:`evaluation.running.groups`):
a worker that exits between two samples never subtracts its CPU time, so no share can
be negative. Each size's budget follows the work model (:func:`size_budget`): twice the
time the original's own work count predicts from the previous size, within
``[budget_s, CAP_FACTOR * budget_s]``. A size predicted to take longer than
``RUN_FACTOR * budget_s`` is not run (``not run``, with the prediction), so it cannot
spend the stage's budget that later operations need. That limit is a choice of what the
probe is worth: at 1.5 x 60 s, the original's primes at 270,000 still run (predicted
55-64 s; they deadlock after 43-81 s of work, seen within their 110-128 s budget) while
its bubble sort is not run at 81,000 numbers (predicted 113 s: growth that sizes
3,000-27,000 already show; it would cost a full report about 110 s).

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
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..figures.reference import reference_size
from ..figures.work import work_model
from ..workloads import Operation, Workloads
from .groups import cpu_between, run_group

__all__ = ["MAX_PROCESSES", "MAX_MEMORY_SHARE", "CAP_FACTOR", "RUN_FACTOR", "ProbeOutcome",
           "processes_started", "probe_sizes", "probe_call", "probe_all", "KINDS", "RETURNED",
           "cpu_between", "size_budget", "predicted_seconds"]

#: Processes the baseline may start at once during a probe.
MAX_PROCESSES = 2000
#: Share of the machine's RAM the probed group may use before it is killed.
MAX_MEMORY_SHARE = 0.5
#: The most a size may take, as a multiple of the least per-size budget (module docstring).
CAP_FACTOR = 3.0
#: A size predicted to take longer than this multiple of the least budget is not run.
RUN_FACTOR = 1.5
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
        ``python -m evaluation.running.probe_child OP SIZE``.
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
    cmd = command or [sys.executable, "-m", "evaluation.running.probe_child", op.name, str(size)]
    run = run_group(cmd, budget_s, cwd=cwd, max_processes=max_processes,
                    max_memory_share=MAX_MEMORY_SHARE)
    if run.kind:
        return ProbeOutcome(op.name, size, run.kind, None, run.detail, run.peak, run.leftover)
    return _finished(op, size, run.returncode, run.stdout, run.stderr, run.seconds, run.peak,
                     run.leftover)


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


def predicted_seconds(op: Operation, size: int,
                      previous: tuple[int, float] | None) -> float | None:
    """``t_prev * W(size) / W(prev)``: the original's time at ``size`` by its work count.

    None without a previous size that returned, or without a work model.
    """
    model = work_model(op)
    if previous is None or model is None:
        return None
    prev_size, prev_s = previous
    w_prev = model[1](prev_size)
    return prev_s * model[1](size) / w_prev if w_prev > 0 else None


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
        :mod:`evaluation.figures.work`) within ``[budget_s, cap_s]``: a size that does ~8x the
        work of the last one is given the time to show whether it finishes, hangs or
        deadlocks, rather than being cut off at a fixed minute.
    """
    predicted = predicted_seconds(op, size, previous)
    if predicted is None:
        return budget_s
    return float(min(cap_s, max(budget_s, 2.0 * predicted)))


def probe_all(workloads: Workloads, *, budget_s: float = 60.0, total_s: float = 300.0,
              cap_s: float | None = None, run_limit_s: float | None = None,
              cwd: Path | None = None,
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
        Most per-size budget; default ``CAP_FACTOR * budget_s``.
    run_limit_s : float, optional
        A size the work model predicts to take longer is not run; default
        ``RUN_FACTOR * budget_s``.
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
    cap = CAP_FACTOR * budget_s if cap_s is None else cap_s
    run_limit = RUN_FACTOR * budget_s if run_limit_s is None else run_limit_s
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
            elif previous and (predicted := predicted_seconds(op, size, previous) or 0) > run_limit:
                # Running it would spend the stage's budget that later operations need
                # (their deadlocks, say) on what the smaller sizes' growth already shows.
                res = ProbeOutcome(op.name, size, "not run", None,
                                   f"the work model predicts {predicted:,.0f} s at this size "
                                   f"(from {previous[1]:.3g} s at {previous[0]:,}), over the "
                                   f"{run_limit:g} s a probed size may be predicted to take")
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
