# Two commands do all the set-up: `make smoke` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
# torch is installed before the package so that pip keeps it: 2.13.0 is a CPU build where one lies
# on disk (CPU-only machines here) and PyPI's CUDA build elsewhere. For a CPU-only build on
# another machine: make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install smoke test test-fast bench minatar-experiment clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

smoke: install
	$(BIN)/leap-rl train configs/smoke.yaml --out runs/smoke --force

test: install
	$(BIN)/python -m pytest -q -ra tests

# The unit tier alone (tests/unit, marker unit: see setup.cfg); under a minute (docs/benchmarks.md).
test-fast: install
	$(BIN)/python -m pytest -q -m unit tests/unit

# The MinAtar experiment of docs/results.md (about 2 hours on 2 cores); run again to resume.
minatar-experiment: install
	bash scripts/minatar_experiment.sh

bench: install
	$(BIN)/python bench/leap_overhead.py

clean:
	rm -rf $(VENV) runs .pytest_cache
