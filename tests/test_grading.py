"""Grading candidates: specs, drop-in compatibility, verdicts, leftovers, exit codes."""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from evaluation.grade import main
from evaluation.running.candidates import CandidateError, materialize, parse_candidate
from evaluation.running.grade import compatibility, grade
from evaluation.running.grade_child import decode, encode, shape_of
from evaluation.verdicts.status import CANDIDATE_FAILED
from evaluation.workloads import load_workloads

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "candidates"
W = load_workloads(ROOT / "instances")
DEFECTIVE = "tests/fixtures/candidates/defective.py"


def _grade(spec: str, names: list[str] | None = None, **kw):  # noqa: ANN202 - a CandidateGrade
    return grade(parse_candidate(spec, ROOT), W, names=names, **kw)


# -- specs --------------------------------------------------------------------------------
def test_specs_resolve_to_their_kind_or_say_what_is_wrong() -> None:
    assert parse_candidate("optimized").target == "optimized"
    c = parse_candidate("seq=tests/fixtures/candidates/sequential.py:Processor", ROOT)
    assert (c.name, c.kind, c.cls) == ("seq", "file", "Processor") and Path(c.target).is_file()
    assert parse_candidate("m=references.pool_processor:PoolProcessor", ROOT).kind == "module"
    assert parse_candidate("d=baseline:UnoptimizedParallelProcessor", ROOT).kind == "dir"
    p = parse_candidate("fix=patch:tests/fixtures/candidates/spawn_in_order.patch", ROOT)
    assert (p.kind, p.cls) == ("patch", "UnoptimizedParallelProcessor")
    bad = {"sequential.py:Processor": "NAME=SPEC",
           "x=nowhere/missing.py:Processor": "no such file or folder",
           "x=tests/fixtures/candidates/sequential.py": "must end in :ClassName",
           "x=patch:missing.patch": "no patch file",
           "baseline=optimized:OptimizedParallelProcessor": "not 'baseline' or 'optimized'",
           "x=tests/fixtures/candidates:Processor": "has no __init__.py",
           "x=not a module:Cls": "neither a file, a folder nor a dotted module name"}
    for spec, words in bad.items():
        with pytest.raises(CandidateError, match=words):
            parse_candidate(spec, ROOT)


@pytest.mark.timeout(60)
def test_a_patch_that_does_not_apply_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.patch"
    broken.write_text("--- a/baseline/processor.py\n+++ b/baseline/processor.py\n"
                      "@@ -1,1 +1,1 @@\n-no such line\n+x\n")
    with pytest.raises(CandidateError, match="git apply"):
        with materialize(parse_candidate(f"b=patch:{broken}", ROOT)):
            pass


# -- compatibility -------------------------------------------------------------------------
def test_signatures_are_compared_by_position_keyword_kind_and_default() -> None:
    orig = [["data", "POSITIONAL_OR_KEYWORD", False], ["chunk_size", "POSITIONAL_OR_KEYWORD", True]]
    assert compatibility(orig, orig) == ""
    assert compatibility(orig, [*orig, ["timeout", "KEYWORD_ONLY", True]]) == ""  # extra optional
    assert compatibility(orig, [["x", "VAR_POSITIONAL", False], ["k", "VAR_KEYWORD", False]]) == ""
    assert compatibility(orig, None) == "missing"
    assert "no parameter 'chunk_size'" in compatibility(orig, orig[:1])
    assert "has no default" in compatibility(orig, [orig[0], ["chunk_size", "POSITIONAL_OR_KEYWORD", False]])
    assert "keyword-only" in compatibility(orig, [orig[0], ["chunk_size", "KEYWORD_ONLY", True]])
    assert "not positional parameter 1" in compatibility(orig, [orig[1], orig[0]])
    assert "extra required parameter 'mode'" in compatibility(orig, [*orig, ["mode", "KEYWORD_ONLY", False]])


def test_results_travel_as_json_with_their_format() -> None:
    value = {"a": [1, 2.5], 3: (4, 5)}
    assert decode(encode(value)) == {"a": [1, 2.5], 3: [4, 5]}
    assert shape_of([1.0, 2.0]) == "list[float]" and shape_of({"w": 3}) == "dict[str, int]"
    assert shape_of([[1, 2], [3]]) == "list[list[int]]" and shape_of([]) == "list[]"
    np = pytest.importorskip("numpy")
    assert shape_of(np.zeros(3)) == "ndarray[float64]"


