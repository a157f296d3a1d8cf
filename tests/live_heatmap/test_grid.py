"""The heatmap grid (live_heatmap/grid.py): decayed notional per time column and price row."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from helpers import MINUTE, NOW, event

from live_heatmap import LiquidationEvent, LiveLiquidationHeatmap, parse_force_order
from live_heatmap.grid import (
    MAX_PRICE_BINS,
    MIN_PRICE_BINS,
    HeatmapGrid,
    build_grid,
    grid_from_heatmap,
    price_edges_for,
    time_edges_for,
)
from live_heatmap.window import EventColumns

#: The busiest recorded session: 2025-01-27 16:50 - 17:20 UTC.
START = 1_737_996_600_000
END = 1_737_998_400_000


@pytest.fixture(scope="module")
def real_events(wire_lines: list[bytes]) -> list[LiquidationEvent]:
    return [parse_force_order(line) for line in wire_lines]


def at(ms: int, price: float, qty: float, side: str = "long", symbol: str = "BTCUSDT") -> LiquidationEvent:
    return LiquidationEvent(symbol, side, price, qty, ms, ms, "FILLED", False)


def naive_cells(events: list[LiquidationEvent], grid: HeatmapGrid, side: str, since_ms: int) -> np.ndarray:
    """The definition, cell by cell and event by event."""
    n_time, n_price = grid.shape
    tau = grid.time_decay_minutes * MINUTE
    out = np.zeros((n_time, n_price))
    for j in range(n_time):
        col_end = int(grid.time_edges[j + 1])
        for e in events:
            if e.side != side or not since_ms <= e.trade_time <= col_end or e.trade_time > grid.end_ms:
                continue
            row = int(np.searchsorted(grid.price_edges, e.price, side="right")) - 1
            if e.price == grid.price_edges[-1]:
                row = n_price - 1
            if 0 <= row < n_price:
                out[j, row] += e.notional * math.exp(-(col_end - e.trade_time) / tau)
    return out


def test_hand_computed_grid_of_two_events() -> None:
    """tau = 10 min, three 1-minute columns, rows [99, 99.995) and [99.995, 101].

    A long of 2 @ 99.5 (notional 199) at start + 30 s lights column 0 with 199 e^-0.05 = 189.2947 and
    fades: 199 e^-0.15 = 171.2809 at the end of column 1, 199 e^-0.25 = 154.9814 at the end of column 2.
    A short of 1 @ 100.5 (100.5) at start + 2 min (exactly the end of column 1: it belongs to column 1)
    gives 100.5 there and 100.5 e^-0.1 = 90.9362 at the end of column 2; nothing before.
    """
    start = NOW - 3 * MINUTE
    events = [at(start + 30_000, 99.5, 2.0, "long"), at(start + 2 * MINUTE, 100.5, 1.0, "short")]
    grid = build_grid(events, symbol="BTCUSDT", start_ms=start, end_ms=NOW, time_decay_minutes=10,
                      time_bins=3, price_range=(99.0, 101.0), price_bins=2, clusters=())
    assert grid.time_edges.tolist() == [start, start + MINUTE, start + 2 * MINUTE, NOW]
    assert grid.price_edges == pytest.approx([99.0, 99.994999875, 101.0])
    assert grid.shape == (3, 2)
    assert grid.long == pytest.approx(np.array([[189.2946555, 0], [171.2808873, 0], [154.9813558, 0]]))
    assert grid.short == pytest.approx(np.array([[0, 0], [0, 100.5], [0, 90.9361605]]))
    np.testing.assert_array_equal(grid.total, grid.long + grid.short)
    assert grid.events.trade_time.size == 2


def test_column_edges_belong_to_the_column_they_close() -> None:
    start = NOW - 2 * MINUTE
    events = [at(start, 100.0, 1.0), at(start + MINUTE, 100.0, 1.0), at(NOW, 100.0, 1.0)]
    grid = build_grid(events, symbol="BTCUSDT", start_ms=start, end_ms=NOW, time_decay_minutes=1e9,
                      time_bins=2, price_range=(99.0, 101.0), price_bins=1, clusters=())
    # With no decay a cell is the notional traded up to its column's end.
    assert grid.long[:, 0] == pytest.approx([200.0, 300.0])


def test_longs_and_shorts_are_separate_grids(real_events: list[LiquidationEvent]) -> None:
    ach = [e for e in real_events if e.symbol == "ACHUSDT" and START <= e.trade_time <= END]
    longs = [e for e in ach if e.side == "long"]
    assert len(longs) > 20 and len(ach) - len(longs) > 20
    kw = {"symbol": "ACHUSDT", "start_ms": START, "end_ms": END, "time_decay_minutes": 60.0,
          "price_range": (0.033, 0.036), "clusters": ()}
    both = build_grid(ach, **kw)  # type: ignore[arg-type]
    only_longs = build_grid(longs, **kw)  # type: ignore[arg-type]
    assert np.array_equal(both.long, only_longs.long)
    assert not only_longs.short.any()
    assert both.short.any()
    for side, cells in (("long", both.long), ("short", both.short)):
        np.testing.assert_allclose(cells, naive_cells(ach, both, side, START), rtol=1e-9, atol=1e-9)
    # The last column, without decay, holds every event's notional once.
    flat = build_grid(ach, **{**kw, "time_decay_minutes": 1e12})  # type: ignore[arg-type]
    assert flat.long[-1].sum() == pytest.approx(sum(e.notional for e in longs))
    assert flat.short[-1].sum() == pytest.approx(sum(e.notional for e in ach if e.side == "short"))


def test_matches_the_definition_on_real_windows(real_events: list[LiquidationEvent]) -> None:
    for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):
        mine = [e for e in real_events if e.symbol == symbol]
        grid = build_grid(mine, symbol=symbol, start_ms=START, end_ms=END, time_decay_minutes=15.0)
        in_window = [e for e in mine if START <= e.trade_time <= END]
        assert grid.events.trade_time.size == len(in_window) > 20
        for side, cells in (("long", grid.long), ("short", grid.short)):
            np.testing.assert_allclose(cells, naive_cells(in_window, grid, side, START), rtol=1e-9, atol=1e-6)


def test_scaling_prices_scales_the_edges_and_leaves_the_cells(real_events: list[LiquidationEvent]) -> None:
    """1000PEPE and PEPE: prices 1000 times higher, quantities 1000 times smaller, same notional."""
    btc = [e for e in real_events if e.symbol == "BTCUSDT"]
    for k in (1000.0, 1e-6, 3.7):
        scaled = [e._replace(price=e.price * k, quantity=e.quantity / k) for e in btc]
        a = build_grid(btc, symbol="BTCUSDT", start_ms=START, end_ms=END, time_decay_minutes=60)
        b = build_grid(scaled, symbol="BTCUSDT", start_ms=START, end_ms=END, time_decay_minutes=60)
        assert b.shape == a.shape
        assert np.array_equal(b.time_edges, a.time_edges)
        np.testing.assert_allclose(b.price_edges, a.price_edges * k, rtol=1e-12)
        np.testing.assert_allclose(b.long, a.long, rtol=1e-9)
        np.testing.assert_allclose(b.short, a.short, rtol=1e-9)
        assert [c.price_level for c in b.clusters] == pytest.approx([c.price_level * k for c in a.clusters])


def test_events_outside_the_window_are_left_out() -> None:
    start = NOW - 10 * MINUTE
    inside = [at(start + 60_000, 100.0, 1.0), at(NOW - 1, 100.5, 2.0, "short")]
    outside = [at(start - 1, 100.2, 5.0), at(NOW + 1, 100.2, 5.0, "short"), at(NOW + MINUTE, 99.8, 5.0),
               at(start - 30 * MINUTE, 100.1, 9.0, "short"), event(100.0, 7.0, symbol="ETHUSDT")]
    kw = {"symbol": "BTCUSDT", "start_ms": start, "end_ms": NOW, "time_decay_minutes": 60.0,
          "price_range": (99.0, 101.0), "clusters": ()}
    alone = build_grid(inside, **kw)  # type: ignore[arg-type]
    mixed = build_grid(outside + inside, **kw)  # type: ignore[arg-type]
    assert np.array_equal(alone.long, mixed.long) and np.array_equal(alone.short, mixed.short)
    assert mixed.events.trade_time.tolist() == [start + 60_000, NOW - 1]
    # carry_in_ms lets earlier events in, decayed to the end of column 0.
    carried = build_grid(outside + inside, **kw, carry_in_ms=MINUTE)  # type: ignore[arg-type]
    extra = carried.long - alone.long
    col0_end = int(carried.time_edges[1])
    row = int(np.searchsorted(carried.price_edges, 100.2, side="right")) - 1
    assert extra[0, row] == pytest.approx(501.0 * math.exp(-(col0_end - (start - 1)) / (60 * MINUTE)))
    assert np.count_nonzero(extra[0]) == 1
    # Prices outside an explicit range are left out too.
    narrow = build_grid(inside, **{**kw, "price_range": (99.0, 100.2)})  # type: ignore[arg-type]
    assert narrow.events.trade_time.tolist() == [start + 60_000] and not narrow.short.any()


def test_to_dict_is_what_a_charting_library_draws(real_events: list[LiquidationEvent]) -> None:
    from conftest import DATA

    from liquidation_hunter.data.prices import load_prices

    series = load_prices(DATA / "aggtrades_large.csv").window(START, END + 1)
    points = (series.times("ETHUSDT"), series.prices("ETHUSDT"))
    grid = build_grid(real_events, symbol="ETH/USDT:USDT", start_ms=START, end_ms=END, time_decay_minutes=60,
                      price_points=points)
    n_time, n_price = grid.shape
    d = json.loads(json.dumps(grid.to_dict(points=True)))
    assert d["symbol"] == "ETHUSDT" and d["start_ms"] == START and d["end_ms"] == END
    assert len(d["x"]) == n_time + 1 and len(d["y"]) == n_price + 1
    for key in ("z", "z_long", "z_short"):
        assert len(d[key]) == n_price and {len(row) for row in d[key]} == {n_time}
    z, zl, zs = (np.array(d[k]) for k in ("z", "z_long", "z_short"))
    np.testing.assert_allclose(z, zl + zs, atol=0.011)
    np.testing.assert_allclose(zl, grid.long.T, atol=0.005)  # rows are prices, columns are times
    assert d["events"] == grid.events.trade_time.size
    assert d["clusters"] and {"price_level", "side", "strength"} <= set(d["clusters"][0])
    assert d["candles"] and all(len(c) == 5 and c[2] >= max(c[1], c[4]) and c[3] <= min(c[1], c[4])
                                for c in d["candles"])
    assert {c[0] for c in d["candles"]} <= set(d["x"][:-1])
    assert len(d["price_points"]) == points[0].size
    assert "price_points" not in grid.to_dict()


def test_candles_summarise_the_price_points_per_column() -> None:
    start = NOW - 2 * MINUTE
    times = [start + 10_000, start + 20_000, start + 50_000, NOW - 1000, NOW]
    prices = [100.0, 103.0, 99.0, 101.0, 102.0]
    grid = build_grid([at(start + 5000, 100.0, 1.0)], symbol="BTCUSDT", start_ms=start, end_ms=NOW,
                      time_decay_minutes=60, time_bins=2, price_points=(times, prices), clusters=())
    assert grid.candles.tolist() == [[100.0, 103.0, 99.0, 99.0], [101.0, 102.0, 101.0, 102.0]]
    assert grid.price_edges[0] < 99.0 and grid.price_edges[-1] > 103.0  # the range covers the prices


def test_resolution_adapts_to_the_window_and_the_price_range() -> None:
    def width(span_ms: int) -> tuple[int, int]:
        edges = time_edges_for(NOW - span_ms, NOW)
        return edges.size - 1, int(edges[1] - edges[0])

    assert width(120 * MINUTE) == (120, MINUTE)
    assert width(30 * MINUTE) == (180, 10_000)
    assert width(24 * 60 * MINUTE) == (144, 10 * MINUTE)
    assert width(7 * 24 * 60 * MINUTE) == (168, 60 * MINUTE)
    assert width(45 * 60_000 + 7) == (136, 20_000)  # last column cut short at the window end
    assert time_edges_for(NOW - 90_000, NOW, 3).tolist() == [NOW - 90_000, NOW - 60_000, NOW - 30_000, NOW]

    tight = price_edges_for(100.0, 100.1)  # 0.1 %: the minimum of rows, finer than 0.05 %
    assert tight.size - 1 == MIN_PRICE_BINS and tight[0] < 100.0 and tight[-1] > 100.1
    medium = price_edges_for(100.0, 103.0)  # 3 %: steps of 0.05 %
    assert MIN_PRICE_BINS < medium.size - 1 < MAX_PRICE_BINS
    assert np.diff(np.log(medium)) == pytest.approx(np.full(medium.size - 1, math.log(medium[1] / medium[0])))
    assert medium[1] / medium[0] - 1 <= 0.0005 + 1e-12
    wide = price_edges_for(50.0, 100.0)  # 100 %: capped rows
    assert wide.size - 1 == MAX_PRICE_BINS
    single = price_edges_for(42.0, 42.0)  # one price: padded by 0.1 % each side
    assert single[0] == pytest.approx(42.0 / math.exp(0.001)) and single[-1] == pytest.approx(42.0 * math.exp(0.001))


def test_columns_events_and_heatmap_give_the_same_grid(real_events: list[LiquidationEvent]) -> None:
    heatmap = LiveLiquidationHeatmap(clock=lambda: END)
    heatmap.ingest_many(e for e in real_events if e.trade_time <= END + 3_600_000)
    grid = grid_from_heatmap(heatmap, "BTC/USDT:USDT", 30 * MINUTE, END)
    from_objects = build_grid(real_events, symbol="BTCUSDT", start_ms=START, end_ms=END, time_decay_minutes=60)
    from_columns = build_grid(heatmap.events_since("BTCUSDT", 0), symbol="BTCUSDT", start_ms=START, end_ms=END,
                              time_decay_minutes=60)
    for other in (from_objects, from_columns):
        assert np.array_equal(other.price_edges, grid.price_edges)
        assert np.array_equal(other.long, grid.long) and np.array_equal(other.short, grid.short)
    # Clusters at the window end: the heatmap's own, and the same ones recomputed from the events.
    assert grid.clusters == tuple(heatmap.get_clusters("BTCUSDT", now_ms=END))
    assert [c.cluster_id for c in from_objects.clusters] == [c.cluster_id for c in grid.clusters]
    assert [c.price_level for c in from_objects.clusters] == pytest.approx([c.price_level for c in grid.clusters])
    assert grid.clusters


def test_bad_input_is_refused() -> None:
    e = [at(NOW - MINUTE, 100.0, 1.0)]
    with pytest.raises(ValueError, match="empty window"):
        build_grid(e, symbol="BTCUSDT", start_ms=NOW, end_ms=NOW, time_decay_minutes=60)
    with pytest.raises(ValueError, match="time_decay_minutes"):
        build_grid(e, symbol="BTCUSDT", start_ms=NOW - 5 * MINUTE, end_ms=NOW, time_decay_minutes=0)
    with pytest.raises(ValueError, match="no events or prices"):
        build_grid(e, symbol="ETHUSDT", start_ms=NOW - 5 * MINUTE, end_ms=NOW, time_decay_minutes=60)
    with pytest.raises(ValueError, match="price_points"):
        build_grid(e, symbol="BTCUSDT", start_ms=NOW - 5 * MINUTE, end_ms=NOW, time_decay_minutes=60,
                   price_points=([1, 2], [1.0]))
    # An empty symbol with a price range is an empty grid, not an error.
    empty = build_grid(EventColumns.empty(), symbol="ETHUSDT", start_ms=NOW - 5 * MINUTE, end_ms=NOW,
                       time_decay_minutes=60, price_range=(1.0, 2.0))
    assert not empty.total.any() and empty.clusters == ()


def test_two_hours_of_ten_thousand_events_build_fast() -> None:
    """The HTTP API's budget is 50 ms for a 2-hour grid; the best of a few runs must fit with room."""
    rng = np.random.default_rng(7)
    n, start = 10_000, NOW - 120 * MINUTE
    t = np.sort(rng.integers(start, NOW, n))
    price = 100_000 * np.exp(np.cumsum(rng.normal(0, 0.0003, n))) * (1 + rng.normal(0, 0.001, n))
    cols = EventColumns(t, rng.random(n) < 0.6, price, rng.lognormal(-2, 1.5, n), np.zeros(n, np.int8))
    points = (np.sort(rng.integers(start, NOW, 20_000)), np.interp(np.arange(20_000), np.arange(n), price[:n]))
    best = math.inf
    for _ in range(5):
        t0 = time.perf_counter()
        grid = build_grid(cols, symbol="BTCUSDT", start_ms=start, end_ms=NOW, time_decay_minutes=60,
                          price_points=points)
        best = min(best, time.perf_counter() - t0)
    assert grid.shape[0] == 120 and grid.events.trade_time.size == n and grid.clusters
    assert best < 0.050, f"build_grid took {best * 1000:.1f} ms"
