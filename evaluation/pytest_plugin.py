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
bar without reading pytest's console output. Under pytest-xdist the controller writes
them, once per test: its workers collect and run, it is told of each (the workers
themselves write nothing).
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


def _in_xdist_worker() -> bool:
    return "PYTEST_XDIST_WORKER" in os.environ  # set by pytest-xdist in its workers


def pytest_collection_finish(session: pytest.Session) -> None:
    """Announce how many tests will run (the progress bar's total)."""
    if not _in_xdist_worker():
        _progress(f"collected {len(session.items)}")


_xdist_announced = False


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """The controller's total under pytest-xdist: every worker collects the same tests."""
    global _xdist_announced
    if not _xdist_announced:
        _xdist_announced = True
        _progress(f"collected {len(ids)}")


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    """One progress line per finished test (the controller's, under pytest-xdist)."""
    if not _in_xdist_worker():
        _progress(f"done {nodeid}")
