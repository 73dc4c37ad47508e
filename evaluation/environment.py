"""Describe the machine and software a report was measured on.

Timings mean nothing without their context: Python, NumPy and its BLAS, how many
cores (and how loaded they were), the multiprocessing start method, the git commit
and whether the working tree had uncommitted changes.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["git_commit", "describe_environment"]

_PACKAGES = ("numpy", "pandas", "matplotlib", "asv", "asv_runner", "pytest", "pytest-timeout",
             "psutil", "threadpoolctl", "tqdm")


def _git(repo_root: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo_root, capture_output=True, text=True,
                         timeout=30, check=True)
    return out.stdout.strip()


def git_commit(repo_root: Path) -> str:
    """Full hash of ``HEAD`` in ``repo_root``.

    Parameters
    ----------
    repo_root : Path
        A folder inside a git working tree.

    Returns
    -------
    str
        The 40-digit commit hash.

    Raises
    ------
    RuntimeError
        Not a git repository or no commit yet.
    """
    try:
        return _git(repo_root, "rev-parse", "HEAD")
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        raise RuntimeError(f"{repo_root}: cannot read the git commit (is it a git repository "
                           f"with at least one commit?): {exc}") from None


def _git_info(repo_root: Path) -> dict[str, Any]:
    try:
        dirty = _git(repo_root, "status", "--porcelain", "--untracked-files=no")
        return {"commit": git_commit(repo_root),
                "branch": _git(repo_root, "rev-parse", "--abbrev-ref", "HEAD"),
                "dirty": bool(dirty)}
    except (RuntimeError, subprocess.CalledProcessError, FileNotFoundError) as exc:
        return {"commit": None, "error": str(exc)}


def _blas() -> dict[str, Any]:
    """NumPy's BLAS at build time (numpy config) and at run time (threadpoolctl)."""
    import numpy as np

    info: dict[str, Any] = {}
    try:
        cfg = np.show_config(mode="dicts")
        deps = cfg.get("Build Dependencies", {})
        info["build"] = {k: {f: deps[k].get(f) for f in ("name", "version")}
                         for k in ("blas", "lapack") if k in deps}
    except (TypeError, ValueError, AttributeError):  # numpy < 1.26: no dict mode
        info["build"] = None
    try:
        from threadpoolctl import threadpool_info

        info["runtime"] = [{k: p.get(k) for k in ("user_api", "internal_api", "version",
                                                  "num_threads", "threading_layer")}
                           for p in threadpool_info()]
    except ImportError:
        info["runtime"] = None
    return info


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _cpus() -> dict[str, Any]:
    import psutil

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = None
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    return {"cpu_count": os.cpu_count(), "usable_cpus": affinity,
            "physical_cores": psutil.cpu_count(logical=False),
            "load_average_1_5_15": load, "memory_bytes": psutil.virtual_memory().total}


def describe_environment(repo_root: Path) -> dict[str, Any]:
    """Everything about where and with what the report was measured.

    Parameters
    ----------
    repo_root : Path
        Repository root (for the git commit).

    Returns
    -------
    dict
        JSON-serialisable: ``python``, ``platform``, ``cpu``, ``numpy``, ``start_method``,
        ``git``, ``packages``.
    """
    import numpy as np

    return {
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "platform": {"system": platform.system(), "release": platform.release(),
                     "machine": platform.machine(), "node": platform.node()},
        "cpu": _cpus(),
        "numpy": {"version": np.__version__, "blas": _blas()},
        "start_method": {"default": mp.get_context().get_start_method(),
                         "available": mp.get_all_start_methods()},
        "git": _git_info(repo_root),
        "packages": _versions(),
    }
