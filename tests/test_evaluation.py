"""Tests of the evaluation report (``python -m evaluation``) and the baseline -> optimized patch.

The report builder is tested on fixture data made by real tools
(``tests/fixtures/evaluation/make_fixtures.py``): pytest JUnit XML written with the
evaluation's plugin, and asv 0.6 results of a small sleep-based benchmark suite whose
shapes are known (the baseline's primes grow as n**1.5, its matrix multiply as n**2;
one optimized point fails, baseline points above ``baseline_max`` are skipped).
The end-to-end run of ``python -m evaluation --quick`` is marked ``evaluation_e2e``
(the evaluation's inner pytest runs exclude it) and ``slow``.
"""
from __future__ import annotations

import itertools
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from evaluation.figures import outcomes
from evaluation.figures.bench import load_results, parse_benchmark_name
from evaluation.figures.fit import FitError, fit_power_law
from evaluation.figures.outcomes import map_gate_ids
from evaluation.figures.reference import measured_speedup, reference_figures, speedups
from evaluation.patch import PATCH_PATH, is_stale, render_patch
from evaluation.report import REPORT_FILES, build_report, write_report
from evaluation.report.summary import format_figure, summary_table
from evaluation.report.tables import speedups_table
from evaluation.running.asv import QUICK_SELECTION, bench_selection
from evaluation.running.pytest_run import (
    E2E_MARKER,
    INNER_ENV,
    TestCase,
    marker_expression,
    parse_junit,
    passes,
    pytest_command,
    run_pytest,
)
from evaluation.units import format_seconds
from evaluation.verdicts.defects import baseline_defects
from evaluation.verdicts.gates import gate_verdicts
from evaluation.verdicts.status import exit_status
from evaluation.verdicts.targets import target_verdicts
from evaluation.workloads import Workloads, parse_workloads

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "evaluation" / "raw"
PRIMES = "bench_fixture.FindPrimes.time_parallel_find_primes"
SPAWN = "bench_fixture.SpawnPerItem.time_process_data_spawn_per_item"
SPAWN_LATENCY = "bench_fixture.SpawnPerItemLatency.time_process_data_spawn_per_item"


def _strict_json(text: str) -> object:
    """json.loads that rejects NaN/Infinity (report.json must be standard JSON)."""
    def reject(const: str) -> None:
        raise ValueError(f"non-standard JSON constant {const}")
    return json.loads(text, parse_constant=reject)


@pytest.fixture(scope="module")
def bench(workloads) -> pd.DataFrame:
    return load_results(FIXTURES / "asv", workloads.operations)


@pytest.fixture(scope="module")
def tests_df(workloads) -> pd.DataFrame:
    runs = {i: parse_junit(FIXTURES / f"junit-{i}.xml") for i in ("baseline", "optimized")}
    return outcomes.tests_frame(runs, workloads)


@pytest.fixture(scope="module")
def figures(bench, workloads) -> pd.DataFrame:
    return reference_figures(bench, workloads)


def _figure(figures: pd.DataFrame, op: str, impl: str) -> pd.Series:
    return figures[(figures["operation"] == op) & (figures["impl"] == impl)].iloc[0]


# --------------------------------------------------------------------------- power law
def test_fit_recovers_exact_exponent() -> None:
    n = np.array([10, 100, 1000, 10000], dtype=float)
    law = fit_power_law(n, 3e-4 * n ** 1.7)
    assert law.b == pytest.approx(1.7, abs=1e-9)
    assert law.a == pytest.approx(3e-4, rel=1e-9)
    assert law.r2 == pytest.approx(1.0)
    assert law.predict(1e6) == pytest.approx(3e-4 * 1e6 ** 1.7, rel=1e-9)
    assert law.size_range == (10.0, 10000.0) and law.n_points == 4


def test_fit_recovers_exponent_from_noisy_points() -> None:
    rng = np.random.default_rng(7)
    n = np.geomspace(50, 50000, 12)
    t = 2e-6 * n ** 2.0 * rng.lognormal(0.0, 0.05, n.size)  # 5 % multiplicative noise
    law = fit_power_law(n, t)
    assert law.b == pytest.approx(2.0, abs=0.05)
    assert 0.99 < law.r2 <= 1.0


@pytest.mark.parametrize("sizes, times, match", [
    ([100], [1.0], "at least 2 points"),
    ([100, 200], [1.0], "differ in length"),
    ([100, 200], [1.0, 0.0], "point 1 is not positive"),
    ([100, 200], [1.0, float("nan")], "point 1 is not positive"),
    ([-5, 200], [1.0, 2.0], "point 0 is not positive"),
    ([100, 100], [1.0, 2.0], "2 distinct sizes"),
])
def test_fit_rejects_points_that_cannot_determine_a_power_law(sizes, times, match) -> None:
    with pytest.raises(FitError, match=match):
        fit_power_law(sizes, times)


def test_predict_rejects_non_positive_size() -> None:
    with pytest.raises(ValueError, match="positive size"):
        fit_power_law([1, 2], [1, 2]).predict(0)


# --------------------------------------------------------------------------- pytest side
def test_inner_runs_exclude_the_end_to_end_test_and_select_by_implementation() -> None:
    for impl in ("baseline", "optimized"):
        for quick in (False, True):
            expr = marker_expression(impl, quick)
            assert f"not {E2E_MARKER}" in expr
            assert ("gate" in expr.split(" and ")) is quick
    assert "not baseline_only" in marker_expression("optimized", False)
    assert "baseline_only" not in marker_expression("baseline", False)
    cmd = pytest_command("baseline", Path("/tmp/x.xml"), quick=False)
    assert "--impl=baseline" in cmd and "--junitxml=/tmp/x.xml" in cmd
    assert "--ignore=tests/test_evaluation.py" in cmd and "--ignore=tests/test_benchmarks.py" in cmd
    assert cmd[cmd.index("-p") + 1] == "evaluation.pytest_plugin"
    assert "-n" not in cmd  # one pass: pytest's own process


def test_a_full_inner_run_spreads_the_untimed_tests_and_runs_the_gates_alone() -> None:
    full, quick = passes(False, workers=2), passes(True, workers=2)
    assert [(p.markers, p.workers) for p in full] == [("not gate", 2), ("gate", 1)]
    assert [(p.markers, p.workers) for p in quick] == [("", 1)]  # gates only, alone
    assert [(p.markers, p.workers) for p in passes(False, workers=1)] == [("", 1)]
    spread, gates = (pytest_command("optimized", Path("/tmp/x.xml"), quick=False, part=p)
                     for p in full)
    marks = lambda cmd: cmd[cmd.index("-m", cmd.index("pytest")) + 1]  # noqa: E731 - pytest's -m
    assert marks(spread).endswith(" and not gate")
    assert spread[spread.index("-n") + 1] == "2" and "loadfile" in spread
    assert marks(gates).endswith(" and gate") and "-n" not in gates


_TWO_PASS_SUITE = {
    "conftest.py": "def pytest_addoption(parser):\n    parser.addoption('--impl')\n",
    "test_one.py": (
        "import os\nimport pytest\n\n"
        "def test_untimed_in_a_worker():\n    assert os.environ.get('PYTEST_XDIST_WORKER')\n\n"
        "def test_untimed_failing():\n    assert False, 'an expected failure'\n\n"
        "@pytest.mark.gate('R5')\n"
        "def test_gate_alone():\n    assert 'PYTEST_XDIST_WORKER' not in os.environ\n"),
    "test_two.py": ("import os\n\n"
                    "def test_untimed_too():\n    assert os.environ.get('PYTEST_XDIST_WORKER')\n"),
}


