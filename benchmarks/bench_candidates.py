"""Candidate implementations timed beside the optimized processor, in the same asv run.

``PPD_CANDIDATES`` (JSON: ``{name: candidate}``, each candidate as
:meth:`evaluation.running.candidates.Candidate.as_dict` gives it, already on disk) names
the implementations to time; the evaluation sets it for a full run to the peers
(``references/``) and every ``--candidate``. Without it this module defines no
benchmark (the suite's own runs, ``make bench``, a REF for ``--compare``).

For each operation one class, ``Candidates<Operation>``, with ``impl`` the optimized
processor and ``candidate:<name>`` for each candidate, at two sizes: the operation's
seed size (its first gate's, else its largest optimized size) and its largest benchmark
size - what the report's candidate columns need, not every size. The ratio candidate /
optimized is taken within one benchmark: same inputs, same setup, one run.

A candidate is code nobody here wrote. Every call runs under a wall-clock budget
(``PPD_CANDIDATE_BUDGET_S``, default 60 s, a ``SIGALRM``); a call past it ends the point
(a failure, asv null) after writing a note ``{"candidate", "operation", "size",
"outcome": "timed out", "budget_s"}`` to the folder ``PPD_CANDIDATE_NOTES`` names, so
the report says "timed out at N" from data, not from asv's log. Where the alarm cannot
interrupt it (C code that ignores signals), asv's own ``timeout`` kills the benchmark
process and the point is a failure without a note.
Each processor, ours and the candidates', is made once per benchmark process and kept
across samples (asv re-runs ``setup`` before every timed call), as a user keeps one, and
settles as the other suites' processors do (:func:`benchmarks.common.settle`) before its
first timed call: called until every process it started is idle.
"""
from __future__ import annotations

import functools
import json
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from .common import (
    GATE_WORKERS,
    QUICK,
    WORKLOADS,
    at_point_end,
    close_processor,
    end_of_point,
    kept_processor,
    largest_size,
    operation,
    operation_args,
    preimport_operation,
    settle,
    sizes,
)

CANDIDATES_ENV = "PPD_CANDIDATES"
NOTES_ENV = "PPD_CANDIDATE_NOTES"
BUDGET_ENV = "PPD_CANDIDATE_BUDGET_S"
#: The ``impl`` value of a candidate: ``candidate:<name>`` (never a built-in impl value).
PREFIX = "candidate:"


def candidates() -> dict[str, dict[str, Any]]:
    """The candidates named in :data:`CANDIDATES_ENV` (empty when it is unset)."""
    text = os.environ.get(CANDIDATES_ENV, "").strip()
    return json.loads(text) if text else {}


def budget_s() -> float:
    """Wall seconds a candidate's first call at the timed size may take."""
    return float(os.environ.get(BUDGET_ENV, "60"))


def candidate_sizes(name: str) -> list[int]:
    """The seed size and the largest benchmark size of operation ``name``."""
    op = operation(name)
    seed = op.gates[0].size if op.gates else max(op.sizes["optimized"])
    return sorted({seed, largest_size(name)} & set(sizes(name)) or {seed})


class _TooSlow(Exception):
    """The candidate's call outlived its budget (raised by the alarm)."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _TooSlow


def _note(candidate: str, name: str, size: int, outcome: str) -> None:
    """Record why a candidate point has no time, where the evaluation will read it."""
    folder = os.environ.get(NOTES_ENV)
    if not folder:
        return
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{candidate}-{name}-{size}")
    (path / f"{slug}.json").write_text(json.dumps({
        "candidate": candidate, "operation": name, "size": size, "outcome": outcome,
        "budget_s": budget_s()}))


def _within_budget(fn: Callable[[], Any]) -> bool:
    """Run ``fn()``; False if the budget's alarm stopped it."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, budget_s())
    try:
        fn()
    except _TooSlow:
        return False
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return True


#: Candidate processors of this benchmark process (kept across samples, as the optimized
#: processor is: :func:`benchmarks.common.kept_processor`), and the points checked.
_KEPT: dict[str, Any] = {}
_CHECKED: set[tuple[str, str]] = set()


