"""DepthHistory: runs from samples, the grid they rebuild, pruning, recording ranges (real OrderBooks)."""

from __future__ import annotations

import numpy as np
import pytest

from live_heatmap.orderbook.book import OrderBook
from live_heatmap.orderbook.depth_history import DepthHistory, bin_notional, bin_of, bin_price
from tests.support.synthetic_depth import SyntheticBtcBook


def book(bids: list[list[float]], asks: list[list[float]]) -> OrderBook:
    b = OrderBook("BTCUSDT")
    b.load(np.array(bids, dtype=float).reshape(-1, 2), np.array(asks, dtype=float).reshape(-1, 2), 1, 0)
    return b


def test_bins_are_the_global_log_grid() -> None:
    edges = bin_price(np.arange(20_000, 20_010), 0.0005)
    assert np.array_equal(bin_of(edges, 0.0005), np.arange(20_000, 20_010))
    assert np.array_equal(bin_of(edges * 1.0004, 0.0005), np.arange(20_000, 20_010))
    with pytest.raises(ValueError, match="bin_width"):
        DepthHistory("BTCUSDT", bin_width=0.0)


def test_a_run_goes_on_until_the_size_changes_beyond_the_threshold() -> None:
    h = DepthHistory("BTCUSDT", change=0.05)
    steady = book([[99.9, 10.0]], [[100.1, 10.0]])
    for t in range(0, 10_000, 1000):
        h.sample(steady, t)
    assert h.runs == 2 and h.samples == 10  # one run per side, however many samples
    h.sample(book([[99.9, 10.4]], [[100.1, 10.0]]), 10_000)  # +4 %: the same run
    assert h.runs == 2
    h.sample(book([[99.9, 11.0]], [[100.1, 10.0]]), 11_000)  # +10 %: a new bid run
    assert h.runs == 3
    h.sample(book([[99.9, 11.0]], [[100.2, 10.0]]), 12_000)  # the ask moves two bins: its run closes
    runs = h.all_runs()
    ask = runs.side == 1
    assert list(runs.start_ms[ask]) == [0, 12_000] and list(runs.end_ms[ask]) == [12_000, 12_000]
    assert list(runs.open[ask]) == [False, True]
    bid = runs.side == 0
    assert list(runs.start_ms[bid]) == [0, 11_000] and list(runs.end_ms[bid]) == [11_000, 12_000]
    assert list(runs.open[bid]) == [False, True]


def test_the_grid_equals_each_sample_binned_with_no_threshold() -> None:
    market = SyntheticBtcBook(seed=3, levels=300)
    h = DepthHistory("BTCUSDT", change=0.0)
    expected = []
    for s in range(30):
        b = market.step(s * 1000)
        h.sample(b, s * 1000)
        mid = b.mid()
        assert mid is not None
        expected.append({side: bin_notional(b, side, mid, 0.05, 0.0005)[:2] for side in ("bid", "ask")})
    g = h.grid(0, 29_000, 1000)
    assert list(g.times) == list(range(0, 30_000, 1000))
    low = int(bin_of(g.prices[:1] * 1.0001, 0.0005)[0])
    for s, sides in enumerate(expected):
        for side, matrix in (("bid", g.bid), ("ask", g.ask)):
            bins, notional = sides[side]
            row = np.zeros(g.prices.size)
            row[bins - low] = notional
            np.testing.assert_allclose(matrix[s], row, rtol=1e-6)


def test_the_grid_between_samples_and_after_a_close() -> None:
    h = DepthHistory("BTCUSDT")
    b = book([[99.9, 10.0]], [[100.1, 5.0]])
    h.sample(b, 0)
    h.sample(b, 10_000)
    g = h.grid(0, 20_000, 2500)
    bid = g.bid.sum(axis=1)
    assert list(bid > 0) == [True, True, True, True, True, False, False, False, False]
    h.close(12_000)  # the book went away: nothing after it
    h.sample(b, 15_000)
    g = h.grid(0, 20_000, 2500)
    assert list(g.ask.sum(axis=1) > 0) == [True, True, True, True, True, False, True, False, False]
    assert g.ask.max() == pytest.approx(100.1 * 5.0, rel=1e-6)


def test_prune_keeps_open_runs_and_recording_ranges_give_each_run_once() -> None:
    market = SyntheticBtcBook(seed=5, levels=300)
    h = DepthHistory("BTCUSDT")
    for s in range(600):
        h.sample(market.step(s * 1000), s * 1000)
    batches = [h.runs_between(a, a + 60_000) for a in range(0, 600_000, 60_000)]
    closed = h.all_runs()
    assert sum(len(b) for b in batches) == int((~closed.open).sum())
    before = h.runs
    capacity = h.nbytes()
    dropped = h.prune(300_000)
    runs = h.all_runs()
    assert dropped > 0 and h.runs == before - dropped and h.nbytes() == capacity
    assert (runs.open | (runs.end_ms > 300_000)).all()
    assert int(runs.open.sum()) == h.open_runs
    # The history goes on after a prune: the open runs' rows were moved with them.
    for s in range(600, 700):
        h.sample(market.step(s * 1000), s * 1000)
    g = h.grid(650_000, 699_000, 1000)
    assert (g.bid.sum(axis=1) > 0).all() and (g.ask.sum(axis=1) > 0).all()


def test_from_runs_rebuilds_the_same_grid() -> None:
    market = SyntheticBtcBook(seed=7, levels=300)
    h = DepthHistory("BTCUSDT")
    for s in range(120):
        h.sample(market.step(s * 1000), s * 1000)
    h.close(120_000)
    copy = DepthHistory.from_runs("BTCUSDT", h.runs_between(0, 10**12))
    a, b = h.grid(0, 119_000, 1000), copy.grid(0, 119_000, 1000)
    np.testing.assert_array_equal(a.bid, b.bid)
    np.testing.assert_array_equal(a.ask, b.ask)


def test_a_sample_before_the_last_one_is_refused() -> None:
    h = DepthHistory("BTCUSDT")
    h.sample(book([[99.9, 1.0]], [[100.1, 1.0]]), 5000)
    with pytest.raises(ValueError, match="before the last"):
        h.sample(book([[99.9, 1.0]], [[100.1, 1.0]]), 4000)
    assert not h.sample(OrderBook("BTCUSDT"), 6000)  # no mid: no sample, the runs close
    assert h.open_runs == 0 and h.samples == 1


def test_times_stay_exact_over_weeks_the_origin_moving_forward() -> None:
    day = 86_400_000
    h = DepthHistory("BTCUSDT", change=0.0)
    h.sample(book([[99.9, 10.0]], [[100.1, 10.0]]), 1_700_000_000_000)
    for d in range(1, 41):
        h.sample(book([[99.9, 10.0 + d]], [[100.1, 10.0]]), 1_700_000_000_000 + d * day)
    runs = h.all_runs()
    ask = runs.side == 1
    # The ask never changed: one open run, started where the origin moved to (runs before it are pruned).
    assert int(ask.sum()) == 1 and runs.open[ask].all()
    assert runs.end_ms[ask][0] == 1_700_000_000_000 + 40 * day
    assert runs.start_ms[ask][0] > 1_700_000_000_000 and runs.end_ms[ask][0] - runs.start_ms[ask][0] < 2**31
    bid = ~runs.open & (runs.side == 0)
    ends, starts = runs.end_ms[bid], runs.start_ms[bid]
    assert 10 < ends.size < 40  # the ones before the origin moved are gone
    assert np.array_equal(ends, 1_700_000_000_000 + day * np.arange(41 - ends.size, 41))
    assert np.array_equal(starts[1:], ends[:-1])