@pytest.mark.timeout(120)
def test_run_pytest_in_two_passes_joins_their_outcomes(tmp_path: Path) -> None:
    """The untimed tests ran in xdist workers, the gate in pytest's own process; one XML."""
    suite, out = tmp_path / "suite", tmp_path / "out"
    suite.mkdir()
    for name, text in _TWO_PASS_SUITE.items():
        (suite / name).write_text(text)
    seen: list[tuple[int | None, int]] = []
    run = run_pytest("optimized", out, repo_root=suite, quick=False, wall_timeout_s=100,
                     on_progress=lambda total, done: seen.append((total, done)), workers=2)
    assert not run.problem and run.exit_code == 1, (run.problem, run.log_path.read_text())
    assert len(run.commands) == 2 and "-n" in run.commands[0] and "-n" not in run.commands[1]
    outcomes = {c.nodeid.split("::")[-1]: c.outcome for c in run.cases}
    assert outcomes == {"test_untimed_in_a_worker": "passed", "test_untimed_failing": "failed",
                        "test_gate_alone": "passed", "test_untimed_too": "passed"}, outcomes
    gate = next(c for c in run.cases if c.is_gate)
    assert gate.gate_ids == ("R5",)
    assert sorted(p.name for p in out.iterdir()) == ["junit-optimized.xml", "pytest-optimized.log"]
    assert seen[-1] == (4, 4), seen  # each test counted once, the controller's count
    one = run_pytest("optimized", out, repo_root=suite, quick=False, wall_timeout_s=100)
    assert len(one.commands) == 1 and "-n" not in one.commands[0]  # workers=1: one pass
    assert sorted(c.outcome for c in one.cases).count("failed") == 3  # no xdist worker there


def test_joining_the_passes_junit_keeps_every_case_and_names_an_unreadable_part(
        tmp_path: Path) -> None:
    from evaluation.running.pytest_run import _join_junit
    one, two, bad = tmp_path / "1.xml", tmp_path / "2.xml", tmp_path / "3.xml"
    one.write_text('<testsuites><testsuite><testcase classname="a" name="x"/></testsuite>'
                   '</testsuites>')
    two.write_text('<testsuite><testcase classname="a" name="y"><failure message="m"/>'
                   '</testcase></testsuite>')
    bad.write_text("<testsuites><testsuite>")  # a pass killed while writing
    out = tmp_path / "junit.xml"
    assert _join_junit([one, two, bad], out) == "3.xml"
    cases = parse_junit(out)
    assert [(c.nodeid, c.outcome) for c in cases] == [("a.py::x", "passed"), ("a.py::y", "failed")]
    assert not one.exists() and not two.exists() and bad.exists()


def test_the_report_says_which_runs_were_split_in_two_passes() -> None:
    from evaluation.report.sections import _passes_paragraph
    spread, alone = passes(False, workers=4), passes(False, workers=1)
    text = _passes_paragraph({"optimized": [vars(p) for p in spread],
                              "baseline": [vars(p) for p in alone]})
    assert len(text) == 1 and "on optimized in two passes" in text[0]
    assert "`not gate`" in text[0] and "4 pytest-xdist workers" in text[0]
    assert _passes_paragraph({}) == [] and _passes_paragraph([]) == []  # type: ignore[arg-type]


def test_junit_outcomes_markers_and_node_ids() -> None:
    base = parse_junit(FIXTURES / "junit-baseline.xml")
    opt = parse_junit(FIXTURES / "junit-optimized.xml")
    count = lambda cases, o: sum(c.outcome == o for c in cases)  # noqa: E731 - a one-line counting helper
    assert (count(base, "passed"), count(base, "failed"), count(base, "skipped"),
            count(base, "xfailed")) == (1, 8, 1, 1)
    assert (count(opt, "passed"), count(opt, "failed"), count(opt, "xfailed")) == (10, 0, 1)
    by_id = {c.nodeid: c for c in base}
    r5 = by_id["tests/test_gates_dummy.py::test_primes_below_one_million"]
    assert r5.is_gate and r5.gate_ids == ("R5",)
    assert "did not finish within its 1.5 s budget" in r5.message
    assert "gate" in by_id["tests/test_gates_dummy.py::test_gate_R4_matrix_100_under_10ms"].markers
    assert "tests/test_gates_dummy.py::test_gate_R2_100k_items_under_2s[pool]" in by_id
    skipped = by_id["tests/test_correctness_dummy.py::test_metrics_are_recorded"]
    assert skipped.outcome == "skipped" and "optimized processor only" in skipped.message
    # The call failed and the teardown errored: pytest wrote two <testcase>s, merged here.
    merged = by_id["tests/test_antipatterns_dummy.py::test_queue_results_complete"]
    assert len([c for c in base if c.nodeid == merged.nodeid]) == 1
    assert merged.outcome == "failed" and "12 of 1000 results lost" in merged.message
    assert "also: error" in merged.details and "child process(es) left" in merged.details


def test_junit_parser_rejects_other_xml(tmp_path) -> None:
    bad = tmp_path / "x.xml"
    bad.write_text("<html/>")
    with pytest.raises(ValueError, match="expected <testsuites>"):
        parse_junit(bad)
    bad.write_text("<testsuites>")
    with pytest.raises(ValueError, match="not valid JUnit XML"):
        parse_junit(bad)


@pytest.mark.parametrize("nodeid, explicit, expected", [
    ("tests/test_gates_map.py::test_gate_R2_100k_items_under_2s[auto]", (), ("R2",)),
    ("tests/test_gates_map.py::test_gate_R2_latency_pool_keeps_every_worker_busy", (),
     ("R2-latency",)),
    ("tests/test_x.py::test_anything", ("R5",), ("R5",)),
    ("tests/test_x.py::test_parallel_find_primes_fast", (), ("R5",)),  # the op's only gate
    ("tests/test_x.py::test_r20_matches_no_gate", (), ()),
])
def test_gate_tests_map_to_gate_ids(workloads, nodeid, explicit, expected) -> None:
    case = TestCase(nodeid, "passed", 0.1, markers=("gate",), gate_ids=explicit)
    assert map_gate_ids(case, workloads) == expected
    assert map_gate_ids(TestCase(nodeid, "passed", 0.1), workloads) == ()  # not a gate test


# --------------------------------------------------------------------------- asv side
def test_benchmark_names_split_into_kind_and_metric() -> None:
    assert parse_benchmark_name(PRIMES) == {"module": "bench_fixture", "suite": "FindPrimes",
                                            "kind": "time", "metric": "parallel_find_primes"}
    assert parse_benchmark_name("bench_x.peakmem_run_pipeline")["suite"] is None
    assert parse_benchmark_name("b.C.track_ipc_share")["kind"] == "track"


def test_asv_null_and_nan_stay_distinct(bench) -> None:
    raw = json.loads(next((FIXTURES / "asv").glob("*/*-*.json")).read_text())
    values = raw["results"][PRIMES][0]  # impl x size, row-major
    assert values.count(None) == 1
    assert sum(isinstance(v, float) and math.isnan(v) for v in values) == 2
    rows = bench[bench["benchmark"] == PRIMES].set_index(["impl", "size"])
    assert rows.loc[("optimized", 100000), "status"] == "failed"
    assert rows.loc[("baseline", 100000), "status"] == "skipped"
    assert rows.loc[("baseline", 1000000), "status"] == "skipped"
    assert rows.loc[("optimized", 1000000), "status"] == "ok"
    assert rows[rows["status"] != "ok"]["median"].isna().all()
    assert (rows[rows["status"] == "ok"]["median"] > 0).all()


def test_benchmark_rows_cover_every_parameter_combination(bench) -> None:
    sizes = bench.groupby("benchmark").size()
    assert sizes[PRIMES] == 3 * 5 and sizes[SPAWN] == 2 * 3 * 2 and sizes[SPAWN_LATENCY] == 2 * 2
    spawn = bench[bench["benchmark"] == SPAWN]
    assert set(spawn["workers"].astype(int)) == {2, 4}
    assert bench[bench["benchmark"] == PRIMES]["workers"].isna().all()
    track = bench[bench["kind"] == "track"]
    assert (track["operation"] == "parallel_find_primes").all()
    assert (track["unit"] == "primes").all()
    t = bench[bench["kind"] == "time"]
    assert (t["unit"] == "seconds").all()
    ok = t[t["status"] == "ok"]
    assert (ok["q75"] >= ok["q25"]).all() and (ok["spread"] >= 0).all()


