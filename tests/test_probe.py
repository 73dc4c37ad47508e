"""The baseline probe on fake baselines that sleep, hang, crash and fork."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from evaluation.running.probe import (
    MAX_PROCESSES,
    cpu_between,
    probe_all,
    probe_call,
    probe_sizes,
    processes_started,
)
from evaluation.running.procstate import describe_block, threads_waiting
from evaluation.workloads import load_workloads

ROOT = Path(__file__).resolve().parent.parent
W = load_workloads(ROOT / "instances")
OP = W.operations["parallel_find_primes"]

SLEEPS = "import json, time; time.sleep(0.3); print(json.dumps({'seconds': 0.3, 'ok': True}))"
WRONG = "import json; print(json.dumps({'seconds': 0.1, 'ok': False, 'detail': 'lost 3 results'}))"
# The original's deadlock: a child blocks writing more than a pipe holds, the parent joins it.
HANGS = """
import multiprocessing as mp
def child(q):
    q.put(b"x" * 10_000_000)
if __name__ == "__main__":
    q = mp.get_context("fork").Queue()
    p = mp.get_context("fork").Process(target=child, args=(q,))
    p.start(); p.join()
"""
SPINS = "while True: pass"
# Workers that each spin for 0.4 s and exit, one after another: between two samples the
# group's total CPU falls whenever one exits (what made the probe report negative shares).
CHURNS = """
import os, time
while True:
    pid = os.fork()
    if pid == 0:
        end = time.monotonic() + 0.4
        while time.monotonic() < end:
            pass
        os._exit(0)
    os.waitpid(pid, 0)
"""
CRASHES = "import os; os.kill(os.getpid(), 9)"
FORKS = """
import os, time
for _ in range(40):
    if os.fork() == 0:
        time.sleep(60); os._exit(0)
time.sleep(60)
"""


def _probe(code: str, budget: float = 8.0, **kw):
    return probe_call(OP, 123, budget, command=[sys.executable, "-c", code], **kw)


@pytest.mark.timeout(60)
def test_a_call_that_returns_is_finished_with_its_time() -> None:
    r = _probe(SLEEPS)
    assert (r.kind, r.seconds) == ("finished", 0.3)


@pytest.mark.timeout(60)
def test_a_wrong_result_is_reported_as_such() -> None:
    r = _probe(WRONG)
    assert r.kind == "wrong result" and "lost 3 results" in r.detail


@pytest.mark.timeout(60)
def test_a_blocked_group_hangs_and_a_busy_one_is_over_budget() -> None:
    hung = _probe(HANGS, budget=30.0)
    assert hung.kind == "hangs", hung
    assert "no progress" in hung.detail and hung.peak_processes >= 2
    # Named from /proc, as soon as it is blocked (not when the 30 s budget ends).
    assert hung.detail.startswith("deadlocks after 0 s of work"), hung.detail
    assert "the parent joins its workers (do_wait)" in hung.detail, hung.detail
    assert "queue feeder is blocked writing to a full pipe" in hung.detail, hung.detail
    busy = _probe(SPINS, budget=6.0)
    assert busy.kind == "over budget", busy


def test_cpu_between_samples_counts_each_process_once_and_never_goes_negative() -> None:
    a = {1: 10.0, 2: 50.0, 3: 4.0}
    b = {1: 10.5, 3: 4.25, 4: 0.75}  # 2 exited with 50 s of CPU, 4 is new
    assert cpu_between(a, b) == (1.5, 1)
    assert cpu_between(b, {1: 10.0}) == (0.0, 2)  # a reused pid's lower figure adds nothing


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("code", "waiting"), [(SPINS, False),
                                               ("import time; time.sleep(30)", True)])
def test_thread_states_tell_waiting_from_running(code: str, waiting: bool) -> None:
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        time.sleep(0.5)
        assert threads_waiting([child.pid]) is waiting
    finally:
        child.kill()
        child.wait()
    assert threads_waiting([os.getpid() + 10**7]) is None  # no such process: cannot tell


# Three seconds of CPU work, then the join-before-drain deadlock.
WORKS_THEN_DEADLOCKS = """
import multiprocessing as mp, time
def child(q):
    end = time.monotonic() + 3
    while time.monotonic() < end:
        pass
    q.put(b"x" * 10_000_000)
