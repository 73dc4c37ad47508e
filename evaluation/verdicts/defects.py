"""What went wrong in a test run: the baseline's defects, classified, and the optimized failures.

The categories are read from the failure messages pytest recorded (a pytest-timeout
kill, ``tests/budget.py``'s "did not finish within", an assertion about lost or
reordered results): third-party and test text, classified for the report's table
only - no verdict or exit code depends on a category.
"""
from __future__ import annotations

import re

import pandas as pd

from ..figures.outcomes import FAILING_OUTCOMES

__all__ = ["baseline_defects", "optimized_failures", "DEFECT_CATEGORIES"]

#: The categories of :func:`baseline_defects`.
DEFECT_CATEGORIES = ("hang (time budget expired)", "time gate missed",
                     "lost or unordered results", "anti-pattern present", "other failure")


#: A test killed by pytest-timeout, or a message naming a hang: the call never returned.
_HANG = re.compile(r"timed? ?out|timeout|deadlock|\bhang", re.I)


#: A call stopped when its time budget ran out (tests/budget.py): for a gate test that is
#: a time gate missed (the call was slow, maybe finishing later); for another test a hang.
_BUDGET = re.compile(r"did not finish|budget", re.I)


_LOST = re.compile(r"\blost\b|missing|dropped|out of order|unordered|not in (?:input )?order|"
                   r"fewer|duplicat|incomplete", re.I)


def _defect_category(message: str, is_gate: bool, file: str) -> str:
    """One baseline failure's category (see :func:`baseline_defects`)."""
    if _HANG.search(message):
        return "hang (time budget expired)"
    if _BUDGET.search(message):  # a gate's budget is a few times its limit: slow, not hung
        return "time gate missed" if is_gate else "hang (time budget expired)"
    if _LOST.search(message):
        return "lost or unordered results"
    if is_gate:
        return "time gate missed"
    if "antipattern" in file.replace("_", "").replace("-", ""):
        return "anti-pattern present"
    return "other failure"


def baseline_defects(tests: pd.DataFrame) -> pd.DataFrame:
    """The baseline's failures, classified for the report's notes.

    Parameters
    ----------
    tests : pandas.DataFrame
        From :func:`~evaluation.figures.outcomes.tests_frame`.

    Returns
    -------
    pandas.DataFrame
        Columns ``category, test, gate, message``, one row per failed or errored
        baseline test. Categories: ``hang (time budget expired)`` (a timeout, a
        deadlock, or a non-gate call that outlived its budget), ``time gate missed`` (a
        gate test that failed on time, including running out of its budget),
        ``lost or unordered results``, ``anti-pattern present``, ``other failure``.
    """
    base = tests[(tests["impl"] == "baseline") & tests["outcome"].isin(FAILING_OUTCOMES)]
    rows = [{"category": _defect_category(t["message"], bool(t["is_gate"]), t["file"]),
             "test": t["nodeid"], "gate": t["gate_ids"], "message": t["message"]}
            for _, t in base.iterrows()]
    return pd.DataFrame(rows, columns=["category", "test", "gate", "message"])


def optimized_failures(tests: pd.DataFrame) -> pd.DataFrame:
    """Failed or errored tests of the optimized run (what makes the command exit 1).

    Parameters
    ----------
    tests : pandas.DataFrame
        From :func:`~evaluation.figures.outcomes.tests_frame`.

    Returns
    -------
    pandas.DataFrame
        Columns ``nodeid, outcome, gate_ids, message``.
    """
    t = tests[(tests["impl"] == "optimized") & tests["outcome"].isin(FAILING_OUTCOMES)]
    return t[["nodeid", "outcome", "gate_ids", "message"]].reset_index(drop=True)
