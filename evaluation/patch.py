"""The reviewable diff baseline -> optimized, as one unified patch.

    python -m evaluation.patch          # (or: make patch) regenerate the committed file
    python -m evaluation.patch --check  # exit 1 if the committed file is stale

Produces what ``diff -ruN baseline optimized`` would (minus timestamps, so the file is
reproducible; absent files carry the epoch date, as with ``diff -N``), using
:mod:`difflib`, so no external tool is needed. Applied with ``patch -p1`` inside a
copy of ``baseline/`` it yields ``optimized/`` (files created and deleted). Caches,
compiled files and non-UTF-8 files are left out (a binary file is noted, not diffed).
``tests/test_evaluation.py`` fails when the committed patch is stale.
"""
from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

__all__ = ["ROOT", "PATCH_PATH", "render_patch", "write_patch", "is_stale", "main"]

ROOT = Path(__file__).resolve().parent.parent
#: The committed patch, relative to the repository root.
PATCH_PATH = Path("patches") / "baseline-to-optimized.patch"
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache"}
_SKIP_SUFFIXES = {".pyc", ".pyo", ".so"}
# Timestamps of present files are left out so that the file is reproducible.
_EPOCH = "1970-01-01 00:00:00.000000000 +0000"


def _files(tree: Path) -> set[Path]:
    if not tree.is_dir():
        raise FileNotFoundError(f"{tree}: folder to diff not found")
    return {p.relative_to(tree) for p in tree.rglob("*")
            if p.is_file() and not _SKIP_DIRS.intersection(p.relative_to(tree).parts)
            and p.suffix not in _SKIP_SUFFIXES}


def _lines(path: Path) -> list[str] | None:
    """The file's lines (with endings); ``[]`` if absent; None if not UTF-8 text."""
    if not path.exists():
        return []
    try:
        return path.read_text(encoding="utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def _mark_missing_newlines(diff: list[str]) -> list[str]:
    out = []
    for line in diff:
        if line.startswith(("---", "+++")) or line.endswith("\n"):
            out.append(line)
        else:  # GNU diff's marker for a last line without a newline
            out += [line + "\n", "\\ No newline at end of file\n"]
    return out


def _date(path: Path) -> str:
    return "" if path.exists() else _EPOCH


def _file_diff(old: Path, new: Path, a_name: str, b_name: str) -> list[str]:
    a, b = _lines(old), _lines(new)
    if a is None or b is None:
        differ = old.exists() != new.exists() or old.read_bytes() != new.read_bytes()
        return [f"Binary files {a_name} and {b_name} differ\n"] if differ else []
    # diff -N dates an absent file at the epoch; patch(1) then creates/deletes it.
    diff = list(difflib.unified_diff(a, b, a_name, b_name, _date(old), _date(new), n=3))
    if not diff:
        return []
    return [f"diff -ruN {a_name} {b_name}\n"] + _mark_missing_newlines(diff)


def render_patch(root: Path = ROOT, old: str = "baseline", new: str = "optimized") -> str:
    """The unified diff of ``root/old`` against ``root/new`` (``diff -ruN`` layout).

    Parameters
    ----------
    root : Path
        Repository root.
    old, new : str
        Folder names under ``root``.

    Returns
    -------
    str
        The patch text; files in sorted path order, new files diffed against empty.
    """
    a_dir, b_dir = root / old, root / new
    out: list[str] = []
    for rel in sorted(_files(a_dir) | _files(b_dir), key=lambda p: p.as_posix()):
        out += _file_diff(a_dir / rel, b_dir / rel, f"{old}/{rel.as_posix()}",
                          f"{new}/{rel.as_posix()}")
    return "".join(out)


def write_patch(root: Path = ROOT) -> Path:
    """Regenerate ``patches/baseline-to-optimized.patch``.

    Parameters
    ----------
    root : Path
        Repository root holding ``baseline/`` and ``optimized/``.

    Returns
    -------
    Path
        The patch file written (``root / PATCH_PATH``).
    """
    path = root / PATCH_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_patch(root), encoding="utf-8")
    return path


def is_stale(root: Path = ROOT) -> bool:
    """Whether the committed patch is out of date.

    Parameters
    ----------
    root : Path
        Repository root holding ``baseline/``, ``optimized/`` and ``PATCH_PATH``.

    Returns
    -------
    bool
        True when the committed patch differs from a fresh rendering (or is missing).
    """
    path = root / PATCH_PATH
    return not path.exists() or path.read_text(encoding="utf-8") != render_patch(root)


def main(argv: list[str] | None = None) -> int:
    """Command line: regenerate the patch, or ``--check`` it.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit code: 0 written or up to date, 1 ``--check`` found it stale.
    """
    parser = argparse.ArgumentParser(prog="python -m evaluation.patch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if the committed patch is stale")
    args = parser.parse_args(argv)
    if args.check:
        if is_stale():
            print(f"{PATCH_PATH} is stale: run `make patch` (python -m evaluation.patch)",
                  file=sys.stderr)
            return 1
        print(f"{PATCH_PATH} is up to date")
        return 0
    path = write_patch()
    text = path.read_text(encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}: {text.count(chr(10)):,} lines, "
          f"{text.count('diff -ruN '):,} files differ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
