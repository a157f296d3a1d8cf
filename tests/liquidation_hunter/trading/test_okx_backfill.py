"""OKX's recent liquidations over REST on start, against a local fake answering what ccxt sends: parsed by the OKX
parser, into the heatmap and the recorder, the stream's copies of the same events dropped; failures counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from liquidation_hunter.trading.okx_backfill import backfill_okx
from liquidation_hunter.trading.venue_markets import load_instruments
from live_heatmap import LiveLiquidationHeatmap
from live_heatmap.common.instruments import Instruments
from live_heatmap.side import Side
from live_heatmap.store.recorder import EventStore, Recorder
from live_heatmap.venue import PriceKind, Venue
from live_heatmap.wire.events import LiquidationEvent
from live_heatmap.wire.okx import parse_okx_frame
from tests.fakes.okx.rest_server import FakeOkxRest

NOW = 1_791_565_600_000
SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "BTC/USD:BTC", "XRP/USDT:USDT"]


def _fake() -> FakeOkxRest:
    fake = FakeOkxRest()
    fake.add_liquidation("BTC-USDT-SWAP", pos_side="long", side="sell", sz="8.55", bk_px="82655.7", ts=NOW - 60_000)
    fake.add_liquidation("BTC-USDT-SWAP", pos_side="net", side="buy", sz="3", bk_px="82900.1", ts=NOW - 50_000)
    fake.add_liquidation("ETH-USDT-SWAP", pos_side="short", side="buy", sz="20", bk_px="2450.5", ts=NOW - 40_000)
    fake.add_liquidation("BTC-USD-SWAP", pos_side="long", side="sell", sz="10", bk_px="80000", ts=NOW - 30_000)
    return fake


def _instruments(fake: FakeOkxRest, tmp_path: Path) -> Instruments:
    return load_instruments(Venue.OKX, tmp_path, now_ms=NOW, rest_url=fake.base_url).instruments


def test_backfill_reads_each_underlying_into_the_heatmap(tmp_path: Path) -> None:
    heatmap = LiveLiquidationHeatmap()
    seen: list[LiquidationEvent] = []
    heatmap.add_listener(seen.extend)  # what the recorder receives (the window itself keeps no venue yet)
    with _fake() as fake:
        instruments = _instruments(fake, tmp_path)
        result = backfill_okx(instruments, SYMBOLS, heatmap, rest_url=fake.base_url)
        sent = [r.params for r in fake.requests if r.path == "/api/v5/public/liquidation-orders"]
    # one request per underlying OKX lists (XRP is not in the fake's instruments: no request)
    assert sent == [{"instType": "SWAP", "state": "filled", "uly": u, "limit": "100"}
                    for u in ("BTC-USDT", "ETH-USDT", "BTC-USD")]
    assert result.requests == 3 and result.failed == 0 and result.events == 4 and result.accepted == 4
    assert len(seen) == 4 and len(heatmap.events("BTCUSDT")) == 2
    btc = sorted((e for e in seen if e.symbol == "BTCUSDT"), key=lambda e: e.trade_time)
    assert [(e.side, e.price, e.quantity, e.exchange, e.price_kind, e.venue_symbol) for e in btc] == [
        (Side.LONG, 82655.7, pytest.approx(0.0855), Venue.OKX, PriceKind.BANKRUPTCY, "BTC-USDT-SWAP"),
        (Side.SHORT, 82900.1, pytest.approx(0.03), Venue.OKX, PriceKind.BANKRUPTCY, "BTC-USDT-SWAP")]
    (inverse,) = (e for e in seen if e.symbol == "BTC/USD:BTC")
    assert inverse.quantity == pytest.approx(10 * 100 / 80000)  # 1,000 USD of BTC at the bankruptcy price


def test_backfill_then_the_stream_stores_each_event_once(tmp_path: Path) -> None:
    heatmap = LiveLiquidationHeatmap()
    store = EventStore.open(tmp_path / "events.sqlite")
    recorder = Recorder(store, clock=lambda: NOW).attach(heatmap)
    with _fake() as fake:
        instruments = _instruments(fake, tmp_path)
        backfill_okx(instruments, SYMBOLS, heatmap, rest_url=fake.base_url)
        # the stream then pushes the same liquidations (as its own message shape)
        answers = [json.loads(fake.handle("GET", f"/api/v5/public/liquidation-orders?instType=SWAP&uly={u}")[1])
                   for u in ("BTC-USDT", "ETH-USDT", "BTC-USD")]
    pushed = [{"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": a["data"]} for a in answers]
    events = [e for message in pushed for e in parse_okx_frame(message, instruments).events]
    assert len(events) == 4
    again = heatmap.ingest_many(events)
    assert again.accepted == 0 and again.duplicates == 4
    recorder.flush()
    assert store.count() == 4
    store.close()


@pytest.mark.parametrize("failure", ["5xx", "not json", "okx error", "down"])
def test_a_failing_backfill_is_counted_and_does_not_raise(tmp_path: Path, failure: str) -> None:
    heatmap = LiveLiquidationHeatmap()
    with _fake() as fake:
        instruments = _instruments(fake, tmp_path)
        url = fake.base_url
        path = "/api/v5/public/liquidation-orders"
        if failure == "5xx":
            fake.fail_next(path, status=502, body=b"<html>bad gateway</html>", times=1)
        elif failure == "not json":
            fake.fail_next(path, status=200, body=b"{truncated", times=1)
        elif failure == "okx error":
            fake.fail_next(path, status=200, body=b'{"code":"50011","msg":"Too Many Requests","data":[]}', times=1)
        if failure != "down":
            result = backfill_okx(instruments, SYMBOLS, heatmap, rest_url=url, timeout_s=2.0)
    if failure == "down":
        result = backfill_okx(instruments, SYMBOLS, heatmap, rest_url=url, timeout_s=2.0)
        assert result.failed == 3 and result.accepted == 0
    else:  # the first underlying failed, the others were read
        assert result.failed == 1 and result.events == 2 and result.accepted == 2
        assert result.last_error is not None and result.last_error.startswith("BTC-USDT: ")
    assert result.requests == 3