def _processor(impl: str) -> tuple[Any, float | None]:
    """The optimized processor or a candidate's, made on first use in this process.

    Returns the processor and, when this call made it, ``time.perf_counter()`` before.
    """
    created = time.perf_counter()
    if impl == "optimized":
        processor, new = kept_processor("optimized", GATE_WORKERS)
        return processor, created if new else None
    if impl in _KEPT:
        return _KEPT[impl], None
    from evaluation.running.grade_child import load_class  # asv's child process only

    cls = load_class(candidates()[impl[len(PREFIX):]])
    _KEPT[impl] = cls(GATE_WORKERS, WORKLOADS.workloads["compute"])
    return _KEPT[impl], created


def _children() -> list[int]:
    """Every process this benchmark process started (any processor's workers)."""
    import psutil  # harness dependency

    return [c.pid for c in psutil.Process().children(recursive=True)]


def close_candidates() -> None:
    """Close every candidate processor of this process (at its exit)."""
    while _KEPT:
        close_processor(_KEPT.popitem()[1])
    _CHECKED.clear()


at_point_end(close_candidates)


class CandidateBenchmark:
    """Base of the ``Candidates<Operation>`` classes (see the module docstring).

    One round per point, up to five samples within 2 s, one where a call takes longer:
    enough for the report's columns (a candidate's time beside ours), not the
    statistics of a regression history.
    """

    operation: str = ""
    rounds = 1
    repeat: Any = (1, 5, 2.0)
    min_run_count = 1
    warmup_time = 0.0
    number = 1

    def setup(self, impl: str, size: int) -> None:
        op = operation(self.operation)
        if impl == "optimized":
            preimport_operation(self.operation)
        processor, created = _processor(impl)
        method = getattr(processor, self.operation)
        call: dict[str, Any] = dict(op.call)
        fn = functools.partial(method, **call) if call else method
        self.fn = _budgeted(fn, impl, self.operation, size)
        if (impl, self.operation) not in _CHECKED:  # pools start on first use: not timed
            _CHECKED.add((impl, self.operation))
            smallest = min(sizes(self.operation))
            first = _budgeted(fn, impl, self.operation, smallest)
            warm = operation_args(self.operation, smallest)
            first(*warm)
            settle(lambda: first(*warm), _children(), created or time.perf_counter())
        self.args = operation_args(self.operation, size)

    def teardown(self, impl: str, size: int) -> None:
        end_of_point()  # the candidates' processors go with the point


def _budgeted(fn: Callable[..., Any], impl: str, name: str, size: int) -> Callable[..., Any]:
    """``fn`` under the wall-clock budget; past it, a note and an error (the point fails)."""

    def call(*args: Any) -> Any:
        result: list[Any] = []
        if _within_budget(lambda: result.append(fn(*args))):
            return result[0]
        if impl.startswith(PREFIX):
            close_processor(_KEPT.pop(impl, None))
            _note(impl[len(PREFIX):], name, size, "timed out")
        raise TimeoutError(f"{impl} did not finish {name} at {size:,} within {budget_s():g} s")

    return call


def _suite(name: str, impls: list[str]) -> type:
    """``Candidates<Operation>`` with ``time_<operation>``, for every impl and both sizes."""
    def timed(self: CandidateBenchmark, impl: str, size: int) -> None:
        self.fn(*self.args)

    timed.__name__ = f"time_{name}"
    title = "".join(part.title() for part in name.split("_"))
    return type(f"Candidates{title}", (CandidateBenchmark,), {
        "operation": name, "params": [impls, candidate_sizes(name)],
        "param_names": ["impl", "size"], "timeout": 3 * budget_s() + 60.0,
        f"time_{name}": timed, "__module__": __name__})


if candidates() and not QUICK:
    for _name in WORKLOADS.operations:
        _cls = _suite(_name, ["optimized", *(PREFIX + c for c in candidates())])
        globals()[_cls.__name__] = _cls
