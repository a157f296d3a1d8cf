"""A bot with ``exchanges: [binance, bybit, okx]``, built as ``run`` builds it, against the local fake REST servers:
one stream per venue with the venue's instruments, a symbol a venue does not list skipped with one warning and
shown in ``status``, OKX's backfill, and a venue whose instruments cannot be had left out (said by ``status``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ccxt  # type: ignore[import-untyped]
import pytest
from structlog.testing import capture_logs

from liquidation_hunter.bot.runner import build_bot
from liquidation_hunter.bot.venues import VenueStreams
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.trading.status import render_status, status_report
from live_heatmap.venue import Venue
from tests.fakes.binance import FakeBinanceRest
from tests.fakes.bybit.rest_server import FakeBybitRest
from tests.fakes.okx.rest_server import FakeOkxRest

NOW = 1_791_565_600_000
SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "XRP/USDT:USDT"]
NOWHERE = "ws://127.0.0.1:9"  # nothing listens (the streams are built, not opened, here)


class Clock:
    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeBinanceRest, FakeBybitRest, FakeOkxRest]]:
    monkeypatch.setattr(ccxt.Exchange, "throttle", lambda _self, _cost=None: None)  # the fakes have no rate limit
    okx = FakeOkxRest()
    okx.add_liquidation("BTC-USDT-SWAP", pos_side="long", side="sell", sz="8.55", bk_px="82655.7", ts=NOW - 60_000)
    okx.add_liquidation("ETH-USDT-SWAP", pos_side="short", side="buy", sz="20", bk_px="2450.5", ts=NOW - 40_000)
    with FakeBinanceRest(symbols=("BTCUSDT", "ETHUSDT", "XRPUSDT")) as binance, FakeBybitRest() as bybit, okx:
        yield binance, bybit, okx


def _config(tmp_path: Path, binance: FakeBinanceRest, bybit: FakeBybitRest, okx: FakeOkxRest,
            **okx_settings: Any) -> BotConfig:
    return BotConfig.from_mapping({
        "symbols": SYMBOLS, "exchanges": ["binance", "bybit", "okx"],
        "exchange": {"rest_url": binance.base_url, "ws_url": NOWHERE},
        "venues": {"bybit": {"rest_url": bybit.base_url, "ws_url": f"{NOWHERE}/v5/public/linear"},
                   "okx": {"rest_url": okx.base_url, "ws_url": f"{NOWHERE}/ws/v5/public", **okx_settings}},
        "storage": {"path": "bot.sqlite", "events": None},
    }, source=tmp_path / "bot.yaml")


def test_one_stream_per_venue_with_its_instruments(tmp_path: Path, fakes: Any) -> None:
    binance, bybit, okx = fakes
    config = _config(tmp_path, binance, bybit, okx)
    with capture_logs() as logs:
        bot = build_bot(config, clock=Clock())
    streams = bot.stream
    assert isinstance(streams, VenueStreams)
    assert [(f.venue, f.stream is not None, f.markets_source) for f in streams.feeds] == [
        (Venue.BINANCE, True, "exchange"), (Venue.BYBIT, True, "exchange"), (Venue.OKX, True, "exchange")]
    okx_feed = streams.feed(Venue.OKX)
    assert okx_feed is not None and okx_feed.stream is not None and okx_feed.instruments is not None
    assert okx_feed.stream.venue is Venue.OKX and okx_feed.instruments.get("BTC-USDT-SWAP").contract_size == 0.01
    # XRP is listed by Binance only: skipped on Bybit and OKX, one warning each
    skipped = [(e["venue"], e["symbols"]) for e in logs if e["event"] == "stream.symbols_skipped"]
    assert skipped == [("bybit", ["XRP/USDT:USDT"]), ("okx", ["XRP/USDT:USDT"])]
    assert [s.status().skipped_symbols for s in streams.streams] == [(), ("XRP/USDT:USDT",), ("XRP/USDT:USDT",)]
    # cached for the next start
    cached = json.loads((tmp_path / "var" / "markets" / "okx.json").read_text())
    assert cached["as_of_ms"] == NOW and ["BTC-USD-SWAP", "BTC/USD:BTC", "BTC/USD:BTC", 100.0, True] in \
        cached["instruments"]


def test_status_shows_each_venue_and_the_backfill(tmp_path: Path, fakes: Any) -> None:
    binance, bybit, okx = fakes
    config = _config(tmp_path, binance, bybit, okx)
    clock = Clock()
    bot = build_bot(config, clock=clock)
    assert isinstance(bot.stream, VenueStreams)
    result = bot.stream.backfill(config, bot.heatmap)
    assert result is not None and (result.requests, result.events, result.accepted, result.failed) == (2, 2, 2, 0)
    assert len(bot.heatmap.events("BTCUSDT")) == 1 and len(bot.heatmap.events("ETHUSDT")) == 1
    bot.start()  # writes the first health record
    report = status_report(bot.books, now_ms=clock.now, heartbeat_s=config.schedule.heartbeat)
    venues = {v["venue"]: v for v in report.to_dict()["stream"]["venues"]}
    assert list(venues) == ["binance", "bybit", "okx"]
    assert venues["okx"]["skipped_symbols"] == ["XRP/USDT:USDT"] and venues["binance"]["skipped_symbols"] == []
    assert venues["okx"]["instruments"] == 4 and venues["okx"]["instruments_as_of"] == "2026-10-09T17:06:40+00:00"
    assert venues["okx"]["backfill"]["accepted"] == 2 and venues["bybit"]["backfill"] is None
    assert venues["bybit"]["connected"] is False  # built, not opened
    text = render_status(report)
    assert ("venue okx: DISCONNECTED; 0 events, 0 connections, reconnects 0, rejected 0; instruments 4 as of "
            "2026-10-09T17:06:40+00:00 (exchange); not listed (skipped): XRP/USDT:USDT; backfill 2 events (2 new) "
            "from 2 requests") in text.splitlines()
    bot.stop(reason="test")
    bot.books.close()


def test_a_venue_without_instruments_is_left_out_and_status_says_why(tmp_path: Path, fakes: Any) -> None:
    binance, bybit, okx = fakes
    okx.fail_next("/api/v5/public/instruments", status=503, times=10)
    config = _config(tmp_path, binance, bybit, okx)
    clock = Clock()
    with capture_logs() as logs:
        bot = build_bot(config, clock=clock)
    assert isinstance(bot.stream, VenueStreams)
    assert [f.venue for f in bot.stream.feeds if f.stream is not None] == [Venue.BINANCE, Venue.BYBIT]
    assert [e["venue"] for e in logs if e["event"] == "venue_not_streamed"] == ["okx"]
    assert bot.stream.backfill(config, bot.heatmap) is None
    bot.start()
    text = render_status(status_report(bot.books, now_ms=clock.now, heartbeat_s=config.schedule.heartbeat))
    (line,) = [line for line in text.splitlines() if line.startswith("venue okx")]
    assert line.startswith("venue okx: NOT STREAMED (okx: markets could not be read (")
    bot.stop(reason="test")
    bot.books.close()


def test_backfill_off_is_said(tmp_path: Path, fakes: Any) -> None:
    binance, bybit, okx = fakes
    config = _config(tmp_path, binance, bybit, okx, backfill=False)
    bot = build_bot(config, clock=Clock())
    assert isinstance(bot.stream, VenueStreams)
    result = bot.stream.backfill(config, bot.heatmap)
    assert result is not None and result.skipped == "venues.okx.backfill is false" and result.requests == 0
    assert not [r for r in okx.requests if r.path == "/api/v5/public/liquidation-orders"]
    bot.books.close()