# -- verdicts ------------------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_the_correct_slow_candidate_passes_every_method() -> None:
    g = _grade("seq=tests/fixtures/candidates/sequential.py:Processor")
    assert g.passed, g.failures()
    assert {c.operation for c in g.calls} == set(W.operations)
    assert all(c["compatible"] for c in g.compat) and len(g.compat) == 16


@pytest.mark.timeout(180)
def test_each_defective_candidate_gets_exactly_its_verdict() -> None:
    cases = {  # class: (operation, verdict, words in its detail)
        "WrongItem": ("process_data_spawn_per_item", "wrong result", "first: item 3"),
        "Hangs": ("run_pipeline", "hangs", "no progress"),
        "LeaksAChild": ("parallel_sum_spawn_many", "left behind", "left 1 process running"),
        "MissingMethod": ("map_reduce_word_count", "missing", "absent"),
        "ChangedSignature": ("parallel_sum_spawn_many", "raises", "chunk_size"),
        "ExitsTheProcess": ("compute_statistics_sequential", "crashes", "exited with code 3"),
    }
    ops = sorted({op for op, _, _ in cases.values()})
    t0 = time.monotonic()
    for cls, (op, verdict, words) in cases.items():
        g = _grade(f"{cls.lower()}={DEFECTIVE}:{cls}", ops, budget_s=20.0)
        bad = [c for c in g.calls if c.verdict != "ok"]
        assert [(c.operation, c.verdict) for c in bad] == [(op, verdict)], (cls, g.failures())
        assert words in bad[0].detail, (cls, bad[0].detail)
        assert not g.passed
    compat = {c["method"]: c for c in _grade(f"sig={DEFECTIVE}:ChangedSignature", []).compat}
    assert compat["parallel_sum_spawn_many"]["detail"] == \
        "no parameter 'chunk_size'; extra required parameter 'mode'"
    print(f"\n[figure] six defective candidates graded on {len(ops)} operations in "
          f"{time.monotonic() - t0:.1f} s")


@pytest.mark.timeout(120)
def test_a_patch_against_the_baseline_is_graded_as_the_patched_original() -> None:
    ops = ["process_data_spawn_per_item"]
    spec = parse_candidate("fix=patch:tests/fixtures/candidates/spawn_in_order.patch", ROOT)
    with materialize(spec) as code:  # the patched copy is what gets imported
        assert "drain before joining" in (Path(code.target) / "processor.py").read_text()
        assert code.kind == "dir" and Path(code.target).name == "baseline"
    fixed = grade(spec, W, names=ops, full=True)  # 10 and 100 items: input order each time
    assert [c.verdict for c in fixed.calls] == ["ok", "ok"], fixed.failures()
    assert all(c["compatible"] for c in fixed.compat)  # the original's own signatures


