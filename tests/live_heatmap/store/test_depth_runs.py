"""Depth runs recorded to the event store's file at a coarser interval, and rebuilt for a replay (real SQLite)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from live_heatmap.orderbook.depth_history import DepthHistory
from live_heatmap.orderbook.layer import LiquidityLayer
from live_heatmap.store.depth_runs import load_depth_history, write_depth_runs
from live_heatmap.store.recorder import EventStore
from live_heatmap.store.schema import SCHEMA_VERSION, EventStoreError
from live_heatmap.store.stores import open_event_store
from tests.support.synthetic_depth import SyntheticBtcBook


def test_recorded_runs_rebuild_the_coarse_history(store_target: str) -> None:
    path = store_target  # a SQLite file, then a PostgreSQL database: the same runs come back from either
    market = SyntheticBtcBook(seed=11, levels=300)
    layer = LiquidityLayer(record_interval_ms=10_000)
    reference = DepthHistory("BTCUSDT")  # sampled every 10 s by the test, independently of the layer
    written = 0
    for s in range(900):
        book = market.step(s * 1000)
        layer.sample("BTCUSDT", book, s * 1000)
        if s % 10 == 0:
            reference.sample(book, s * 1000)
        if s == 300:
            layer.sample("BTCUSDT", None, s * 1000 + 1)  # a resync: the runs close there
            reference.close(s * 1000 + 1)
        if s % 60 == 59:
            for symbol, runs in layer.take_recorded(s * 1000).items():
                written += write_depth_runs(path, symbol, runs, layer.bin_width)
    for symbol, runs in layer.take_recorded(900_000, close=True).items():
        written += write_depth_runs(path, symbol, runs, layer.bin_width)
    reference.close(900_000)
    assert written == reference.runs
    assert layer.take_recorded(900_000, close=True) == {}  # each run handed out once
    loaded = load_depth_history(path, "BTC/USDT:USDT", 0, 900_000)
    assert loaded.runs == written
    a, b = reference.grid(0, 899_000, 5000), loaded.grid(0, 899_000, 5000)
    np.testing.assert_array_equal(a.prices, b.prices)
    np.testing.assert_array_equal(a.bid, b.bid)
    np.testing.assert_array_equal(a.ask, b.ask)
    part = load_depth_history(path, "BTCUSDT", 600_000, 700_000)
    assert 0 < part.runs < written
    full = reference.grid(600_000, 700_000, 10_000)
    window = part.grid(600_000, 700_000, 10_000, price_low=full.prices[0] * 1.0002,
                       price_high=full.prices[-1] * 1.0002)
    np.testing.assert_array_equal(window.bid, full.bid)
    np.testing.assert_array_equal(window.ask, full.ask)
    # The events table and its readers are untouched.
    with open_event_store(path, readonly=True) as store:
        assert store.schema_version == SCHEMA_VERSION and store.count() == 0
    assert load_depth_history(path, "ETHUSDT", 0, 900_000).runs == 0


def test_bad_files_and_open_runs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(EventStoreError, match="no event store"):
        load_depth_history(tmp_path / "missing.sqlite", "BTCUSDT", 0, 1)
    not_sqlite = tmp_path / "events.csv"
    not_sqlite.write_text("a,b\n1,2\n")
    with pytest.raises(EventStoreError, match="not a SQLite file"):
        load_depth_history(not_sqlite, "BTCUSDT", 0, 1)
    history = DepthHistory("BTCUSDT")
    history.sample(SyntheticBtcBook(levels=50).book, 0)
    with pytest.raises(ValueError, match="open runs"):
        write_depth_runs(tmp_path / "events.sqlite", "BTCUSDT", history.all_runs(), 0.0005)
    # A store without recorded depth gives an empty history.
    EventStore.open(tmp_path / "empty.sqlite").close()
    assert load_depth_history(tmp_path / "empty.sqlite", "BTCUSDT", 0, 1).runs == 0
