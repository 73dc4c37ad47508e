"""Run a command in a process group of its own, capped, and killed as a group at the end.

Every child the harness starts goes through :func:`process_group`: the command leads a
new session (its own process group), and whatever happens - it exits, it overruns its
cap, the harness is interrupted - the whole group is SIGKILLed and reaped on the way
out, so nothing it started outlives the stage. Two runners are built on it:

- :func:`run_capped` - a command the harness trusts (pytest, asv): output to a log file,
  a wall-clock cap, a callback every poll (progress bars read the log or a progress file);
- :func:`run_group` - code it cannot trust: the original at sizes where it deadlocks
  (:mod:`evaluation.running.probe`), a candidate implementation
  (:mod:`evaluation.running.grade`). The group is sampled every 0.25 s and ended as soon
  as one of these is true::

    crashes       the group grew past ``max_processes``, or past ``max_memory_share``
                  of the machine's RAM
    hangs         no CPU progress for 5 s and every thread of it waiting (/proc), with
                  the evidence (:func:`evaluation.running.procstate.describe_block`)
    over budget   the wall-clock budget ran out while it still computed

  When the command's own process exits, the members of its group still alive are
  counted (``stragglers``: processes it left behind), then the whole group is
  SIGKILLed, and any member still alive after that is counted too (``leftover``).

Output goes to files, not pipes, so a command that prints without end cannot block on a
full pipe.
"""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import IO, Any

import psutil

from .procstate import DEADLOCK, describe_block, threads_waiting

__all__ = ["GroupRun", "run_group", "CappedRun", "run_capped", "process_group", "cpu_between",
           "group_members", "kill_group", "IDLE_WINDOW_S", "IDLE_CPU_SHARE", "POLL_S"]

#: Seconds without CPU progress (group CPU < 5 % of one core) that count as a hang.
IDLE_WINDOW_S = 5.0
IDLE_CPU_SHARE = 0.05
POLL_S = 0.25
#: Characters of a command's output kept.
_OUTPUT_CHARS = 200_000

Samples = list[tuple[float, dict[int, float]]]


@dataclass
class GroupRun:
    """What one watched command did.

    Attributes
    ----------
    kind : str
        ``""`` if the command's process exited by itself, else ``"hangs"``,
        ``"over budget"`` or ``"crashes"`` (a cap: it was killed).
    detail : str
        Why, in words (empty when it exited by itself).
    returncode : int or None
        Its exit status (negative: killed by that signal).
    stdout, stderr : str
        Its output (the last 200,000 characters of each).
    seconds : float
        Wall seconds until it exited or was stopped.
    peak : int
        Most processes of the group alive at once.
    stragglers : int
        Members of its group other than its own process still alive when that process
        exited or was stopped.
    leftover : int
        Members still alive after the group was SIGKILLed (should be 0).
    peak_rss : int
        Largest sum of the group's resident set sizes seen, bytes (a page shared by
        several processes - a forked pool's inherited memory - counts once per process).
    """

    kind: str
    detail: str
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    peak: int
    stragglers: int
    leftover: int
    peak_rss: int = 0


def cpu_between(a: dict[int, float], b: dict[int, float]) -> tuple[float, int]:
    """CPU seconds the group used from sample ``a`` to sample ``b``, and how many exited.

    Per process, never as a difference of group totals: a process that exited between
    the samples would otherwise subtract its whole CPU time (a negative share). A process
    in both samples adds its own delta; one that is new in ``b`` adds its CPU time so
    far; one that exited adds nothing more than ``a`` saw and is counted as exited.
    """
    used = sum(max(0.0, c - a.get(pid, 0.0)) for pid, c in b.items())
    return used, sum(1 for pid in a if pid not in b)


def group_members(pgid: int) -> list[int]:
    """Pids of the live (not zombie) processes of process group ``pgid``."""
    out = []
    for p in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p.pid)
        except (OSError, psutil.Error):
            continue
    return out


