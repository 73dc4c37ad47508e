"""Run the pytest suite on one implementation and read its JUnit XML.

Outcomes come from pytest's own machine-readable output (``--junitxml``) plus the
properties :mod:`evaluation.pytest_plugin` adds (node id, markers, gate ids); the
console output is saved for humans only and never parsed.

Selection of the inner runs (documented in the report too):

- no recursion: tests marked ``evaluation_e2e`` are deselected, and the harness's own
  test files (:data:`HARNESS_TEST_FILES`: the evaluation's tests with its end-to-end
  run, the asv suites' tests with their asv smoke run, the grader's, the probe's, the
  comparison's, the docs' and the instances') are not collected at all - they test the
  harness, their outcome does not depend on the implementation selected, and they run
  in ``make test`` anyway;
- the optimized run excludes ``baseline_only`` tests (they exercise the baseline
  whatever the selected implementation);
- the baseline run keeps everything else: tests that only make sense for the
  optimized processor skip themselves at once, so what runs is the gates, the
  anti-pattern tests and the correctness tests - each time-boxed by the tests
  themselves, so the baseline fails them by measurement instead of hanging;
- ``--quick`` runs only the seed's gate tests, on both implementations.

A full run is two passes (:func:`passes`): every selected test but the gates, spread over
the machine's cores (pytest-xdist, :data:`SPREAD_WORKERS` workers, ``--dist loadfile``: a
file's tests stay in one worker, so its module fixtures and shared children are made
once) - these tests check answers, failures and leaks, and time nothing, so they may run
side by side; then the gate tests, one at a time with nothing beside them, since they are
timed. The two passes' JUnit XML are joined into one file. Measured on the 2-core
reference VM: the optimized run's tests other than the gates took 171 s of wall time at
84 % of one core in one process, 98 s on 4 workers.
"""
from __future__ import annotations

import os
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..pytest_plugin import PROGRESS_ENV
from .groups import run_capped

__all__ = ["TestCase", "PytestRun", "E2E_MARKER", "INNER_ENV", "HARNESS_TEST_FILES",
           "SPREAD_WORKERS", "Pass", "passes", "marker_expression", "pytest_command",
           "run_pytest", "parse_junit", "OUTCOMES"]

#: Marker of tests that must not run inside the evaluation's inner pytest runs.
E2E_MARKER = "evaluation_e2e"
#: Test files of the harness itself, left out of the inner runs (see module docstring):
#: they test the evaluation, the benchmarks, the docs and the instances - their outcome is
#: the same whatever implementation is selected (measured: 92 s of each inner run).
HARNESS_TEST_FILES = ("tests/test_evaluation.py", "tests/test_benchmarks.py",
                      "tests/test_grading.py", "tests/test_probe.py", "tests/test_compare.py",
                      "tests/test_process_groups.py", "tests/test_reliability_report.py",
                      "tests/test_terminal_summary.py", "tests/test_growth.py",
                      "tests/test_docs_labels.py", "tests/test_static_checks.py",
                      "tests/test_instances.py", "tests/test_work.py")
#: Set in the environment of the inner runs (a second guard against recursion).
INNER_ENV = "PPD_EVALUATION_INNER"
#: Test outcomes, in the order summaries list them.
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed")
#: pytest-xdist workers of a full run's first pass: two per core, at most 8. The tests wait
#: on their children and sleeps much of the time (run alone: 84 % of one core); on the
#: 2-core VM the optimized run's first pass took 110 s on 2 workers, 104 s on 3, 98 s on 4.
SPREAD_WORKERS = max(1, min(8, 2 * (os.cpu_count() or 1)))
_TAIL_CHARS = 4000


@dataclass(frozen=True)
class Pass:
    """One pytest invocation of an inner run.

    Attributes
    ----------
    markers : str
        Added to the run's marker expression with ``and`` ("" for none).
    workers : int
        pytest-xdist workers (1: none, the tests run in pytest's own process).
    """

    markers: str
    workers: int


