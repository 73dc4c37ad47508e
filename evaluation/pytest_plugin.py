"""pytest plugin used by the evaluation's inner test runs (``-p evaluation.pytest_plugin``).

It adds machine-readable facts that pytest's JUnit XML does not carry by itself, as
``<property>`` elements of each ``<testcase>`` (pytest writes ``item.user_properties``
there):

- ``nodeid`` - the exact pytest node id (the XML's ``classname`` + ``name`` pair is
  ambiguous for tests inside classes);
- ``markers`` - the comma-separated marker names of the test (``gate``, ``slow``...);
- ``gate_ids`` - explicit gate ids given to the marker (``@pytest.mark.gate("R5")``
  or ``@pytest.mark.gate(id="R5")``), comma-separated, possibly empty.

When ``$PPD_EVAL_PROGRESS`` names a file, the plugin also appends one line per
finished test to it (``collected N`` first), so the evaluation can drive a progress
bar without reading pytest's console output.
"""
from __future__ import annotations

import os
from typing import Any

import pytest

#: Environment variable naming the progress file (set by :mod:`evaluation.running.pytest_run`).
PROGRESS_ENV = "PPD_EVAL_PROGRESS"
#: pytest's own marks, which say nothing about what a test checks.
_BUILTIN_MARKS = {"parametrize", "usefixtures", "filterwarnings", "skipif", "xfail", "timeout"}


def _gate_ids(item: pytest.Item) -> list[str]:
    """Gate ids passed explicitly to the ``gate`` marker(s) of ``item``."""
    ids: list[str] = []
    for mark in item.iter_markers(name="gate"):
        ids.extend(str(a) for a in mark.args if isinstance(a, str))
        if isinstance(mark.kwargs.get("id"), str):
            ids.append(mark.kwargs["id"])
    return ids


def _progress(line: str) -> None:
    path = os.environ.get(PROGRESS_ENV)
    if path:
        # One short append per event; the parent only counts lines.
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """Attach node id, marker names and gate ids to every collected test."""
    for item in items:
        names = sorted({m.name for m in item.iter_markers()} - _BUILTIN_MARKS)
        item.user_properties.append(("nodeid", item.nodeid))
        item.user_properties.append(("markers", ",".join(names)))
        item.user_properties.append(("gate_ids", ",".join(_gate_ids(item))))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Announce how many tests will run (the progress bar's total)."""
    _progress(f"collected {len(session.items)}")


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    """One progress line per finished test."""
    _progress(f"done {nodeid}")
