"""What Linux's ``/proc`` says a process group is doing: running, waiting, and on what.

The probe (:mod:`evaluation.running.probe`) calls a group "blocked" only on this evidence, never
on CPU time alone. A call that makes no CPU progress may still have a running thread,
or it may simply have been descheduled on a loaded machine. Each thread's state
(``/proc/<pid>/task/<tid>/stat``) says whether it is running, and its wait channel
(``.../wchan``: the kernel function it sleeps in) says what it waits for.

The original's deadlock reads like this, for example: the parent is in ``do_wait``
(``Process.join``), and a worker's queue feeder thread is in ``anon_pipe_write`` (the
result pipe is full, and nobody reads it until the join returns). :func:`describe_block`
turns such a snapshot into that sentence.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

__all__ = ["threads_waiting", "wait_channels", "describe_block", "DEADLOCK", "WAITING"]

#: Kinds of :func:`describe_block`: the join-before-drain deadlock, or some other wait.
DEADLOCK, WAITING = "deadlock", "waiting"

#: Wait channels that mean "writing to a pipe nobody drains".
_PIPE_WRITE = ("pipe_write", "anon_pipe_write")
#: Wait channels that mean "waiting for a child to exit" (``waitpid``: join).
_JOIN = ("do_wait",)


def _tasks(pid: int) -> list[Path]:
    try:
        return sorted(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []


def threads_waiting(pids: Iterable[int]) -> bool | None:
    """True if every thread of these processes sits in a wait (Linux ``/proc`` state).

    Parameters
    ----------
    pids : iterable of int
        The processes to look at.

    Returns
    -------
    bool or None
        False if any thread is running (``R``). True if every thread is in ``S``
        (sleeping), ``D`` (uninterruptible wait), ``T``/``t`` (stopped) or ``Z``.
        None where ``/proc`` shows no thread at all (not Linux, or every process gone).
    """
    seen = False
    for pid in pids:
        for task in _tasks(pid):
            try:
                state = (task / "stat").read_text().rpartition(")")[2].split()[0]
            except (OSError, IndexError):
                continue
            seen = True
            if state == "R":
                return False
    return True if seen else None


def wait_channels(pid: int) -> list[str]:
    """The kernel wait channel of every thread of ``pid`` (``"0"`` for one not waiting).

    Parameters
    ----------
    pid : int
        A process id.

    Returns
    -------
    list of str
        One entry per thread that could be read, in thread-id order; empty when the
        process is gone or ``/proc`` hides its wait channels.
    """
    out = []
    for task in _tasks(pid):
        try:
            out.append((task / "wchan").read_text().strip() or "0")
        except OSError:
            continue
    return out


def describe_block(root: int, workers: Iterable[int]) -> tuple[str, str]:
    """How a blocked group waits, from its threads' wait channels: a kind and one clause.

    Parameters
    ----------
    root : int
        The parent (the call's process).
    workers : iterable of int
        Its descendants.

    Returns
    -------
    (str, str)
        :data:`DEADLOCK` and, for example, "the parent joins its workers (do_wait) while
        2 workers' queue feeders are blocked writing to a full pipe (anon_pipe_write)"
        when the evidence shows the join-before-drain deadlock. Otherwise
        :data:`WAITING` and the parent's and the workers' wait channels ("the parent
        waits in futex_wait_queue; workers wait in pipe_read x3"), or "" when
        ``/proc`` shows none.
    """
    parent = wait_channels(root)
    per_worker = [wait_channels(pid) for pid in workers]
    writers = [next(w for w in chans if w in _PIPE_WRITE)
               for chans in per_worker if any(w in _PIPE_WRITE for w in chans)]
    joining = next((w for w in parent if w in _JOIN), None)
    if joining and writers:
        n = len(writers)
        whose = "a worker's queue feeder is" if n == 1 else f"{n} workers' queue feeders are"
        return DEADLOCK, (f"the parent joins its workers ({joining}) while {whose} blocked "
                          f"writing to a full pipe ({writers[0]})")
    parts = []
    if parent:
        parts.append(f"the parent waits in {_tally(parent)}")
    flat = [w for chans in per_worker for w in chans]
    if flat:
        parts.append(f"workers wait in {_tally(flat)}")
    return WAITING, "; ".join(parts)


def _tally(channels: list[str]) -> str:
    """``pipe_read x3, do_wait``: distinct wait channels, most common first."""
    return ", ".join(w if n == 1 else f"{w} x{n}" for w, n in Counter(channels).most_common())
