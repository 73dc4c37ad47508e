"""``python -m evaluation``: gates on both implementations + asv suites -> comparison report.

Steps
-----
1. pytest on the optimized processor, then on the baseline (see
   :mod:`evaluation.run_tests` for what each run selects), outcomes read from JUnit XML;
2. ``asv machine --yes`` and ``asv run --python=same --set-commit-hash=<HEAD>`` (quick
   mode: ``PPD_BENCH_QUICK=1`` - two sizes per operation -, asv ``--quick`` - one
   sample -, no peak-memory or start-up benchmarks, a private results directory),
   results loaded from asv's result file;
3. the report folder ``reports/<YYYYmmdd-HHMMSS>/`` (or ``--output``): ``report.json``,
   ``results.csv``, ``report.md``, ``report.html``, PNG plots, and ``raw/`` (JUnit XML,
   asv results, ``run.json``, logs) from which ``--from-results`` rebuilds it.

With ``--candidate NAME=SPEC`` (repeatable; :mod:`evaluation.candidates`), and in a full
run the two peers a user would pick instead (:mod:`references`: ``multiprocessing.Pool``
and joblib) unless ``--no-peers``: each is graded (:mod:`evaluation.grade`: drop-in
compatibility, every operation's result, leftovers) and, in a full run, timed beside the
optimized processor at the seed's sizes -> ``raw/candidates.json``, the report's
"Candidates" section.

Exit status: 0 all good; 1 the optimized implementation failed a gate or a test (or
its test run did not complete); 2 bad command line (or a candidate spec that does not
resolve); 3 the run is incomplete (e.g. asv produced no results) although the optimized
implementation failed nothing; 4 a ``--candidate`` failed its grading and nothing above
did (a peer's failure is reported, never an exit code).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .asv_results import asv_paths, collect_results, run_asv, suite_of
from .candidates import CandidateError, parse_candidate
from .compare import DEFAULT_FACTOR, compare_results, ref_results
from .environment import describe_environment, git_commit
from .grade import PEERS, grade, time_at_seed
from .probe import ProbeOutcome, probe_all
from .report import RAW_DIR, build_report, write_report
from .run_tests import marker_expression, run_pytest
from .terminal import compact_summary
from .workloads import load_workloads

ROOT = Path(__file__).resolve().parent.parent
#: Wall-clock caps of the stages (the suites' own timeouts should never let them bite).
PYTEST_CAP_S = {"quick": 600.0, "full": 1800.0}
ASV_CAP_S = {"quick": 900.0, "full": 7200.0}


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
                        "60; a size the work model predicts to take longer gets up to 3x)")
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


class _Progress:
    """Where a several-minute run is: a tqdm bar on a terminal, one line per stage otherwise.

    Each stage is worth 100 units; ``update`` sets the current stage's share.
    """

    def __init__(self, stages: int, enabled: bool) -> None:
        self.enabled, self.base = enabled, 0
        tty = sys.stderr.isatty()
        self.bar = tqdm(total=stages * 100, disable=not (enabled and tty), file=sys.stderr,
                        bar_format="{desc} |{bar}| {percentage:3.0f}% [{elapsed}]")
        self.lines = enabled and not tty
        self.t0 = time.monotonic()
        self.count = "starting"  # asv's finished benchmarks, as "12/153 benchmarks"
        self._suite: str | None = None  # the suite of the last finished benchmark
        self._suite_done = ""

    def stage(self, index: int, name: str) -> None:
        self.base = index * 100
        self.update(0.0, name)
        if self.lines:
            print(f"[evaluation {time.monotonic() - self.t0:5.0f} s] {name}", file=sys.stderr,
                  flush=True)

    def update(self, pct: float, text: str) -> None:
        self.bar.n = min(self.bar.total, self.base + int(pct))
        self.bar.set_description_str(text, refresh=False)
        self.bar.refresh()

    def benchmark(self, done: int, total: int | None, name: str) -> None:
        """asv finished a benchmark: counts on the bar; a line per finished suite in a file."""
        of = f"/{total}" if total else ""
        self.count = f"{done}{of} benchmarks"
        self.update(self.bar.n - self.base, f"asv run: {self.count}")
        suite = suite_of(name)
        if self.lines and self._suite is not None and suite != self._suite:
            self._suite_line(self._suite, self._suite_done)
        self._suite, self._suite_done = suite, f"{done}{of}"
        if self.lines and total and done == total:
            self._suite_line(suite, self._suite_done)

    def _suite_line(self, suite: str, done: str) -> None:
        print(f"[evaluation {time.monotonic() - self.t0:5.0f} s] asv: {suite} done "
              f"({done} benchmarks)", file=sys.stderr, flush=True)

    def close(self) -> None:
        self.bar.close()


def _problem(stage: str, impl: str | None, message: str) -> dict[str, Any]:
    return {"stage": stage, "impl": impl, "message": message}


def _run_all(args: argparse.Namespace, out_dir: Path) -> None:
    """Run the stages, filling ``out_dir/raw`` and ``raw/run.json``."""
    raw = out_dir / RAW_DIR
    raw.mkdir(parents=True, exist_ok=True)
    mode = "quick" if args.quick else "full"
    commit = git_commit(ROOT)
    impls = ["optimized"] + ([] if args.skip_baseline else ["baseline"])
    run: dict[str, Any] = {
        "schema": 1, "mode": mode, "started_at": datetime.now().isoformat(timespec="seconds"),
        "commit": commit, "impls_run": impls, "options": {k: str(v) for k, v in vars(args).items()},
        "selection": {i: marker_expression(i, args.quick) for i in impls},
        "environment": describe_environment(ROOT), "stages": {}, "problems": []}
    probing = not args.quick and not args.skip_baseline and not args.no_probe
    bar = _Progress(len(impls) + 1 + probing, enabled=not args.no_progress)
    try:
        for k, impl in enumerate(impls):
            bar.stage(k, f"pytest {impl}")

            def on_tests(total: int | None, done: int, impl: str = impl) -> None:
                if total:
                    bar.update(100 * min(done, total) / total, f"pytest {impl} {done}/{total}")

            res = run_pytest(impl, raw, repo_root=ROOT, quick=args.quick,
                             wall_timeout_s=PYTEST_CAP_S[mode], on_progress=on_tests)
            run["stages"][f"pytest_{impl}"] = {"seconds": round(res.seconds, 1),
                                               "exit_code": res.exit_code,
                                               "command": res.command}
            if res.problem:
                run["problems"].append(_problem("pytest", impl, res.problem))
        if args.candidate or (not args.quick and not args.no_peers):
            bar.update(100, "grading candidates")
            _grade_stage(args, raw, run)
        if probing:
            bar.stage(len(impls), "probe baseline")
            _probe_stage(args, raw, run, bar)
        bar.stage(len(impls) + probing, "asv run")
        if args.reuse_asv:
            _reuse_asv_stage(args.reuse_asv, commit, raw, run)
        else:
            _asv_stage(args, commit, raw, run, bar)
        bar.stage(len(impls) + 1 + probing, "done")
    finally:
        bar.close()
        run["finished_at"] = datetime.now().isoformat(timespec="seconds")
        (raw / "run.json").write_text(json.dumps(run, indent=2, default=str), encoding="utf-8")


def _asv_stage(args: argparse.Namespace, commit: str, raw: Path, run: dict[str, Any],
               bar: _Progress) -> None:
    """Run the asv suites for ``commit`` and copy its result file into ``raw/asv``."""
    mode = run["mode"]
    excluded = ["baseline"] if args.skip_baseline else []
    asv = run_asv(ROOT, commit, raw, quick=args.quick, wall_timeout_s=ASV_CAP_S[mode],
                  on_progress=lambda pct: bar.update(pct, f"asv run: {bar.count}"),
                  exclude_impls=excluded, on_benchmark=bar.benchmark)
    run["stages"]["asv"] = {"seconds": round(asv.seconds, 1), "exit_code": asv.exit_code,
                            "command": asv.command, "results_dir": str(asv.results_dir),
                            "excluded_impls": excluded}
    if asv.problem:
        run["problems"].append(_problem("asv", None, asv.problem))
    try:
        collect_results(asv.results_dir, commit, raw / "asv", previous=asv.previous)
    except FileNotFoundError as exc:
        run["problems"].append(_problem("asv", None, f"{exc} (see {asv.log_path.name})"))


def _reuse_asv_stage(results_dir: Path, commit: str, raw: Path, run: dict[str, Any]) -> None:
    """``--reuse-asv``: this commit's results from an earlier asv run, nothing run here."""
    src = results_dir.resolve()
    run["stages"]["asv"] = {"seconds": 0.0, "exit_code": None, "command": None,
                            "results_dir": str(src), "reused": True, "excluded_impls": []}
    try:
        collect_results(src, commit, raw / "asv")
    except FileNotFoundError as exc:
        run["problems"].append(_problem("asv", None, f"--reuse-asv {src}: {exc}"))


