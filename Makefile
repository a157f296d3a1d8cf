# One command sets up and runs the tests; one sets up and runs the offline demo.
# Needs only python3 (3.11+) and make. Everything is installed into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test demo lint bench bench-core bench-stream setup clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,analysis,plot]"
	touch $(STAMP)

setup: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/liquidation-hunter clusters --events data/binance/forceorder_wire.jsonl --at 2025-01-27T17:20:00Z --min-strength 0.3

bench: bench-core bench-stream

bench-core: $(STAMP)
	$(BIN)/python benchmarks/bench_core.py

bench-stream: $(STAMP)
	$(BIN)/python benchmarks/bench_stream.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis build *.egg-info
