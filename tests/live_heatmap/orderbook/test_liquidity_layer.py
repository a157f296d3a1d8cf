"""LiquidityLayer: per symbol history and walls, the summary the unified view reads, status, the lock."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from live_heatmap.orderbook.book import OrderBook
from live_heatmap.orderbook.layer import LiquidityLayer
from tests.live_heatmap.orderbook.test_walls import BIG, WALL_PRICE, flat_book


def test_summary_depth_per_band_imbalance_and_walls() -> None:
    layer = LiquidityLayer(wall_floor=0.0)
    with_wall = flat_book({WALL_PRICE: BIG})
    for s in range(40):
        layer.sample("BTC/USDT:USDT", with_wall, s * 1000, book_state="synced", resyncs=2)
    summary = layer.summary("BTCUSDT", 40_000)
    assert summary["mid"] == pytest.approx(60_000.0)
    depth = summary["depth"]
    assert isinstance(depth, dict) and set(depth) == {"0.5", "1", "2"}
    # 1 BTC every 5 USDT: within 0.5 % of 60,000 (300 USDT) 60 levels a side; the wall sits at 0.83 %.
    prices, sizes = with_wall.levels("ask")
    near = prices <= 60_000 * 1.005
    assert depth["0.5"]["ask"] == pytest.approx(float((prices[near] * sizes[near]).sum()))
    assert depth["0.5"]["bid"] == pytest.approx(depth["0.5"]["ask"], rel=0.01)
    assert depth["1"]["bid"] > depth["1"]["ask"] and summary["imbalance"]["1"] > 0.1
    walls = summary["walls"]
    assert [w["side"] for w in walls["active"]] == ["bid"] and walls["ended"] == []
    history = summary["history"]
    assert history["samples"] == 40 and history["runs"] > 0 and history["bytes"] > 0
    # The wall goes with half its notional traded: filled, listed as ended for recent_ms.
    notional = walls["active"][0]["notional"]
    layer.trade("BTCUSDT", WALL_PRICE, 0.6 * notional / WALL_PRICE, 40_200)
    for s in range(40, 50):
        layer.sample("BTCUSDT", flat_book(), s * 1000)
    summary = layer.summary("BTCUSDT", 50_000)
    assert summary["walls"]["active"] == []
    assert [w["state"] for w in summary["walls"]["ended"]] == ["filled"]
    assert layer.summary("BTCUSDT", 50_000 + layer.recent_ms + 1)["walls"]["ended"] == []
    status = layer.status()["BTCUSDT"]
    assert status["samples"] == 50 and status["book_state"] == "synced" and status["resyncs"] == 2


def test_no_book_served_empties_the_summary_and_closes_the_runs() -> None:
    layer = LiquidityLayer()
    layer.sample("BTCUSDT", flat_book(), 0)
    layer.sample("BTCUSDT", None, 1000, book_state="resyncing")
    summary = layer.summary("BTCUSDT", 1000)
    assert summary["mid"] is None and summary["depth"] == {}
    history = layer.history("BTCUSDT")
    assert history is not None and history.open_runs == 0
    layer.sample("BTCUSDT", OrderBook("BTCUSDT"), 2000)  # an empty book: no mid, the same
    assert layer.status()["BTCUSDT"]["book_state"] == "resyncing"
    unknown = layer.summary("ETHUSDT", 0)
    assert unknown["mid"] is None and unknown["history"] == {"samples": 0, "runs": 0, "bytes": 0}
    assert "ETHUSDT" not in layer and len(layer) == 1 and list(layer) == ["BTCUSDT"]


def test_samples_prune_to_the_retention() -> None:
    layer = LiquidityLayer(retention_ms=60_000)
    rng = np.random.default_rng(1)
    for s in range(300):
        book = flat_book()
        book.apply(np.column_stack([60_000 - 2.5 - 5 * rng.integers(0, 300, 50), rng.uniform(0.1, 9, 50)]),
                   np.empty((0, 2)), 2, 0)
        layer.sample("BTCUSDT", book, s * 1000)
    history = layer.history("BTCUSDT")
    assert history is not None
    runs = history.all_runs()
    assert (runs.open | (runs.end_ms > 300_000 - 60_000 - 60_000)).all()


def test_the_lock_serialises_feeding_and_reading() -> None:
    layer = LiquidityLayer()
    book = flat_book()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(200):
                layer.summary("BTCUSDT", 0)
                layer.status()
        except BaseException as exc:  # noqa: BLE001  (re-raised by the assert below)
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    for s in range(200):
        layer.sample("BTCUSDT", book, s * 1000)
    reader.join()
    assert errors == []
    assert isinstance(layer.lock, type(threading.RLock()))
