"""Grade any implementation of the original's API: drop-in compatible? correct? clean? (D17).

``python -m evaluation.grade NAME=SPEC [NAME=SPEC ...] [--full] [--only OP,...]``
(:mod:`evaluation.running.candidates` says what a SPEC is). For each candidate:

1. **Compatibility**: every public method of the original - present? does its signature
   accept every parameter the original's accepts (names, order, kinds, defaults; extra
   *optional* parameters are fine)? Also reported: is it a context manager, which of
   the original's module-level helpers its module has (never required).
2. **Correctness**: every operation of ``instances/workloads.json`` is called once per
   size (the smallest benchmark size of the original; ``--full`` adds its largest) on
   arguments the harness builds, in a child process group of its own
   (:mod:`evaluation.running.grade_child`, :func:`evaluation.running.groups.run_group`) under a
   wall-clock budget and the probe's process and memory caps. The result is compared
   here, with the oracle (the optimized processor in-process) and its format with the
   oracle's. Verdicts: ``ok``, ``wrong result`` (how: "the right results in the wrong
   order", "item 17 ..."), ``wrong format``, ``raises``, ``hangs`` (with /proc's
   evidence), ``over budget``, ``crashes`` (a signal, ``os._exit``, a cap), ``missing``.
3. **Leftovers**: processes of the group still alive when the call's process exited,
   new entries in /dev/shm, files left in the call's private temporary directory. They
   are removed, and reported ("left 2 processes"): a call that was right but left
   something behind is ``left behind``, not ``ok``.

A candidate passes when every method is compatible and every call is ``ok``. The command
line is :mod:`evaluation.grade`.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..inputs import build_args
from ..workloads import Operation, Workloads
from .candidates import Candidate, materialize
from .grade_child import MARK, decode, encode, shape_of, signature_of
from .groups import GroupRun, run_group
from .results_diff import difference, oracle, same

__all__ = ["grade", "CandidateGrade", "CallVerdict", "compatibility", "PEERS",
           "format_grade"]

ROOT = Path(__file__).resolve().parents[2]
#: The implementations a user would pick instead (:mod:`references`), graded by default in
#: a full report.
PEERS = ("pool=references.pool_processor:PoolProcessor",
         "joblib=references.joblib_processor:JoblibProcessor")
#: Wall seconds one graded call may take (quick / full grading).
CALL_BUDGET_S = {"quick": 30.0, "full": 120.0}
_SHM = Path("/dev/shm")


@dataclass
class CallVerdict:
    """One graded call."""

    operation: str
    size: int
    verdict: str
    detail: str = ""
    seconds: float | None = None
    shape: str | None = None
    #: Largest resident memory of the call's process group, MiB (see ``GroupRun.peak_rss``).
    peak_mib: float | None = None


@dataclass
class CandidateGrade:
    """Everything the grader found about one candidate."""

    name: str
    spec: str
    loads: bool
    load_error: str = ""
    compat: list[dict[str, Any]] = field(default_factory=list)
    context_manager: bool = False
    helpers: dict[str, bool] = field(default_factory=dict)
    calls: list[CallVerdict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Loads, every method compatible, every call ``ok``."""
        return self.loads and all(c["compatible"] for c in self.compat) and \
            all(c.verdict == "ok" for c in self.calls)

    def failures(self) -> list[str]:
        """Every reason it did not pass, one line each."""
        out = [f"does not load: {self.load_error}"] if not self.loads else []
        out += [f"{c['method']}: {c['detail']}" for c in self.compat if not c["compatible"]]
        out += [f"{c.operation} at {c.size:,}: {c.verdict}" + (f" ({c.detail})" if c.detail
                                                               else "")
                for c in self.calls if c.verdict != "ok"]
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON form (``raw/candidates.json``)."""
        d = asdict(self)
        d["passed"], d["failures"] = self.passed, self.failures()
        return d


# -- compatibility --------------------------------------------------------------------------
def original_signatures() -> dict[str, list[list[Any]]]:
    """The original's public methods and their signatures (``signature_of``'s form)."""
    from baseline import UnoptimizedParallelProcessor as original

    names = sorted(n for n in vars(original) if not n.startswith("_"))
    return {n: sig for n in names if (sig := signature_of(original, n)) is not None}


def compatibility(original: list[list[Any]], candidate: list[list[Any]] | None) -> str:
    """Why ``candidate``'s signature cannot stand in for ``original``'s ("" if it can).

    Every parameter of the original must be accepted the same way - by the same
    position, by the same keyword, optional where it is optional - directly or through
    ``*args`` / ``**kwargs``. Parameters the original lacks must be optional.
    """
    if candidate is None:
        return "missing"
    by_name = {p[0]: p for p in candidate}
    var_pos = any(p[1] == "VAR_POSITIONAL" for p in candidate)
    var_kw = any(p[1] == "VAR_KEYWORD" for p in candidate)
    positional = [p[0] for p in candidate if p[1] in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")]
    problems = []
    for i, (name, kind, optional) in enumerate(p for p in original if not p[1].startswith("VAR")):
        got = by_name.get(name)
        if got is None:
            if not (var_pos and var_kw):
                problems.append(f"no parameter {name!r}")
            continue
        if kind != "KEYWORD_ONLY" and (i >= len(positional) or positional[i] != name):
            problems.append(f"{name!r} is not positional parameter {i + 1}")
        if got[1] == "KEYWORD_ONLY" and kind != "KEYWORD_ONLY":
            problems.append(f"{name!r} is keyword-only")
        if got[1] == "POSITIONAL_ONLY" and kind != "POSITIONAL_ONLY":
            problems.append(f"{name!r} is positional-only")
        if optional and not got[2]:
            problems.append(f"{name!r} has no default (the original's is optional)")
    known = {p[0] for p in original}
    problems += [f"extra required parameter {p[0]!r}" for p in candidate
                 if p[0] not in known and not p[2] and not p[1].startswith("VAR")]
    return "; ".join(problems)


# -- running the child ----------------------------------------------------------------------
def _child(candidate: Candidate, args: Sequence[str], budget_s: float,
           env: dict[str, str] | None = None) -> tuple[GroupRun, dict[str, Any] | None]:
    cmd = [sys.executable, "-m", "evaluation.running.grade_child", json.dumps(candidate.as_dict()),
           *args]
    run = run_group(cmd, budget_s, cwd=ROOT, env=env)
    lines = [line for line in run.stdout.splitlines() if line.startswith(MARK)]
    return run, (json.loads(lines[-1][len(MARK):]) if lines else None)


def _no_report(run: GroupRun) -> str:
    """Why a child that was not stopped by a cap printed no report."""
    code = run.returncode
    tail = [line for line in run.stderr.strip().splitlines() if line.strip()]
    how = (f"killed by signal {-code}" if code is not None and code < 0
           else f"exited with code {code} before reporting (os._exit, or a crash)")
    return how + (f": {tail[-1][:200]}" if tail else "")


class _Oracle:
    """The optimized processor's answers, in-process, cached per (operation, size)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int], tuple[Any, str]] = {}

    def __call__(self, op: Operation, size: int) -> tuple[Any, str]:
        key = (op.name, size)
        if key not in self._cache:
            import optimized
            value = oracle(op, build_args(op, size, optimized))
            self._cache[key] = (decode(encode(value)), shape_of(value))
        return self._cache[key]