def test_reference_figures_measure_or_extrapolate(figures) -> None:
    # The fixture's baseline primes sleep 2e-7 * n**1.5: not the work of the original's trial
    # division, so its own work function, fitted without the largest size, mispredicts it.
    base_primes = _figure(figures, "parallel_find_primes", "baseline")
    assert not base_primes["extrapolated"] and base_primes["status_at_size"] == "skipped"
    assert base_primes["reason"] == "refused-holdout" and "trial divisions" in base_primes["model"]
    # Its matrix multiply sleeps 5e-4 * n**2: one process per element, W(n) = n**2.
    base_matrix = _figure(figures, "parallel_matrix_multiply", "baseline")
    assert base_matrix["extrapolated"] and "one per element" in base_matrix["model"]
    assert base_matrix["seconds"] == pytest.approx(5e-4 * 100 ** 2, rel=0.3)
    assert base_matrix["holdout_error"] < 0.5
    opt = _figure(figures, "parallel_find_primes", "optimized")
    assert not opt["extrapolated"] and opt["seconds"] == pytest.approx(0.101, rel=0.2)
    missing = _figure(figures, "run_pipeline", "optimized")
    assert math.isnan(missing["seconds"]) and missing["reason"] == "not-benchmarked"


def test_figures_use_the_gate_workload_and_worker_count(bench, figures) -> None:
    spawn = _figure(figures, "process_data_spawn_per_item", "optimized")
    rows = bench[(bench["benchmark"] == SPAWN) & (bench["impl"] == "optimized")
                 & (bench["size"] == 100000)]
    four = rows[rows["workers"] == 4]["median"].iloc[0]
    assert spawn["seconds"] == four and spawn["workload"] == "compute"
    base = _figure(figures, "process_data_spawn_per_item", "baseline")
    # The original's work model (one process per item), but two sizes leave none to hold
    # out, and an unvalidated fit is refused
    assert base["model"].startswith("processes started")
    assert math.isnan(base["seconds"]) and base["reason"] == "refused-no-holdout"
    matrix = _figure(figures, "parallel_matrix_multiply", "baseline")  # three sizes: validated
    assert matrix["extrapolated"] and 0 <= matrix["holdout_error"] < 0.5


def test_no_extrapolation_without_a_growing_trend(workloads) -> None:
    rows = pd.DataFrame({
        "benchmark": "b.S.time_parallel_find_primes", "suite": "S",
        "metric": "parallel_find_primes", "kind": "time", "operation": "parallel_find_primes",
        "impl": "optimized", "size": pd.array([1000, 100000], dtype="Int64"),
        "workers": pd.array([pd.NA, pd.NA], dtype="Int64"),
        "params": "{}", "status": "ok", "median": [2e-3, 1e-3], "spread": 0.0})
    f = reference_figures(rows, workloads)
    opt = f[(f["operation"] == "parallel_find_primes") & (f["impl"] == "optimized")].iloc[0]
    assert math.isnan(opt["seconds"]) and not opt["extrapolated"]
    assert opt["reason"] == "refused-overhead-dominated"
    assert opt["reason_details"]["b"] == pytest.approx(-0.15, abs=0.005)  # log(1/2) / log(100)


def _timed(impl: str, sizes: Sequence[int], medians: Sequence[float],
           status: Sequence[str] | None = None) -> pd.DataFrame:
    """Benchmark rows of one primes timing benchmark (reference size: R5, 10**6)."""
    return pd.DataFrame({
        "benchmark": "b.S.time_parallel_find_primes", "suite": "S",
        "metric": "parallel_find_primes", "kind": "time", "operation": "parallel_find_primes",
        "impl": impl, "size": pd.array(sizes, dtype="Int64"),
        "workers": pd.array([pd.NA] * len(sizes), dtype="Int64"), "params": "{}",
        "status": list(status or ["ok"] * len(sizes)), "median": medians, "spread": 0.0})


def _primes_figure(rows: pd.DataFrame, workloads, impl: str = "optimized") -> pd.Series:
    return _figure(reference_figures(rows, workloads), "parallel_find_primes", impl)


@pytest.mark.parametrize("sizes, medians, status, code, details", [
    # quick mode: two overhead-dominated points (b=0.08), 100x short of the seed size
    ([1000, 10000], [7.0e-4, 7.0e-4 * 10 ** 0.08], None, "refused-flat-far",
     {"lo": 1000, "hi": 10000, "reach": 100}),
    ([1000], [1e-3], None, "refused-one-size", {"size": 1000}),
    ([1000, 100000], [1e-3, 2e-3], ["ok", "skipped"], "refused-one-size", {"size": 1000}),
    ([1000, 3000, 10000], [1e-3, 1e-1, 3e-3], None, "refused-poor-fit", {}),
    # measured at the reference size, and failed there: n/a, never extrapolated
    ([1000, 10000, 1000000], [1e-3, 1e-2, math.nan], ["ok", "ok", "failed"],
     "failed-at-size", {}),
])
def test_untrustworthy_extrapolation_is_refused(workloads, sizes, medians, status, code,
                                               details) -> None:
    f = _primes_figure(_timed("optimized", sizes, medians, status), workloads)
    assert math.isnan(f["seconds"]) and not f["extrapolated"]
    assert f["reason"] == code
    assert {k: f["reason_details"][k] for k in details} == pytest.approx(details)
    assert format_figure(f) == f"n/a ({f['note']})"


def test_trustworthy_extrapolation_is_kept(workloads) -> None:
    # b = 1 over 3 sizes, 100x beyond them: the seed's 10**6 from 10**3..10**4
    far = _primes_figure(_timed("optimized", [1000, 3000, 10000], [1e-3, 3e-3, 1e-2]),
                         workloads)  # (the baseline has its own work model: test_work.py)
    assert far["extrapolated"] and far["seconds"] == pytest.approx(1.0)
    assert far["exponent"] == pytest.approx(1.0)
    # a flat trend is followed only a short way (here 10x: 10**5 -> 10**6)
    near = _primes_figure(_timed("optimized", [1000, 10000, 100000], [5e-4, 1e-3, 2e-3]),
                          workloads)
    assert near["extrapolated"] and near["exponent"] == pytest.approx(math.log10(2))
    assert near["seconds"] == pytest.approx(4e-3) and near["holdout_error"] == pytest.approx(0)


def test_a_fit_that_mispredicts_its_largest_size_is_refused(workloads) -> None:
    # b = 1 up to 3,000, then 10x slower at 10,000: fitted without it, the law says 0.01 s
    bent = _primes_figure(_timed("baseline", [1000, 3000, 10000], [1e-3, 3e-3, 1e-1]),
                          workloads, "baseline")
    assert not bent["extrapolated"] and math.isnan(bent["seconds"])
    assert bent["reason"] == "refused-holdout" and bent["holdout_error"] > 0.5


def test_asv_cross_check_uses_measurements_only(tests_df, figures, workloads) -> None:
    extrap = figures.copy()
    mask = (extrap["operation"] == "parallel_find_primes") & (extrap["impl"] == "optimized")
    extrap.loc[mask, "extrapolated"] = True
    g = gate_verdicts(tests_df, extrap, workloads, ["optimized"]).set_index("gate")
    assert g.loc["R5", "bench_check"] == "extrapolated-at-gate"
    assert math.isnan(g.loc["R5", "bench_seconds"])


def test_measured_speedup_at_the_largest_common_size(bench, workloads) -> None:
    ratio, size = measured_speedup(bench, workloads.operations["parallel_find_primes"], workloads)
    rows = bench[(bench["benchmark"] == PRIMES) & (bench["size"] == 10000)].set_index("impl")
    assert size == 10000
    assert ratio == pytest.approx(rows.loc["baseline", "median"] / rows.loc["optimized", "median"])
    assert measured_speedup(bench, workloads.operations["run_pipeline"], workloads) == (
        pytest.approx(math.nan, nan_ok=True), 0)


def test_measured_speedups_only_where_both_ran(bench) -> None:
    s = speedups(bench)
    primes = s[s["benchmark"] == PRIMES].set_index("size")
    assert primes.loc[10000, "speedup_vs_baseline"] == pytest.approx(
        primes.loc[10000, "baseline"] / primes.loc[10000, "optimized"])
    assert math.isnan(primes.loc[1000000, "speedup_vs_baseline"])  # baseline skipped there
    assert 100000 not in primes.index  # the optimized point failed: no ratio
    assert primes.loc[1000000, "ratio_to_single"] == pytest.approx(
        primes.loc[1000000, "optimized"] / primes.loc[1000000, "single"])


