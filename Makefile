# The two commands of README.md: `make report` (the evaluation report) and
# `make test` (the test suite). Both create the local virtualenv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup test lint report quick-report grade compare demo bench bench-quick patch clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[harness,cluster]'
	touch $(STAMP)

## The test suite (what CI runs): the static checks first (seconds), then pytest.
test: lint
	$(BIN)/python -m pytest

## Static checks alone: ruff (pyflakes, pycodestyle, bugbear, pyupgrade, isort) and mypy.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

## The main job: gates on both implementations + asv suites -> report folder.
report: $(STAMP)
	$(BIN)/python -m evaluation

quick-report: $(STAMP)
	$(BIN)/python -m evaluation --quick

## Grade an implementation of the original's API: make grade CANDIDATE=name=module:Class
grade: $(STAMP)
	$(BIN)/python -m evaluation.grade $(CANDIDATE)

## The report plus "Changes since REF" (default main); exit 1 on a significant slow-down.
REF ?= main
compare: $(STAMP)
	$(BIN)/python -m evaluation --compare $(REF)

## The original nine-step demo of the slow baseline.
demo: $(STAMP)
	$(BIN)/python -m baseline

## asv in the current environment (no per-commit virtualenvs); see docs/performance.md for the full forms.
bench: $(STAMP)
	$(BIN)/asv machine --yes
	$(BIN)/asv run --python=same --set-commit-hash=$$(git rev-parse HEAD)

bench-quick: $(STAMP)
	$(BIN)/asv machine --yes
	PPD_BENCH_QUICK=1 $(BIN)/asv run --python=same --quick --dry-run --show-stderr

## Regenerate patches/baseline-to-optimized.patch.
patch: $(STAMP)
	$(BIN)/python -m evaluation.patch

clean:
	rm -rf $(VENV) .asv reports .pytest_cache .hypothesis
