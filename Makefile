# One command each for a fresh machine: `make demo` and `make test` create .venv, install the
# project and its pinned requirements, then run. PYTHON picks the interpreter for the venv.
# `make test-fast` runs the tests not marked slow (see markers in pyproject.toml).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test test-fast lint format clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	@echo "Creating $(VENV) and installing requirements.txt and the package (a few minutes the first time)..."
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -e .
	@echo "Installed into $(VENV); the recipes use it without activation."
	touch $@

demo: setup
	$(PY) scripts/demo.py

test: setup
	HF_HUB_OFFLINE=1 WANDB_MODE=disabled $(PY) -m pytest -q

test-fast: setup
	HF_HUB_OFFLINE=1 WANDB_MODE=disabled $(PY) -m pytest -q -m "not slow"

# ruff's configuration is in pyproject.toml; CI (.ci/run) fails on any finding
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf demo_runs .pytest_cache
