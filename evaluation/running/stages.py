"""The stages of ``python -m evaluation``, in order, each writing into the report's ``raw/``.

1. pytest on the optimized processor, then on the baseline
   (:mod:`evaluation.running.pytest_run`) -> ``junit-<impl>.xml``;
2. the candidates and peers, graded (:mod:`evaluation.running.grade`) and, in a full run,
   timed at the seed's sizes -> ``candidates.json``;
3. the baseline probed beyond its benchmark sizes (:mod:`evaluation.running.probe`, full
   runs) -> ``probe.json``;
4. the asv suites (:mod:`evaluation.running.asv`) -> ``asv/`` (or ``--reuse-asv``).

Every stage runs its children in capped process groups
(:mod:`evaluation.running.groups`); a stage that does not complete is recorded as a
*problem* in ``run.json`` (with its stage timings), never raised: the report is written
whatever happened.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..environment import describe_environment, git_commit
from ..workloads import load_workloads
from .asv import CANDIDATES_ENV, NOTES_ENV, run_asv, suite_of
from .asv_files import collect_results
from .candidates import Candidate, CandidateError, materialize, parse_candidate
from .grade import PEERS, grade
from .probe import ProbeOutcome, probe_all
from .pytest_run import SPREAD_WORKERS, marker_expression, passes, run_pytest

__all__ = ["run_all", "Progress", "PYTEST_CAP_S", "ASV_CAP_S"]

ROOT = Path(__file__).resolve().parents[2]
#: Wall seconds a candidate's gate tests may take (measured: 7-15 s for the peers and a
#: correct sequential candidate on 2 cores).
CANDIDATE_GATES_CAP_S = 300.0


#: Wall-clock caps of the stages (the suites' own timeouts should never let them bite).
PYTEST_CAP_S = {"quick": 600.0, "full": 1800.0}
#: pytest-xdist workers of each implementation's untimed pass (``pytest_run.passes``).
#: The optimized run's untimed tests mostly wait on children and sleeps: 171 s in one
#: process, 98 s on 4 workers. The baseline's mostly skip (1,217 of 1,433) and the rest
#: start a process per item, CPU-bound: its whole run took 72 s in one pass, 71 s with
#: its untimed tests on 2 workers, 81 s on 4 (2-core VM) - so it runs in one pass.
SPREAD = {"optimized": SPREAD_WORKERS, "baseline": 1}


ASV_CAP_S = {"quick": 900.0, "full": 7200.0}


class Progress:
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


def run_all(args: argparse.Namespace, out_dir: Path) -> None:
    """Run the stages, filling ``out_dir/raw`` and ``raw/run.json``.

    Parameters
    ----------
    args : argparse.Namespace
        The command line (:mod:`evaluation.cli`).
    out_dir : Path
        The report folder.
    """
    raw = out_dir / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    mode = "quick" if args.quick else "full"
    commit = git_commit(ROOT)
    impls = ["optimized"] + ([] if args.skip_baseline else ["baseline"])
    run: dict[str, Any] = {
        "schema": 1, "mode": mode, "started_at": datetime.now().isoformat(timespec="seconds"),
        "commit": commit, "impls_run": impls, "options": {k: str(v) for k, v in vars(args).items()},
        "selection": {i: marker_expression(i, args.quick) for i in impls},
        "passes": {i: [vars(p) for p in passes(args.quick, SPREAD[i])] for i in impls},
        "environment": describe_environment(ROOT), "stages": {}, "problems": []}
    probing = not args.quick and not args.skip_baseline and not args.no_probe
    bar = Progress(len(impls) + 1 + probing, enabled=not args.no_progress)
    try:
        for k, impl in enumerate(impls):
            bar.stage(k, f"pytest {impl}")

            def on_tests(total: int | None, done: int, impl: str = impl) -> None:
                if total:
                    bar.update(100 * min(done, total) / total, f"pytest {impl} {done}/{total}")

            res = run_pytest(impl, raw, repo_root=ROOT, quick=args.quick,
                             wall_timeout_s=PYTEST_CAP_S[mode], on_progress=on_tests,
                             workers=SPREAD[impl])
            run["stages"][f"pytest_{impl}"] = {"seconds": round(res.seconds, 1),
                                               "exit_code": res.exit_code,
                                               "commands": res.commands}
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
               bar: Progress) -> None:
    """Run the asv suites for ``commit`` and copy its result file into ``raw/asv``.

    A full run also times the peers and ``--candidate`` candidates beside the optimized
    processor (``benchmarks/bench_candidates.py``): they are put on disk for the run
    (a patch applied to a copy of ``baseline/``) and named in ``PPD_CANDIDATES``; a
    candidate's point that timed out leaves a note in ``raw/candidate-notes/``.
    """
    mode = run["mode"]
    excluded = ["baseline"] if args.skip_baseline else []
    peers, given = _candidates(args)
    with contextlib.ExitStack() as stack:
        on_disk = {}
        for c in [*peers, *given]:
            try:
                on_disk[c.name] = stack.enter_context(materialize(c)).as_dict()
            except CandidateError:  # does not load: graded as such, nothing to time
                continue
        env = {} if args.quick or not on_disk else {
            CANDIDATES_ENV: json.dumps(on_disk), NOTES_ENV: str(raw / "candidate-notes")}
        asv = run_asv(ROOT, commit, raw, quick=args.quick, wall_timeout_s=ASV_CAP_S[mode],
                      on_progress=lambda pct: bar.update(pct, f"asv run: {bar.count}"),
                      exclude_impls=excluded, on_benchmark=bar.benchmark, env=env)
    run["stages"]["asv"] = {"seconds": round(asv.seconds, 1), "exit_code": asv.exit_code,
                            "command": asv.command, "results_dir": str(asv.results_dir),
                            "excluded_impls": excluded, "candidates": sorted(on_disk)}
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


def _candidates(args: argparse.Namespace) -> tuple[list[Candidate], list[Candidate]]:
    """The peers (a full run, unless ``--no-peers``) and the ``--candidate`` candidates."""
    peers = [] if args.quick or args.no_peers else [parse_candidate(c) for c in PEERS]
    return peers, [parse_candidate(c) for c in args.candidate]


def _grade_stage(args: argparse.Namespace, raw: Path, run: dict[str, Any]) -> None:
    """Grade the candidates and the peers, and run the gate tests on each -> raw/candidates.json.

    Each candidate's gate tests (``pytest --impl NAME=SPEC -m gate``) write
    ``raw/junit-candidate-<name>.xml``; asv times them later (:func:`_asv_stage`).
    """
    t0 = time.monotonic()
    peers, given = _candidates(args)
    workloads = load_workloads()
    grades = []
    for c in [*peers, *given]:
        try:
            g = grade(c, workloads, full=not args.quick).as_dict()
        except CandidateError as exc:  # a patch that does not apply: that candidate fails
            g = {"name": c.name, "spec": c.spec, "loads": False, "load_error": str(exc),
                 "passed": False, "failures": [f"does not load: {exc}"]}
        else:
            tests = run_pytest(f"{c.name}={c.spec}", raw, repo_root=ROOT, quick=True,
                               wall_timeout_s=CANDIDATE_GATES_CAP_S,
                               label=f"candidate-{c.name}")
            g["gate_tests"] = {"junit": tests.junit_path.name, "problem": tests.problem,
                               "seconds": round(tests.seconds, 1)}
        g["peer"] = c in peers
        grades.append(g)
    (raw / "candidates.json").write_text(json.dumps({"grades": grades}, indent=2),
                                         encoding="utf-8")
    run["stages"]["grade"] = {"seconds": round(time.monotonic() - t0, 1),
                              "candidates": [g["name"] for g in grades]}


def _probe_stage(args: argparse.Namespace, raw: Path, run: dict[str, Any],
                 bar: Progress) -> None:
    """Run the original beyond its benchmark sizes (evaluation/running/probe.py) -> raw/probe.json."""
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