def test_a_worker_count_suite_reads_single_from_the_main_curve(bench, workloads) -> None:
    # The 2-worker suites time no single-process reference of their own (it runs no
    # workers): the speed-up table takes the main curve's, at the same size, and says so.
    main = bench[(bench["benchmark"] == PRIMES) & (bench["status"] == "ok")]
    with_single = sorted(set(main.loc[main["impl"] == "single", "size"].astype(int)))
    assert with_single
    size = with_single[-1]
    two = main[(main["impl"] == "optimized") & (main["size"] == size)].assign(
        benchmark=PRIMES.replace(".FindPrimes.", ".FindPrimesTwoCores."),
        suite="FindPrimesTwoCores", workers=2)
    missing = two.assign(size=size * 7)  # no single at this size anywhere
    both = pd.concat([bench, two, missing], ignore_index=True)
    s = speedups(both, workloads).set_index(["benchmark", "size"])
    row = s.loc[(two["benchmark"].iloc[0], size)]
    single = main[(main["impl"] == "single") & (main["size"] == size)]["median"].iloc[0]
    assert row["single"] == single and row["single_from"] == PRIMES
    assert row["ratio_to_single"] == pytest.approx(row["optimized"] / single)
    assert math.isnan(s.loc[(two["benchmark"].iloc[0], size * 7), "single"])
    assert speedups(both)["single_from"].eq("").all()  # without the instances: nothing borrowed
    assert "(from FindPrimes)" in speedups_table(speedups(both, workloads)).to_string()


# --------------------------------------------------------------------------- verdicts
def test_gate_verdicts_from_both_runs(tests_df, figures, workloads) -> None:
    g = gate_verdicts(tests_df, figures, workloads, ["baseline", "optimized"]).set_index("gate")
    for gid in ("R2", "R2-latency", "R4", "R5"):
        assert (g.loc[gid, "optimized"], g.loc[gid, "baseline"]) == ("pass", "fail"), gid
    for gid in ("R3", "R6", "R7"):
        assert g.loc[gid, "optimized"] == "no test"
    assert len(g.loc["R2", "optimized_tests"]) == 2  # both parametrisations
    assert g.loc["R5", "bench_check"] == "within-limit"
    assert "did not finish" in g.loc["R5", "baseline_message"]
    skip = gate_verdicts(tests_df, figures, workloads, ["optimized"]).set_index("gate")
    assert skip.loc["R5", "baseline"] == "not run"


def test_baseline_defects_are_classified(tests_df) -> None:
    d = baseline_defects(tests_df)
    counts = d["category"].value_counts().to_dict()
    # R2 (x2) and R5 ran out of their time budget: slow, so a time gate missed, not a hang.
    assert counts == {"time gate missed": 5, "lost or unordered results": 2,
                      "anti-pattern present": 1}
    r5 = d[d["gate"] == "R5"].iloc[0]
    assert "did not finish within its 1.5 s budget" in r5["message"]
    assert r5["category"] == "time gate missed"


@pytest.mark.parametrize("message, is_gate, expected", [
    ("R5: primes below 1,000,000 did not finish within its 1.5 s budget", True,
     "time gate missed"),
    ("R4: 100x100 took 3.214 s (limit 0.01 s)", True, "time gate missed"),
    ("Failed: Timeout >120.0s", True, "hang (time budget expired)"),  # pytest-timeout
    ("map did not finish within its 5 s budget (join before drain)", False,
     "hang (time budget expired)"),
    ("12 of 1000 results lost", False, "lost or unordered results"),
])
def test_budget_expiry_is_a_missed_gate_only_for_gate_tests(workloads, message, is_gate,
                                                            expected) -> None:
    case = TestCase("tests/test_x.py::test_thing", "failed", 1.0, message=message,
                    markers=("gate",) if is_gate else ())
    d = baseline_defects(outcomes.tests_frame({"baseline": [case]}, workloads))
    assert d["category"].tolist() == [expected]


def _with_gate_tests(tests_df: pd.DataFrame, outcome: str, gate_ids: Sequence[str],
                     workloads) -> pd.DataFrame:
    """``tests_df`` plus one optimized gate test per id, with ``outcome``."""
    extra = [TestCase(f"tests/test_more.py::test_gate_{g.replace('-', '_')}", outcome, 0.1,
                      markers=("gate",), gate_ids=(g,)) for g in gate_ids]
    return pd.concat([tests_df, outcomes.tests_frame({"optimized": extra}, workloads)],
                     ignore_index=True)


def test_gates_without_a_verdict_make_the_run_incomplete(tests_df, figures, workloads) -> None:
    impls = ["baseline", "optimized"]
    gates = gate_verdicts(tests_df, figures, workloads, impls)
    # The fixture's optimized run has no test for R3, R6, R7: not verified, so not a pass.
    assert exit_status(tests_df, gates, [], impls) == (
        3, ["optimized: gate(s) not verified (no gate test ran): R3, R7, R6"])
    skipped = _with_gate_tests(tests_df, "skipped", ["R3", "R6", "R7"], workloads)
    code, reasons = exit_status(skipped, gate_verdicts(skipped, figures, workloads, impls),
                                  [], impls)
    assert code == 3
    assert reasons == ["optimized: gate(s) not verified (only skipped tests): R3, R7, R6"]


def test_exit_status(tests_df, figures, workloads) -> None:
    impls = ["baseline", "optimized"]
    tests_df = _with_gate_tests(tests_df, "passed", ["R3", "R6", "R7"], workloads)
    gates = gate_verdicts(tests_df, figures, workloads, impls)
    assert exit_status(tests_df, gates, [], impls) == (0, [])
    broken = tests_df.copy()
    mask = (broken["impl"] == "optimized") & (broken["gate_ids"] == "R5")
    broken.loc[mask, "outcome"] = "failed"
    code, reasons = exit_status(broken, gate_verdicts(broken, figures, workloads, impls),
                                  [], impls)
    assert code == 1 and "gate(s) failed: R5" in " ".join(reasons)
    asv_missing = [{"stage": "asv", "impl": None, "message": "no asv result file"}]
    assert exit_status(tests_df, gates, asv_missing, impls) == (3, ["no asv result file"])
    crashed = [{"stage": "pytest", "impl": "optimized", "message": "pytest crashed"}]
    assert exit_status(tests_df, gates, crashed, impls)[0] == 1
    assert exit_status(tests_df, gates, [], ["baseline"])[0] == 1  # optimized not run


def test_summary_table_marks_extrapolated_figures(figures, tests_df, bench, workloads) -> None:
    gates = gate_verdicts(tests_df, figures, workloads, ["baseline", "optimized"])
    s = summary_table(figures, gates, workloads, bench).set_index("operation")
    assert list(s.index) == list(workloads.operations)
    matrix = s.loc["parallel_matrix_multiply"]
    assert matrix["baseline"].startswith(format_seconds(
        _figure(figures, "parallel_matrix_multiply", "baseline")["seconds"]))
    assert "(extrapolated, W = processes started" in matrix["baseline"]
    assert "extrapolated" not in matrix["optimized"]
    assert matrix["speed-up"].endswith("x (extrapolated)")
    primes = s.loc["parallel_find_primes"]
    assert "hold-out error" in primes["baseline"] and primes["speed-up"] == "n/a"
    assert primes["verdict"] == "R5 pass (baseline fail)"
    assert primes["measured speed-up"].endswith("x at n=10,000")
    assert s.loc["run_pipeline", "speed-up"] == "n/a"


# --------------------------------------------------------------------------- report files
@pytest.fixture
def report_dir(tmp_path, workloads) -> Path:
    shutil.copytree(FIXTURES, tmp_path / "raw")
    data = build_report(tmp_path / "raw", workloads)
    write_report(data, workloads, tmp_path)
    return tmp_path


def test_report_files_from_fixture(report_dir, bench, workloads) -> None:
    for name in REPORT_FILES:
        assert (report_dir / name).stat().st_size > 0, name
    pngs = sorted(p.name for p in report_dir.glob("*.png"))
    assert pngs == ["speedup_at_seed_sizes.png", "time_vs_size_parallel_find_primes.png",
                    "time_vs_size_parallel_matrix_multiply.png",
                    "time_vs_size_process_data_spawn_per_item.png"]
    for p in report_dir.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    csv = pd.read_csv(report_dir / "results.csv")
    assert len(csv) == len(bench) and set(csv["status"]) == {"ok", "skipped", "failed"}