def passes(quick: bool, workers: int) -> list[Pass]:
    """The passes of an inner run (see the module docstring).

    Parameters
    ----------
    quick : bool
        Gate tests only: one pass, nothing side by side.
    workers : int
        pytest-xdist workers for the untimed tests; below 2, one pass of every test.

    Returns
    -------
    list of Pass
    """
    if quick or workers < 2:
        return [Pass("", 1)]
    return [Pass("not gate", workers), Pass("gate", 1)]


@dataclass(frozen=True)
class TestCase:
    """One test's outcome, read from JUnit XML.

    Attributes
    ----------
    nodeid : str
        pytest node id (from the plugin's property; rebuilt from classname otherwise).
    outcome : str
        One of :data:`OUTCOMES`.
    seconds : float
        Duration pytest reported (setup + call + teardown).
    message : str
        The failure/error/skip message (empty when passed).
    details : str
        The failure/error text (traceback), truncated.
    markers : tuple of str
        Marker names of the test.
    gate_ids : tuple of str
        Gate ids given explicitly to ``@pytest.mark.gate(...)``.
    record : str
        The test's ``reliability`` property (JSON written with pytest's
        ``record_property``: what a reliability test injected or measured), or "".
    """

    __test__ = False  # not a pytest test class, despite the name

    nodeid: str
    outcome: str
    seconds: float
    message: str = ""
    details: str = ""
    markers: tuple[str, ...] = ()
    gate_ids: tuple[str, ...] = ()
    record: str = ""

    @property
    def is_gate(self) -> bool:
        """True for a seed time-gate test."""
        return "gate" in self.markers


@dataclass
class PytestRun:
    """One inner pytest run: how it was called and what it produced."""

    impl: str
    commands: list[list[str]]  # one per pass (:func:`passes`)
    exit_code: int | None
    seconds: float
    junit_path: Path
    log_path: Path
    cases: list[TestCase] = field(default_factory=list)
    problem: str = ""

    @property
    def ok(self) -> bool:
        """pytest ran to the end and wrote its XML (whatever the test outcomes)."""
        return not self.problem


def marker_expression(impl: str, quick: bool) -> str:
    """The ``-m`` expression of the inner run for ``impl`` (see module docstring).

    Parameters
    ----------
    impl : str
        ``baseline`` or ``optimized``.
    quick : bool
        Gate tests only.

    Returns
    -------
    str
        A pytest marker expression.
    """
    parts = [f"not {E2E_MARKER}"]
    if impl == "optimized":
        parts.append("not baseline_only")
    if quick:
        parts.append("gate")
    return " and ".join(parts)


def pytest_command(impl: str, junit_path: Path, *, quick: bool,
                   python: str = sys.executable, part: Pass = Pass("", 1)) -> list[str]:
    """Command line of (one pass of) the inner pytest run for ``impl``.

    Parameters
    ----------
    impl : str
        ``baseline`` or ``optimized``.
    junit_path : Path
        Where pytest writes its JUnit XML.
    quick : bool
        Gate tests only (:func:`marker_expression`).
    python : str
        Interpreter to run pytest with.
    part : Pass
        Which pass (default: the whole run in one).

    Returns
    -------
    list of str
        The argument vector.
    """
    markers = " and ".join(m for m in (marker_expression(impl, quick), part.markers) if m)
    spread = ["-n", str(part.workers), "--dist", "loadfile"] if part.workers > 1 else []
    return [python, "-m", "pytest", f"--impl={impl}", "-m", markers, *spread,
            *(f"--ignore={f}" for f in HARNESS_TEST_FILES), "-p", "evaluation.pytest_plugin",
            f"--junitxml={junit_path}", "-o", "junit_family=xunit1",
            "-p", "no:cacheprovider", "-q", "-rN", "--no-header"]