if __name__ == "__main__":
    q = mp.get_context("fork").Queue()
    p = mp.get_context("fork").Process(target=child, args=(q,))
    p.start(); p.join()
"""


@pytest.mark.timeout(60)
def test_a_deadlock_after_work_says_how_long_it_worked() -> None:
    t0 = time.monotonic()
    hung = _probe(WORKS_THEN_DEADLOCKS, budget=40.0)
    took = time.monotonic() - t0
    assert hung.kind == "hangs", hung
    work = float(hung.detail.split(" after ")[1].split(" s of work")[0])
    assert 2 <= work <= 6, hung.detail
    assert took < 20, f"judged after {took:.1f} s, not as soon as it was blocked"


@pytest.mark.timeout(30)
def test_a_group_without_threads_has_no_block_description() -> None:
    assert describe_block(os.getpid() + 10**7, []) == ("waiting", "")


def test_each_size_gets_twice_what_the_work_model_predicts_within_bounds() -> None:
    from evaluation.figures.work import work
    from evaluation.running.probe import size_budget
    prev = (90_000, 10.0)
    ratio = work(OP, 270_000) / work(OP, 90_000)
    assert size_budget(OP, 270_000, prev, 60.0, 500.0) == pytest.approx(20.0 * ratio)
    assert size_budget(OP, 270_000, prev, 60.0, 100.0) == 100.0  # capped
    assert size_budget(OP, 270_000, (90_000, 0.1), 60.0, 180.0) == 60.0  # at least the budget
    assert size_budget(OP, 270_000, None, 60.0, 180.0) == 60.0  # nothing to predict from


def test_the_probe_goes_on_past_a_wrong_result(monkeypatch: pytest.MonkeyPatch) -> None:
    import evaluation.running.probe as probe
    spawn = W.operations["process_with_excessive_queue_ops"]
    calls: list[tuple[int, float]] = []

    def fake(op, size, budget, **kw):  # noqa: ANN001, ANN202 - probe_call's signature
        calls.append((size, budget))
        if size >= 8_100:
            return probe.ProbeOutcome(op.name, size, "over budget", None, "still computing")
        return probe.ProbeOutcome(op.name, size, "wrong result", 0.5 * size / 300,
                                  "the right results in the wrong order")

    monkeypatch.setattr(probe, "probe_call", fake)
    out = probe.probe_all(W, budget_s=1.0, total_s=100.0, cap_s=100.0, run_limit_s=100.0,
                          names=[spawn.name])
    assert [s for s, _ in calls] == probe_sizes(spawn)[:3] == [900, 2_700, 8_100]
    assert [o.kind for o in out] == ["wrong result"] * 2 + ["over budget"], out
    assert calls[1][1] == pytest.approx(2 * 1.5 * 3)  # W is linear: 3x the items, 3x the time


def test_a_size_predicted_past_the_cap_is_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import evaluation.running.probe as probe
    stats = W.operations["compute_statistics_sequential"]  # bubble sort: ~9x per 3x size
    calls: list[int] = []

    def fake(op, size, budget, **kw):  # noqa: ANN001, ANN202 - probe_call's signature
        calls.append(size)
        return probe.ProbeOutcome(op.name, size, "finished", 0.01 * 9 ** len(calls), "")

    monkeypatch.setattr(probe, "probe_call", fake)
    out = probe.probe_all(W, budget_s=1.0, total_s=1000.0, run_limit_s=5.0, names=[stats.name])
    # 0.09, 0.81 s, then 7.3 s predicted at the next size: over the 5 s limit, not started
    assert [o.kind for o in out] == ["finished", "finished", "not run"], out
    assert len(calls) == 2 and "predicts 7 s" in out[-1].detail, out[-1]
    assert "over the 5 s a probed size may be predicted to take" in out[-1].detail


@pytest.mark.timeout(60)
def test_workers_exiting_mid_window_are_still_computing_not_negative() -> None:
    churn = _probe(CHURNS, budget=6.0)
    assert churn.kind == "over budget", churn
    share = int(churn.detail.split("(")[1].split("%")[0])
    # One core spinning, exits and all. A worker's CPU after the last sample that saw it
    # is lost (up to one 0.25 s poll of each 0.4 s life); between the window's ends
    # only, the share would be at most 8 %.
    assert share >= 30, churn.detail


@pytest.mark.timeout(60)
def test_a_killed_call_crashes_with_its_signal() -> None:
    r = _probe(CRASHES)
    assert r.kind == "crashes" and "SIGKILL" in r.detail


@pytest.mark.timeout(60)
def test_a_group_that_forks_past_the_cap_is_killed_and_nothing_is_left() -> None:
    r = _probe(FORKS, budget=20.0, max_processes=10)
    assert r.kind == "crashes" and "grew past 10 processes" in r.detail
    assert r.leftover == 0


def test_sizes_that_would_start_too_many_processes_are_refused_up_front() -> None:
    spawn = W.operations["process_data_spawn_per_item"]
    assert processes_started(spawn, 10_000) == 10_000 > MAX_PROCESSES
    r = probe_call(spawn, 10_000, 5.0)
    assert r.kind == "refused" and "10,000 processes" in r.detail
    matmul = W.operations["parallel_matrix_multiply"]
    assert processes_started(matmul, 100) == 10_000
    assert processes_started(W.operations["parallel_sum_spawn_many"], 1000) == 200


def test_probe_sizes_grow_3x_up_to_the_seed_size() -> None:
    sizes = probe_sizes(OP)  # baseline benchmarks end at 10,000; the seed size is 10**6
    assert sizes[0] == 30_000 and sizes[-1] == 1_000_000
    assert all(b <= 3 * a for a, b in zip(sizes, sizes[1:], strict=False))


@pytest.mark.timeout(120)
def test_the_real_baseline_is_probed_in_its_own_group_and_checked() -> None:
    r = probe_call(OP, 30_000, 60.0, cwd=ROOT)  # trial division, ~1 s; the oracle agrees
    assert r.kind == "finished" and r.seconds and r.seconds > 0, r
    assert r.peak_processes >= 1 and r.leftover == 0
    out = probe_all(W, budget_s=60.0, total_s=0.5, cwd=ROOT, names=["parallel_find_primes"])
    assert [o.kind for o in out] == ["not run"] and "spent" in out[0].detail


def test_the_report_says_what_the_probe_saw(tmp_path) -> None:
    import json
    import shutil

    from evaluation.report import build_report
    from evaluation.report.export import report_json
    raw = tmp_path / "raw"
    shutil.copytree(ROOT / "tests" / "fixtures" / "evaluation" / "raw", raw)
    outcomes = [
        {"operation": "parallel_find_primes", "size": 30_000, "kind": "finished", "seconds": 0.7,
         "detail": "", "peak_processes": 5, "leftover": 0},
        {"operation": "parallel_find_primes", "size": 90_000, "kind": "hangs", "seconds": None,
         "detail": "no progress: 0% CPU over the last 5 s of 60 s, 5 processes alive and blocked",
         "peak_processes": 5, "leftover": 0},
        {"operation": "parallel_matrix_multiply", "size": 36, "kind": "refused", "seconds": None,
         "detail": "it would start 1,296 processes at once (probe cap 1,000)",
         "peak_processes": 0, "leftover": 0},
        {"operation": "process_data_spawn_per_item", "size": 100_000, "kind": "finished",
         "seconds": 120.0, "detail": "", "peak_processes": 2000, "leftover": 0},
        {"operation": "parallel_matrix_multiply", "size": 12, "kind": "over budget",
         "seconds": None, "detail": "still computing", "peak_processes": 9, "leftover": 0},
        # Wrong on the way, then refused before the seed's size: the reason, and what it did.
        {"operation": "process_with_excessive_queue_ops", "size": 900, "kind": "wrong result",
         "seconds": 1.5, "detail": "the right results in the wrong order",
         "peak_processes": 5, "leftover": 0},
        {"operation": "process_with_excessive_queue_ops", "size": 2_700, "kind": "crashes",
         "seconds": None, "detail": "killed by SIGKILL", "peak_processes": 5, "leftover": 0},
        # Wrong at the seed's size itself: its time stands, marked.
        {"operation": "compute_statistics_sequential", "size": 1_000_000, "kind": "wrong result",
         "seconds": 12.5, "detail": "the result differs from the oracle",
         "peak_processes": 1, "leftover": 0}]
    (raw / "probe.json").write_text(json.dumps({"outcomes": outcomes}))
    data = build_report(raw, W)
    body = report_json(data, W, {})
    truth = body["baseline_at_seed_size"]
    assert truth["parallel_find_primes"]["kind"] == "hangs"
    assert truth["parallel_find_primes"]["size"] == 90_000
    assert truth["parallel_find_primes"]["seconds"] is None  # never extrapolated past a hang
    assert truth["parallel_matrix_multiply"]["kind"] == "not run"  # refused: no figure
    # "over budget" at 12 did not stop it; the refusal at 36 did, and says why
    assert truth["parallel_matrix_multiply"]["detail"].startswith("not run at 36: it would start")
    assert truth["process_data_spawn_per_item"] == {
        "kind": "measured", "size": 100_000, "seconds": 120.0, "detail": "probed at this size"}
    queue = truth["process_with_excessive_queue_ops"]
    assert (queue["kind"], queue["size"], queue["seconds"]) == ("crashes", 2_700, None)
    assert queue["detail"] == ("crashes at 2,700: killed by SIGKILL; before that, wrong result "
                               "at 900 (1.5 s): the right results in the wrong order")
    stats = truth["compute_statistics_sequential"]
    assert (stats["kind"], stats["seconds"]) == ("wrong result", 12.5), stats
    srow = data.summary.set_index("operation").loc["compute_statistics_sequential"]
    assert srow["baseline"] == "12.5 s (wrong result: the result differs from the oracle)"
    row = data.summary.set_index("operation").loc["parallel_find_primes"]
    assert row["speed-up"] == "baseline does not finish" and row["baseline"].startswith("hangs at 90,000")
    assert body["baseline_probe"] == outcomes
    md = (tmp_path / "md")
    from evaluation.report import write_report
    write_report(data, W, md)
    text = (md / "report.md").read_text()
    assert "hangs at 90,000: no progress" in text  # 'why not larger', from the probe


def test_a_speed_up_over_a_wrong_result_is_marked_and_drawn_red() -> None:
    from evaluation.report import build_report
    from evaluation.report.plots import _speedup_rows
    from evaluation.report.summary import summary_table
    data = build_report(ROOT / "tests" / "fixtures" / "evaluation" / "raw", W)
    figures = data.figures.copy()
    is_mm = (figures["operation"] == "parallel_matrix_multiply") & (figures["impl"] == "baseline")
    assert figures.loc[is_mm, "seconds"].notna().all()  # the fixture has both figures
    note = "wrong result at 8 (0.2 s): the right results in the wrong order"
    figures.loc[is_mm, ["kind", "note"]] = ["wrong result", note]
    mm = summary_table(figures, data.gates, W).set_index("operation").loc["parallel_matrix_multiply"]
    assert mm["speed-up"].endswith("x (extrapolated) (wrong result)"), mm["speed-up"]
    assert "(extrapolated, " in mm["baseline"] and mm["baseline"].endswith(f") ({note})"), \
        mm["baseline"]  # its time, how it was obtained, and that it was wrong
    bars = {r.operation: r for r in _speedup_rows(figures)}
    assert bars["parallel_matrix_multiply"].wrong and bars["parallel_matrix_multiply"].ratio > 1
