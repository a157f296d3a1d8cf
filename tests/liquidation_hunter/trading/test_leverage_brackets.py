"""Leverage brackets from the exchange: the real `ccxt.binanceusdm` sends a signed `GET /fapi/v1/leverageBracket`
to the local fake Binance REST server, and the answer becomes the same BracketTable as the shipped file. Without
keys, or when the exchange refuses, the shipped dated table is used."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fakes.binance import FakeBinanceRest
from fakes.binance.rest_market import BRACKETS
from structlog.testing import capture_logs

from liquidation_hunter.trading.brackets import current_brackets
from liquidation_hunter.trading.exchange import ExchangeClient
from live_heatmap.estimated import shipped_brackets

KEY, SECRET = "key-brackets-1a2b", "secret-brackets-9f8e"
AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeBinanceRest]:
    with FakeBinanceRest(api_key=KEY, api_secret=SECRET) as server:
        yield server


def client(fake: FakeBinanceRest, *, api_key: str | None = KEY, secret: str = SECRET) -> ExchangeClient:
    return fake.client(api_key=api_key, secret=secret)


def test_with_keys_the_signed_answer_becomes_the_table(fake: FakeBinanceRest) -> None:
    table = current_brackets(client(fake), as_of=AT)
    [request] = [r for r in fake.requests if r.path == "/fapi/v1/leverageBracket"]
    assert request.method == "GET" and request.signed and request.signature_ok
    assert table.source == "exchange" and table.as_of == AT
    assert table.label == "brackets of 2026-03-04 (from the exchange)"
    assert set(table) == {"BTCUSDT", "ETHUSDT"}
    btc = table.for_symbol("BTC/USDT:USDT")
    assert [(b.initial_leverage, b.notional_cap, b.notional_floor, b.maint_margin_ratio, b.cum) for b in btc] == [
        (lev, float(cap), float(floor), mmr, cum) for lev, cap, floor, mmr, cum in BRACKETS]


def test_without_keys_the_shipped_table_and_no_request(fake: FakeBinanceRest) -> None:
    assert current_brackets(client(fake, api_key=None)) is shipped_brackets()
    assert current_brackets(None) is shipped_brackets()
    assert fake.requests == []


def test_refused_keys_fall_back_to_the_shipped_table_with_a_warning(fake: FakeBinanceRest) -> None:
    with capture_logs() as logs:
        table = current_brackets(client(fake, secret="wrong-secret-0000"), as_of=AT)
    assert table is shipped_brackets()
    [warning] = [e for e in logs if e["event"] == "brackets.shipped_instead"]
    assert warning["log_level"] == "warning" and "fetch leverage brackets" in warning["error"]
    assert "wrong-secret-0000" not in warning["error"]