def _leftovers(run: GroupRun, shm_before: set[str], tmp: Path) -> list[str]:
    """What the call left behind (and remove it): processes, /dev/shm entries, temp files."""
    out = []
    if run.stragglers:
        out.append(f"left {run.stragglers} process{'es' if run.stragglers > 1 else ''} "
                   f"running (killed)")
    new = sorted(p.name for p in _SHM.glob("*")) if _SHM.is_dir() else []
    shm = [n for n in new if n not in shm_before]
    for n in shm:
        entry = _SHM / n
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    if shm:
        out.append(f"left {len(shm)} /dev/shm entr{'ies' if len(shm) > 1 else 'y'} "
                   f"({', '.join(shm[:3])})")
    files = sorted(p.name for p in tmp.iterdir())
    if files:
        out.append(f"left {len(files)} temporary file(s) ({', '.join(files[:3])})")
    return out


def _grade_call(candidate: Candidate, op: Operation, size: int, budget_s: float,
                oracle: _Oracle) -> CallVerdict:
    shm_before = {p.name for p in _SHM.glob("*")} if _SHM.is_dir() else set()
    with tempfile.TemporaryDirectory(prefix="ppd-grade-") as tmp:
        env = {**os.environ, "TMPDIR": tmp}
        run, report = _child(candidate, ["call", op.name, str(size)], budget_s, env)
        left = _leftovers(run, shm_before, Path(tmp))
    if run.kind and report is not None and "error" not in report:
        # It answered, then its exit blocked: on the processes it left (multiprocessing
        # joins them at exit), or on something else it left waiting.
        verdict = _judge(op, size, report, oracle)
        left.insert(0, f"its process could not exit after answering ({run.kind}: "
                       f"{run.detail})")
    elif run.kind:
        verdict = CallVerdict(op.name, size, run.kind, run.detail)
    elif report is None:
        verdict = CallVerdict(op.name, size, "crashes", _no_report(run))
    elif "error" in report:
        verdict = CallVerdict(op.name, size, "raises", report["error"])
    else:
        verdict = _judge(op, size, report, oracle)
    if left:
        if verdict.verdict == "ok":
            verdict.verdict = "left behind"
        verdict.detail = "; ".join([verdict.detail, *left] if verdict.detail else left)
    verdict.peak_mib = round(run.peak_rss / 2 ** 20, 1)
    return verdict


