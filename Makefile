# Set-up, demo and tests. `make demo` and `make test` each set up everything on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test test-fast benchmark clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[segmenters,cluster,test]"
	$(PY) -c "import torch; print('torch', torch.__version__)"
	touch $@

demo: setup
	$(VENV)/bin/lowdose demo -o demo_output

test: setup
	$(PY) -m pytest -q -m "not slow"

test-all: setup
	$(PY) -m pytest -q

benchmark: setup
	$(PY) Testing/benchmarks/bench_simulator.py
	$(PY) Testing/benchmarks/bench_demo.py

clean:
	rm -rf $(VENV) demo_output .pytest_cache
