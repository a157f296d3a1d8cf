"""The 24 h soak on an accelerated clock (issue 15): a synthetic BTC-like book (tests/support/synthetic_depth.py)
sampled 86,400 times at 1 s into a DepthHistory pruned to 12 h: its memory stays within 30 MB, and flat (+-10 %)
between hour 12 and hour 24, by the arrays' nbytes and by tracemalloc's held allocations (traced from hour 11:
tracing the whole day doubles the test's time). No timing here (benchmarks/bench_depth.py traces the whole day)."""

from __future__ import annotations

import tracemalloc

from live_heatmap.orderbook.depth_history import DepthHistory
from tests.support.synthetic_depth import SyntheticBtcBook

HOUR_MS = 3_600_000
RETENTION_MS = 12 * HOUR_MS
TARGET_BYTES = 30 * 2**20


def test_a_day_of_btc_at_1_s_stays_within_30_mb_and_flat_from_hour_12() -> None:
    market = SyntheticBtcBook(seed=15)
    history = DepthHistory("BTCUSDT")
    nbytes: dict[int, int] = {}
    traced: dict[int, int] = {}
    try:
        for s in range(86_400):
            at_ms = s * 1000
            if at_ms == 11 * HOUR_MS:
                tracemalloc.start()
            history.sample(market.step(at_ms), at_ms)
            if at_ms % 60_000 == 0:
                history.prune(at_ms - RETENTION_MS)
            if at_ms % HOUR_MS == 0 and s:
                nbytes[at_ms // HOUR_MS] = history.nbytes()
                traced[at_ms // HOUR_MS] = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
        nbytes[24] = history.nbytes()
        traced[24] = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert history.samples == 86_400 and history.runs > 100_000
    assert max(nbytes.values()) <= TARGET_BYTES
    for hour in range(12, 25):
        assert abs(nbytes[hour] - nbytes[12]) <= 0.1 * nbytes[12], (hour, nbytes)
        # Whatever was allocated since hour 11 and is still held grows by at most 10 % of the history's size.
        assert abs(traced[hour] - traced[12]) <= 0.1 * nbytes[12], (hour, traced, nbytes)
    # It is still a history: the last hour has depth on both sides every minute.
    grid = history.grid(23 * HOUR_MS, 86_399_000, 60_000)
    assert (grid.bid.sum(axis=1) > 0).all() and (grid.ask.sum(axis=1) > 0).all()
