# The two commands of the README: `make repro` (set up + run the quick profile), `make test` (set up + tests).
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)
JOBS ?= 2

.PHONY: setup check repro test test-gpucheck lint ui

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

setup: $(VENV)/.installed

# Checks the whole params.yaml (and that the MLflow store answers) without running anything: run it after an edit.
check: setup
	$(PY) -m pipeline.check

# Trains JOBS grid members at once (one thread each on a 2-core CPU), then finishes with a plain `dvc repro`.
repro: setup
	$(PY) -m pipeline.parallel --jobs $(JOBS)

test: setup
	$(PY) -m pytest

# The GPU check's whole flow with the device set to the CPU (bench/gpu_check.sh, docs/gpu.md): outside the default
# suite for its 2 minutes; CI runs it.
test-gpucheck: setup
	$(PY) -m pytest -m gpucheck

lint: setup
	$(VENV)/bin/ruff check .

# The MLflow UI on the project's store (one worker), with a link to each experiment's runs table, printed once the
# server answers (pipeline/ui.py: what the links set); Ctrl-C stops it. Port 5000; another: `attnbench ui --port N`.
ui: setup
	$(VENV)/bin/attnbench ui
