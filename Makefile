# One command sets up and runs the tests; one sets up and runs the offline demo.
# Needs only python3 (3.11+) and make. Everything is installed into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test demo run lint mutation bench bench-core bench-stream bench-history bench-backtest bench-api bench-estimated bench-history-backtest bench-orderbook bench-depth bench-stats bench-alerts bench-parquet bench-sweep-cluster bench-feed bench-postgres setup clean

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
	$(BIN)/vulture live_heatmap liquidation_hunter strategies tests benchmarks examples scripts/vulture_allowlist.py --min-confidence 60

test: lint
	$(BIN)/python -m pytest

run: $(STAMP)
	OPENBLAS_NUM_THREADS=1 $(BIN)/liquidation-hunter run --config config/paper.yaml

DEMO_EVENTS := data/binance/forceorder_wire.jsonl
DEMO_PRICES := data/binance/aggtrades_large.csv
DEMO_SPAN   := --from 2025-01-27T16:50:00Z --to 2025-01-27T17:20:00Z
DEMO_DEPTH  := --depth data/orderbook/binance_usdm_rest_depth_2021-07-22.txt --depth data/orderbook/binance_usdm_depth100ms_2021-07-22.jsonl

demo: $(STAMP)
	$(BIN)/liquidation-hunter clusters --events $(DEMO_EVENTS) --at 2025-01-27T17:20:00Z --min-strength 0.3
	$(BIN)/liquidation-hunter backtest --config config/demo.yaml --events $(DEMO_EVENTS) --prices $(DEMO_PRICES) $(DEMO_SPAN) --out demo-output
	$(BIN)/liquidation-hunter heatmap ETHUSDT --events $(DEMO_EVENTS) --prices $(DEMO_PRICES) --at 2025-01-27T17:20:00Z --window 40m --out demo-output/heatmap-ETHUSDT.png
	$(BIN)/liquidation-hunter heatmap BTCUSDT --events $(DEMO_EVENTS) --prices $(DEMO_PRICES) --at 2025-01-27T17:20:00Z --window 40m --out demo-output/heatmap-BTCUSDT.png
	$(BIN)/liquidation-hunter heatmap SUSHIUSDT --layer depth $(DEMO_DEPTH) --out demo-output/depth-SUSHIUSDT.png
	@echo "demo-output/: report.md, report.html, report.json, equity.png, heatmap-*.png, depth-SUSHIUSDT.png"

bench: bench-core bench-stream bench-history bench-backtest bench-api bench-estimated bench-history-backtest bench-orderbook bench-depth bench-stats bench-alerts bench-parquet bench-sweep-cluster bench-feed bench-postgres

bench-core: $(STAMP)
	$(BIN)/python benchmarks/bench_core.py

bench-stream: $(STAMP)
	$(BIN)/python benchmarks/bench_stream.py

bench-history: $(STAMP)
	$(BIN)/python benchmarks/bench_history.py

bench-backtest: $(STAMP)
	$(BIN)/python benchmarks/bench_backtest.py

bench-api: $(STAMP)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python benchmarks/bench_api.py

bench-estimated: $(STAMP)
	$(BIN)/python benchmarks/bench_estimated.py

bench-history-backtest: $(STAMP)
	$(BIN)/python benchmarks/bench_history_backtest.py

bench-orderbook: $(STAMP)
	$(BIN)/python benchmarks/bench_orderbook.py

bench-depth: $(STAMP)
	$(BIN)/python benchmarks/bench_depth.py

bench-stats: $(STAMP)
	$(BIN)/python benchmarks/bench_stats.py

bench-alerts: $(STAMP)
	$(BIN)/python benchmarks/bench_alerts.py

bench-parquet: $(STAMP)
	$(BIN)/python benchmarks/bench_parquet.py

bench-sweep-cluster: $(STAMP)
	$(BIN)/python benchmarks/bench_sweep_cluster.py

bench-feed: $(STAMP)
	$(BIN)/python benchmarks/bench_feed.py

# Starts its own PostgreSQL 15 in a temporary folder (about 90 s).
bench-postgres: $(STAMP)
	$(BIN)/python benchmarks/bench_postgres.py

# Mutation testing of the money path (docs/TESTING.md, "Mutation testing"); not part of `make test`: it takes a while.
$(VENV)/.mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[mutation]"
	touch $@

mutation: $(VENV)/.mutation
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2 > mutation.log 2>&1 || { tail -n 20 mutation.log; exit 1; }
	$(BIN)/python scripts/mutation_scores.py

clean:
	rm -rf mutants mutation.log $(VENV) .mypy_cache .ruff_cache .hypothesis build *.egg-info
