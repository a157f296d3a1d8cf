"""Sweep benchmark (issue 17): one grid run in one process, in the local pool, and on a Dask LocalCluster.

Run: ``.venv/bin/python benchmarks/bench_sweep_cluster.py`` (= ``make bench-sweep-cluster``; about a minute). The
input is the shipped session (``data/binance/forceorder_wire.jsonl`` and ``aggtrades_large.csv``, 30 minutes of 4
symbols) and a grid of 24 combinations. Measured: the wall time of ``run_sweep`` with ``workers=1``, with
``workers=2`` (the local process pool) and with ``scheduler=`` a ``LocalCluster`` of 2 worker processes (1 thread
each, started before the clock runs: the cluster's start is not counted, the client's connection and the
broadcast of the inputs are). Each run's JSON is checked to be the bytes of the first.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from liquidation_hunter.backtest import run_sweep  # noqa: E402
from liquidation_hunter.config.model import BotConfig  # noqa: E402
from liquidation_hunter.data.prices import load_prices  # noqa: E402
from live_heatmap import parse_force_order  # noqa: E402

DATA = ROOT / "data" / "binance"
START_MS, END_MS = 1_737_996_600_000, 1_737_998_400_000
SETTINGS = {"symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"], "heatmap": {"min_cluster_size": 3},
            "hunter": {"min_strength": 0.3, "min_distance_pct": 0.3, "max_distance_pct": 3.0,
                       "preferred_distance_pct": 0.8},
            "risk": {"leverage": 5, "max_open_positions": 4, "cooldown_minutes": 0, "daily_loss_limit_pct": None,
                     "max_drawdown_pct": None}}
GRID = {"hunter.min_strength": [0.3, 0.4, 0.5, 0.6, 0.7, 0.97], "heatmap.cluster_window_pct": [0.005, 0.01, 0.015,
                                                                                               0.02]}


def main() -> None:
    import distributed

    events = [parse_force_order(line) for line in (DATA / "forceorder_wire.jsonl").read_bytes().splitlines()]
    prices = load_prices(DATA / "aggtrades_large.csv")
    config = BotConfig.from_mapping(json.loads(json.dumps(SETTINGS)))
    combos = len(GRID["hunter.min_strength"]) * len(GRID["heatmap.cluster_window_pct"])
    print(f"{len(events):,} events, {combos} combinations")
    first: bytes | None = None
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None, worker_dashboard_address=None) as cluster:
        runs = (("one process (workers=1)", {"workers": 1}), ("local pool (workers=2)", {"workers": 2}),
                ("LocalCluster, 2 workers (--scheduler)", {"scheduler": cluster.scheduler_address}))
        for label, how in runs:
            began = time.perf_counter()
            result = run_sweep(config, events, prices, GRID, start_ms=START_MS, end_ms=END_MS, **how)
            seconds = time.perf_counter() - began
            same = first is None or result.to_json() == first
            first = first or result.to_json()
            print(f"{label:<40} {seconds:6.2f} s  {combos / seconds:5.2f} combinations/s  "
                  f"{'same bytes' if same else 'DIFFERENT BYTES'}")


if __name__ == "__main__":
    main()