def _count_progress(path: Path) -> tuple[int | None, int]:
    """(collected total or None, finished tests) from the plugin's progress file.

    Each pass announces its own total; the second is known once the first has run.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None, 0
    totals = [int(ln.split()[1]) for ln in lines if ln.startswith("collected ")]
    return (sum(totals) if totals else None), sum(1 for ln in lines if ln.startswith("done "))


def run_pytest(impl: str, out_dir: Path, *, repo_root: Path, quick: bool,
               wall_timeout_s: float,
               on_progress: Callable[[int | None, int], None] | None = None,
               label: str | None = None, workers: int = 1) -> PytestRun:
    """Run the suite on ``impl``; write ``junit-<label>.xml`` and ``pytest-<label>.log``.

    Parameters
    ----------
    impl : str
        Implementation under test: ``baseline``, ``optimized`` or a candidate's
        ``NAME=SPEC`` (:mod:`evaluation.running.candidates`).
    out_dir : Path
        Folder for the XML, the console log and the progress file.
    repo_root : Path
        Working directory of the run (the repository).
    quick : bool
        Gate tests only.
    wall_timeout_s : float
        Whole-run cap; on expiry the run's process group is killed and
        :attr:`PytestRun.problem` says so (pytest's own per-test timeout should
        make this unreachable).
    on_progress : callable, optional
        Called about every 0.5 s with ``(total or None, finished)``.
    label : str, optional
        Names the files (default ``impl``; a candidate's name, since its spec may hold
        a path).
    workers : int
        pytest-xdist workers of the untimed pass (:func:`passes`); 1: one pass, no xdist.

    Returns
    -------
    PytestRun
        With :attr:`~PytestRun.cases` parsed from the XML when it was written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    label = label or impl
    junit, log = out_dir / f"junit-{label}.xml", out_dir / f"pytest-{label}.log"
    progress = out_dir / f".progress-{label}"
    for p in (junit, progress):
        p.unlink(missing_ok=True)
    env = dict(os.environ, PPD_IMPL=impl, **{INNER_ENV: "1", PROGRESS_ENV: str(progress)})
    poll = (lambda: on_progress(*_count_progress(progress))) if on_progress else None
    run = PytestRun(impl, [], None, 0.0, junit, log)
    parts = passes(quick, workers)
    xmls = [junit if len(parts) == 1 else out_dir / f".junit-{label}-{k}.xml"
            for k in range(len(parts))]
    codes = []
    for k, (part, xml) in enumerate(zip(parts, xmls, strict=True)):
        cmd = pytest_command(impl, xml, quick=quick, part=part)
        run.commands.append(cmd)
        capped = run_capped(cmd, wall_timeout_s - run.seconds, log=log, cwd=repo_root, env=env,
                            on_poll=poll, append=k > 0)
        run.seconds += capped.seconds
        codes.append(capped.returncode)
        if capped.timed_out:
            run.problem = f"pytest run on {label} exceeded {wall_timeout_s:.0f} s and was killed"
            break
        if not xml.exists():
            run.problem = (f"pytest on {label} exited with code {capped.returncode} "
                           f"without writing {xml.name}; see {log}")
            break
    progress.unlink(missing_ok=True)
    run.exit_code = _joint_exit_code(codes)
    if len(parts) > 1:
        unread = _join_junit([x for x in xmls if x.exists()], junit)
        if unread and not run.problem:
            run.problem = f"pytest on {label} wrote unreadable JUnit XML ({unread}); see {log}"
    if not junit.exists():
        run.problem = run.problem or f"pytest on {label} wrote no {junit.name}; see {log}"
        return run
    run.cases = parse_junit(junit)
    # Exit codes 0 (all passed) and 1 (some failed) are test outcomes; others are not.
    if run.exit_code not in (0, 1) and not run.problem:
        run.problem = f"pytest on {label} exited with code {run.exit_code} (see {log.name})"
    return run


def _joint_exit_code(codes: list[int | None]) -> int | None:
    """One exit code for the passes: a pass that selected nothing (5) is no outcome."""
    real = [c for c in codes if c != pytest.ExitCode.NO_TESTS_COLLECTED]
    if not real:
        return codes[-1] if codes else None
    odd = [c for c in real if c not in (0, 1)]  # an interrupt, an internal error, a kill
    return odd[0] if odd else max(c for c in real if c is not None)


