"""Run a child Python with a small private /dev/shm, as a container without ``--shm-size`` has.

``unshare -m`` gives the child a mount namespace of its own, where a small tmpfs is
mounted over /dev/shm: the machine's /dev/shm and every other process are untouched.
Root only; :func:`why_unavailable` says why not where it cannot be done.
"""
from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["why_unavailable", "run_with_small_shm"]


@functools.lru_cache(maxsize=1)
def why_unavailable() -> str | None:
    """None if a private small /dev/shm can be mounted here, else the reason."""
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return "needs Linux and unshare(1)"
    if os.geteuid() != 0:
        return "mounting a small tmpfs on /dev/shm needs root (unshare -m)"
    probe = subprocess.run(["unshare", "-m", "sh", "-c",
                            "mount -t tmpfs -o size=1m tmpfs /dev/shm"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode:
        return f"unshare -m + mount not permitted here: {probe.stderr.strip()}"
    return None


def run_with_small_shm(size: str | None, argv: list[str], *, timeout: float,
                       env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python *argv`` from the repository root, under a ``size`` tmpfs on /dev/shm.

    Parameters
    ----------
    size : str or None
        A tmpfs ``size=`` value (``"64m"``); None runs the child on the machine's own
        /dev/shm (where :func:`why_unavailable` says a private one cannot be had).
    argv : list of str
        Arguments after the interpreter.
    timeout : float
        Seconds before ``subprocess.TimeoutExpired``.
    env : dict, optional
        The child's environment (default: this process's).
    """
    python = [sys.executable, *argv]
    if size is None:
        return subprocess.run(python, cwd=ROOT, text=True, capture_output=True,
                              timeout=timeout, env=env)
    command = f"mount -t tmpfs -o size={size} tmpfs /dev/shm && exec {shlex.join(python)}"
    return subprocess.run(["unshare", "-m", "sh", "-c", command], cwd=ROOT, text=True,
                          capture_output=True, timeout=timeout, env=env)