def test_report_json_content(report_dir, workloads) -> None:
    rep = _strict_json((report_dir / "report.json").read_text())
    assert rep["exit"] == {"code": 3, "reasons": [
        "optimized: gate(s) not verified (no gate test ran): R3, R7, R6"]}
    assert {"python", "numpy", "cpu", "start_method", "git"} <= set(rep["environment"])
    assert len(rep["summary"]) == len(workloads.operations)
    assert {g["gate"] for g in rep["gates"]} == {g.id for g in workloads.gates}
    assert rep["tests"]["baseline"]["summary"]["failed"] == 8
    assert len(rep["tests"]["optimized"]["cases"]) == 11
    rows = [b for b in rep["benchmarks"] if b["benchmark"] == PRIMES]
    failed = [b for b in rows if b["status"] == "failed"]
    skipped = [b for b in rows if b["status"] == "skipped"]
    assert len(failed) == 1 and len(skipped) == 2
    assert all(b["median"] is None for b in failed + skipped)
    sp = {s["operation"]: s for s in rep["speedups_at_seed_sizes"]}
    matrix = sp["parallel_matrix_multiply"]
    assert matrix["extrapolated"] is True
    assert matrix["speedup"] == pytest.approx(matrix["baseline_seconds"]
                                              / matrix["optimized_seconds"])
    assert rep["baseline_at_seed_size"]["parallel_matrix_multiply"]["model"].startswith(
        "t = c0 + c1 * W(n), W = processes started")
    assert sp["run_pipeline"]["speedup"] is None


def test_markdown_opens_with_the_summary_table(report_dir) -> None:
    md = (report_dir / "report.md").read_text()
    lines = md.splitlines()
    assert lines[0].startswith("# Evaluation report")
    assert lines[2] == "## Summary"
    first_table = next(ln for ln in lines if ln.startswith("|"))
    assert [c.strip() for c in first_table.strip("|").split("|")] == [
        "operation", "seed target", "size", "baseline", "optimized", "speed-up",
        "measured speed-up", "verdict"]
    assert "**Verdict: INCOMPLETE** (optimized: gate(s) not verified" in md
    assert "5 x time gate missed" in md and "hang" not in md
    html = (report_dir / "report.html").read_text()
    assert html.count("<table") >= 6 and "speedup_at_seed_sizes.png" in html


def test_cli_rebuilds_from_saved_results(tmp_path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "src" / "raw")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "evaluation", "--from-results",
                           str(tmp_path / "src"), "--output", str(out), "--no-progress"],
                          cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert proc.returncode == 3, proc.stderr  # R3, R6, R7 have no test in the fixture
    assert "gate(s) not verified (no gate test ran): R3, R7, R6" in proc.stderr
    assert all((out / f).exists() for f in REPORT_FILES) and (out / "raw" / "run.json").exists()
    assert str(out) in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "evaluation", "--from-results", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "raw" in bad.stderr


def _fixture_copy(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    shutil.copytree(FIXTURES, raw)
    return raw


def test_report_without_asv_results_is_written_and_incomplete(tmp_path, capsys) -> None:
    from evaluation.__main__ import main

    shutil.rmtree(_fixture_copy(tmp_path) / "asv")
    assert main(["--from-results", str(tmp_path), "--no-progress"]) == 3
    assert "no benchmark results" in capsys.readouterr().err
    for name in REPORT_FILES:
        assert (tmp_path / name).stat().st_size > 0, name
    assert not list(tmp_path.glob("*.png"))  # nothing to draw: no chart, no crash
    rep = _strict_json((tmp_path / "report.json").read_text())
    assert rep["exit"]["code"] == 3 and rep["benchmarks"] == []
    assert all(s["speedup"] is None for s in rep["speedups_at_seed_sizes"])


def test_speedup_chart_skipped_when_one_side_has_no_figure(tmp_path, figures) -> None:
    from evaluation.report.plots import plot_speedups

    no_baseline = figures.copy()
    no_baseline.loc[no_baseline["impl"] == "baseline", "seconds"] = math.nan
    assert plot_speedups(no_baseline, tmp_path) is None
    assert plot_speedups(figures[figures["impl"] == "optimized"], tmp_path) is None
    assert not list(tmp_path.iterdir())
    assert plot_speedups(figures, tmp_path) == tmp_path / "speedup_at_seed_sizes.png"


@pytest.mark.parametrize("impl, code", [("baseline", 3), ("optimized", 1)])
def test_corrupt_junit_file_is_a_recorded_problem(tmp_path, workloads, impl, code) -> None:
    raw = _fixture_copy(tmp_path)
    (raw / f"junit-{impl}.xml").write_text("<testsuites><testsuite")  # truncated
    data = build_report(raw, workloads)
    assert data.exit_code == code
    assert any(f"junit-{impl}.xml unreadable" in r for r in data.exit_reasons)
    assert data.tests[data.tests["impl"] == impl].empty
    write_report(data, workloads, tmp_path)
    assert all((tmp_path / f).exists() for f in REPORT_FILES)


def test_quick_mode_note_does_not_claim_extrapolated_figures(tmp_path, workloads) -> None:
    raw = _fixture_copy(tmp_path)
    run = json.loads((raw / "run.json").read_text())
    (raw / "run.json").write_text(json.dumps({**run, "mode": "quick"}))
    quick = [n for n in build_report(raw, workloads).notes if n.startswith("Quick mode")]
    assert len(quick) == 1
    assert "mostly extrapolated" not in quick[0] and "n/a" in quick[0]


TINY_BENCH = """
import time

class Tiny:
    params = [["baseline", "optimized"], [10, 1000]]
    param_names = ["impl", "size"]
    number, repeat, rounds, warmup_time, min_run_count = 1, (1, 2, 1.0), 1, 0, 1

    def setup(self, impl, size):
        if impl == "baseline" and size > 100:
            raise NotImplementedError("too slow")

    def time_parallel_find_primes(self, impl, size):
        time.sleep(1e-5 * size if impl == "baseline" else 1e-4)
"""


def _tiny_project(tmp_path: Path, bench: str) -> tuple[Path, str]:
    """A git repository with an asv config and one benchmark module; (root, commit)."""
    repo = tmp_path / "repo"
    (repo / "benchmarks").mkdir(parents=True)
    (repo / "benchmarks" / "__init__.py").write_text("")
    (repo / "benchmarks" / "bench_tiny.py").write_text(bench)
    (repo / "asv.conf.json").write_text(json.dumps({
        "version": 1, "project": "tiny", "repo": ".", "branches": ["HEAD"],
        "environment_type": "virtualenv", "benchmark_dir": "benchmarks",
        "env_dir": ".asv/env", "results_dir": ".asv/results", "html_dir": ".asv/html"}))
    git = ["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t"]
    for cmd in (["git", "init", "-q"], git + ["add", "-A"], git + ["commit", "-qm", "t"]):
        subprocess.run(cmd, cwd=repo, check=True, capture_output=True, timeout=30)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True,
                            capture_output=True, text=True).stdout.strip()
    return repo, commit


@pytest.mark.slow
@pytest.mark.parametrize("quick", [False, True])
def test_asv_stage_runs_and_collects_on_a_tiny_project(tmp_path, monkeypatch, workloads,
                                                        quick) -> None:
    from evaluation.running.asv import run_asv
    from evaluation.running.asv_files import collect_results

    repo, commit = _tiny_project(tmp_path, TINY_BENCH)
    monkeypatch.setenv("HOME", str(tmp_path))  # asv machine --yes writes ~/.asv-machine.json
    seen: list[float] = []
    run = run_asv(repo, commit, tmp_path / "raw", quick=quick, wall_timeout_s=100,
                  on_progress=seen.append)
    assert not run.problem and run.exit_code == 0, run.log_path.read_text()[-3000:]
    # quick mode keeps its figures out of the project's asv history
    expected_dir = tmp_path / "raw" / "asv-results" if quick else repo / ".asv" / "results"
    assert run.results_dir.resolve() == expected_dir.resolve()
    assert seen and max(seen) == pytest.approx(100.0)
    collect_results(run.results_dir, commit, tmp_path / "raw" / "asv")
    rows = load_results(tmp_path / "raw" / "asv", workloads.operations).set_index(["impl", "size"])
    assert rows.loc[("baseline", 1000), "status"] == "skipped"
    assert rows.loc[("baseline", 10), "status"] == "ok"
    assert rows.loc[("optimized", 1000), "median"] > 0
    assert (rows["operation"] == "parallel_find_primes").all()


