"""asv's result files: which are this run's, copying them into a report, and a REF's for ``--compare``.

asv writes one result file per commit and machine (``<results>/<machine>/<hash8>-<env>.json``).
A report keeps a copy of the run's file, ``benchmarks.json`` and ``machine.json`` under
``raw/asv/`` (:func:`collect_results`); ``--compare REF`` finds REF's file, or makes it
with ``asv run REF^!`` - asv checks REF out and benchmarks it in a virtualenv of its own,
so the figures are REF's code, not HEAD's (:func:`ref_results`).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .groups import run_capped

__all__ = ["result_files", "collect_results", "ref_results", "newest_result"]


def result_files(results_dir: Path, commit: str) -> dict[str, int]:
    """The commit's result files now: path relative to ``results_dir`` -> ``st_mtime_ns``.

    Parameters
    ----------
    results_dir : Path
        asv's results directory (may not exist yet).
    commit : str
        Full commit hash.

    Returns
    -------
    dict of str to int
        Empty when there is none.
    """
    return {str(p.relative_to(results_dir)): p.stat().st_mtime_ns
            for p in results_dir.glob(f"*/{commit[:8]}-*.json")}


def collect_results(results_dir: Path, commit: str, dest: Path,
                    previous: dict[str, int] | None = None) -> Path:
    """Copy this commit's newest result file, ``benchmarks.json`` and ``machine.json``.

    Parameters
    ----------
    results_dir : Path
        asv's results directory.
    commit : str
        Full commit hash.
    dest : Path
        Destination (``raw/asv``), laid out like a results directory.
    previous : dict of str to int, optional
        :func:`result_files` taken before the run (``AsvRun.previous``): a file
        whose modification stamp has not changed since is an older run's and is ignored,
        so a failed run never passes off old figures as its own.

    Returns
    -------
    Path
        The copied result file.

    Raises
    ------
    FileNotFoundError
        No result file for ``commit`` written by this run (asv did not run or saved
        nothing).
    """
    old = previous or {}
    now = result_files(results_dir, commit)
    fresh = [results_dir / name for name, stamp in now.items() if old.get(name) != stamp]
    if not fresh:
        stale = f" (only one left by an earlier run: {', '.join(sorted(now))})" if now else ""
        raise FileNotFoundError(f"no asv result file for commit {commit[:8]} written by this "
                                f"run in {results_dir}{stale}")
    newest = max(fresh, key=lambda p: p.stat().st_mtime_ns)
    machine = newest.parent.name
    if dest.exists():
        shutil.rmtree(dest)
    (dest / machine).mkdir(parents=True)
    shutil.copy2(newest, dest / machine / newest.name)
    for src, dst in ((newest.parent / "machine.json", dest / machine / "machine.json"),
                     (results_dir / "benchmarks.json", dest / "benchmarks.json")):
        if src.exists():
            shutil.copy2(src, dst)
    return dest / machine / newest.name


def newest_result(results_dir: Path, commit: str) -> Path | None:
    """The newest result file asv holds for ``commit`` (any machine, any environment)."""
    files = list(results_dir.glob(f"*/{commit[:8]}-*.json"))
    return max(files, key=lambda p: p.stat().st_mtime_ns) if files else None


def ref_results(repo_root: Path, ref: str, results_dir: Path, dest: Path, *,
                config: Path, wall_timeout_s: float, log: Path) -> Path:
    """The asv result file of commit ``ref``: found, or made by ``asv run REF^!``.

    Parameters
    ----------
    repo_root : Path
        The repository (``REF`` is resolved with ``git rev-parse`` there).
    ref : str
        Any git revision (``main``, a tag, a hash).
    results_dir : Path
        asv's results directory.
    dest : Path
        Where the file is copied (``raw/asv-ref/<machine>/``).
    config : Path
        asv.conf.json.
    wall_timeout_s : float
        Cap on the asv run when one is needed.
    log : Path
        asv's output goes here.

    Returns
    -------
    Path
        The copied result file.

    Raises
    ------
    ValueError
        ``ref`` is not a revision of the repository.
    FileNotFoundError
        asv ran but saved no result for ``ref`` (see ``log``).
    """
    try:
        commit = subprocess.run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
                                cwd=repo_root, capture_output=True, text=True, check=True,
                                timeout=30).stdout.strip()
    except subprocess.CalledProcessError:
        raise ValueError(f"--compare {ref}: not a commit of {repo_root}") from None
    found = newest_result(results_dir, commit)
    if found is None:
        from .asv import RUN_OPTIONS  # (asv imports this module)

        asv = [sys.executable, "-m", "asv"]
        run_capped([*asv, "machine", "--yes", "--config", str(config)], 60.0, log=log,
                   cwd=repo_root)
        run_capped([*asv, "run", "--config", str(config), *RUN_OPTIONS, "--show-stderr",
                    f"{commit}^!"], wall_timeout_s, log=log, cwd=repo_root, append=True)
        found = newest_result(results_dir, commit)
        if found is None:
            raise FileNotFoundError(f"asv saved no result for {ref} ({commit[:8]}); see {log}")
    (dest / found.parent.name).mkdir(parents=True, exist_ok=True)
    shutil.copy2(found, dest / found.parent.name / found.name)
    return dest / found.parent.name / found.name
