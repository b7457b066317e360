# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make run    install, compare margin with random on digits over 5 seeds
#               (configs/quickstart-sweep.yaml), print the comparison and the report's path
#   make test   install with the dev extras, run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench bench-loop bench-memmap bench-labels bench-cost bench-sweep bench-compare clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	@$(BIN)/alcli sweep configs/quickstart-sweep.yaml --sweep-dir "sweeps/quickstart-$$(date +%Y%m%d-%H%M%S)"

# pytest exits 5 when it collects no test: that fails here like any other non-zero code.
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check alcli tests benchmarks
	$(BIN)/ruff format --check alcli tests benchmarks

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/pool_scale.py

# The batch-size-1 protocol against a plain loop, and a 5,000-loop run (about a minute).
bench-loop: $(VENV)/.installed
	$(BIN)/python benchmarks/loop_overhead.py --long

# A 10,000,000 x 64 memory-mapped pool: alcli's peak resident memory.
bench-memmap: $(VENV)/.installed
	$(BIN)/python benchmarks/memmap_pool.py

# Every strategy against random on four datasets, 10 seeds (long: see the script's docstring).
bench-labels: $(VENV)/.installed
	$(BIN)/python benchmarks/label_efficiency.py

# A sweep on 2 jobs against the same sweep on 1 (target: within 1.1x of perfect scaling).
bench-sweep: $(VENV)/.installed
	$(BIN)/python benchmarks/sweep_wall.py

# compare over 1,000 run directories (target: under 10 s).
bench-compare: $(VENV)/.installed
	$(BIN)/python benchmarks/compare_scale.py

bench-cost: $(VENV)/.installed
	$(BIN)/python benchmarks/strategy_cost.py --check

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
