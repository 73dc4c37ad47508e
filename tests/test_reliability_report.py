"""The report's Reliability section is built from the tests' own JUnit records."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation.figures import outcomes
from evaluation.report.reliability import reliability_summary, reliability_table
from evaluation.running.pytest_run import TestCase, parse_junit
from evaluation.workloads import load_workloads

ROOT = Path(__file__).resolve().parent.parent


def _case(nodeid: str, outcome: str, record: dict | None, message: str = "") -> TestCase:
    return TestCase(nodeid=nodeid, outcome=outcome, seconds=0.1, message=message,
                    record=json.dumps(record) if record else "")


def test_summary_counts_what_was_injected_survived_and_leaked() -> None:
    fault = {"kind": "fault", "fault": "sigkill", "start_method": "spawn"}
    cases = [
        _case("t::a", "passed", {**fault, "survived": True}),
        _case("t::b", "failed", {**fault, "survived": False}),  # failed half-way
        _case("t::c", "passed", {"kind": "parent_death", "start_method": "fork",
                                 "survived": True, "workers_gone_ms": 21.5}),
        _case("t::d", "passed", {"kind": "bad_input", "method": "map", "input": "None"}),
        _case("t::e", "error", None, "shared-memory segments left in /dev/shm: ['x']"),
        _case("t::f", "passed", {"kind": "soak", "calls": 1000, "wrong": 0, "respawns": 0,
                                 "rss_growth_parent": 0.01, "rss_growth_workers_max": 0.02}),
    ]
    tests = outcomes.tests_frame({"optimized": cases, "baseline": [_case("t::a", "failed", fault)]},
                        load_workloads(ROOT / "instances"))
    s = reliability_summary(tests)
    assert s["tests"] == 5
    assert s["faults"] == [{"fault": "sigkill", "start_method": "spawn", "injected": 2, "survived": 1}]
    assert s["parent_death"][0]["slowest_worker_exit_ms"] == 21.5
    assert s["bad_inputs"] == {"tried": 1, "held": 1}
    assert s["leaks"]["segments"] == 1 and s["leaks"]["processes"] == 0
    paragraphs, table = reliability_table(s)
    assert "1 of 2 injected faults survived" in paragraphs[0]
    assert "segments: 1" in table.iloc[-1]["detail"]


def test_chaos_soak_row_counts_calls_faults_and_outcomes() -> None:
    chaos = {"kind": "chaos", "start_method": "fork", "calls": 2000, "seconds": 16.6,
             "faults": {"kill (busy)": 5, "stop (idle)": 3}, "correct": 1996,
             "errors": {"WorkerCrashedError": 4}, "wrong": 0, "unexpected": 0,
             "rss_growth": 0.04, "small_shm": True}
    cases = [_case("t::chaos[fork]", "passed", {**chaos, "survived": True}),
             _case("t::chaos[spawn]", "failed", {**chaos, "start_method": "spawn",
                                                  "wrong": 2, "correct": 1994,
                                                  "survived": False})]
    tests = outcomes.tests_frame({"optimized": cases}, load_workloads(ROOT / "instances"))
    s = reliability_summary(tests)
    assert [c["passed"] for c in s["chaos"]] == [True, False]
    paragraphs, table = reliability_table(s)
    rows = table[table["check"].str.startswith("chaos soak")]
    assert list(rows["tried"]) == [2000, 2000] and list(rows["held"]) == [2000, 1994]
    assert "8 faults (kill (busy) 5, stop (idle) 3); 1996 correct, 4 WorkerCrashedError, " \
        "0 wrong" in rows.iloc[0]["detail"]
    assert "4,000 random calls" in paragraphs[1] and "16 injected faults" in paragraphs[1]
    assert "2 wrong results" in paragraphs[1]


def test_empty_run_says_there_are_no_records() -> None:
    tests = outcomes.tests_frame({"optimized": [_case("t::a", "passed", None)]},
                        load_workloads(ROOT / "instances"))
    paragraphs, table = reliability_table(reliability_summary(tests))
    assert "No reliability records" in paragraphs[0] and table.empty


@pytest.mark.timeout(120)
def test_records_travel_through_junit_from_a_real_run(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "evaluation.pytest_plugin",
           f"--junitxml={junit}", "-o", "junit_family=xunit1", "-p", "no:cacheprovider",
           "tests/test_bad_input.py", "-k", "process_single_item or constructor_contract"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=100)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    cases = parse_junit(junit)
    s = reliability_summary(outcomes.tests_frame({"optimized": cases}, load_workloads(ROOT / "instances")))
    assert s["bad_inputs"]["tried"] == len(cases) > 20
    assert s["bad_inputs"]["held"] == len(cases)
