# The README's commands. Each target sets itself up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test train bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The suite runs against the built wheel installed in a fresh environment, not against the editable install.
test: venv
	tests/wheel_check.sh $(BIN)/python

train: venv
	$(BIN)/hqnn train --out runs/chapter --force

# Timing runs (~50 min); `pip install -e ".[bench]"` first to include the peers. numpy's OpenBLAS on one thread
# too: its idle threads spin on the other core after each product.
bench: venv
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest bench -q -p no:cacheprovider --benchmark-max-time=2 --benchmark-min-rounds=7 --benchmark-json=bench/results.json
	$(BIN)/python bench/report.py bench/results.json bench/RESULTS.md

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .benchmarks