def _join_junit(parts: list[Path], out: Path) -> str:
    """Join the passes' JUnit XML files into ``out`` (one ``<testsuites>``), then drop them.

    Returns
    -------
    str
        The names of the parts that were not XML (left out, and kept for a look), or "".
    """
    root, unread = ET.Element("testsuites"), []
    for path in parts:
        try:
            part = ET.parse(path).getroot()
        except ET.ParseError:
            unread.append(path.name)
            continue
        root.extend(part if part.tag == "testsuites" else [part])
        path.unlink()
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)
    return ", ".join(unread)


def _props(case: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.split(",") if v)


def _outcome(case: ET.Element) -> tuple[str, ET.Element | None]:
    for tag, outcome in (("failure", "failed"), ("error", "error")):
        el = case.find(tag)
        if el is not None:
            return outcome, el
    el = case.find("skipped")
    if el is not None:
        return ("xfailed" if el.get("type") == "pytest.xfail" else "skipped"), el
    return "passed", None


def _nodeid(case: ET.Element, props: dict[str, str]) -> str:
    if props.get("nodeid"):
        return props["nodeid"]
    # Without the plugin: best effort from xunit1's file attribute or the classname.
    cls, name = case.get("classname", ""), case.get("name", "")
    if case.get("file"):
        return f"{case.get('file')}::{name}"
    return f"{cls.replace('.', '/')}.py::{name}" if cls else name


def parse_junit(path: Path) -> list[TestCase]:
    """Per-test outcomes from a pytest JUnit XML file.

    Parameters
    ----------
    path : Path
        The ``--junitxml`` output.

    Returns
    -------
    list of TestCase
        In file order, one per node id. pytest writes a second ``<testcase>`` for a
        test whose teardown errored after its call failed; the two are merged: the
        outcome is the worse one (failed > error > skipped/xfailed > passed), the
        message the first failing one's, the teardown text appended to the details.

    Raises
    ------
    ValueError
        The file is not JUnit XML.
    """
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{path}: not valid JUnit XML ({exc})") from None
    if root.tag not in ("testsuites", "testsuite"):
        raise ValueError(f"{path}: expected <testsuites> or <testsuite> root, got <{root.tag}>")
    cases: dict[str, TestCase] = {}
    for case in root.iter("testcase"):
        props = _props(case)
        outcome, el = _outcome(case)
        message = (el.get("message", "") if el is not None else "").strip()
        details = ((el.text or "") if el is not None else "").strip()
        tc = TestCase(
            nodeid=_nodeid(case, props), outcome=outcome,
            seconds=float(case.get("time", "0") or 0), message=message,
            details=details[-_TAIL_CHARS:], markers=_split(props.get("markers", "")),
            gate_ids=_split(props.get("gate_ids", "")), record=props.get("reliability", ""))
        cases[tc.nodeid] = _merge(cases[tc.nodeid], tc) if tc.nodeid in cases else tc
    return list(cases.values())


_SEVERITY = {"failed": 4, "error": 3, "skipped": 1, "xfailed": 1, "passed": 0}


def _merge(first: TestCase, second: TestCase) -> TestCase:
    """One test reported twice (call, then teardown): keep the worse outcome."""
    worse, other = (second, first) if _SEVERITY[second.outcome] > _SEVERITY[first.outcome] \
        else (first, second)
    extra = f"\n--- also: {other.outcome}: {other.message}" if other.message else ""
    return TestCase(nodeid=first.nodeid, outcome=worse.outcome,
                    seconds=max(first.seconds, second.seconds),
                    message=worse.message or other.message,
                    details=(worse.details + extra)[-_TAIL_CHARS:],
                    markers=first.markers or second.markers,
                    gate_ids=first.gate_ids or second.gate_ids,
                    record=first.record or second.record)
