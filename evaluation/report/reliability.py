"""The report's "Reliability" section, from the optimized pytest run's own records.

The reliability tests (``tests/test_fault_matrix.py``, ``test_parent_death.py``,
``test_bad_input.py``, ``test_soak.py``) write what they injected or measured as a JSON
``reliability`` property of their JUnit test case (pytest's ``record_property``). A
test records ``survived: false`` before its checks and ``true`` after them, so a test
that failed half-way is counted as injected but not survived. Leaks are counted from
the per-test guard's failure messages (``tests/conftest.py``: processes, shared-memory
segments, temp files, slow ``close()``). Nothing here is typed in: an empty run gives
an empty section that says so.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

__all__ = ["LEAK_MESSAGES", "reliability_summary", "reliability_table"]

#: Guard failure message fragment -> leak kind.
LEAK_MESSAGES = {"child process(es) left": "processes",
                 "shared-memory segments left": "segments",
                 "new entries left in the temp dir": "temp files",
                 "close() took": "slow close()"}


def _records(tests: pd.DataFrame) -> Iterable[tuple[dict[str, Any], str]]:
    for rec, outcome in zip(tests.get("record", pd.Series(dtype=str)),
                            tests.get("outcome", pd.Series(dtype=str)), strict=True):
        if isinstance(rec, str) and rec:
            try:
                yield json.loads(rec), outcome
            except json.JSONDecodeError:
                continue


def _leaks(tests: pd.DataFrame) -> dict[str, int]:
    counts = dict.fromkeys(LEAK_MESSAGES.values(), 0)
    for msg in tests.get("message", pd.Series(dtype=str)).fillna(""):
        for fragment, kind in LEAK_MESSAGES.items():
            if fragment in msg:
                counts[kind] += 1
    return counts


def reliability_summary(tests: pd.DataFrame) -> dict[str, Any]:
    """What the optimized run's reliability tests injected, survived and measured.

    Parameters
    ----------
    tests : pandas.DataFrame
        :func:`evaluation.figures.outcomes.tests_frame` rows (every implementation; only the
        optimized run's are read).

    Returns
    -------
    dict
        ``faults`` (per fault kind and start method: injected, survived), ``parent_death``
        (per start method: cases, survived, slowest worker exit in ms), ``bad_inputs``
        (tried, held), ``soak``, ``scale`` and ``chaos`` (their records), ``leaks`` (per
        kind) and
        ``tests`` (how many reliability tests ran).
    """
    opt = tests[tests["impl"] == "optimized"] if "impl" in tests else tests
    faults: dict[tuple[str, str], list[int]] = {}
    deaths: dict[str, list[float]] = {}
    bad = [0, 0]
    soak: list[dict[str, Any]] = []
    scale: list[dict[str, Any]] = []
    chaos: list[dict[str, Any]] = []
    n = 0
    for rec, outcome in _records(opt):
        n += 1
        ok = outcome == "passed"
        kind = rec.get("kind")
        if kind == "fault":
            cell = faults.setdefault((rec["fault"], rec["start_method"]), [0, 0])
            cell[0] += 1
            cell[1] += bool(ok and rec.get("survived"))
        elif kind == "parent_death":
            row = deaths.setdefault(rec["start_method"], [0, 0, 0.0])
            row[0] += 1
            row[1] += bool(ok and rec.get("survived"))
            row[2] = max(row[2], float(rec.get("workers_gone_ms") or 0.0))
        elif kind == "bad_input":
            bad[0] += 1
            bad[1] += ok
        elif kind == "soak":
            soak.append({**rec, "passed": ok})
        elif kind == "scale":
            scale.append({**rec, "passed": ok})
        elif kind == "chaos":
            chaos.append({**rec, "passed": bool(ok and rec.get("survived"))})
    return {
        "tests": n,
        "faults": [{"fault": f, "start_method": sm, "injected": c[0], "survived": c[1]}
                   for (f, sm), c in sorted(faults.items())],
        "parent_death": [{"start_method": sm, "cases": c[0], "survived": c[1],
                          "slowest_worker_exit_ms": round(c[2], 1)}
                         for sm, c in sorted(deaths.items())],
        "bad_inputs": {"tried": bad[0], "held": bad[1]},
        "soak": soak, "scale": scale, "chaos": chaos, "leaks": _leaks(opt),
    }


def _chaos_row(c: dict[str, Any]) -> dict[str, Any]:
    """One chaos soak: calls, faults by kind, outcomes by kind (wrong must be 0)."""
    faults = c.get("faults") or {}
    errors = c.get("errors") or {}
    where = "64 MB private /dev/shm, with fills" if c.get("small_shm") else "machine /dev/shm"
    return {"check": f"chaos soak ({c.get('start_method')}, {where})", "tried": c.get("calls"),
            "held": c.get("correct", 0) + sum(errors.values()) if c["passed"] else
            c.get("correct", 0),
            "detail": (f"{sum(faults.values())} faults ("
                       + ", ".join(f"{k} {v}" for k, v in sorted(faults.items()))
                       + f"); {c.get('correct', 0)} correct, "
                       + "".join(f"{v} {k}, " for k, v in sorted(errors.items()))
                       + f"{c.get('wrong', 0)} wrong, {c.get('unexpected', 0)} other errors; "
                       f"{c.get('seconds')} s; parent RSS {c.get('rss_growth') or 0:+.1%} "
                       "over the second half")}


def reliability_table(summary: dict[str, Any]) -> tuple[list[str], pd.DataFrame]:
    """Paragraphs and one table (check, tried, held, detail) for the report.

    Parameters
    ----------
    summary : dict
        From :func:`reliability_summary`.

    Returns
    -------
    (list of str, pandas.DataFrame)
    """
    if not summary.get("tests"):
        return (["No reliability records in this run (quick mode runs the gates only, or "
                 "the optimized tests did not run)."], pd.DataFrame(
                     columns=["check", "tried", "held", "detail"]))
    rows = []
    by_fault: dict[str, list[int]] = {}
    for r in summary["faults"]:
        cell = by_fault.setdefault(r["fault"], [0, 0])
        cell[0] += r["injected"]
        cell[1] += r["survived"]
        rows.append({"check": f"fault: {r['fault']} ({r['start_method']})", "tried": r["injected"],
                     "held": r["survived"], "detail": ""})
    for r in summary["parent_death"]:
        rows.append({"check": f"owner SIGKILLed ({r['start_method']})", "tried": r["cases"],
                     "held": r["survived"],
                     "detail": f"slowest worker exit {r['slowest_worker_exit_ms']:.0f} ms"})
    b = summary["bad_inputs"]
    rows.append({"check": "bad inputs (contract table)", "tried": b["tried"], "held": b["held"],
                 "detail": "rejected before any work, or accepted by design"})
    for s in summary["soak"]:
        rows.append({"check": "soak: mixed calls on one processor", "tried": s.get("calls"),
                     "held": s.get("calls") if s["passed"] else s.get("calls", 0) - s.get("wrong", 0),
                     "detail": (f"RSS growth after warm-up: parent {s.get('rss_growth_parent', 0):+.1%}, "
                                f"workers max {s.get('rss_growth_workers_max', 0):+.1%}; "
                                f"{s.get('respawns', 0)} respawns")})
    for s in summary["scale"]:
        rows.append({"check": f"scale: {s.get('n', 0):,} items ({s.get('mode')})", "tried": 1,
                     "held": int(s["passed"]),
                     "detail": (f"{s.get('seconds')} s; peak memory: parent "
                                f"{s.get('parent_peak_x_input')}x, workers "
                                f"{s.get('workers_peak_x_input')}x the input's "
                                f"{s.get('input_mb')} MB")})
    rows.extend(_chaos_row(c) for c in summary.get("chaos", []))
    leaks = summary["leaks"]
    rows.append({"check": "leaks found by the per-test guard", "tried": "", "held": "",
                 "detail": ", ".join(f"{k}: {v}" for k, v in leaks.items())})
    total = sum(c[0] for c in by_fault.values())
    held = sum(c[1] for c in by_fault.values())
    para = [f"From the optimized run's own records ({summary['tests']} reliability tests): "
            f"{held} of {total} injected faults survived "
            f"({', '.join(f'{k} {v[1]}/{v[0]}' for k, v in sorted(by_fault.items()))}); "
            f"{sum(r['survived'] for r in summary['parent_death'])} of "
            f"{sum(r['cases'] for r in summary['parent_death'])} owner deaths left no worker; "
            f"{b['held']} of {b['tried']} bad inputs held; leaks: "
            f"{sum(leaks.values())}. 'Survived' = the documented error within 10 s, the next "
            "call correct, nothing left behind, nothing on stderr (tests/test_fault_matrix.py)."]
    chaos = summary.get("chaos", [])
    if chaos:
        para.append(
            f"Chaos soak (tests/test_chaos.py): {sum(c.get('calls') or 0 for c in chaos):,} "
            f"random calls on one processor per start method under "
            f"{sum(sum((c.get('faults') or {}).values()) for c in chaos)} injected faults "
            "(SIGKILL or SIGSTOP of a busy or idle worker, /dev/shm filled): "
            f"{sum(c.get('wrong', 0) for c in chaos)} wrong results; every other call was "
            "correct or raised WorkerCrashedError / ProcessorTimeoutError.")
    return para, pd.DataFrame(rows, columns=["check", "tried", "held", "detail"])
