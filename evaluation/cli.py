"""``python -m evaluation``: gates on both implementations + asv suites -> comparison report.

Steps (the data flow: :mod:`evaluation`)
----------------------------------------
1. pytest on the optimized processor, then on the baseline (see
   :mod:`evaluation.running.pytest_run` for what each run selects), outcomes read from
   JUnit XML;
2. ``asv machine --yes`` and ``asv run --python=same --set-commit-hash=<HEAD>`` (quick
   mode: ``PPD_BENCH_QUICK=1`` - two sizes per operation -, asv ``--quick`` - one
   sample -, no peak-memory or start-up benchmarks, a private results directory),
   results loaded from asv's result file;
3. the report folder ``reports/<YYYYmmdd-HHMMSS>/`` (or ``--output``): ``report.json``,
   ``results.csv``, ``report.md``, ``report.html``, PNG plots, and ``raw/`` (JUnit XML,
   asv results, ``run.json``, logs) from which ``--from-results`` rebuilds it.

With ``--candidate NAME=SPEC`` (repeatable; :mod:`evaluation.running.candidates`), and in a full
run the two peers a user would pick instead (:mod:`references`: ``multiprocessing.Pool``
and joblib) unless ``--no-peers``: each is graded (:mod:`evaluation.running.grade`: drop-in
compatibility, every operation's result, leftovers) and, in a full run, timed beside the
optimized processor at the seed's sizes -> ``raw/candidates.json``, the report's
"Candidates" section.

Exit status: 0 all good; 1 the optimized implementation failed a gate or a test (or
its test run did not complete); 2 bad command line (or a candidate spec that does not
resolve); 3 the run is incomplete (e.g. asv produced no results) although the optimized
implementation failed nothing; 4 a ``--candidate`` failed its grading and nothing above
did (a peer's failure is reported, never an exit code); 130 interrupted (Ctrl-C or
SIGTERM): every stage's process group is killed on the way out.
"""
from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from .figures.compare import DEFAULT_FACTOR, compare_results
from .report import RAW_DIR, build_report, write_report
from .report.terminal import compact_summary
from .running.asv import asv_paths
from .running.asv_files import ref_results
from .running.candidates import CandidateError, parse_candidate
from .running.stages import ASV_CAP_S, run_all
from .verdicts.status import INCOMPLETE, INTERRUPTED, OPTIMIZED_FAILED, USAGE
from .workloads import load_workloads

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m evaluation", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the gates on both implementations and the asv benchmarks, then "
                    "write the comparison report.", epilog=__doc__)
    p.add_argument("--quick", action="store_true",
                   help="gate tests only; two small sizes per benchmark, one sample each, "
                        "no peak-memory/start-up benchmarks (CI, a first look: ~3 min)")
    p.add_argument("--skip-baseline", action="store_true",
                   help="do not run the baseline at all: no pytest run on it, and every asv "
                        "benchmark point with impl='baseline' is left out of the asv run "
                        "(shown as 'not run'; no baseline figures or speed-ups). The "
                        "optimized, inline, pool and single points still run")
    p.add_argument("--output", type=Path, metavar="DIR",
                   help="report folder (default: reports/<YYYYmmdd-HHMMSS>/)")
    p.add_argument("--from-results", type=Path, metavar="DIR",
                   help="rebuild the report from DIR/raw without running anything "
                        "(written to DIR unless --output is given)")
    p.add_argument("--compare", metavar="REF",
                   help="also compare this run's asv results with commit REF's (from asv's "
                        "results directory, or by running asv for REF in its own virtualenv): "
                        "a 'Changes since REF' section, and exit 1 when a benchmark got "
                        "significantly slower by more than --factor")
    p.add_argument("--factor", type=float, default=DEFAULT_FACTOR,
                   help=f"smallest slow-down that counts as a regression (asv continuous -f; "
                        f"default {DEFAULT_FACTOR})")
    p.add_argument("--asv-results-dir", type=Path, metavar="DIR",
                   help="where REF's asv results are looked for (default: asv.conf.json's)")
    p.add_argument("--reuse-asv", type=Path, metavar="DIR",
                   help="do not run asv: take this commit's results from asv results "
                        "directory DIR (e.g. .asv/results after `make bench`, or a quick "
                        "run's); the run fails (exit 3) if DIR holds none for this commit")
    p.add_argument("--probe-budget", type=float, default=60.0, metavar="S",
                   help="least seconds each probed baseline call may take (full mode; default "
                        "60; a size the work model predicts to take longer gets up to 3x; a size "
                        "predicted to take over 1.5x is not run)")
    p.add_argument("--probe-total", type=float, default=300.0, metavar="S",
                   help="seconds the whole baseline probe may take (default 300)")
    p.add_argument("--no-probe", action="store_true",
                   help="do not probe the baseline beyond its benchmark sizes")
    p.add_argument("--candidate", action="append", default=[], metavar="NAME=SPEC",
                   help="also grade this implementation (module:Class, file.py:Class, "
                        "folder:Class or patch:file.patch; repeatable): exit 4 if it fails")
    p.add_argument("--no-peers", action="store_true",
                   help="do not grade the Pool and joblib peers (graded by default in a "
                        "full run)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _compare(args: argparse.Namespace, raw: Path, data: Any) -> None:
    """``--compare REF``: REF's asv results against this run's; regressions set exit 1."""
    paths = asv_paths(ROOT)
    head = sorted(p for p in (raw / "asv").glob("*/*.json") if p.name != "machine.json")
    try:
        if not head:
            raise FileNotFoundError("this run has no asv result file to compare")
        ref = ref_results(ROOT, args.compare, args.asv_results_dir or paths["results_dir"],
                          raw / "asv-ref", config=paths["config"],
                          wall_timeout_s=ASV_CAP_S["full"], log=raw / "asv-ref.log")
    except (ValueError, FileNotFoundError, OSError) as exc:
        data.exit_reasons.append(f"--compare {args.compare}: {exc}")
        data.exit_code = max(data.exit_code, INCOMPLETE)
        return
    data.comparison = compare_results(ref, head[-1], args.factor)
    n = len(data.comparison.regressions)
    if n:
        data.exit_reasons.append(f"{n} benchmark point(s) significantly slower than "
                                 f"{args.compare} by more than {args.factor:g}x")
        data.exit_code = data.exit_code or OPTIMIZED_FAILED


def _asv_html() -> Path | None:
    try:
        return asv_paths(ROOT)["html_dir"] / "index.html"
    except Exception:  # no or broken asv.conf.json: nothing to link
        return None


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM as Ctrl-C: the stages' ``finally`` blocks then kill their process groups."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m evaluation`` (and the ``ppd-evaluate`` script).

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default ``sys.argv[1:]``); see ``--help``.

    Returns
    -------
    int
        Exit status (module docstring): 0 pass, 1 the optimized implementation failed,
        2 bad command line, 3 incomplete run, 4 a ``--candidate`` failed, 130
        interrupted (Ctrl-C or SIGTERM while the stages ran: no report, no process left).
        The report is written in every case but 2 and 130.
    """
    args = _parser().parse_args(argv)
    t0 = time.monotonic()
    try:
        for spec in args.candidate:  # before anything runs: a spec that does not resolve
            parse_candidate(spec)
    except CandidateError as exc:
        print(f"error: --candidate: {exc}", file=sys.stderr)
        return USAGE
    if args.from_results:
        src = args.from_results.resolve()
        if not (src / RAW_DIR).is_dir():
            print(f"error: --from-results: {src / RAW_DIR} not found (expected a report "
                  f"folder written by python -m evaluation)", file=sys.stderr)
            return USAGE
        out_dir = (args.output or src).resolve()
        if out_dir != src:
            shutil.copytree(src / RAW_DIR, out_dir / RAW_DIR, dirs_exist_ok=True)
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out_dir = (args.output or ROOT / "reports" / stamp).resolve()
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            run_all(args, out_dir)
        except KeyboardInterrupt:
            print(f"interrupted: every stage's processes were stopped; what ran is in "
                  f"{out_dir / RAW_DIR}", file=sys.stderr)
            return INTERRUPTED
        finally:
            signal.signal(signal.SIGTERM, previous)
    workloads = load_workloads()
    data = build_report(out_dir / RAW_DIR, workloads)
    if args.compare:
        _compare(args, out_dir / RAW_DIR, data)
    write_report(data, workloads, out_dir, asv_html=_asv_html())
    for reason in data.exit_reasons:
        print(f"! {reason}", file=sys.stderr)
    verdict = (f"report written to {out_dir} ({time.monotonic() - t0:.0f} s): "
               f"{'PASS' if data.exit_code == 0 else f'exit code {data.exit_code}'}")
    print(compact_summary(data.summary_cells, data.gates, verdict, out_dir / "report.html"))
    return data.exit_code
