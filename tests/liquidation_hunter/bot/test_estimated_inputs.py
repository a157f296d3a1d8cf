"""The bot's estimated inputs in process, through the real ccxt client against the local fake Binance REST server
(issue 14): the start's backfill makes the layer warm, the poll fills a hole the stream left from REST, and the
exchange's failures are counted per symbol while the poll goes on."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fakes.binance import FakeBinanceRest

from liquidation_hunter.bot.estimated import EstimatedInputs
from live_heatmap.estimated.assembly import BAR_MS, KLINE_GRACE_MS
from live_heatmap.estimated.config import WINDOWS_MS
from live_heatmap.estimated.layer import EstimatedLayer

WINDOW = WINDOWS_MS["12h"]


@pytest.fixture
def fake() -> Iterator[FakeBinanceRest]:
    with FakeBinanceRest(prices={"BTCUSDT": 100_000.0, "ETHUSDT": 3_000.0}) as server:
        yield server


def inputs(fake: FakeBinanceRest) -> EstimatedInputs:
    return EstimatedInputs(EstimatedLayer(), fake.client(), ["BTC/USDT:USDT", "ETHUSDT"], window_ms=WINDOW,
                           poll_seconds=60.0)


def test_the_backfill_warms_the_layer_and_the_poll_fills_the_hole_from_rest(fake: FakeBinanceRest) -> None:
    now = time.time_ns() // 1_000_000
    started = now - 40 * 60_000  # as if the bot had started 40 minutes ago and its stream had been down since
    live = inputs(fake)
    assert live.backfill(started) == 2 * (WINDOW // BAR_MS)
    last_backfilled = started - started % BAR_MS - BAR_MS
    fake.clear_requests()
    applied = live.poll(now)
    latest_closed = (now - KLINE_GRACE_MS) // BAR_MS * BAR_MS - BAR_MS
    per_symbol = (latest_closed - last_backfilled) // BAR_MS
    assert applied == 2 * per_symbol
    paths = [r.path for r in fake.requests]
    assert paths.count("/fapi/v1/openInterest") == 2
    assert paths.count("/fapi/v1/klines") == paths.count("/fapi/v1/markPriceKlines") == 2
    status = live.status()
    for symbol in ("BTCUSDT", "ETHUSDT"):
        row = status["symbols"][symbol]
        assert row["bars"] == row["model_bars"] == WINDOW // BAR_MS + per_symbol
        assert row["last_bar_close_ms"] == latest_closed + BAR_MS - 1
        assert (row["oi_errors"], row["rest_errors"], row["missing_bars"]) == (0, 0, 0)


def test_exchange_failures_are_counted_per_symbol_and_the_poll_goes_on(fake: FakeBinanceRest) -> None:
    live = inputs(fake)
    fake.fail_next("/fapi/v1/klines", code=-1121, msg="Invalid symbol.")
    live.backfill(time.time_ns() // 1_000_000)
    fake.fail_next("/fapi/v1/openInterest", code=-1121, msg="Invalid symbol.")
    live.poll(time.time_ns() // 1_000_000)
    status = live.status()
    assert (status["symbols"]["BTCUSDT"]["rest_errors"], status["symbols"]["BTCUSDT"]["oi_errors"]) == (1, 1)
    assert (status["symbols"]["ETHUSDT"]["rest_errors"], status["symbols"]["ETHUSDT"]["oi_errors"]) == (0, 0)
    assert status["symbols"]["ETHUSDT"]["bars"] == WINDOW // BAR_MS
    assert "Invalid symbol" in status["last_error"]