@pytest.mark.timeout(120)
def test_the_command_exits_4_when_a_candidate_fails_and_2_for_a_bad_spec(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "grades.json"
    code = main([f"wrong={ROOT / DEFECTIVE}:WrongItem", "--only", "process_data_spawn_per_item",
                 "--json", str(out)])
    assert code == CANDIDATE_FAILED
    assert "wrong result" in capsys.readouterr().out and '"passed": false' in out.read_text()
    assert main(["nonsense"]) == 2
    assert main([f"seq={FIXTURES / 'sequential.py'}:Processor", "--only",
                 "parallel_find_primes"]) == 0


@pytest.mark.timeout(120)
def test_the_report_shows_candidates_and_a_failed_one_exits_4(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import shutil

    from evaluation.report import build_report, write_report
    from evaluation.report.export import report_json
    raw = tmp_path / "raw"
    shutil.copytree(ROOT / "tests" / "fixtures" / "evaluation" / "raw", raw)
    ops = ["parallel_find_primes"]
    grades = []
    for spec, peer in (("pool=references.pool_processor:PoolProcessor", True),
                       (f"wrong={DEFECTIVE}:WrongItem", False)):
        g = _grade(spec, ops + ["process_data_spawn_per_item"]).as_dict()
        grades.append({**g, "peer": peer})
    before = build_report(raw, W).exit_code
    (raw / "candidates.json").write_text(json.dumps({"grades": grades}))
    data = build_report(raw, W)
    # 4 unless the run already failed for another reason (then that code stands)
    assert data.exit_code == (before or CANDIDATE_FAILED), (before, data.exit_reasons)
    assert any("wrong" in r for r in data.exit_reasons), data.exit_reasons
    import evaluation.report.load as load
    monkeypatch.setattr(load, "exit_status", lambda *a: (0, []))  # the rest passed
    assert build_report(raw, W).exit_code == CANDIDATE_FAILED
    body = report_json(data, W, {})
    assert [g["name"] for g in body["candidates"]["grades"]] == ["pool", "wrong"]
    data.candidate_bench = _candidate_rows({("optimized", 10**6): 0.002,
                                            ("candidate:pool", 10**6): 0.001})
    write_report(data, W, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## Candidates" in md and "pool (peer)" in md and "FAIL" in md
    assert "wrong result" in md  # the failure, with its reason
    assert "0.50x" in md and "Where the optimized processor was not the fastest" in md


def _candidate_rows(medians: dict[tuple[str, int], float | None],
                    op: str = "parallel_find_primes") -> Any:
    """bench_candidates rows as load_results gives them (None: skipped)."""
    import pandas as pd

    from evaluation.figures.bench import RESULT_COLUMNS
    rows = [{"benchmark": f"bench_candidates.Candidates.time_{op}", "module": "bench_candidates",
             "kind": "time", "operation": op, "impl": impl, "size": size,
             "status": "ok" if secs is not None else "skipped", "median": secs}
            for (impl, size), secs in medians.items()]
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def test_the_speed_table_compares_each_candidate_with_ours_in_one_benchmark() -> None:
    from evaluation.report import build_report
    from evaluation.report.candidates import slower_rows, speed_table
    figures = build_report(ROOT / "tests" / "fixtures" / "evaluation" / "raw", W).figures
    op = "parallel_matrix_multiply"  # the fixture's baseline has a figure at its seed size
    bench = _candidate_rows({("optimized", 100): 0.002, ("candidate:fast", 100): 0.001,
                             ("candidate:slow", 100): None, ("optimized", 1000): 0.2,
                             ("candidate:fast", 1000): 0.4, ("candidate:slow", 1000): None}, op)
    notes = {"notes": [{"candidate": "slow", "operation": op, "size": 1000,
                        "outcome": "timed out", "budget_s": 60.0}]}
    t = speed_table(bench, notes, figures).set_index("size")
    assert t.loc["100", "fast / optimized"] == "0.50x"
    assert t.loc["1,000", "fast / optimized"] == "2.00x"
    assert t.loc["1,000", "slow"] == "timed out at 1,000 (> 60 s)"
    assert t.loc["100", "slow"] == "skipped" and t.loc["100", "slow / optimized"] == "n/a"
    # the baseline's figure at the seed size (extrapolated there: *) over the candidate's
    assert t.loc["100", "fast vs baseline"].endswith("x*"), t.loc["100", "fast vs baseline"]
    assert t.loc["1,000", "fast vs baseline"] == "-"  # no baseline figure at that size
    assert slower_rows(bench) == [f"{op} at 100: fast 1 ms, optimized 2 ms (2.00x slower)"]


@pytest.mark.timeout(120)
def test_candidate_benchmarks_time_each_candidate_and_note_a_timeout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import json
    specs = {"seq": f"seq={FIXTURES / 'sequential.py'}:Processor",
             "hangs": f"hangs={ROOT / DEFECTIVE}:Hangs"}
    monkeypatch.setenv("PPD_CANDIDATES", json.dumps(
        {name: parse_candidate(spec).as_dict() for name, spec in specs.items()}))
    monkeypatch.setenv("PPD_CANDIDATE_BUDGET_S", "3")
    monkeypatch.setenv("PPD_CANDIDATE_NOTES", str(tmp_path / "notes"))
    monkeypatch.delenv("PPD_BENCH_QUICK", raising=False)
    module = importlib.reload(importlib.import_module("benchmarks.bench_candidates"))
    try:
        cls = module.CandidatesRunPipeline
        impls, sizes = cls.params
        assert impls == ["optimized", "candidate:seq", "candidate:hangs"]
        size = sizes[0]
        for impl in ("optimized", "candidate:seq"):
            bench = cls()
            bench.setup(impl, size)
            assert len(bench.fn(*bench.args)) == size
            bench.setup(impl, size)  # asv's next sample: the kept processor, checked once
            assert len(bench.fn(*bench.args)) == size
        bench = cls()
        t0 = time.monotonic()
        with pytest.raises(TimeoutError, match="did not finish"):
            bench.setup("candidate:hangs", size)  # its first call, at the smallest size
        assert time.monotonic() - t0 < 20  # the budget, not asv's timeout, ended it
        notes = [json.loads(p.read_text()) for p in (tmp_path / "notes").glob("*.json")]
        smallest = min(importlib.import_module("benchmarks.common").sizes("run_pipeline"))
        assert notes == [{"candidate": "hangs", "operation": "run_pipeline", "size": smallest,
                          "outcome": "timed out", "budget_s": 3.0}]
        assert "candidate:hangs" not in module._KEPT  # its processor is closed
    finally:
        module.close_candidates()
        importlib.import_module("benchmarks.common").close_kept()
        monkeypatch.delenv("PPD_CANDIDATES")
        sys.modules.pop(module.__name__)  # the next import defines no candidate class
    assert not hasattr(importlib.import_module(module.__name__), "CandidatesRunPipeline")


@pytest.mark.timeout(120)
def test_the_grade_stage_runs_each_candidates_gate_tests(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from evaluation.report import build_report
    from evaluation.report.candidates import load_candidates
    from evaluation.running import stages
    from evaluation.running.grade import CandidateGrade
    monkeypatch.setattr(stages, "grade", lambda c, w, full: CandidateGrade(c.name, c.spec, True))
    args = argparse.Namespace(quick=True, no_peers=True,
                              candidate=["pool=references.pool_processor:PoolProcessor"])
    run: dict[str, Any] = {"stages": {}, "problems": []}
    stages._grade_stage(args, tmp_path, run)
    assert (tmp_path / "junit-candidate-pool.xml").is_file()
    figures = build_report(ROOT / "tests" / "fixtures" / "evaluation" / "raw", W).figures
    data = load_candidates(tmp_path, W, figures)
    assert data is not None
    gates = data["gates"]["pool"]
    # every gate got a verdict from a test that ran (which verdict is the peer's speed on
    # this machine, not what this test is about)
    assert set(gates) == {g.id for g in W.gates}, gates
    assert set(gates.values()) <= {"pass", "fail", "not met (known limit)"}, gates


@pytest.mark.timeout(180)
def test_the_test_suite_runs_on_a_candidate_and_skips_what_does_not_apply() -> None:
    import subprocess
    import sys
    spec = f"seq={FIXTURES / 'sequential.py'}:Processor"
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests/test_primes.py", "-q",
                           "-p", "no:cacheprovider", "-p", "no:randomly", "--impl", spec,
                           "-rs"], cwd=ROOT, capture_output=True, text=True, timeout=170)
    out = proc.stdout
    assert re.search(r"\b\d+ passed\b", out), out[-3000:]  # the original's API tests ran
    assert "not applicable: tests an extension of this project" in out, out[-3000:]
    # the slow, correct candidate: every test of the original's API passes but the R5 gate
    assert "1 failed" in out and "test_gate_R5_primes_below_one_million_under_500ms" in out, \
        out[-3000:]
    bad = subprocess.run([sys.executable, "-m", "pytest", "tests/test_primes.py", "-q",
                          "-p", "no:cacheprovider", "--impl", "x=nowhere.py:Cls"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 4 and "no such file or folder" in bad.stderr + bad.stdout


def test_a_gate_run_that_was_cut_says_why_in_the_candidates_table() -> None:
    from evaluation.report.candidates import overview_table
    cut = "pytest run on candidate-slowpatch exceeded 300 s and was killed"
    data: dict[str, Any] = {
        "grades": [{"name": n, "spec": "x:Y", "loads": True, "passed": True, "compat": [],
                    "calls": [], "gate_tests": {"problem": p}}
                   for n, p in (("ran", ""), ("cut", cut), ("partly", cut))],
        "gates": {"ran": {"R2": "pass", "R3": "fail"}, "partly": {"R2": "pass"}}}
    cells = overview_table(data).set_index("candidate")["seed gates"]
    assert cells["ran"] == "1/2 pass (R3 fail)"
    assert cells["cut"] == f"not run: {cut}"  # not a bare "not run"
    assert cells["partly"] == f"1/1 pass; {cut}"