def test_collect_results_ignores_files_left_by_an_earlier_run(tmp_path) -> None:
    from evaluation.running.asv_files import collect_results, result_files

    commit = "9779eab7" + "0" * 32
    results = tmp_path / "results"
    (results / "vm").mkdir(parents=True)
    old = results / "vm" / f"{commit[:8]}-existing-py.json"
    old.write_text("{}")
    before = result_files(results, commit)
    assert before == {f"vm/{old.name}": old.stat().st_mtime_ns}
    with pytest.raises(FileNotFoundError, match="written by this run.*earlier run: vm/"):
        collect_results(results, commit, tmp_path / "asv", previous=before)
    assert not (tmp_path / "asv").exists()
    stamp = old.stat().st_mtime_ns + 10 ** 9  # asv rewrote it: this run's
    os.utime(old, ns=(stamp, stamp))
    copied = collect_results(results, commit, tmp_path / "asv", previous=before)
    assert copied == tmp_path / "asv" / "vm" / old.name


BROKEN_POINT_BENCH = """
import time

class Tiny:
    params = [["optimized"], [10, 1000]]
    param_names = ["impl", "size"]
    number, repeat, rounds, warmup_time, min_run_count = 1, (1, 2, 1.0), 1, 0, 1

    def time_parallel_find_primes(self, impl, size):
        if size > 100:
            raise RuntimeError("this point fails")
        time.sleep(1e-4)
"""


@pytest.mark.slow
def test_failed_asv_run_is_a_problem_and_old_results_are_not_reused(tmp_path, monkeypatch,
                                                                     workloads) -> None:
    from evaluation.running.asv import ASV_RUN_OK_CODES, run_asv
    from evaluation.running.asv_files import collect_results

    repo, commit = _tiny_project(tmp_path, BROKEN_POINT_BENCH)
    monkeypatch.setenv("HOME", str(tmp_path))
    first = run_asv(repo, commit, tmp_path / "raw1", quick=True, wall_timeout_s=100)
    # asv 0.6 exits 2 when a benchmark failed: a result (null), not a harness problem.
    assert first.exit_code == 2 and 2 in ASV_RUN_OK_CODES and not first.problem, \
        first.log_path.read_text()[-3000:]
    collect_results(first.results_dir, commit, tmp_path / "raw1" / "asv", first.previous)
    rows = load_results(tmp_path / "raw1" / "asv", workloads.operations).set_index("size")
    assert rows.loc[1000, "status"] == "failed" and rows.loc[10, "status"] == "ok"
    # Same results directory, and now the suite does not even import: asv exits 1.
    (repo / "benchmarks" / "bench_tiny.py").write_text("raise ImportError('broken suite')\n")
    second = run_asv(repo, commit, tmp_path / "raw1", quick=True, wall_timeout_s=100)
    assert second.exit_code == 1 and "asv run failed with exit code 1" in second.problem
    assert second.previous  # the first run's file was there before
    with pytest.raises(FileNotFoundError, match="written by this run"):
        collect_results(second.results_dir, commit, tmp_path / "raw2" / "asv", second.previous)


# --------------------------------------------------------------------------- benchmark targets
def _sel(benchmark: str, **params: object) -> dict:
    return {"benchmark": benchmark, "params": params}


def _target(tid: str, measure: dict, comparison: str, limit: float, **extra: object) -> dict:
    return {"id": tid, "text": f"fixture target {tid}", "measure": measure,
            "comparison": comparison, "limit": limit, **extra}


def _ratio(num: dict, den: dict) -> dict:
    return {"kind": "ratio", "numerator": num, "denominator": den}


TRACK = "bench_fixture.FindPrimes.track_primes_found"
FIXTURE_TARGETS = [
    _target("met", _ratio(_sel(PRIMES, impl="optimized", size=1000000),
                          _sel(PRIMES, impl="single", size=1000000)), "<=", 1.5),
    _target("not-met", _ratio(_sel(PRIMES, impl="optimized", size=500),
                              _sel(PRIMES, impl="single", size=500)), "<=", 1.5),
    _target("known-limit", _ratio(_sel(PRIMES, impl="optimized", size=500),
                                  _sel(PRIMES, impl="single", size=500)), "<=", 1.5,
            known_limit="a fixed 1 ms per call"),
    _target("known-but-met", _ratio(_sel(PRIMES, impl="optimized", size=1000000),
                                    _sel(PRIMES, impl="single", size=1000000)), "<=", 1.5,
            known_limit="never shown: the target is met"),
    _target("better-of", _ratio(_sel(PRIMES, impl="optimized", size=2000),
                                {"min_of": [_sel(PRIMES, impl="baseline", size=2000),
                                            _sel(PRIMES, impl="single", size=2000)]}), ">", 1.0),
    _target("failed", _ratio(_sel(PRIMES, impl="optimized", size=100000),
                             _sel(PRIMES, impl="single", size=100000)), "<=", 1.5),
    _target("skipped", _ratio(_sel(PRIMES, impl="single", size=1000000),
                              _sel(PRIMES, impl="baseline", size=1000000)), "<", 1.0),
    _target("size-not-run", _ratio(_sel(PRIMES, impl="optimized", size=10 ** 8),
                                   _sel(PRIMES, impl="single", size=10 ** 8)), "<", 1.0),
    _target("no-benchmark", _ratio(_sel("bench_x.Gone.time_gone", impl="pool"),
                                   _sel("bench_x.Gone.time_gone", impl="single")), "<", 1.0),
    _target("track", {"kind": "track", "value": _sel(TRACK, impl="optimized", size=2000)},
            ">=", 150, full_run_only="quick mode counts fewer primes"),
]


@pytest.fixture(scope="module")
def fixture_targets(workloads) -> Workloads:
    raw = json.loads(workloads.path.read_text())
    raw["benchmark_targets"] = FIXTURE_TARGETS
    return parse_workloads(raw, workloads.path)


def _median(bench: pd.DataFrame, name: str, impl: str, size: int) -> float:
    r = bench[(bench["benchmark"] == name) & (bench["impl"] == impl) & (bench["size"] == size)]
    assert len(r) == 1 and r.iloc[0]["status"] == "ok"
    return float(r.iloc[0]["median"])


def test_benchmark_targets_met_not_met_and_not_measured(bench, fixture_targets) -> None:
    t = target_verdicts(bench, fixture_targets, "full").set_index("target")
    assert list(t.index) == [x["id"] for x in FIXTURE_TARGETS]
    # The figure is the ratio of the two asv medians of the fixture run.
    for tid, size in (("met", 1000000), ("not-met", 500)):
        want = _median(bench, PRIMES, "optimized", size) / _median(bench, PRIMES, "single", size)
        assert t.loc[tid, "measured"] == pytest.approx(want)
    # Fixture shapes: optimized 1 ms + 1e-7 n, single 2e-7 n -> about 0.5 at 10**6, > 5 at 500.
    assert t.loc["met", "measured"] < 1.0 and t.loc["met", "verdict"] == "met"
    assert t.loc["not-met", "measured"] > 1.5 and t.loc["not-met", "verdict"] == "NOT met"
    # "The better of": the smaller denominator (single, 0.4 ms, not the baseline's 18 ms).
    opt, single = (_median(bench, PRIMES, i, 2000) for i in ("optimized", "single"))
    assert _median(bench, PRIMES, "baseline", 2000) > single
    assert t.loc["better-of", "measured"] == pytest.approx(opt / single)
    assert "[impl=single, size=2000]" in t.loc["better-of", "figure"]
    assert t.loc["better-of", "verdict"] == "met"
    assert t.loc["track", "measured"] == 200.0 and t.loc["track", "verdict"] == "met"
    reasons = {"failed": "point-failed", "skipped": "point-skipped",
               "size-not-run": "point-not-run", "no-benchmark": "benchmark-missing"}
    for tid, code in reasons.items():
        row = t.loc[tid]
        assert row["verdict"] == "not measured" and math.isnan(row["measured"]), tid
        assert row["reason"] == code and row["figure"] == "n/a", (tid, row["reason"])
    # the sizes it did run are named (in the details, rendered into the note)
    assert "this run: 500, 2,000, 10,000" in t.loc["size-not-run", "reason_details"]["missing"]
    assert (t.loc[["met", "not-met", "better-of", "track", "known-but-met"], "reason"]
            == "").all()
    # A NOT met with a known limit says why; the figure and verdict are unchanged.
    assert t.loc["known-limit", "verdict"] == "NOT met"
    assert t.loc["known-limit", "measured"] == t.loc["not-met", "measured"]
    assert t.loc["known-limit", "reason"] == "known-limit"
    assert t.loc["known-limit", "reason_details"] == {"limit": "a fixed 1 ms per call"}


