"""Process groups that die with the test run, however it ends.

Test clusters (``dask scheduler`` / ``dask worker``) run in process groups of their own
(``start_new_session=True``) so that one ``killpg`` ends a process and everything it
started. A fixture's finalizer stops them on a normal exit; :func:`register` also covers
the exits that skip finalizers: interpreter exit (``atexit``) and SIGTERM to pytest (a
handler that ends the groups, then lets SIGTERM do what it did before). Each group gets
SIGTERM, then SIGKILL after :data:`GRACE_S`.
"""
from __future__ import annotations

import atexit
import os
import signal
import threading
import time
from collections.abc import Iterable
from types import FrameType
from typing import Any

__all__ = ["GRACE_S", "register", "unregister", "end_all", "alive"]

#: Seconds between SIGTERM and SIGKILL.
GRACE_S = 3.0

_groups: set[int] = set()
_lock = threading.Lock()
_installed = False
_previous: Any = signal.SIG_DFL


def _signal_groups(groups: set[int], sig: int) -> set[int]:
    """Send ``sig`` to each group; return those that still exist."""
    alive = set()
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
            alive.add(pgid)
        except ProcessLookupError:
            pass
    return alive


def end_all() -> None:
    """SIGTERM every registered group, SIGKILL what is left after :data:`GRACE_S`."""
    with _lock:
        groups = set(_groups)
        _groups.clear()
    alive = _signal_groups(groups, signal.SIGTERM)
    end = time.monotonic() + GRACE_S
    while alive and time.monotonic() < end:
        time.sleep(0.05)
        alive = _signal_groups(alive, 0)
    _signal_groups(alive, signal.SIGKILL)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    end_all()
    signal.signal(signal.SIGTERM, _previous)
    if _previous == signal.SIG_IGN:
        return
    if callable(_previous):
        _previous(signum, frame)
    else:
        os.kill(os.getpid(), signal.SIGTERM)  # the default action, as before


def register(pgid: int) -> None:
    """End process group ``pgid`` at interpreter exit or SIGTERM unless unregistered first."""
    global _installed, _previous
    with _lock:
        _groups.add(pgid)
        if _installed:
            return
        _installed = True
    atexit.register(end_all)
    if threading.current_thread() is threading.main_thread():
        _previous = signal.signal(signal.SIGTERM, _on_sigterm)


def unregister(pgid: int) -> None:
    """Forget ``pgid`` (its fixture stopped it)."""
    with _lock:
        _groups.discard(pgid)


def alive(pids: Iterable[int]) -> list[int]:
    """The pids of ``pids`` that are still running (zombies count as gone)."""
    import psutil  # a harness dependency; the rest of this module needs only the stdlib

    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.Error:
            pass
    return out
