"""What ``python -m evaluation`` prints fits a terminal."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from evaluation.report import build_report
from evaluation.report.summary import Cell
from evaluation.report.terminal import WIDTH, compact_summary
from evaluation.workloads import load_workloads

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "evaluation" / "raw"


def _raw(tmp_path: Path, mode: str = "full") -> Path:
    raw = tmp_path / "raw"
    shutil.copytree(FIXTURES, raw)
    run = json.loads((raw / "run.json").read_text())
    (raw / "run.json").write_text(json.dumps({**run, "mode": mode}))
    return raw


def test_summary_fits_120_columns_with_reasons_as_footnotes(tmp_path: Path) -> None:
    data = build_report(_raw(tmp_path), load_workloads(ROOT / "instances"))
    text = compact_summary(data.summary_cells, data.gates, "report written: PASS",
                           tmp_path / "report.html")
    lines = text.splitlines()
    assert all(len(line) <= WIDTH for line in lines), max(lines, key=len)
    assert lines[0].split()[:2] == ["operation", "met?"]
    assert lines[-1] == f"open {tmp_path / 'report.html'}"
    marks = {m for line in lines[2:] for m in line.split() if m.startswith("[") and m.endswith("]")}
    notes = [line for line in lines if line[:1] == "[" and line[1:2].isdigit()]
    assert len(notes) == len({m for m in marks if m[1:-1].isdigit()}), (marks, notes)
    for _, r in data.summary.iterrows():  # every operation has its row
        assert any(line.startswith(r["operation"][:32]) for line in lines)
    long_cells = [c for c in data.summary[["baseline", "optimized"]].to_numpy().ravel() if len(c) > 16]
    if long_cells:  # a long reason is footnoted, not printed inline
        assert notes and not any(c in text for c in long_cells)


def test_extrapolated_figures_are_starred_with_one_legend_line() -> None:
    summary = [{"operation": "op", "baseline": Cell("96.9 s", True, "b=1.00"),
                "optimized": Cell("1.0 ms"), "speed-up": Cell("482x", True)}]
    text = compact_summary(summary, pd.DataFrame(columns=["operation", "optimized"]), "PASS", None)
    assert "96.9 s*" in text and "482x*" in text and text.count("* extrapolated") == 1


def test_footnotes_are_numbered_once_per_distinct_reason() -> None:
    summary = [{"operation": f"op{i}", "baseline": Cell("n/a", note="cannot extrapolate: b=0.31 < 0.8"),
                "optimized": Cell("1.0 ms"), "speed-up": Cell("n/a")} for i in range(3)]
    gates = pd.DataFrame(columns=["operation", "optimized"])
    text = compact_summary(summary, gates, "PASS", None)
    assert text.count("[1]") == 4 and "[2]" not in text, text  # one reason, one number
    assert "[1] cannot extrapolate: b=0.31 < 0.8" in text


def test_quick_mode_never_extrapolates_the_optimized_side(tmp_path: Path) -> None:
    data = build_report(_raw(tmp_path, "quick"), load_workloads(ROOT / "instances"))
    opt = data.figures[data.figures["impl"] == "optimized"]
    assert not opt["extrapolated"].any()
    unmeasured = opt[opt["seconds"].isna()]
    assert (unmeasured["reason"] == "not-measured-at-size").all()
    assert len(unmeasured) > 0  # the fixture's optimized side misses some seed sizes
    full = build_report(_raw(tmp_path / "full"), load_workloads(ROOT / "instances"))
    fopt = full.figures[full.figures["impl"] == "optimized"]
    assert "not-measured-at-size" not in set(fopt["reason"])  # full mode: fit or refuse


def test_long_verdicts_become_whole_words_with_their_footnote() -> None:
    summary = [
        {"operation": "hung", "baseline": Cell("hangs at 270,000: deadlocks after 81 s of work: "
                                               "the parent joins its workers (do_wait)", short="hangs"),
         "optimized": Cell("1.0 ms"), "speed-up": Cell("baseline does not finish", short="n/a")},
        {"operation": "wrong", "baseline": Cell("wrong result at 300 (0.4 s): the right results "
                                                "in the wrong order; not run at 2,700", short="wrong"),
         "optimized": Cell("1.0 ms"), "speed-up": Cell("n/a")},
        {"operation": "wrongfast",
         "baseline": Cell("5.01 s", True, "W = processes started (one per element), hold-out "
                          "error 1%", "wrong result at 8 (0.2 s): the right results in the wrong "
                          "order", short="wrong"),
         "optimized": Cell("1.0 ms"), "speed-up": Cell("5,010x", True, note="wrong result")}]
    text = compact_summary(summary, pd.DataFrame(columns=["operation", "optimized"]), "PASS", None)
    rows = {line.split()[0]: line for line in text.splitlines()[2:5]}
    assert "~" not in "".join(rows.values()), text  # no cut word anywhere
    assert rows["hung"].split()[2:6] == ["1.0", "ms", "hangs", "[1]"], rows["hung"]
    assert "n/a [2]" in rows["hung"], rows["hung"]
    assert "wrong [3]" in rows["wrong"], rows["wrong"]
    assert "5.01 s* [4]" in rows["wrongfast"] and "5,010x* [5]" in rows["wrongfast"], text
    assert "[5] wrong result" in text and "[2] baseline does not finish" in text, text
