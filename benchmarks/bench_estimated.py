"""Estimated-levels model benchmark (issue 14): update speed for 50 symbols, a year of bars, memory.

Run: ``.venv/bin/python benchmarks/bench_estimated.py`` (= ``make bench-estimated``; about half a minute).

Bars are built from the real SOLUSDT 1-minute klines of ``data/binance/klines/2025-12-27/`` (per-minute
return, high/low around the close, volume, taker-buy share) and the real SOLUSDT open-interest changes of
``data/binance/open_interest/`` (relative change per reading), replayed in a loop as 5-minute bars; every
other loop runs backwards so the price stays in range over a year. Each symbol starts at a different
point of the loop. Targets (issue 14): 50 symbols updated per bar <= 10 ms; a year of 5-minute bars
(105,120) for one symbol <= 5 s; memory <= 2 MB per symbol at a 24 h window with a +-20 % range.
"""

from __future__ import annotations

import csv
import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from live_heatmap.estimated.bars import Bar  # noqa: E402  (after the path set-up above)
from live_heatmap.estimated.config import WINDOWS_MS, ModelConfig  # noqa: E402
from live_heatmap.estimated.model import EstimatedLevels  # noqa: E402

KLINES = ROOT / "data" / "binance" / "klines" / "2025-12-27" / "SOLUSDT-1m-2025-12-27_1425-1600.csv"
OPEN_INTEREST = ROOT / "data" / "binance" / "open_interest" / "SOLUSDT-openInterest-2026-02-10_0850-1051.csv"
FIVE_MIN = 300_000
YEAR_BARS = 105_120
SYMBOLS = 50


def real_pattern() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-step log return, high/low offsets, volume, taker-buy share (klines) and OI log change."""
    with KLINES.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    close = np.array([float(r["close"]) for r in rows])
    high = np.array([float(r["high"]) for r in rows])
    low = np.array([float(r["low"]) for r in rows])
    volume = np.array([float(r["volume"]) for r in rows])
    buy = np.array([float(r["taker_buy_volume"]) for r in rows]) / volume
    with OPEN_INTEREST.open(newline="") as handle:
        oi = np.array([float(r["open_interest_base_units"]) for r in csv.DictReader(handle)])
    returns = np.diff(np.log(close), prepend=np.log(close[0]))
    return returns, np.log(high / close), np.log(close / low), volume, buy, np.diff(np.log(oi))


def make_bars(count: int, offset: int) -> list[Bar]:
    returns, up, down, volume, buy, oi_change = real_pattern()
    n = len(returns)
    index = (np.arange(count) + offset) % n
    direction = np.where(((np.arange(count) + offset) // n) % 2 == 0, 1.0, -1.0)
    close = 100.0 * np.exp(np.cumsum(returns[index] * direction))
    oi = 1e7 * np.exp(np.cumsum(oi_change[(np.arange(count) + offset) % len(oi_change)]
                                * direction))
    bars = []
    for k in range(count):
        i = int(index[k])
        c = float(close[k])
        v = float(volume[i])
        bars.append(Bar(k * FIVE_MIN, k * FIVE_MIN + FIVE_MIN - 1, c * float(np.exp(up[i])),
                        c * float(np.exp(-down[i])), c, v, v * c, v * float(buy[i]), v * float(buy[i]) * c,
                        float(oi[k])))
    return bars


def bench_fifty_symbols() -> None:
    config = ModelConfig(window_ms=WINDOWS_MS["24h"])
    day = WINDOWS_MS["24h"] // FIVE_MIN
    series = [make_bars(2 * day, offset=7 * s) for s in range(SYMBOLS)]
    models = [EstimatedLevels(config) for _ in range(SYMBOLS)]
    for model, bars in zip(models, series, strict=True):
        for bar in bars[:day]:
            model.update(bar)
    per_bar = []
    for k in range(day, 2 * day):
        start = time.perf_counter()
        for model, bars in zip(models, series, strict=True):
            model.update(bars[k])
        per_bar.append(time.perf_counter() - start)
    binned = []
    for model in models:
        start = time.perf_counter()
        model.binned()
        model.leverage_distribution()
        binned.append(time.perf_counter() - start)
    per_bar.sort()
    print(f"50 symbols, one 5-minute bar each (24 h window, full rings), {day} bars: "
          f"median {statistics.median(per_bar) * 1e3:.2f} ms, p99 {per_bar[int(0.99 * len(per_bar))] * 1e3:.2f} ms, "
          f"max {per_bar[-1] * 1e3:.2f} ms (target <= 10 ms)")
    print(f"binned() + leverage_distribution() per symbol: median {statistics.median(binned) * 1e6:.0f} us")


def bench_year() -> None:
    bars = make_bars(YEAR_BARS, offset=0)
    for name in ("12h", "24h", "7d"):
        runs = []
        for _ in range(3):
            model = EstimatedLevels(ModelConfig(window_ms=WINDOWS_MS[name]))
            start = time.perf_counter()
            for bar in bars:
                model.update(bar)
            runs.append(time.perf_counter() - start)
        print(f"a year of 5-minute bars ({YEAR_BARS:,}), one symbol, {name} window: median of 3 "
              f"{statistics.median(runs):.2f} s, best {min(runs):.2f} s (target <= 5 s)")


def bench_memory() -> None:
    config = ModelConfig(window_ms=WINDOWS_MS["24h"], range_fraction=0.20)
    day = WINDOWS_MS["24h"] // FIVE_MIN
    series = [make_bars(day + 10, offset=5 * s) for s in range(SYMBOLS)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    models = [EstimatedLevels(config) for _ in range(SYMBOLS)]
    for model, bars in zip(models, series, strict=True):
        for bar in bars:
            model.update(bar)
    gc.collect()
    state = (tracemalloc.get_traced_memory()[0] - before) / SYMBOLS
    outputs = [m.binned() for m in models]
    with_output = (tracemalloc.get_traced_memory()[0] - before) / SYMBOLS
    peak = tracemalloc.get_traced_memory()[1] / SYMBOLS
    tracemalloc.stop()
    bins = len(outputs[0].prices)
    print(f"memory per symbol (24 h window, {day} bars, +-20 % range = {bins} bins of 0.1 %): "
          f"state {state / 1e3:.0f} kB, with its binned output kept {with_output / 1e3:.0f} kB, "
          f"peak while updating {peak / 1e3:.0f} kB (target <= 2 MB)")


def main() -> int:
    bench_fifty_symbols()
    bench_year()
    bench_memory()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
