"""``ExchangeClient.depth_snapshot`` (issue 15) against the local fake Binance REST server: one public
``GET /fapi/v1/depth`` through ccxt, Binance's answer handed over as sent and read by the book's parser, a limit
Binance refuses stopped before any request, the exchange's refusal an OrderRejected."""

from __future__ import annotations

import pytest
from fakes.binance import FakeBinanceRest

from liquidation_hunter.trading.errors import OrderRejected
from live_heatmap.wire.depth import parse_depth_snapshot

BIDS = [(100_000.0 - i, 1.0 + i) for i in range(30)]
ASKS = [(100_001.0 + i, 2.0) for i in range(30)]


def test_one_public_request_answered_as_binance_does() -> None:
    with FakeBinanceRest() as fake:
        fake.depth.set_book("BTCUSDT", BIDS, ASKS, last_update_id=77)
        client = fake.client()
        answer = client.depth_snapshot("BTC/USDT:USDT", 20)
        (request,) = fake.requests
        assert (request.method, request.path, request.params, request.signed) == \
            ("GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": "20"}, False)
        snapshot = parse_depth_snapshot(answer, "BTCUSDT")
        assert snapshot.last_update_id == 77
        assert snapshot.bids[:, 0].tolist() == [p for p, _ in BIDS[:20]]
        assert snapshot.asks[:, 1].tolist() == [q for _, q in ASKS[:20]]


def test_a_limit_binance_refuses_is_stopped_before_any_request_and_errors_keep_their_class() -> None:
    with FakeBinanceRest() as fake:
        fake.depth.set_book("BTCUSDT", BIDS, ASKS)
        client = fake.client()
        with pytest.raises(ValueError, match="one of 5, 10, 20, 50, 100, 500, 1000"):
            client.depth_snapshot("BTCUSDT", 200)
        assert fake.requests == []
        with pytest.raises(OrderRejected, match="Invalid symbol"):
            client.depth_snapshot("SOLUSDT")  # the fake lists no book for it