def test_quick_mode_shows_figures_but_judges_no_target(bench, fixture_targets) -> None:
    t = target_verdicts(bench, fixture_targets, "quick").set_index("target")
    assert t.loc["track", "verdict"] == "not measured" and t.loc["track", "reason"] == "quick-mode"
    # the target's own full_run_only text is the why
    assert "quick mode counts fewer primes" in t.loc["track", "reason_details"]["why"]
    assert t.loc["track", "figure"] == "200"  # shown, at quick mode's setting
    full = target_verdicts(bench, fixture_targets, "full").set_index("target")
    assert full.loc["met", "verdict"] == "met"
    # the same figure in quick mode: shown, not judged (one asv sample per benchmark)
    assert t.loc["met", "verdict"] == "not measured" and t.loc["met", "reason"] == "quick-mode"
    assert t.loc["met", "figure"] == full.loc["met", "figure"]
    assert t.loc["size-not-run", "reason"] == "point-not-run"
    assert t.loc["size-not-run", "reason_details"]["quick"]  # said to be quick mode's


def test_target_verdicts_do_not_change_the_exit_code(tmp_path, fixture_targets) -> None:
    data = build_report(_fixture_copy(tmp_path), fixture_targets)
    assert data.exit_code == 3  # as without targets: R3, R6, R7 have no test in the fixture
    assert not any("target" in r for r in data.exit_reasons)
    assert "NOT met" in set(data.targets["verdict"])
    write_report(data, fixture_targets, tmp_path)
    md = (tmp_path / "report.md").read_text()
    section = md.split("## Benchmark targets", 1)[1].split("\n## ", 1)[0]
    assert "do not affect the exit code" in section
    for x in FIXTURE_TARGETS:
        assert re.search(rf"\|\s*{re.escape(x['id'])}\s*\|", section), x["id"]
    assert "issue" not in section.lower()  # a report's reader has no issue tracker
    assert "<h2>Benchmark targets</h2>" in (tmp_path / "report.html").read_text()
    rep = _strict_json((tmp_path / "report.json").read_text())
    by_id = {r["target"]: r for r in rep["benchmark_targets"]}
    assert by_id["not-met"]["verdict"] == "NOT met" and by_id["failed"]["measured"] is None


def test_real_targets_name_real_benchmark_points(workloads) -> None:
    """Every selector of instances/workloads.json names one point of a benchmark in benchmarks/."""
    import importlib
    if os.environ.get("PPD_BENCH_QUICK", "").strip() not in ("", "0"):
        pytest.skip("the full-run sizes are checked; PPD_BENCH_QUICK is set")
    assert workloads.benchmark_targets
    for t in workloads.benchmark_targets:
        for sel in (t.numerator, *t.denominator):
            module, suite, method = sel.benchmark.split(".")
            cls = getattr(importlib.import_module(f"benchmarks.{module}"), suite)
            assert callable(getattr(cls, method, None)), (t.id, sel.benchmark)
            names = list(getattr(cls, "param_names", []))
            assert sorted(names) == sorted(sel.params), (t.id, sel.benchmark, names)
            for name, values in zip(names, getattr(cls, "params", []), strict=True):
                assert sel.params[name] in values, (t.id, name, sel.params[name], values)


def test_every_latency_row_the_baseline_runs_has_a_faster_than_baseline_target(workloads) -> None:
    """Target: "faster than the baseline on every latency-workload row of the report at
    every size the baseline runs" - one ``optimized / baseline < 1`` target per such point."""
    if os.environ.get("PPD_BENCH_QUICK", "").strip() not in ("", "0"):
        pytest.skip("the full-run sizes are checked; PPD_BENCH_QUICK is set")
    from benchmarks import bench_map
    from benchmarks.common import workload_sizes

    wanted = set()
    for suite in ("ProcessDataSpawnPerItemLatency", "ProcessWithFileBasedIpcLatency"):
        op = getattr(bench_map, suite).operation
        wanted |= {(f"bench_map.{suite}.time_{op}", n) for n in workload_sizes(op, "latency")
                   if workloads.operations[op].baseline_runs(n)}
    have = {(t.numerator.benchmark, t.numerator.params["size"]) for t in workloads.benchmark_targets
            if t.kind == "ratio" and t.numerator.params.get("impl") == "optimized"
            and [d.params.get("impl") for d in t.denominator] == ["baseline"]
            and t.comparison == "<" and t.limit == 1.0}
    assert len(wanted) >= 4 and wanted <= have, sorted(wanted - have)


def test_real_targets_on_fixture_results_are_not_measured(report_dir, workloads) -> None:
    rep = _strict_json((report_dir / "report.json").read_text())
    got = {r["target"]: r for r in rep["benchmark_targets"]}
    assert set(got) == {t.id for t in workloads.benchmark_targets}
    assert all(r["verdict"] == "not measured" and r["reason"] for r in got.values())


# --------------------------------------------------------------------------- --skip-baseline
def test_skip_baseline_selection_leaves_out_every_baseline_point() -> None:
    from types import SimpleNamespace

    from asv.benchmarks import Benchmarks

    meta = json.loads((FIXTURES / "asv" / "benchmarks.json").read_text())
    listed = [b for b in meta.values() if isinstance(b, dict)]
    assert bench_selection(False) is None and bench_selection(True) == QUICK_SELECTION
    for quick in (False, True):
        regex = bench_selection(quick, ["baseline"])
        chosen = Benchmarks(SimpleNamespace(benchmark_dir="benchmarks"), listed, regex=regex)
        for b in listed:
            combos = list(itertools.product(*b["params"]))
            idx = chosen.benchmark_selection.get(b["name"]) if b["name"] in chosen else []
            want = [i for i, c in enumerate(combos) if "'baseline'" not in c
                    and not (quick and ".peakmem_" in b["name"])]
            assert idx == want, (quick, b["name"], idx, want)


def test_excluded_implementation_is_not_run_in_the_report(tmp_path, workloads) -> None:
    raw = _fixture_copy(tmp_path)
    run = json.loads((raw / "run.json").read_text())
    run["impls_run"] = ["optimized"]
    run["stages"] = {"asv": {"excluded_impls": ["baseline"]}}
    (raw / "run.json").write_text(json.dumps(run))
    data = build_report(raw, workloads)
    base = data.bench[data.bench["impl"] == "baseline"]
    assert not base.empty and (base["status"] == "not run").all() and base["median"].isna().all()
    assert (data.bench[data.bench["impl"] != "baseline"]["status"] != "not run").all()
    assert data.figures[data.figures["impl"] == "baseline"]["seconds"].isna().all()
    assert any("--skip-baseline" in n for n in data.notes)
    assert data.speedups["speedup_vs_baseline"].isna().all()


# --------------------------------------------------------------------------- patch
def test_committed_patch_is_up_to_date() -> None:
    assert not is_stale(ROOT), (f"{PATCH_PATH} is stale (baseline/ or optimized/ changed): "
                                "run `make patch` (python -m evaluation.patch) and commit it")


