"""Local order book benchmark (issue 15): depth diffs applied per second to one book, through the sync.

Run: ``.venv/bin/python benchmarks/bench_orderbook.py`` (= ``make bench-orderbook``; a few seconds).

Two streams, both through :class:`BinanceBookSync` (the ``pu`` check, the apply, the crossed check after every
diff), parsing excluded (it happens once at the edge, per frame):

* real: the SUSHIUSDT snapshot and its diffs of ``data/orderbook/`` (1000 levels a side, 2-9 levels a diff),
  replayed 400 times, each pass from the snapshot (the load is not timed);
* synthetic BTC-like: a 1000-level book a side at 0.1 ticks around 65,000, each diff 10 levels (a quarter of
  them deletes), drawn near the touch the way a 100 ms BTCUSDT diff is. Target: >= 50,000 diffs/s.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from live_heatmap.orderbook.recording import load_depth_recording  # noqa: E402  (after the path set-up above)
from live_heatmap.orderbook.sync import BinanceBookSync  # noqa: E402
from live_heatmap.wire.depth import DepthDiff, DepthSnapshot  # noqa: E402

DATA = ROOT / "data" / "orderbook"
TARGET = 50_000


def _real() -> tuple[DepthSnapshot, list[DepthDiff]]:
    snap = next(u for _, u in load_depth_recording(DATA / "binance_usdm_rest_depth_2021-07-22.txt")
                if u.symbol == "SUSHIUSDT" and isinstance(u, DepthSnapshot))
    diffs = [u for _, u in load_depth_recording(DATA / "binance_usdm_depth100ms_2021-07-22.jsonl")
             if u.symbol == "SUSHIUSDT" and isinstance(u, DepthDiff) and u.last_id >= snap.last_update_id]
    return snap, diffs


def _synthetic(n: int, rng: np.random.Generator) -> tuple[DepthSnapshot, list[DepthDiff]]:
    tick, mid = 0.1, 65_000.0
    bids = np.column_stack([mid - tick * np.arange(1, 1001), rng.uniform(0.001, 5.0, 1000)])
    asks = np.column_stack([mid + tick * np.arange(1, 1001), rng.uniform(0.001, 5.0, 1000)])
    snap = DepthSnapshot("BTCUSDT", 1, 0, bids, asks)
    diffs = []
    for i in range(n):
        sides = []
        for sign in (-1.0, 1.0):
            offsets = np.minimum(rng.geometric(0.05, 5), 1000)  # mostly near the touch
            prices = np.round(mid + sign * tick * offsets, 1)
            sizes = np.where(rng.random(5) < 0.25, 0.0, rng.uniform(0.001, 5.0, 5))
            sides.append(np.column_stack([prices, sizes]))
        diffs.append(DepthDiff("BTCUSDT", i + 1, i + 1, i, i, sides[0], sides[1]))
    return snap, diffs


def _rate(snap: DepthSnapshot, diffs: list[DepthDiff], loops: int) -> tuple[float, int]:
    """Diffs per second over ``loops`` passes; each pass loads the snapshot afresh (not timed) and applies the
    diffs in order (timed). Returns (rate, resyncs)."""
    elapsed = 0.0
    resyncs = 0
    for _ in range(loops):
        sync = BinanceBookSync(snap.symbol)
        sync.on_snapshot(snap, 0)
        start = time.perf_counter()
        for d in diffs:
            sync.on_diff(d, 0)
        elapsed += time.perf_counter() - start
        if sync.book is None:
            raise SystemExit(f"the book did not stay synced: {sync.status()}")
        resyncs += sync.resyncs
    return len(diffs) * loops / elapsed, resyncs


def main() -> None:
    rng = np.random.default_rng(15)
    snap, diffs = _real()
    rate, resyncs = _rate(snap, diffs, loops=400)
    levels = sum(len(d.bids) + len(d.asks) for d in diffs) / len(diffs)
    print(f"real SUSHIUSDT, {len(diffs)} diffs x 400 ({levels:.1f} levels a diff): {rate:,.0f} diffs/s "
          f"(resyncs {resyncs}; target >= {TARGET:,})")
    snap, diffs = _synthetic(100_000, rng)
    rate, resyncs = _rate(snap, diffs, loops=1)
    print(f"synthetic BTC-like 1000 levels a side, 100,000 diffs of 10 levels: {rate:,.0f} diffs/s "
          f"(resyncs {resyncs}; target >= {TARGET:,})")


if __name__ == "__main__":
    main()
