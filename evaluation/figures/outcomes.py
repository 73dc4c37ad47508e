"""Test outcomes as a table: one row per test per implementation, gate tests mapped to gates.

A gate test is mapped to gate ids by, in order: ids given to its marker
(``@pytest.mark.gate("R5")``); a gate id written in its function name
(``test_gate_R2_latency_...`` -> ``R2-latency``, the longest id wins); the only gate of
the operation named in its node id.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from ..running.pytest_run import OUTCOMES, TestCase
from ..workloads import Workloads

__all__ = ["TEST_COLUMNS", "FAILING_OUTCOMES", "tests_frame", "tests_summary", "map_gate_ids"]

TEST_COLUMNS = ["impl", "nodeid", "file", "test", "outcome", "seconds", "is_gate", "gate_ids",
                "markers", "message", "record"]


#: Outcomes that make a run fail.
FAILING_OUTCOMES = ("failed", "error")


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


def _func_name(nodeid: str) -> str:
    return nodeid.split("::")[-1].split("[")[0]


def map_gate_ids(case: TestCase, workloads: Workloads) -> tuple[str, ...]:
    """Gate ids a gate test checks (see the module docstring for the rules).

    Parameters
    ----------
    case : TestCase
        One test's outcome and markers, from :func:`~evaluation.running.pytest_run.parse_junit`.
    workloads : Workloads
        The known gates and the operations they belong to.

    Returns
    -------
    tuple of str
        The gate ids; ``()`` for a test that is not a gate test or maps to no gate.
    """
    if not case.is_gate:
        return ()
    known = {g.id for g in workloads.gates}
    if case.gate_ids:
        return tuple(g for g in case.gate_ids if g in known) or case.gate_ids
    name = _func_name(case.nodeid).lower()
    for gid in sorted(known, key=len, reverse=True):  # "R2-latency" before "R2"
        token = re.escape(gid.lower().replace("-", "_"))
        if re.search(rf"(?:^|_){token}(?:_|$)", name):
            return (gid,)
    for op in workloads.operations.values():
        if op.name in case.nodeid and len(op.gates) == 1:
            return (op.gates[0].id,)
    return ()


def tests_frame(runs: Mapping[str, Sequence[TestCase]], workloads: Workloads) -> pd.DataFrame:
    """One row per test per implementation.

    Parameters
    ----------
    runs : mapping of str to sequence of TestCase
        Implementation -> its parsed JUnit outcomes.
    workloads : Workloads
        For mapping gate tests to gate ids (:func:`map_gate_ids`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TEST_COLUMNS`; ``message`` is the first line of the failure or
        skip message, ``gate_ids`` comma-separated, ``record`` the test's reliability
        record (JSON text, or "").
    """
    rows = []
    for impl, cases in runs.items():
        for c in cases:
            rows.append({"impl": impl, "nodeid": c.nodeid, "file": c.nodeid.split("::")[0],
                         "test": c.nodeid.split("::", 1)[-1], "outcome": c.outcome,
                         "seconds": c.seconds, "is_gate": c.is_gate,
                         "gate_ids": ",".join(map_gate_ids(c, workloads)),
                         "markers": ",".join(c.markers),
                         "message": _first_line(c.message) or _first_line(c.details),
                         "record": c.record})
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


def tests_summary(tests: pd.DataFrame, impls: Iterable[str]) -> pd.DataFrame:
    """Outcome counts and total seconds per implementation.

    Parameters
    ----------
    tests : pandas.DataFrame
        From :func:`tests_frame`.
    impls : iterable of str
        Implementations to list (each gets a row, with zeros when it has no tests).

    Returns
    -------
    pandas.DataFrame
        ``impl``, one count column per outcome, ``total``, ``gates passed``
        (``passed/gate tests``) and ``seconds``.
    """
    rows = []
    for impl in impls:
        t = tests[tests["impl"] == impl]
        row: dict[str, Any] = {"impl": impl}
        row.update({o: int((t["outcome"] == o).sum()) for o in OUTCOMES})
        row["total"] = len(t)
        row["gates passed"] = f"{int((t['is_gate'] & (t['outcome'] == 'passed')).sum())}" \
                              f"/{int(t['is_gate'].sum())}"
        row["seconds"] = round(float(t["seconds"].sum()), 1)
        rows.append(row)
    return pd.DataFrame(rows)