def _grade_stage(args: argparse.Namespace, raw: Path, run: dict[str, Any]) -> None:
    """Grade the candidates (and the peers), and time them at the seed's sizes -> raw/candidates.json."""
    t0 = time.monotonic()
    full = not args.quick
    given = [parse_candidate(c) for c in args.candidate]
    peers = [] if args.quick or args.no_peers else [parse_candidate(c) for c in PEERS]
    workloads = load_workloads()
    grades = []
    for c in [*peers, *given]:
        try:
            g = grade(c, workloads, full=full).as_dict()
        except CandidateError as exc:  # a patch that does not apply: that candidate fails
            g = {"name": c.name, "spec": c.spec, "loads": False, "load_error": str(exc),
                 "passed": False, "failures": [f"does not load: {exc}"]}
        g["peer"] = c in peers
        grades.append(g)
    speed = {c.name: time_at_seed(c, workloads) for c in
             [parse_candidate("optimized"), *peers, *given]} if full else {}
    (raw / "candidates.json").write_text(json.dumps({"grades": grades, "speed": speed},
                                                    indent=2), encoding="utf-8")
    run["stages"]["grade"] = {"seconds": round(time.monotonic() - t0, 1),
                              "candidates": [g["name"] for g in grades]}


def _probe_stage(args: argparse.Namespace, raw: Path, run: dict[str, Any],
                 bar: _Progress) -> None:
    """Run the original beyond its benchmark sizes (evaluation/probe.py) -> raw/probe.json."""
    t0 = time.monotonic()
    seen: list[ProbeOutcome] = []

    def on_outcome(o: ProbeOutcome) -> None:
        seen.append(o)
        bar.update(min(99.0, 100 * (time.monotonic() - t0) / args.probe_total),
                   f"probe baseline: {o.operation} at {o.size:,}: {o.kind}")

    outcomes = probe_all(load_workloads(), budget_s=args.probe_budget,
                         total_s=args.probe_total, cwd=ROOT, on_outcome=on_outcome)
    (raw / "probe.json").write_text(json.dumps({
        "budget_s": args.probe_budget, "total_s": args.probe_total,
        "outcomes": [o.as_dict() for o in outcomes]}, indent=2), encoding="utf-8")
    run["stages"]["probe"] = {"seconds": round(time.monotonic() - t0, 1),
                              "outcomes": len(outcomes)}
    left = sum(o.leftover for o in outcomes)
    if left:
        run["problems"].append(_problem("probe", "baseline",
                                        f"{left} process(es) of probed calls survived the probe's SIGKILL"))


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
        data.exit_code = max(data.exit_code, 3)
        return
    data.comparison = compare_results(ref, head[-1], args.factor)
    n = len(data.comparison.regressions)
    if n:
        data.exit_reasons.append(f"{n} benchmark point(s) significantly slower than "
                                 f"{args.compare} by more than {args.factor:g}x")
        data.exit_code = data.exit_code or 1