def _judge(op: Operation, size: int, report: dict[str, Any], oracle: _Oracle) -> CallVerdict:
    want, want_shape = oracle(op, size)
    got, shape = decode(report["value"]), report["shape"]
    seconds = float(report["seconds"])
    if not same(got, want):
        return CallVerdict(op.name, size, "wrong result", difference(got, want), seconds, shape)
    if shape != want_shape:
        return CallVerdict(op.name, size, "wrong format",
                           f"{shape} where the original's format is {want_shape}", seconds,
                           shape)
    return CallVerdict(op.name, size, "ok", "", seconds, shape)


# -- the whole grade ------------------------------------------------------------------------
def grading_sizes(op: Operation, full: bool) -> list[int]:
    """Sizes a candidate is graded at: the original's smallest benchmark size (and largest)."""
    sizes = sorted(op.sizes["baseline"])
    return sorted({sizes[0], sizes[-1]}) if full else [sizes[0]]


def grade(candidate: Candidate, workloads: Workloads, *, full: bool = False,
          names: Iterable[str] | None = None, budget_s: float | None = None,
          on_call: Callable[[CallVerdict], None] | None = None) -> CandidateGrade:
    """Grade one candidate (see the module docstring).

    Parameters
    ----------
    candidate : Candidate
        From :func:`evaluation.running.candidates.parse_candidate`.
    workloads : Workloads
        The operations and their sizes.
    full : bool
        Grade at the largest benchmark size too.
    names : iterable of str, optional
        Operations to call; default all (compatibility is always checked for all).
    budget_s : float, optional
        Wall seconds per call; default :data:`CALL_BUDGET_S`.
    on_call : callable, optional
        Called with each call's verdict as it is known (progress).

    Returns
    -------
    CandidateGrade
    """
    budget = budget_s or CALL_BUDGET_S["full" if full else "quick"]
    wanted = set(names) if names is not None else None
    original = original_signatures()
    oracle = _Oracle()
    with materialize(candidate) as code:
        run, report = _child(code, ["compat", json.dumps(sorted(original))], budget)
        if report is None or "error" in report:
            why = run.detail if run.kind else (report or {}).get("error") or _no_report(run)
            return CandidateGrade(candidate.name, candidate.spec, False, why)
        result = CandidateGrade(candidate.name, candidate.spec, True,
                                context_manager=bool(report["context_manager"]),
                                helpers=dict(report["helpers"]))
        for method, sig in original.items():
            why = compatibility(sig, report["methods"].get(method))
            result.compat.append({"method": method, "compatible": not why, "detail": why})
        present = {m for m, s in report["methods"].items() if s is not None}
        for op in workloads.operations.values():
            if wanted is not None and op.name not in wanted:
                continue
            for size in grading_sizes(op, full):
                verdict = (_grade_call(code, op, size, budget, oracle) if op.name in present
                           else CallVerdict(op.name, size, "missing", "the method is absent"))
                result.calls.append(verdict)
                if on_call:
                    on_call(verdict)
    return result


def format_grade(g: CandidateGrade) -> str:
    """A candidate's grade as terminal text: one line per call, then its failures."""
    lines = [f"{g.name} ({g.spec}): {'PASS' if g.passed else 'FAIL'}"]
    if not g.loads:
        return "\n".join(lines + [f"  does not load: {g.load_error}"])
    bad = [c for c in g.compat if not c["compatible"]]
    lines.append(f"  drop-in compatible: {len(g.compat) - len(bad)}/{len(g.compat)} methods"
                 f"; context manager: {'yes' if g.context_manager else 'no'}")
    for c in g.calls:
        secs = f"{c.seconds * 1e3:9.1f} ms" if c.seconds is not None else " " * 12
        lines.append(f"  {c.operation:34} {c.size:>7,} {secs}  {c.verdict}"
                     + (f": {c.detail}" if c.detail else ""))
    return "\n".join(lines + [f"  FAIL {line}" for line in g.failures()])
