"""The repository explains itself: every label it cites is stated in its own docs/.

Code, instances and docs cite requirements as ``R1``-``R8`` and design decisions as ``D1``,
``D11a``...; each must be a heading of ``docs/requirements.md`` or ``docs/design.md``. Nothing
may point at a folder beside the checkout (the team's shared design notes, which a clone
does not have), and every relative path that
``instances/instance.json`` names must exist.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: Where labels are cited: the project's own source, data and documentation.
SOURCES = ["optimized", "baseline", "evaluation", "benchmarks", "tests", "instances", "docs",
           "references"]
SUFFIXES = {".py", ".json", ".md", ".toml", ".cfg"}
LABEL = re.compile(r"\b([RD]\d{1,2}a?)\b")
HEADING = re.compile(r"^## ([RD]\d{1,2}a?) - ", re.M)
#: A path into the folder beside the checkout that holds the team's own notes.
OUTSIDE = re.compile(r"\.\./shared\b")


def _files() -> list[Path]:
    out = [ROOT / "README.md", ROOT / "pyproject.toml", ROOT / "Makefile"]
    for top in SOURCES:
        out += [p for p in (ROOT / top).rglob("*") if p.suffix in SUFFIXES and p.is_file()]
    return out


def _defined() -> set[str]:
    return {m for doc in ("requirements.md", "design.md")
            for m in HEADING.findall((DOCS / doc).read_text(encoding="utf-8"))}


@pytest.mark.timeout(30)
def test_docs_state_every_requirement_and_decision() -> None:
    defined = _defined()
    assert {f"R{i}" for i in range(1, 9)} <= defined
    assert {f"D{i}" for i in range(1, 20)} <= defined


@pytest.mark.timeout(30)
def test_every_cited_label_resolves_in_docs() -> None:
    defined = _defined()
    unresolved = []
    for path in _files():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            unresolved += [f"{path.relative_to(ROOT)}:{n}: {label}"
                           for label in LABEL.findall(line) if label not in defined]
    assert unresolved == [], "labels with no heading in docs/:\n" + "\n".join(unresolved)


@pytest.mark.timeout(30)
def test_nothing_points_outside_the_repository() -> None:
    outside = [f"{p.relative_to(ROOT)}:{n}" for p in _files() if p != Path(__file__)
               for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
               if OUTSIDE.search(line)]
    assert outside == [], outside
    inst = json.loads((ROOT / "instances" / "instance.json").read_text())
    for key in ("requirements", "design", "workloads"):
        assert (ROOT / "instances" / inst[key]).resolve().is_file(), (key, inst[key])
