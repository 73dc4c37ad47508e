"""The static checks bite: the project's own ruff and mypy settings reject known defects.

``make test`` (CI) runs ``ruff check .`` and ``mypy`` on the tree before pytest; these
tests prove the configuration in ``pyproject.toml`` is not a check that cannot fail:
an unused import and a wrong return type, written into a scratch file, are reported.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "pyproject.toml"
BIN = Path(sys.executable).parent


def _run(tool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    exe = BIN / tool
    if not exe.exists():
        pytest.fail(f"{tool} is not installed beside {sys.executable}: "
                    "the harness extra in pyproject.toml pins it")
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


@pytest.mark.timeout(60)
def test_ruff_reports_an_unused_import(tmp_path: Path) -> None:
    bad = tmp_path / "unused_import.py"
    bad.write_text('import os\n\n\ndef f() -> int:\n    return 1\n')
    res = _run("ruff", "check", "--config", CONFIG, "--no-cache", bad)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "F401" in res.stdout, res.stdout


@pytest.mark.timeout(60)
def test_ruff_passes_the_same_file_without_the_defect(tmp_path: Path) -> None:
    good = tmp_path / "clean.py"
    good.write_text('def f() -> int:\n    return 1\n')
    res = _run("ruff", "check", "--config", CONFIG, "--no-cache", good)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.timeout(120)
def test_mypy_reports_a_wrong_return_type(tmp_path: Path) -> None:
    bad = tmp_path / "wrong_return.py"
    bad.write_text('def f() -> int:\n    return "one"\n')
    res = _run("mypy", "--config-file", CONFIG, "--cache-dir", tmp_path / "cache", bad)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "[return-value]" in res.stdout, res.stdout


def test_the_package_ships_its_annotations() -> None:
    import optimized

    assert (Path(optimized.__file__).parent / "py.typed").is_file()
    assert 'optimized = ["py.typed"]' in CONFIG.read_text()
