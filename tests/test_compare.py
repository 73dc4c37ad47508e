"""Regression tracking between commits: ``python -m evaluation --compare REF``."""
from __future__ import annotations

import json
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