@pytest.mark.skipif(shutil.which("patch") is None, reason="patch(1) not installed")
def test_patch_turns_baseline_into_optimized(tmp_path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "baseline", tree, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "p.patch").write_text(render_patch(ROOT))
    with open(tmp_path / "p.patch", "rb") as fh:
        subprocess.run(["patch", "-p1", "-s", "--no-backup-if-mismatch"], cwd=tree, stdin=fh,
                       check=True, timeout=60)
    want = {p.relative_to(ROOT / "optimized"): p.read_bytes()
            for p in (ROOT / "optimized").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    got = {p.relative_to(tree): p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    assert got == want


# --------------------------------------------------------------------------- end to end
@pytest.mark.evaluation_e2e
@pytest.mark.slow
@pytest.mark.timeout(600)  # includes the shared asv run when this test runs first
def test_quick_evaluation_end_to_end(tmp_path, monkeypatch, workloads, request) -> None:
    if os.environ.get(INNER_ENV):
        pytest.skip("inside the evaluation's own test run (no recursion)")
    if not (ROOT / "asv.conf.json").exists() or not list((ROOT / "benchmarks").glob("bench_*.py")):
        pytest.skip("the asv suites (asv.conf.json, benchmarks/) are not in place yet")
    # The asv stage reuses the session's quick run of the whole suite (tests/asv_session.py;
    # run_asv itself is tested on a tiny project above): one asv run per test session.
    suite = request.getfixturevalue("asv_quick_suite")
    assert suite.run.code in (0, 2), suite.run.out[-3000:]
    out = tmp_path / "report"
    monkeypatch.setenv("HOME", str(tmp_path))
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "evaluation", "--quick", "--output", str(out),
                           "--no-progress", "--reuse-asv", str(suite.results_dir)], cwd=ROOT,
                          capture_output=True, text=True, timeout=350)
    elapsed = time.monotonic() - t0
    files = {p.name for p in out.iterdir()}
    assert set(REPORT_FILES) <= files, (files, proc.stderr[-3000:])
    missing = {f"time_vs_size_{op}.png" for op in workloads.operations} - files
    assert not missing, (missing, proc.stderr[-3000:])
    assert (out / "raw" / "run.json").exists()
    rep = _strict_json((out / "report.json").read_text())
    assert rep["exit"]["code"] == proc.returncode, proc.stderr[-3000:]
    assert rep["run"]["mode"] == "quick"
    assert rep["run"]["stages"]["asv"]["reused"] is True
    assert not [p for p in rep["run"]["problems"] if p["stage"] == "asv"], rep["run"]["problems"]
    # Quick sizes say nothing about the seed's: the optimized side is never extrapolated, and
    # two baseline sizes leave no hold-out, so a speed-up (and its chart) exists only where
    # both were measured at the seed's size.
    opt = [f for f in rep["reference_figures"] if f["impl"] == "optimized"]
    assert opt and not any(f["extrapolated"] for f in opt)
    drawable = [r for r in rep["speedups_at_seed_sizes"] if r["speedup"] is not None]
    assert ("speedup_at_seed_sizes.png" in files) == bool(drawable), (drawable, files)
    assert rep["tests"]["optimized"]["cases"] and rep["tests"]["baseline"]["cases"]
    assert any(b["status"] == "ok" and b["impl"] == "optimized" for b in rep["benchmarks"])
    assert (out / "raw" / "junit-optimized.xml").exists()
    assert list((out / "raw" / "asv").glob("*/*.json"))
    assert elapsed < 240, f"quick evaluation took {elapsed:.0f} s (target < 240 s, asv reused)"


@pytest.mark.evaluation_e2e
@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_evaluation_leaves_no_process(tmp_path, sig) -> None:
    """Ctrl-C or SIGTERM while a stage runs: exit 130, and every stage's group is killed."""
    if os.environ.get(INNER_ENV):
        pytest.skip("inside the evaluation's own test run (no recursion)")
    proc = subprocess.Popen([sys.executable, "-m", "evaluation", "--quick", "--no-progress",
                             "--skip-baseline", "--output", str(tmp_path / "r")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    me = psutil.Process(proc.pid)
    seen: list[psutil.Process] = []
    end = time.monotonic() + 60
    while not seen and time.monotonic() < end:  # the inner pytest and its workers
        seen = [c for c in me.children(recursive=True) if "pytest" in " ".join(c.cmdline())]
        time.sleep(0.1)
    assert seen, "the inner pytest run never started"
    time.sleep(1.0)  # let it start workers of its own
    stage = me.children(recursive=True)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    assert "interrupted" in err
    psutil.wait_procs(stage, timeout=10)
    alive = [c.pid for c in stage if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"left running after the interrupt: {alive}"


# --------------------------------------------------------------------------- asv progress
ASV_OUTPUT = """\
· Discovering benchmarks
· Running 3 total benchmarks (1 commits * 1 environments * 3 benchmarks)
[ 0.00%] ·· Benchmarking existing-py_work_main_.venv_bin_python
[16.67%] ··· Running (bench_map.Spawn.time_process_data_spawn_per_item--)..
[20.00%] ··· Running (bench_cluster.ClusterRoundTrip.track_trivial_call_ms--).
[33.33%] ··· ....Spawn.time_process_data_spawn_per_item                 ok
[33.33%] ··· ====== ==========
[33.33%] ···   impl    size
[66.67%] ··· bench_map.Spawn.peakmem_process_data_spawn_per_item             failed
[100.00%] ··· ...uster.ClusterRoundTrip.track_trivial_call_ms             19.5
"""


def test_asv_progress_counts_finished_benchmarks_of_the_total() -> None:
    from evaluation.running.asv import AsvProgress

    progress = AsvProgress()
    seen = [r for line in ASV_OUTPUT.splitlines() if (r := progress.feed(line))]
    # shortened names are resolved from the "Running (...)" lines
    assert seen == [(1, 3, "bench_map.Spawn.time_process_data_spawn_per_item"),
                    (2, 3, "bench_map.Spawn.peakmem_process_data_spawn_per_item"),
                    (3, 3, "bench_cluster.ClusterRoundTrip.track_trivial_call_ms")]


def test_progress_prints_a_line_per_finished_suite_when_not_a_terminal(capsys) -> None:
    from evaluation.running.asv import AsvProgress
    from evaluation.running.stages import Progress as _Progress

    bar = _Progress(1, enabled=True)  # stderr is captured: not a terminal
    progress = AsvProgress()
    for line in ASV_OUTPUT.splitlines():
        if finished := progress.feed(line):
            bar.benchmark(*finished)
    bar.close()
    lines = [ln for ln in capsys.readouterr().err.splitlines() if "asv:" in ln]
    assert [ln.split("asv: ")[1] for ln in lines] == [
        "Spawn done (2/3 benchmarks)", "ClusterRoundTrip done (3/3 benchmarks)"]
    assert bar.count == "3/3 benchmarks"


def test_asv_progress_resolves_shortened_names_from_asvs_listing(tmp_path) -> None:
    from evaluation.running.asv import AsvProgress

    listing = tmp_path / "benchmarks.json"
    listing.write_text(json.dumps({
        "bench_matrix.ParallelMatrixMultiply.time_parallel_matrix_multiply": {},
        "bench_cluster.ClusterMatrixMultiply.time_parallel_matrix_multiply": {},
        "version": 2}))
    progress = AsvProgress(listing)
    line = "[52.33%] ··· ...MatrixMultiply.time_parallel_matrix_multiply                 ok"
    # asv runs (and reports) in name order: the first unreported full name that fits
    assert progress.feed(line)[2].startswith("bench_cluster.ClusterMatrixMultiply")
    assert progress.feed(line)[2].startswith("bench_matrix.ParallelMatrixMultiply")


# --------------------------------------------------------------------------- profile
def test_profile_harness_says_where_a_reports_time_went(tmp_path, capsys) -> None:
    from evaluation.profile import asv_points, main, stage_table, suite_table
    raw = FIXTURES
    points, durations = asv_points(raw / "asv")
    suites = suite_table(points, durations).set_index("suite")
    # every suite's wall time is asv's own duration, at least the time inside its samples
    assert (suites["wall_s"] >= suites["timed_s"]).all()
    assert suites["points"].sum() == len(points)
    timed = points[(points["status"] == "ok") & points["benchmark"].str.contains(".time_")]
    assert len(timed) and (timed["timed_s"] > 0).all()
    stages = stage_table({"stages": {"pytest_optimized": {"seconds": 30},
                                     "asv": {"seconds": 90}}})
    assert list(stages["share"]) == ["25%", "75%"]
    assert main([str(raw.parent)]) == 0
    out = capsys.readouterr().out
    assert "asv per suite" in out and "costliest points" in out
    assert main([str(tmp_path / "nowhere")]) == 2