def kill_group(pgid: int) -> int:
    """SIGKILL every process of group ``pgid``; how many were still there after 10 s."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return 0
    deadline = time.monotonic() + 10
    left = group_members(pgid)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = group_members(pgid)
    return len(left)


@contextmanager
def process_group(cmd: Sequence[str], *, cwd: Path | None = None,
                  env: dict[str, str] | None = None, stdout: IO[Any] | int | None = None,
                  stderr: IO[Any] | int | None = None) -> Iterator[subprocess.Popen[Any]]:
    """Start ``cmd`` leading a process group of its own; SIGKILL the group when leaving.

    Parameters
    ----------
    cmd : sequence of str
        The command line.
    cwd : Path, optional
        Its working directory.
    env : dict, optional
        Its environment; default this process's.
    stdout, stderr : file or int, optional
        Where its output goes (files, or ``subprocess.STDOUT`` for stderr).

    Yields
    ------
    subprocess.Popen
        The running command; its ``returncode`` is set after the block.
    """
    child = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                             stdout=stdout, stderr=stderr, start_new_session=True)
    try:
        yield child
    finally:
        kill_group(child.pid)
        child.wait(timeout=30)


@dataclass
class CappedRun:
    """How a :func:`run_capped` command ended.

    Attributes
    ----------
    returncode : int or None
        Its exit status (negative: killed by that signal, e.g. at the cap).
    seconds : float
        Wall seconds it ran.
    timed_out : bool
        True when the cap ended it.
    """

    returncode: int | None
    seconds: float
    timed_out: bool


def run_capped(cmd: Sequence[str], cap_s: float, *, log: Path, cwd: Path | None = None,
               env: dict[str, str] | None = None, on_poll: Callable[[], None] | None = None,
               poll_s: float = 0.5, append: bool = False) -> CappedRun:
    """Run a trusted command to its end, or to ``cap_s``, in a process group of its own.

    The command gets a ``TMPDIR`` of its own, removed with it: a run killed at its cap or
    by an interrupt cannot leave temporary files behind.

    Parameters
    ----------
    cmd : sequence of str
        The command line.
    cap_s : float
        Wall seconds it may take; then its whole group is killed.
    log : Path
        Its stdout and stderr go here.
    cwd : Path, optional
        Its working directory.
    env : dict, optional
        Its environment; default this process's.
    on_poll : callable, optional
        Called every ``poll_s`` while it runs, and once after it ended.
    poll_s : float
        Seconds between polls.
    append : bool
        Append to ``log`` instead of replacing it.

    Returns
    -------
    CappedRun
    """
    t0 = time.monotonic()
    timed_out = False
    with open(log, "ab" if append else "wb") as out, \
            tempfile.TemporaryDirectory(prefix="ppd-run-") as tmp, \
            process_group(cmd, cwd=cwd, env={**(os.environ if env is None else env), "TMPDIR": tmp},
                          stdout=out, stderr=subprocess.STDOUT) as child:
        while True:
            try:
                child.wait(timeout=poll_s)
                break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() - t0 > cap_s:
                timed_out = True
                break
            if on_poll is not None:
                on_poll()
    if on_poll is not None:
        on_poll()
    return CappedRun(child.returncode, time.monotonic() - t0, timed_out)


def _stats(pgid: int) -> tuple[int, dict[int, float], int]:
    """(live processes, CPU seconds per pid, RSS bytes) of group ``pgid``."""
    cpu: dict[int, float] = {}
    rss = alive = 0
    for pid in group_members(pgid):
        try:
            p = psutil.Process(pid)
            t = p.cpu_times()
            cpu[pid] = t.user + t.system
            rss += p.memory_info().rss
            alive += 1
        except psutil.Error:
            continue
    return alive, cpu, rss


def _share(window: Samples) -> tuple[float, int]:
    """(CPU share of one core, processes that exited) over ``window``'s samples.

    Summed over consecutive samples, not taken between the window's ends: a worker
    born and gone inside the window still counts (all but its last poll interval).
    """
    (t_a, _), (t_b, last) = window[0], window[-1]
    used = sum(cpu_between(a, b)[0] for (_, a), (_, b) in pairwise(window))
    exited = len({pid for _, c in window for pid in c} - last.keys())
    return used / max(t_b - t_a, 1e-9), exited


def _last_progress(samples: Samples) -> float:
    """Time of the last sample by which the group had used CPU (at >= 5 % of a core)."""
    for (t_a, a), (t_b, b) in reversed(list(pairwise(samples))):
        if cpu_between(a, b)[0] >= IDLE_CPU_SHARE * (t_b - t_a):
            return t_b
    return samples[0][0]


def _blocked(samples: Samples, t0: float, root: int) -> str | None:
    """The hang's description if the group is blocked now, else None.

    Blocked means: no CPU progress over the last :data:`IDLE_WINDOW_S` seconds *and*
    every thread of every live process in a wait (``/proc``). A run is judged so as
    soon as it is true, not when its budget ends: a deadlock does not resolve itself,
    and the seconds of work before it are a fact worth reporting.
    """
    now = samples[-1][0]
    window = [(t, c) for t, c in samples if t >= now - IDLE_WINDOW_S]
    if now - t0 < IDLE_WINDOW_S or len(window) < 2:
        return None
    share, exited = _share(window)
    live = list(window[-1][1])
    if share >= IDLE_CPU_SHARE or threads_waiting(live) is not True:
        return None
    kind, how = describe_block(root, [pid for pid in live if pid != root])
    word = "deadlocks" if kind == DEADLOCK else "blocked"
    gone = f", {exited} exited meanwhile" if exited else ""
    return (f"{word} after {_last_progress(samples) - t0:.0f} s of work: no progress "
            f"({share:.0%} CPU over the last {IDLE_WINDOW_S:g} s, every thread of "
            f"{len(live)} processes waiting{gone}){': ' + how if how else ''}")


def _expired(samples: Samples, now: float, alive: int, budget_s: float) -> tuple[str, str]:
    """Budget spent and not seen blocked: still computing, or idle without evidence?"""
    window = [(t, c) for t, c in samples if t >= now - IDLE_WINDOW_S]
    if len(window) >= 2:
        share, exited = _share(window)
        gone = f", {exited} exited meanwhile" if exited else ""
        span = window[-1][0] - window[0][0]
        if share < IDLE_CPU_SHARE and threads_waiting(window[-1][1]) is None:
            return "hangs", (f"no progress: {share:.0%} CPU over the last {span:.0f} s of "
                             f"{budget_s:g} s, {alive} processes alive (thread states "
                             f"unknown){gone}")
        return "over budget", (f"still computing after {budget_s:g} s ({share:.0%} CPU over "
                               f"the last {span:.0f} s, {alive} processes{gone})")
    return "over budget", f"still running after {budget_s:g} s"


def run_group(cmd: Sequence[str], budget_s: float, *, cwd: Path | None = None,
              env: dict[str, str] | None = None, max_processes: int = 2000,
              max_memory_share: float = 0.5) -> GroupRun:
    """Run ``cmd`` in a process group of its own under the caps (see the module docstring).

    Parameters
    ----------
    cmd : sequence of str
        The command line.
    budget_s : float
        Wall seconds it may take.
    cwd : Path, optional
        Its working directory.
    env : dict, optional
        Its environment; default this process's.
    max_processes : int
        Kill the group when more processes than this are alive in it.
    max_memory_share : float
        Kill the group when its RSS exceeds this share of the machine's RAM.

    Returns
    -------
    GroupRun
    """
    ram = psutil.virtual_memory().total
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        with process_group(cmd, cwd=cwd, env=env, stdout=out, stderr=err) as child:
            t0 = time.monotonic()
            samples: Samples = []
            peak = peak_rss = 0
            kind = detail = ""
            while child.poll() is None:
                alive, cpu, rss = _stats(child.pid)
                now = time.monotonic()
                peak, peak_rss = max(peak, alive), max(peak_rss, rss)
                samples.append((now, cpu))
                if alive > max_processes:
                    kind, detail = "crashes", f"grew past {max_processes:,} processes (killed)"
                elif rss > max_memory_share * ram:
                    kind, detail = "crashes", (f"used {rss / 2**30:.1f} GiB, over "
                                               f"{max_memory_share:.0%} of RAM (killed)")
                elif (stuck := _blocked(samples, t0, child.pid)) is not None:
                    kind, detail = "hangs", stuck
                elif now - t0 > budget_s:
                    kind, detail = _expired(samples, now, alive, budget_s)
                if kind:
                    break
                time.sleep(POLL_S)
            seconds = time.monotonic() - t0
            stragglers = len([pid for pid in group_members(child.pid) if pid != child.pid])
            leftover = kill_group(child.pid)
        texts = []
        for f in (out, err):
            f.seek(0)
            texts.append(f.read()[-_OUTPUT_CHARS:])
    return GroupRun(kind, detail, child.returncode, texts[0], texts[1], seconds, peak,
                    stragglers, leftover, peak_rss)
