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
from helpers import Clock
from structlog.testing import capture_logs

from liquidation_hunter.bot.runner import build_bot
from liquidation_hunter.bot.venues import VenueStreams
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.trading.status import render_status, status_report
from live_heatmap.venue import Venue
from tests.fakes.binance import FakeBinanceRest
from tests.fakes.bybit.rest_server import FakeBybitRest
from tests.fakes.okx.rest_server import FakeOkxRest, swap_instrument

NOW = 1_791_565_600_000
SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "XRP/USDT:USDT"]
NOWHERE = "ws://127.0.0.1:9"  # nothing listens (the streams are built, not opened, here)


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
        bot = build_bot(config, clock=Clock(NOW))
    streams = bot.stream
    assert isinstance(streams, VenueStreams)
    assert [(f.venue, f.stream is not None, f.markets_source) for f in streams.feeds] == [
        (Venue.BINANCE, True, "exchange"), (Venue.BYBIT, True, "exchange"), (Venue.OKX, True, "exchange")]
    summed = streams.status()  # built, not opened: every venue down, each named (the unified view's warnings)
    assert not summed.connected and summed.venue == "binance,bybit,okx"
    assert summed.down() == ("binance", "bybit", "okx")
    assert streams.streams[1].status().down() == ("bybit",)
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
    clock = Clock(NOW)
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
    clock = Clock(NOW)
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
    bot = build_bot(config, clock=Clock(NOW))
    assert isinstance(bot.stream, VenueStreams)
    result = bot.stream.backfill(config, bot.heatmap)
    assert result is not None and result.skipped == "venues.okx.backfill is false" and result.requests == 0
    assert not [r for r in okx.requests if r.path == "/api/v5/public/liquidation-orders"]
    bot.books.close()


DAY_MS = 24 * 3600 * 1000


def _okx_btc(bot: Any, sz: str, ts: int) -> float:
    """One OKX liquidation of BTC-USDT-SWAP through the OKX stream's router (what its connections call): the
    quantity the heatmap stored, in BTC."""
    feed = bot.stream.feed(Venue.OKX)
    feed.stream.router.on_payload({"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": [
        {"instId": "BTC-USDT-SWAP", "instFamily": "BTC-USDT", "instType": "SWAP", "uly": "BTC-USDT", "details": [
            {"bkLoss": "0", "bkPx": "82655.7", "ccy": "", "posSide": "long", "side": "sell", "sz": sz,
             "ts": str(ts)}]}]})
    return float(bot.heatmap.events("BTCUSDT", exchanges=["okx"])[-1].quantity)


def _instrument_reads(okx: FakeOkxRest) -> int:
    return sum(r.path == "/api/v5/public/instruments" for r in okx.requests)


def test_a_day_later_the_instruments_are_read_again_and_the_parser_uses_the_new_ctval(tmp_path: Path,
                                                                                       fakes: Any) -> None:
    binance, bybit, okx = fakes
    config = _config(tmp_path, binance, bybit, okx, backfill=False)
    clock = Clock(NOW)
    bot = build_bot(config, clock=clock)
    assert _okx_btc(bot, "2", clock.now - 1_000) == pytest.approx(0.02)  # 2 contracts of 0.01 BTC
    okx.instruments[0] = swap_instrument("BTC-USDT-SWAP", ct_val="0.001", tick="0.1")  # OKX changes the ctVal
    okx.instruments.append(swap_instrument("XRP-USDT-SWAP", ct_val="100", tick="0.0001"))  # and lists XRP
    reads = _instrument_reads(okx)
    clock.now += DAY_MS - 1
    bot.run_job("markets")  # younger than a day: nothing read
    assert _instrument_reads(okx) == reads and _okx_btc(bot, "2", clock.now - 1_000) == pytest.approx(0.02)
    clock.now += 1
    with capture_logs() as logs:
        bot.run_job("markets")
    assert _instrument_reads(okx) == reads + 1
    assert [e["venue"] for e in logs if e["event"] == "venue_markets_refreshed"] == ["bybit", "okx"]
    # a configured symbol listed only now: said once, subscribed at the next start
    assert [(e["venue"], e["symbols"]) for e in logs if e["event"] == "venue_symbols_listed_now"] == [
        ("okx", ["XRP/USDT:USDT"])]
    assert _okx_btc(bot, "2", clock.now - 1_000) == pytest.approx(0.002)  # the running stream's parser
    cached = json.loads((tmp_path / "var" / "markets" / "okx.json").read_text())
    assert cached["as_of_ms"] == clock.now and ["BTC-USDT-SWAP", "BTC/USDT:USDT", "BTCUSDT", 0.001, False] in \
        cached["instruments"]
    bot.start()
    venues = {v["venue"]: v for v in bot.health(clock.now).to_dict()["venues"]}
    assert venues["okx"]["instruments_as_of"] == "2026-10-10T17:06:40+00:00" and venues["okx"]["instruments"] == 5
    assert (venues["okx"]["markets_source"], venues["okx"]["markets_refresh_failures"]) == ("exchange", 0)
    bot.stop(reason="test")
    bot.books.close()


def test_a_failed_refresh_keeps_the_old_table_with_one_warning(tmp_path: Path, fakes: Any) -> None:
    binance, bybit, okx = fakes
    config = _config(tmp_path, binance, bybit, okx, backfill=False)
    clock = Clock(NOW)
    bot = build_bot(config, clock=clock)
    okx.instruments[0] = swap_instrument("BTC-USDT-SWAP", ct_val="0.001", tick="0.1")
    okx.fail_next("/api/v5/public/instruments", status=503, times=10)
    clock.now += DAY_MS
    with capture_logs() as logs:
        bot.run_job("markets")
    failed = [e for e in logs if e["event"] == "venue_markets_refresh_failed"]
    assert [(e["venue"], e["failures"], e["as_of_ms"]) for e in failed] == [("okx", 1, NOW)]
    assert bot.runs["markets"] == 1 and not bot.failures["markets"]
    assert _okx_btc(bot, "2", clock.now - 1_000) == pytest.approx(0.02)  # the old ctVal
    bot.start()
    text = render_status(status_report(bot.books, now_ms=clock.now, heartbeat_s=config.schedule.heartbeat))
    (line,) = [line for line in text.splitlines() if line.startswith("venue okx")]
    assert ("instruments 4 as of 2026-10-09T17:06:40+00:00 (exchange, venue failed: ExchangeError: okx "
            '{"msg":"unavailable"}, 1 daily refreshes failed); ') in line
    bot.stop(reason="test")
    bot.books.close()
