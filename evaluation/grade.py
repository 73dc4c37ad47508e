"""``python -m evaluation.grade NAME=SPEC [NAME=SPEC ...] [--full] [--only OP,...] [--json F]``.

Grades implementations of the original's API (:mod:`evaluation.running.grade` says how;
:mod:`evaluation.running.candidates` what a SPEC is). Exit code: 0 every candidate
passed, 4 one failed (:data:`~evaluation.verdicts.status.CANDIDATE_FAILED`), 2 a spec
did not resolve.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .running.candidates import CandidateError, parse_candidate
from .running.grade import format_grade, grade
from .verdicts.status import CANDIDATE_FAILED, USAGE
from .workloads import load_workloads

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m evaluation.grade``; returns the exit code."""
    ap = argparse.ArgumentParser(prog="python -m evaluation.grade",
                                 description="Grade implementations of the original's API.")
    ap.add_argument("candidates", nargs="+", metavar="NAME=SPEC",
                    help="module:Class, file.py:Class, folder:Class or patch:file.patch "
                         "(or baseline / optimized)")
    ap.add_argument("--full", action="store_true",
                    help="grade at the largest benchmark size too")
    ap.add_argument("--only", default=None, metavar="OP,...", help="operations to call")
    ap.add_argument("--json", type=Path, default=None, help="also write the grades here")
    args = ap.parse_args(argv)
    try:
        candidates = [parse_candidate(c) for c in args.candidates]
    except CandidateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE
    names = args.only.split(",") if args.only else None
    grades = []
    for c in candidates:
        try:
            grades.append(grade(c, load_workloads(), full=args.full, names=names))
        except CandidateError as exc:  # a patch that does not apply
            print(f"error: {exc}", file=sys.stderr)
            return USAGE
        print(format_grade(grades[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps([g.as_dict() for g in grades], indent=2))
    return 0 if all(g.passed for g in grades) else CANDIDATE_FAILED


if __name__ == "__main__":
    sys.exit(main())
