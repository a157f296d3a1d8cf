"""Each venue's instruments through ccxt, against local fakes answering the requests ccxt really sends; the cache
on disk a restart without network uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from liquidation_hunter.trading.venue_markets import (
    MARKETS_MAX_AGE_MS,
    MarketsUnavailable,
    binance_instruments,
    load_instruments,
    read_cache,
)
from live_heatmap.common.instruments import Instrument
from live_heatmap.venue import Venue
from tests.fakes.bybit.rest_server import FakeBybitRest
from tests.fakes.okx.rest_server import FakeOkxRest

NOW = 1_791_565_600_000
DAY = 24 * 3600 * 1000


def test_bybit_linear_perpetuals_over_every_page(tmp_path: Path) -> None:
    with FakeBybitRest(page_size=2) as fake:
        loaded = load_instruments(Venue.BYBIT, tmp_path, now_ms=NOW, rest_url=fake.base_url)
        requests = fake.requests
    assert loaded.source == "exchange" and loaded.error is None
    table = loaded.instruments
    assert table.venue is Venue.BYBIT and table.as_of_ms == NOW
    assert sorted(table.by_id) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]  # the dated future BTCUSDT-26JUN26 left out
    assert table.for_unified("ETH/USDT:USDT") == Instrument(Venue.BYBIT, "ETHUSDT", "ETH/USDT:USDT", "ETHUSDT")
    # only the linear category, and the second page through the cursor (4 rows, 2 a page)
    assert [(r.path, r.params) for r in requests] == [
        ("/v5/market/instruments-info", {"category": "linear", "limit": "1000"}),
        ("/v5/market/instruments-info", {"category": "linear", "limit": "1000", "status": "PreLaunch"}),
        ("/v5/market/instruments-info", {"category": "linear", "limit": "1000", "cursor": "2"}),
    ]


def test_okx_swaps_with_contract_sizes_and_the_inverse_one(tmp_path: Path) -> None:
    with FakeOkxRest() as fake:
        table = load_instruments(Venue.OKX, tmp_path, now_ms=NOW, rest_url=fake.base_url).instruments
        assert [(r.path, r.params) for r in fake.requests] == [("/api/v5/public/instruments", {"instType": "SWAP"})]
    assert table.get("BTC-USDT-SWAP") == Instrument(Venue.OKX, "BTC-USDT-SWAP", "BTC/USDT:USDT", "BTCUSDT", 0.01)
    assert table.get("ETH-USDT-SWAP") == Instrument(Venue.OKX, "ETH-USDT-SWAP", "ETH/USDT:USDT", "ETHUSDT", 0.1)
    assert table.get("SOL-USDT-SWAP") == Instrument(Venue.OKX, "SOL-USDT-SWAP", "SOL/USDT:USDT", "SOLUSDT", 1.0)
    # inverse: sz * ctVal is USD; keyed by its unified symbol (not a USDT/USDC linear contract)
    assert table.get("BTC-USD-SWAP") == Instrument(Venue.OKX, "BTC-USD-SWAP", "BTC/USD:BTC", "BTC/USD:BTC", 100.0,
                                                   inverse=True)


def test_the_cache_serves_a_restart_and_is_refreshed_after_a_day(tmp_path: Path) -> None:
    with FakeOkxRest() as fake:
        first = load_instruments(Venue.OKX, tmp_path, now_ms=NOW, rest_url=fake.base_url)
        again = load_instruments(Venue.OKX, tmp_path, now_ms=NOW + DAY - 1, rest_url=fake.base_url)
        assert len(fake.requests) == 1  # younger than a day: no request
        later = load_instruments(Venue.OKX, tmp_path, now_ms=NOW + MARKETS_MAX_AGE_MS, rest_url=fake.base_url)
        assert len(fake.requests) == 2
    assert again.source == "cache" and again.instruments == first.instruments
    assert later.source == "exchange" and later.instruments.as_of_ms == NOW + DAY
    assert json.loads((tmp_path / "okx.json").read_text())["as_of_ms"] == NOW + DAY


@pytest.mark.parametrize("failure", ["down", "5xx", "not json"])
def test_the_cache_when_the_venue_fails(tmp_path: Path, failure: str) -> None:
    with FakeBybitRest() as fake:
        first = load_instruments(Venue.BYBIT, tmp_path, now_ms=NOW, rest_url=fake.base_url).instruments
        port = fake.port
        if failure == "5xx":
            fake.fail_next("/v5/market/instruments-info", status=503, times=10)
        elif failure == "not json":
            fake.fail_next("/v5/market/instruments-info", status=200, body=b"<html>maintenance", times=10)
        if failure != "down":
            loaded = load_instruments(Venue.BYBIT, tmp_path, now_ms=NOW + 2 * DAY, rest_url=fake.base_url)
    if failure == "down":  # the fake is stopped: nothing listens on its port
        loaded = load_instruments(Venue.BYBIT, tmp_path, now_ms=NOW + 2 * DAY, rest_url=f"http://127.0.0.1:{port}",
                                  timeout_s=2.0)
    assert loaded.source == "stale cache" and loaded.error
    assert loaded.instruments == first and loaded.instruments.as_of_ms == NOW


def test_no_venue_and_no_cache_is_one_error(tmp_path: Path) -> None:
    with FakeOkxRest() as fake:
        fake.fail_next("/api/v5/public/instruments", status=500, times=10)
        with pytest.raises(MarketsUnavailable, match=r"^okx: markets could not be read \(.*\) and there is no cache$"):
            load_instruments(Venue.OKX, tmp_path, now_ms=NOW, rest_url=fake.base_url)
    assert read_cache(tmp_path, Venue.OKX) is None


def test_a_damaged_cache_is_read_again_from_the_venue(tmp_path: Path) -> None:
    (tmp_path / "okx.json").write_text("{not json", encoding="utf-8")
    assert read_cache(tmp_path, Venue.OKX) is None
    with FakeOkxRest() as fake:
        assert load_instruments(Venue.OKX, tmp_path, now_ms=NOW, rest_url=fake.base_url).source == "exchange"
    cached = read_cache(tmp_path, Venue.OKX)
    assert cached is not None and cached.get("BTC-USD-SWAP") is not None


def test_binance_by_the_rule_without_markets() -> None:
    table = binance_instruments(None, ["BTC/USDT:USDT", "1000PEPE/USDT:USDT"], NOW)
    assert table.for_unified("1000PEPE/USDT:USDT") == Instrument(Venue.BINANCE, "1000PEPEUSDT", "1000PEPE/USDT:USDT",
                                                                 "1000PEPEUSDT")
