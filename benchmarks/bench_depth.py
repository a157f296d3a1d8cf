"""Depth over time benchmark (issue 15): a day of BTC-like depth in memory, and the cost of sampling 20 symbols.

Run: ``.venv/bin/python benchmarks/bench_depth.py`` (= ``make bench-depth``; about three minutes).

The book is the synthetic BTC-like one of ``tests/support/synthetic_depth.py`` (a real OrderBook kept by diffs:
random-walk mid, 1,000 levels a side on a 5 USDT grid, sizes that persist and churn most near the mid).

* Soak: one symbol sampled 86,400 times at 1 s on an accelerated clock into the LiquidityLayer the bot keeps
  (its DepthHistory: 0.05 % bins, 5 % change threshold, +-5 % range, pruned every minute to the 12 h retention;
  and its walls); per hour the history's bytes, tracemalloc's held allocations (traced from the start) and the
  process's resident memory (``/proc/self/statm``, Linux). Also the bytes a day would take unpruned (the runs
  made in 24 h x the bytes per run). Targets: <= 30 MB; flat (+-10 %) from hour 12 to hour 24.
* Sampling cost: 20 symbols, each a LiquidityLayer sample (history, walls and the summary's band depth; the
  sorted levels the book builds for it included) once per simulated second for 10 minutes, after 10 warm-up
  minutes; CPU seconds of sampling per second of the clock. Target: < 5 % of one core (0.05 s/s). The books'
  own diffs are not counted (they are the feed's cost).
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from live_heatmap.orderbook.layer import LiquidityLayer  # noqa: E402  (after the path set-up above)
from tests.support.synthetic_depth import SyntheticBtcBook  # noqa: E402

HOUR_MS = 3_600_000
MB = 2**20
SYMBOLS = 20


def resident_bytes() -> int:
    """The process's resident memory (Linux ``/proc/self/statm``; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def bench_soak() -> bool:
    market = SyntheticBtcBook(seed=15)
    layer = LiquidityLayer()  # the bot's: 12 h retention, pruned every minute
    layer.sample("BTCUSDT", market.step(0), 0)
    history = layer.history("BTCUSDT")
    assert history is not None
    made = history.runs
    tracemalloc.start()
    rows: list[tuple[int, int, int, int, int]] = []
    for s in range(1, 86_400):
        at_ms = s * 1000
        before = history.runs
        layer.sample("BTCUSDT", market.step(at_ms), at_ms)
        made += max(history.runs - before, 0)  # a prune shrinks it: counted by what appeared since
        if (at_ms + 1000) % HOUR_MS == 0:
            rows.append(((at_ms + 1000) // HOUR_MS, history.runs, history.nbytes(),
                         tracemalloc.get_traced_memory()[0], resident_bytes()))
    tracemalloc.stop()
    print("soak: one symbol's LiquidityLayer (depth and walls), 86,400 samples at 1 s, 12 h retention")
    print(f"{'hour':>4} {'runs held':>10} {'nbytes MB':>10} {'traced MB':>10} {'RSS MB':>8}")
    for hour, runs, nbytes, traced, rss in rows:
        if hour % 3 == 0:
            print(f"{hour:>4} {runs:>10,} {nbytes / MB:>10.2f} {traced / MB:>10.2f} {rss / MB:>8.1f}")
    per_run = 17
    print(f"runs made in 24 h: about {made:,} ({made / 86_400:.1f} a second); unpruned a day would hold "
          f"{made * per_run / MB:.1f} MB of runs")
    h12, h24 = rows[11], rows[23]
    flat_nbytes = (h24[2] - h12[2]) / h12[2]
    flat_traced = (h24[3] - h12[3]) / h12[3]
    flat_rss = (h24[4] - h12[4]) / h12[4] if h12[4] else 0.0
    peak = max(r[2] for r in rows)
    print(f"peak nbytes {peak / MB:.2f} MB (target <= 30); hour 12 -> 24: nbytes {flat_nbytes:+.1%}, "
          f"traced {flat_traced:+.1%}, RSS {flat_rss:+.1%} (target within 10 %)")
    return peak <= 30 * MB and max(abs(flat_nbytes), abs(flat_traced), abs(flat_rss)) <= 0.1


def bench_sampling() -> bool:
    markets = [SyntheticBtcBook(seed=100 + i, symbol=f"S{i}USDT") for i in range(SYMBOLS)]
    layer = LiquidityLayer()
    cpu = 0.0
    warm, measured = 600, 600
    for s in range(warm + measured):
        books = [m.step(s * 1000) for m in markets]
        start = time.process_time()
        for market, book in zip(markets, books, strict=True):
            layer.sample(market.book.symbol, book, s * 1000)
        if s >= warm:
            cpu += time.process_time() - start
    per_second = cpu / measured
    print(f"sampling: {SYMBOLS} symbols at 1 s: {per_second * 1000:.2f} ms CPU per second of clock = "
          f"{per_second:.2%} of one core (target < 5 %); {per_second / SYMBOLS * 1e6:.0f} us per symbol-sample")
    return per_second < 0.05


def main() -> int:
    ok = bench_sampling()
    ok = bench_soak() and ok
    print("OK" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
