# Two commands do all set-up on a fresh clone:
#   make run    builds .venv (Python >= 3.12, found by scripts/find-python) and runs csp2023
#   make test   builds the same .venv and runs the test suite; then the fast tests on every other
#               Python >= 3.12 found (scripts/test-pythons, a venv each: .venv-3.13, ...)
PYTHON := $(shell scripts/find-python)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test test-fast test-pythons dashboard bench bench-ensembles bench-statistics lint clean-venv

$(STAMP): pyproject.toml scripts/find-python
	@test -n "$(PYTHON)" || { echo "no Python >= 3.12 found (see scripts/find-python)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	$(VENV)/bin/python -m sim.kernel  # compiles the kernel into its cache once, here
	$(VENV)/bin/python -m compileall -q sim  # bytecode that an editable install does not write: 0.25 s a start
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/hedgesim run scenarios/csp2023.toml

dashboard: $(STAMP)
	$(VENV)/bin/hedgesim dashboard

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -n auto
	scripts/test-pythons

# The fast part: no browser, no notebooks, no Dask cluster, no long ensembles (pytest markers).
test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -q -n auto -m "not slow and not browser"

test-pythons: $(STAMP)
	scripts/test-pythons

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/throughput.py

bench-ensembles: $(STAMP)
	$(VENV)/bin/python benchmarks/ensembles.py

bench-statistics: $(STAMP)
	$(VENV)/bin/python benchmarks/row_stats.py

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean-venv:
	rm -rf $(VENV)
