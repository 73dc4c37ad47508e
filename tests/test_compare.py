"""Regression tracking between commits: ``python -m evaluation --compare REF``."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation.figures.compare import compare_results

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "evaluation" / "raw"
RESULT = next((FIXTURES / "asv" / "fixture-machine").glob("*-existing-*.json"))
BENCH = "bench_fixture.MatrixMultiply.time_parallel_matrix_multiply"
# Point indices of BENCH's params [impl] x [size]: optimized at sizes 2, 4, 8, 100.
SLOWER, FASTER, NOISY = 7, 4, 5


def _commit(n: int) -> str:
    return subprocess.run(["git", "rev-parse", f"HEAD~{n}"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()


def _write(dest: Path, commit: str, edits: dict[int, tuple[float, float, float]]) -> Path:
    """The fixture's result file for ``commit``, BENCH's points set to (value, ci_lo, ci_hi)."""
    d = json.loads(RESULT.read_text())
    d["commit_hash"] = commit
    cols = d["result_columns"]
    row = d["results"][BENCH]
    for i, (value, lo, hi) in edits.items():
        row[cols.index("result")][i] = value
        row[cols.index("stats_ci_99_a")][i] = lo
        row[cols.index("stats_ci_99_b")][i] = hi
    path = dest / "fixture-machine" / f"{commit[:8]}-existing-py.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(d))
    shutil.copy2(RESULT.parent / "machine.json", path.parent / "machine.json")
    return path


BEFORE = {SLOWER: (1.0e-3, 0.99e-3, 1.01e-3), FASTER: (1.0e-3, 0.99e-3, 1.01e-3),
          NOISY: (1.0e-3, 0.5e-3, 2.0e-3)}
AFTER = {SLOWER: (2.0e-3, 1.98e-3, 2.02e-3),   # 2x slower, tight: a regression
         FASTER: (0.5e-3, 0.49e-3, 0.51e-3),   # 2x faster, tight: an improvement
         NOISY: (1.3e-3, 0.6e-3, 2.6e-3)}      # 1.3x slower but within the noise


def test_classification_follows_asv_compare(tmp_path: Path) -> None:
    ref = _write(tmp_path / "ref", "a" * 40, BEFORE)
    head = _write(tmp_path / "head", "b" * 40, AFTER)
    c = compare_results(ref, head, factor=1.1)
    rows = c.changes[c.changes["benchmark"] == BENCH].set_index("params")["change"]
    assert rows["'optimized', 100"] == "regression"
    assert rows["'optimized', 2"] == "improvement"
    assert rows["'optimized', 4"] == "insignificant"
    assert c.changes.iloc[0]["change"] == "regression"  # regressions listed first
    assert list(c.regressions["params"]) == ["'optimized', 100"]
    track = c.changes[c.changes["kind"] == "track"]
    assert not (track["change"] == "regression").any()  # no direction: never a regression
    same = compare_results(ref, ref)
    assert set(same.changes["change"]) <= {"no change", "not comparable"}


def test_a_changed_benchmark_is_listed_but_never_a_regression(tmp_path: Path) -> None:
    ref = _write(tmp_path / "ref", "a" * 40, BEFORE)
    head = _write(tmp_path / "head", "b" * 40, AFTER)
    d = json.loads(head.read_text())
    row = d["results"][BENCH]
    row[d["result_columns"].index("version")] = "0" * 64  # its source or setup changed
    head.write_text(json.dumps(d))
    c = compare_results(ref, head, factor=1.1)
    rows = c.changes[c.changes["benchmark"] == BENCH].set_index("params")
    assert set(rows["change"]) - {"not comparable"} == {"benchmark changed"}, rows
    assert rows.loc["'optimized', 100", "ratio"] == pytest.approx(2.0)  # still stated
    assert c.regressions.empty


@pytest.mark.timeout(120)
@pytest.mark.parametrize("after, code", [(AFTER, 1), (BEFORE, 0)])
def test_compare_flags_a_slowed_commit_with_exit_1(tmp_path: Path, after: dict, code: int) -> None:
    ref = _commit(1)
    results = tmp_path / "asv-results"
    _write(results, ref, BEFORE)
    report = tmp_path / "report"
    shutil.copytree(FIXTURES, report / "raw")
    head_file = next((report / "raw" / "asv" / "fixture-machine").glob("*-existing-*.json"))
    head_file.unlink()
    _write(report / "raw" / "asv", _commit(0), after)
    proc = subprocess.run(
        [sys.executable, "-m", "evaluation", "--from-results",
         str(report), "--compare", ref, "--asv-results-dir", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=100)
    out = proc.stdout + proc.stderr
    body = json.loads((report / "report.json").read_text())
    assert body["changes_since"]["ref"] == ref, out
    regressions = [r for r in body["changes_since"]["changes"] if r["change"] == "regression"]
    assert len(regressions) == (1 if code else 0), out
    assert ("significantly slower than" in out) == bool(code), out
    assert "Changes since" in (report / "report.md").read_text()
    if code:
        assert proc.returncode != 0
        assert (report / "changes_time_parallel_matrix_multiply.png").exists()


# -- the real benchmarks: a slow-down injected into one operation ----------------------------
#: Real benchmark points of a few ms or less, with up to 10 samples each (enough for asv's
#: Mann-Whitney test): the operation slowed in the test at two points, two controls beside it.
_SLOWED = "run_pipeline"
_POINTS = (r"RunPipeline\.time_run_pipeline\('(single|inline)', 10000\)|"
           r"ParallelMatrixMultiply\.time_parallel_matrix_multiply\('(single|inline)', 500\)")
#: The injected factor, and the ratio a flagged point must show. Two asv runs of an
#: unchanged tree on the 2-core reference VM differed by up to 1.45x at these very points
#: (matmul 500: 27 ms in one run, 40 ms in the next), and a 1.5x slow-down was flagged at
#: 11 of 16 slowed points (docs/performance.md); 4x is clear of that noise (16 of 16).
_FACTOR = 4.0
_CLEAR_OF_NOISE = 2.0


def _asv_run(tmp: Path, commit: str, slowdown: str | None) -> Path:
    """asv on :data:`_POINTS`, recorded under ``commit``; returns its result file."""
    from evaluation.running.asv import RUN_OPTIONS
    from tests.asv_session import private_conf, run_in_session
    conf = tmp / "asv.conf.json"
    if not conf.exists():
        private_conf(tmp)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PPD_IMPL", "PPD_BENCH_QUICK", "PPD_BENCH_SLOWDOWN")}
    env["HOME"] = str(tmp)
    if slowdown:
        env["PPD_BENCH_SLOWDOWN"] = slowdown
    asv = [sys.executable, "-m", "asv"]
    run_in_session([*asv, "machine", "--yes", "--machine", "ppd-compare", "--config", str(conf)],
                   env, 60)
    ran = run_in_session([*asv, "run", "--python=same", f"--set-commit-hash={commit}",
                          *RUN_OPTIONS, "--machine", "ppd-compare", "--bench", _POINTS,
                          "--show-stderr", "--config", str(conf)], env, 240)
    assert ran.code in (0, 2) and not ran.leftovers, ran.out[-3000:]
    return next((tmp / "results_dir" / "ppd-compare").glob(f"{commit[:8]}-*.json"))


@pytest.mark.evaluation_e2e
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_compare_flags_a_slowdown_injected_into_the_real_benchmarks(tmp_path: Path) -> None:
    """Real asv samples, one operation made 4x slower: exactly its points are flagged."""
    before = _asv_run(tmp_path, _commit(1), None)
    slowed = _asv_run(tmp_path, _commit(0), f"{_SLOWED}:{_FACTOR}")
    c = compare_results(before, slowed)
    ran = c.changes[c.changes["change"] != "not comparable"]
    assert len(ran) == 4, c.changes.to_string()  # the four points ran in both runs
    is_slowed = ran["benchmark"].str.endswith(f".time_{_SLOWED}")
    hit = ran[is_slowed]
    assert (hit["change"] == "regression").all(), ran.to_string()
    assert (hit["ratio"] > _CLEAR_OF_NOISE).all(), ran.to_string()
    assert (ran[~is_slowed]["ratio"] < _CLEAR_OF_NOISE).all(), ran.to_string()
