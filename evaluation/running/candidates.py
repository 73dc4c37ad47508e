"""Candidate implementations: what ``NAME=SPEC`` names, and where its code is (D17).

Any implementation of the original's API can be graded. A candidate supplies only its
processor class; the harness builds every workload itself. ``SPEC`` is one of::

    package.module:ClassName     a module importable from the repository (or PYTHONPATH)
    path/to/file.py:ClassName    a file anywhere on disk, imported by path
    path/to/dir:ClassName        a package folder anywhere on disk (it holds __init__.py)
    patch:path/to/file.patch     a unified diff against baseline/, applied with
                                 ``git apply`` to a temporary copy of it; the class
                                 graded is its UnoptimizedParallelProcessor

``baseline`` and ``optimized`` (no ``=``) name the two built-in implementations.

Nothing here imports a candidate: :func:`parse_candidate` checks the spec's shape and
that its file or folder exists, :func:`materialize` applies a patch. Importing happens
only in a child process (:mod:`evaluation.running.grade_child`), where a candidate that hangs,
crashes or calls ``os._exit`` harms nothing but itself.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Candidate", "CandidateError", "parse_candidate", "materialize", "BUILTINS"]

ROOT = Path(__file__).resolve().parents[2]
#: The built-in implementations, as candidates.
BUILTINS = {"baseline": ("baseline", "UnoptimizedParallelProcessor"),
            "optimized": ("optimized", "OptimizedParallelProcessor")}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,39}$")
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class CandidateError(ValueError):
    """A candidate spec that does not resolve (which part, and why)."""


@dataclass(frozen=True)
class Candidate:
    """One implementation to grade.

    Attributes
    ----------
    name : str
        What the report calls it.
    kind : {"module", "file", "dir", "patch"}
        How its code is found.
    target : str
        A dotted module name, or an absolute path (file, folder or patch).
    cls : str
        The processor class's name in that module.
    spec : str
        The text it was given as.
    """

    name: str
    kind: str
    target: str
    cls: str
    spec: str

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON, and the child's command line)."""
        return asdict(self)


def parse_candidate(text: str, cwd: Path | None = None) -> Candidate:
    """``NAME=SPEC`` (or ``baseline`` / ``optimized``) as a :class:`Candidate`.

    Parameters
    ----------
    text : str
        The command-line value.
    cwd : Path, optional
        What relative paths are relative to; default the current directory.

    Returns
    -------
    Candidate

    Raises
    ------
    CandidateError
        Not ``NAME=SPEC``; a bad name; a SPEC without ``:ClassName``; a file, folder or
        patch that does not exist; a folder without ``__init__.py``.
    """
    if text in BUILTINS:
        module, cls = BUILTINS[text]
        return Candidate(text, "module", module, cls, text)
    name, sep, spec = text.partition("=")
    if not sep or not spec:
        raise CandidateError(f"a candidate is NAME=SPEC (or 'baseline' / 'optimized'), got "
                             f"{text!r}")
    if not _NAME.match(name) or name in BUILTINS:
        raise CandidateError(f"candidate name {name!r}: letters, digits, '_', '-' or '.', "
                             f"starting with a letter, and not 'baseline' or 'optimized'")
    base = cwd or Path.cwd()
    if spec.startswith("patch:"):
        patch = (base / spec[len("patch:"):]).resolve()
        if not patch.is_file():
            raise CandidateError(f"candidate {name}: no patch file {patch}")
        return Candidate(name, "patch", str(patch), BUILTINS["baseline"][1], spec)
    target, colon, cls = spec.rpartition(":")
    if not colon or not cls.isidentifier():
        raise CandidateError(f"candidate {name}: SPEC must end in :ClassName (module:Class, "
                             f"file.py:Class, folder:Class or patch:file), got {spec!r}")
    if target.endswith(".py") or "/" in target or (base / target).exists():
        return Candidate(name, *_path_kind(name, (base / target).resolve()), cls, spec)
    if not _DOTTED.match(target):
        raise CandidateError(f"candidate {name}: {target!r} is neither a file, a folder nor a "
                             f"dotted module name")
    return Candidate(name, "module", target, cls, spec)


def _path_kind(name: str, path: Path) -> tuple[str, str]:
    if path.is_dir():
        if not (path / "__init__.py").is_file():
            raise CandidateError(f"candidate {name}: folder {path} has no __init__.py (a "
                                 f"folder candidate is a package)")
        return "dir", str(path)
    if path.is_file() and path.suffix == ".py":
        return "file", str(path)
    raise CandidateError(f"candidate {name}: no such file or folder {path}")


@contextmanager
def materialize(candidate: Candidate) -> Iterator[Candidate]:
    """The candidate as code on disk: a patch applied to a temporary copy of baseline/.

    Other kinds are yielded unchanged. The copy is removed on exit.

    Raises
    ------
    CandidateError
        ``git apply`` refused the patch (its message is included).
    """
    if candidate.kind != "patch":
        yield candidate
        return
    with tempfile.TemporaryDirectory(prefix="ppd-candidate-") as tmp:
        shutil.copytree(ROOT / "baseline", Path(tmp) / "baseline",
                        ignore=shutil.ignore_patterns("__pycache__"))
        proc = subprocess.run(["git", "apply", "--whitespace=nowarn", candidate.target],
                              cwd=tmp, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise CandidateError(f"candidate {candidate.name}: git apply {candidate.target} "
                                 f"failed against baseline/: {proc.stderr.strip()[:500]}")
        yield Candidate(candidate.name, "dir", str(Path(tmp) / "baseline"), candidate.cls,
                        candidate.spec)
