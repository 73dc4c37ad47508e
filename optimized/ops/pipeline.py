"""The batched, back-pressured stage pipeline (R6): validation, the probe, the layout.

Data flow::

    run_pipeline(call, data, stages, batch_size, replicas)
      | validate stages, replicas, batch size, data (D2: before any work)
      | small input or cheap stages? time the first items in-process (the probe) and
      |   let the cost model choose (D4): inline -> apply_stages(stages, items)
      | pool: plan_layout -> PipelineJob(groups, replicas, items, batch bounds, depth)
      v
    call.pipeline(job) -> Backend.pipeline(job)        (the seam, D12)
      local pool: stage loops on the pool's workers, batches through the channels
                  they inherited (optimized.backends.local_pipeline)
      Dask:       each batch a chain of tasks, one per stage group
      -> BatchResults: every batch back once and whole, in input order (D6)

Design
------
- **Batches.** Items travel ``batch_size`` at a time (default: the processor's
  ``pipeline_batch_size``, 500; R6 recommends 100-1000), packed by the sender itself
  (:func:`~optimized.batches.pack`: raw bytes for an int64/float64 array, else
  pickle), so an unpicklable item or result raises where it happens instead of being
  dropped by a queue's feeder thread. Numeric data reaches a first stage that is a
  batch stage as an array (the default stages are; see :mod:`optimized.ops.stages`),
  and the results are turned back into Python numbers once, at the end.
- **Back-pressure.** At most ``pipeline_queue_depth`` batches wait between two stages
  (local: each channel's ``maxsize``; Dask: batches in flight per worker).
- **Failure contract (D11)** is the backend's: a stage exception re-raises in the
  caller with its type and the worker's traceback as ``__cause__``; a dead worker
  raises :class:`~optimized.errors.WorkerCrashedError`; an expired ``timeout`` raises
  :class:`TimeoutError`; no stage task is left running.

Layout (which stage runs where)
-------------------------------
- ``replicas`` given: every stage is its own task; stage ``i`` runs on
  ``replicas[i]`` workers that read the same input channel (stage replication).
  Stage tasks hold their workers for the whole call, so ``sum(replicas)`` must not
  exceed ``num_workers`` (ValueError otherwise).
- ``replicas=None`` (default): the stages are *fused* into one chained task (each
  batch goes through ``f``, then ``g``, ... in the same worker) replicated on every
  worker of the pool (at most one replica per batch). For per-item, stateless
  stages this layout moves the least data - no batch crosses a process boundary
  between stages, and each crossing costs a pickle and an unpickle of every item -
  and balances any mix of stage costs, since every worker takes whatever batch
  comes next instead of one worker serving the slowest stage. It also fits any
  number of stages on any pool size, so stages never have to be refused or merged
  ad hoc. Measured on the 2-core reference machine (3 trivial stages, 100,000
  items, 4 workers): fused 1.7-2.5 M items/s, one task per stage 1.45-1.7 M.

Small inputs run in-process (D4): the stages are timed on the first few items (kept
as results) and the cost model compares that with the pool's cost. With a ``timeout``
the first item is timed as a pool task instead, so a slow stage cannot escape it.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..batches import (
    PipelineJob,
    Stage,
    apply_stages,
    as_list,
    is_batch_stage,
    join_batches,
    pack,
    stage_name,
    unpack,
)
from ..call import Call
from ..callables import portable
from ..chunking import Cost, ThreadTimer, chunk_bounds
from ..validation import check_positive_int, numeric_input
from .stages import DEFAULT_STAGES, numeric_source

__all__ = ["run_pipeline", "Plan", "plan_layout"]

#: The probe that times the stages in-process stops after this much work ...
_PROBE_BUDGET_S = 0.002
#: ... or after this many items (1 + 2 + 4 + 8 + 16) ...
_PROBE_MAX_ITEMS = 31
#: ... or this many with a batch stage, whose fixed cost per call (NumPy's, say)
#: only shows its per-item cost on larger batches (1 + 2 + ... + 256).
_PROBE_MAX_ITEMS_BATCH = 511
#: CPU per batch and channel crossing on one side: queue locks, pipe write or read,
#: a thread wake-up (measured on the 2-core reference machine: 30-40 us).
_BATCH_OVERHEAD_S = 4e-5


# -- validation ----------------------------------------------------------------------------
def _check_stages(stages: Any) -> tuple[Stage, ...]:
    if stages is None:
        return DEFAULT_STAGES
    if callable(stages):
        raise TypeError(f"stages must be a sequence of functions, got the single callable "
                        f"{stage_name(stages)}; pass [{stage_name(stages)}]")
    if isinstance(stages, (str, bytes)) or not isinstance(stages, Sequence):
        raise TypeError(f"stages must be a sequence (list or tuple) of functions of one item, "
                        f"got {type(stages).__name__}")
    if len(stages) == 0:
        raise ValueError("stages must hold at least one function (or be None for the default "
                         "x*2, x+10, x*x)")
    for i, fn in enumerate(stages):
        if not callable(fn):
            raise TypeError(f"stages[{i}] must be a callable of one item, got "
                            f"{type(fn).__name__} {fn!r}")
    return tuple(stages)


def _check_replicas(replicas: Any, n_stages: int, num_workers: int) -> tuple[int, ...] | None:
    if replicas is None:
        return None
    if isinstance(replicas, (str, bytes)) or not isinstance(replicas, (Sequence, np.ndarray)):
        raise TypeError(f"replicas must be a sequence of positive ints (one per stage) or None, "
                        f"got {type(replicas).__name__}")
    if len(replicas) != n_stages:
        raise ValueError(f"replicas must give one count per stage: {n_stages} stage(s), got "
                         f"{len(replicas)} count(s) {list(replicas)!r}")
    counts = tuple(check_positive_int(r, f"replicas[{i}]") for i, r in enumerate(replicas))
    if sum(counts) > num_workers:
        raise ValueError(f"replicas {list(counts)} need {sum(counts)} workers at once (each "
                         f"stage replica holds a worker for the whole call), but the pool has "
                         f"{num_workers}; lower the counts or pass replicas=None (stages fused "
                         f"and replicated on every worker)")
    return counts


def _check_data(data: Any, fns: Sequence[Stage], default_stages: bool) -> Any:
    """Validate ``data``; return the items the stages get.

    An int64/float64 array when the first stage is a batch stage and such an array
    holds the items exactly (:func:`~optimized.ops.stages.numeric_source`); otherwise
    a list (an ndarray through ``tolist``: exact Python numbers, no int64 wrap-around).
    """
    converted = None
    if default_stages:  # the default stages are arithmetic: numbers only
        converted = numeric_input(data, "data").array
    elif isinstance(data, np.ndarray):
        if data.ndim != 1:
            raise ValueError(f"data must be one-dimensional, got an array of shape {data.shape}")
    elif isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        raise TypeError(f"data must be a sequence of items (list, tuple, range or 1-D ndarray), "
                        f"got {type(data).__name__}")
    if is_batch_stage(fns[0]):
        arr = numeric_source(data, converted)
        if arr is not None:
            return arr
    if isinstance(data, np.ndarray):
        return data.tolist()
    return data if isinstance(data, list) else list(data)


# -- layout --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """Which functions each stage task runs, and on how many workers.

    Attributes
    ----------
    groups : tuple of tuple of callable
        Stage task ``i`` applies ``groups[i]`` in order (several = fused).
    replicas : tuple of int
        Workers running stage task ``i``.
    """

    groups: tuple[tuple[Stage, ...], ...]
    replicas: tuple[int, ...]

    @property
    def fused(self) -> bool:
        """True when some task runs more than one stage function."""
        return any(len(g) > 1 for g in self.groups)

    def describe(self) -> list[list[str]]:
        """Function names per stage task (for metrics).

        Returns
        -------
        list of list of str
            ``[[stage_name(f) for f in group] for group in groups]``.
        """
        return [[stage_name(f) for f in g] for g in self.groups]


def plan_layout(fns: Sequence[Stage], replicas: Sequence[int] | None, num_workers: int,
                n_batches: int) -> Plan:
    """The stage-task layout (see the module docstring, "Layout").

    Parameters
    ----------
    fns : sequence of callable
        The stages.
    replicas : sequence of int, optional
        Validated per-stage replica counts; None for the default fused layout.
    num_workers : int
        Pool size.
    n_batches : int
        Batches to process: the fused layout runs no more replicas than batches.

    Returns
    -------
    Plan
        With ``replicas=None``: one fused task on ``max(1, min(num_workers,
        n_batches))`` workers; otherwise one task per stage with the given counts.
    """
    if replicas is None:
        return Plan((tuple(fns),), (max(1, min(num_workers, n_batches)),))
    return Plan(tuple((f,) for f in fns), tuple(replicas))


# -- in-process path -----------------------------------------------------------------------
def _probe(fns: Sequence[Stage], items: Any, batch_size: int) -> tuple[list[Any], Cost]:
    """Run the stages on the first few items in-process; return their results and a Cost.

    Batches of 1, 2, 4, ... items until :data:`_PROBE_BUDGET_S` of work or
    :data:`_PROBE_MAX_ITEMS` items, so one slow stage costs one item of waiting.
    The cost's ``transfer_s`` is the caller's share of moving an item through the
    pool: pickling it out and its result back (measured on the probe) plus a share of
    the per-batch queue overhead.
    """
    outs: list[Any] = []
    done = 0
    wall = 0.0
    per_item = float("inf")
    size = 1
    limit = min(len(items), _PROBE_MAX_ITEMS_BATCH if any(map(is_batch_stage, fns))
                else _PROBE_MAX_ITEMS)
    timer = ThreadTimer()  # the CPU/wait split of the whole probe, as map measures an item
    while done < limit and wall < _PROBE_BUDGET_S:
        batch = items[done:done + size]
        w0 = time.perf_counter()
        outs.append(apply_stages(fns, batch))
        dt = time.perf_counter() - w0
        done += len(batch)
        wall += dt
        # The cheapest batch per item: a batch that lost the CPU to another process
        # mid-way must not make cheap stages look expensive.
        per_item = min(per_item, dt / len(batch))
        size *= 2
    timing = timer.stop()
    t0 = time.perf_counter()
    unpack(pack(items[:done]))
    for out in outs:
        unpack(pack(out))
    pickling = (time.perf_counter() - t0) / done
    # Time the stages spent waiting (sleep, I/O) parallelises over every worker, not
    # just over the cores.
    return join_batches(outs), timing.cost(per_item, pickling + 2 * _BATCH_OVERHEAD_S / batch_size)


def _probe_on_pool(call: Call, fns: Sequence[Stage], items: Any,
                   batch_size: int) -> tuple[list[Any], Cost]:
    """Like :func:`_probe`, but the first item runs as one pool task under the deadline.

    Used when the call has a timeout: an in-process probe could not be interrupted.
    """
    stats = call.recorder.stats
    before = stats.work_s
    head = as_list(call.run(apply_stages, [(tuple(fns), items[:1])])[0])
    per_item = stats.work_s - before
    return head, Cost(cpu_s=per_item, transfer_s=2 * _BATCH_OVERHEAD_S / batch_size)


# -- entry point ---------------------------------------------------------------------------
def run_pipeline(call: Call, data: Any, stages: Sequence[Stage] | None,
                 batch_size: int | None, replicas: Sequence[int] | None) -> list[Any]:
    """Push ``data`` through ``stages``; results in input order (R6, D6).

    Parameters
    ----------
    call : Call
        The operation's call state (deadline, metrics, backend, options).
    data : sequence
        list, tuple, range or 1-D ndarray. With the default stages every item must
        be a real number; with custom stages any picklable items. The result is a
        list of Python objects, as the baseline's is (an ndarray's items come back
        as exact Python numbers, never wrapped at 2**63).
    stages : sequence of callable, optional
        Functions applied in order, each per item (``[f(x) for x in batch]``) or,
        if marked with :func:`~optimized.batches.batch_stage`, per batch
        (``f(batch)``; a list, or an int64/float64 array for numeric data). On the
        pool they travel by reference, or by value with cloudpickle where pickle
        cannot carry them (checked before anything runs). Default: the original's ``x*2``, ``x+10``,
        ``x*x`` as exact batch stages (NumPy where no int64 can overflow).
    batch_size : int, optional
        Items per batch (positive int; R6 recommends 100-1000). Default: the
        processor's ``pipeline_batch_size``.
    replicas : sequence of int, optional
        Workers per stage, one count per stage, ``sum(replicas) <= num_workers``.
        Default None: stages fused into one task, replicated on every worker (see
        the module docstring). Validated even when the call runs in-process.

    Returns
    -------
    list
        ``stages[-1](...stages[0](x))`` for every item, in input order.

    Raises
    ------
    TypeError, ValueError
        Bad ``stages``, ``replicas``, ``batch_size`` or ``data`` (before any work).
        An item or a stage result that cannot be pickled raises TypeError when its
        batch is sent (the pool is then restarted). A batch stage that returns the
        wrong number of items raises ValueError.
    ProcessorTimeoutError
        The call's timeout expired (a :class:`TimeoutError`; workers killed, pool
        restarted).
    WorkerCrashedError
        A worker died during the call (pool restarted).
    RuntimeError
        A consistency check failed: a batch lost, duplicated or resized, or a stage
        task ended before its sentinel (pool restarted).
    Exception
        A stage function's own exception, same type, with the worker traceback as
        ``__cause__``.
    """
    fns = _check_stages(stages)
    # What the workers get: by reference, or by value where pickle cannot (D15).
    sent = fns if call.mode == "inline" else tuple(
        portable(fn, f"stages[{i}] ({stage_name(fn)})") for i, fn in enumerate(fns))
    size = call.options.batch_size if batch_size is None else \
        check_positive_int(batch_size, "batch_size")
    counts = _check_replicas(replicas, len(fns), call.num_workers)
    items = _check_data(data, fns, stages is None)
    extra = call.recorder.extra
    extra.update(stages=[stage_name(f) for f in fns], batch_size=size)
    n = len(items)
    head: list[Any] = []
    if n == 0:
        call.choose(0, Cost())
        return []
    if call.mode == "auto":
        if call.deadline.timeout is None:
            head, cost = _probe(fns, items, size)
        else:  # a slow first item must not escape the timeout: probe on the pool
            head, cost = _probe_on_pool(call, sent, items, size)
        call.deadline.check()
        path = call.choose(n, cost)
    else:
        path = call.choose(n, Cost())
    if path == "inline" or len(head) == n:
        call.recorder.path = "inline"
        extra.update(replicas=None, layout=None)
        return head + as_list(apply_stages(fns, items[len(head):]))
    plan = plan_layout(sent, counts, call.num_workers, -(-(n - len(head)) // size))
    extra.update(replicas=list(plan.replicas), layout=plan.describe(), fused=plan.fused)
    bounds = tuple((lo + len(head), hi + len(head))
                   for lo, hi in chunk_bounds(n - len(head), size))
    job = PipelineJob(plan.groups, plan.replicas, items, bounds, call.options.queue_depth)
    return head + call.pipeline(job)
