"""The command's exit status and its reasons (see ``python -m evaluation --help``).

``1`` when the optimized implementation failed (or errored) a test or a gate, or a gate
test reported its target as not met, or its test run was not run or did not complete;
``3`` when the run is otherwise incomplete; ``4`` (:data:`CANDIDATE_FAILED`) when a
``--candidate`` failed its grading and nothing above did; else ``0``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from ..figures.outcomes import FAILING_OUTCOMES
from .gates import FAIL, NO_TEST, NOT_MET, SKIPPED

__all__ = ["exit_status", "CANDIDATE_FAILED", "INCOMPLETE", "OPTIMIZED_FAILED", "USAGE",
           "INTERRUPTED"]

OPTIMIZED_FAILED, USAGE, INCOMPLETE = 1, 2, 3
#: Ctrl-C or SIGTERM while the stages ran (128 + SIGINT, the shell's convention).
INTERRUPTED = 130
#: Exit code of ``python -m evaluation.grade`` (and of ``python -m evaluation
#: --candidate``) when a candidate fails its grading.
CANDIDATE_FAILED = 4


def _failure_reasons(tests: pd.DataFrame, gates: pd.DataFrame) -> list[str]:
    """Why the optimized implementation failed (exit 1), from its tests and gates."""
    reasons = []
    opt = tests[(tests["impl"] == "optimized") & tests["outcome"].isin(FAILING_OUTCOMES)]
    if not opt.empty:
        reasons.append(f"optimized: {len(opt)} test(s) failed or errored")
    failed_gates = gates[gates["optimized"] == FAIL]["gate"].tolist()
    if failed_gates:
        reasons.append(f"optimized: gate(s) failed: {', '.join(failed_gates)}")
    unmet = gates[gates["optimized"] == NOT_MET]["gate"].tolist()
    if unmet:  # reported by its test as a known, measured limit: still not a pass
        reasons.append(f"optimized: gate(s) not met (known limit, see the gate table): "
                       f"{', '.join(unmet)}")
    return reasons


def _unverified_gates(gates: pd.DataFrame) -> list[str]:
    """Gates the optimized run did not verify: no test maps to them, or all were skipped."""
    out = []
    for verdict, what in ((NO_TEST, "no gate test ran"), (SKIPPED, "only skipped tests")):
        ids = gates[gates["optimized"] == verdict]["gate"].tolist()
        if ids:
            out.append(f"optimized: gate(s) not verified ({what}): {', '.join(ids)}")
    return out


def exit_status(tests: pd.DataFrame, gates: pd.DataFrame, problems: Sequence[Mapping[str, Any]],
                impls_run: Iterable[str]) -> tuple[int, list[str]]:
    """The command's exit code and its reasons.

    Parameters
    ----------
    tests, gates : pandas.DataFrame
        From :func:`~evaluation.figures.outcomes.tests_frame` and
        :func:`~evaluation.verdicts.gates.gate_verdicts`.
    problems : sequence of mapping
        Stages that did not complete: ``{"stage": "pytest"|"asv"|..., "impl": str or None,
        "message": str}``.
    impls_run : iterable of str
        Implementations whose test suite was run.

    Returns
    -------
    (int, list of str)
        ``1`` when the optimized implementation failed (or errored) a test or a gate,
        or a gate test reported its target as not met (xfailed with the measured figure),
        or its test run was not run or did not complete; ``3`` when the run is
        otherwise incomplete (a stage produced no results, or a gate has no test or only
        skipped tests on the optimized run); else ``0``.
    """
    reasons = _failure_reasons(tests, gates)
    ran_optimized = "optimized" in set(impls_run)
    if not ran_optimized:
        reasons.append("optimized: the test suite was not run")
    opt_run = [p for p in problems if p.get("stage") == "pytest" and p.get("impl") == "optimized"]
    reasons.extend(str(p["message"]) for p in opt_run)
    others = [str(p["message"]) for p in problems if p not in opt_run]
    if ran_optimized and not opt_run:  # a crashed run already explains missing verdicts
        others.extend(_unverified_gates(gates))
    if reasons:
        return OPTIMIZED_FAILED, reasons + others
    if others:
        return INCOMPLETE, others
    return 0, []
