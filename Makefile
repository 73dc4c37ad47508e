# The two commands of README.md: `make report` (the evaluation report) and
# `make test` (the test suite). Both create the local virtualenv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup test lint report quick-report grade compare demo bench bench-quick patch clean test-pythons profile-harness

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
	$(BIN)/python -m evaluation $(ARGS)

quick-report: $(STAMP)
	$(BIN)/python -m evaluation --quick $(ARGS)

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
	$(BIN)/asv run --python=same --launch-method=forkserver --record-samples --set-commit-hash=$$(git rev-parse HEAD)

bench-quick: $(STAMP)
	$(BIN)/asv machine --yes
	PPD_BENCH_QUICK=1 $(BIN)/asv run --python=same --launch-method=forkserver --quick --dry-run --show-stderr

## Where the newest report's time went (stages, asv per suite / impl / point).
profile-harness: $(STAMP)
	$(BIN)/python -m evaluation.profile $(REPORT)

## Regenerate patches/baseline-to-optimized.patch.
patch: $(STAMP)
	$(BIN)/python -m evaluation.patch

clean:
	rm -rf $(VENV) .venv-* .asv reports .pytest_cache .hypothesis

## The processor's own tests on every other CPython this machine has (pyenv's 3.12, 3.13):
## a virtualenv each (.venv-3.12, ...), then the engine, operation and fault tests.
PYTHONS ?= 3.12 3.13
CORE_TESTS := tests/test_executor.py tests/test_engine.py tests/test_map_ops.py tests/test_matrix.py \
	tests/test_pipeline.py tests/test_primes.py tests/test_wordcount.py tests/test_imap.py \
	tests/test_fault_matrix.py tests/test_small_shm.py tests/test_parent_death.py
test-pythons:
	@for v in $(PYTHONS); do \
	  py=$$(ls -d $$HOME/.pyenv/versions/$$v.*/bin/python 2>/dev/null | tail -1); \
	  [ -n "$$py" ] || py=$$(command -v python$$v); \
	  if [ -z "$$py" ] || ! $$py --version >/dev/null 2>&1; then echo "python$$v: not found, skipped"; continue; fi; \
	  [ -x .venv-$$v/bin/python ] || { $$py -m venv .venv-$$v && .venv-$$v/bin/python -m pip install --quiet -e '.[harness]'; } || exit 1; \
	  echo "== $$($$py --version)"; \
	  .venv-$$v/bin/python -m pytest -q -m "not gate" $(CORE_TESTS) || exit 1; \
	done
