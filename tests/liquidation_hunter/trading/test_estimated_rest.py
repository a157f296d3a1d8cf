"""The estimated layer's REST inputs through the real `ccxt.binanceusdm` against the local fake Binance REST server
(issue 14): open interest, 5-minute klines and mark price klines in pages Binance weighs cheaply, and what a
malformed answer becomes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fakes.binance import FakeBinanceRest

from liquidation_hunter.trading.errors import OrderRejected
from liquidation_hunter.trading.exchange import ExchangeClient
from live_heatmap.estimated.budget import KLINE_PAGE, kline_weight

BAR = 300_000


@pytest.fixture
def fake() -> Iterator[FakeBinanceRest]:
    with FakeBinanceRest(prices={"BTCUSDT": 100_000.0, "ETHUSDT": 3_000.0}) as server:
        yield server


def client(fake: FakeBinanceRest) -> ExchangeClient:
    return fake.client()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_open_interest_is_one_public_request_read_as_time_and_amount(fake: FakeBinanceRest) -> None:
    before = now_ms()
    c = client(fake)
    at, amount = c.open_interest("BTC/USDT:USDT")
    (request,) = fake.requests
    assert (request.method, request.path, request.params, request.signed) == \
        ("GET", "/fapi/v1/openInterest", {"symbol": "BTCUSDT"}, False)
    assert at >= before
    step = at - at % BAR  # the fake's poll continues its 5-minute history
    history = c.open_interest_history("BTCUSDT", step, step, now_ms=at)
    assert history == [(step, amount, pytest.approx(amount * 100_000))]


def test_klines_come_in_pages_of_499_rows_oldest_first(fake: FakeBinanceRest) -> None:
    now = now_ms()
    last = now - now % BAR - BAR
    first = last - 600 * BAR
    klines = client(fake).klines_5m("BTCUSDT", first, last, now_ms=now)
    assert [k.open_time for k in klines] == list(range(first, last + 1, BAR))
    assert all(k.closed and k.symbol == "BTCUSDT" and k.close_time == k.open_time + BAR - 1 for k in klines)
    limits = [int(r.params["limit"]) for r in fake.requests]
    assert [r.path for r in fake.requests] == ["/fapi/v1/klines"] * 2
    assert limits == [KLINE_PAGE, 601 - KLINE_PAGE]
    assert [r.params["interval"] for r in fake.requests] == ["5m", "5m"]
    assert sum(kline_weight(n) for n in limits) == 4  # 2 + 2: Binance's cheapest per row


def test_mark_price_klines_read_the_mark_endpoint_and_the_open_bar_is_not_closed(fake: FakeBinanceRest) -> None:
    now = now_ms()
    current = now - now % BAR
    marks = client(fake).klines_5m("ETHUSDT", current - 2 * BAR, current, now_ms=now, mark=True)
    assert [r.path for r in fake.requests] == ["/fapi/v1/markPriceKlines"]
    assert [k.closed for k in marks] == [True, True, False]
    assert all(k.base_volume == 0 and k.low < k.high for k in marks)


def test_a_malformed_answer_is_a_value_error_and_a_refusal_is_rejected(fake: FakeBinanceRest) -> None:
    c = client(fake)
    c.exchange.fapiPublicGetOpenInterest = lambda _params: {"symbol": "BTCUSDT"}
    with pytest.raises(ValueError, match="not Binance's answer"):
        c.open_interest("BTCUSDT")
    fake.fail_next("/fapi/v1/klines", code=-1121, msg="Invalid symbol.")
    with pytest.raises(OrderRejected):
        client(fake).klines_5m("BTCUSDT", 0, BAR * 10, now_ms=now_ms())