def _asv_html() -> Path | None:
    try:
        return asv_paths(ROOT)["html_dir"] / "index.html"
    except Exception:  # no or broken asv.conf.json: nothing to link
        return None


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
        2 bad command line, 3 incomplete run, 4 a ``--candidate`` failed. The report is
        written in every case but 2.
    """
    args = _parser().parse_args(argv)
    t0 = time.monotonic()
    try:
        for spec in args.candidate:  # before anything runs: a spec that does not resolve
            parse_candidate(spec)
    except CandidateError as exc:
        print(f"error: --candidate: {exc}", file=sys.stderr)
        return 2
    if args.from_results:
        src = args.from_results.resolve()
        if not (src / RAW_DIR).is_dir():
            print(f"error: --from-results: {src / RAW_DIR} not found (expected a report "
                  f"folder written by python -m evaluation)", file=sys.stderr)
            return 2
        out_dir = (args.output or src).resolve()
        if out_dir != src:
            shutil.copytree(src / RAW_DIR, out_dir / RAW_DIR, dirs_exist_ok=True)
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out_dir = (args.output or ROOT / "reports" / stamp).resolve()
        _run_all(args, out_dir)
    workloads = load_workloads()
    data = build_report(out_dir / RAW_DIR, workloads)
    if args.compare:
        _compare(args, out_dir / RAW_DIR, data)
    write_report(data, workloads, out_dir, asv_html=_asv_html())
    for reason in data.exit_reasons:
        print(f"! {reason}", file=sys.stderr)
    verdict = (f"report written to {out_dir} ({time.monotonic() - t0:.0f} s): "
               f"{'PASS' if data.exit_code == 0 else f'exit code {data.exit_code}'}")
    print(compact_summary(data.summary, data.gates, verdict, out_dir / "report.html"))
    return data.exit_code


if __name__ == "__main__":
    sys.exit(main())
