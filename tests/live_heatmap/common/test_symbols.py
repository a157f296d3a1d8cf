"""Symbol conversion: the documented rule, and ccxt's own markets when they are loaded."""

from __future__ import annotations

import json

import pytest
from conftest import DATA

from live_heatmap import to_exchange_id, to_unified

RULE_TABLE = [
    ("BTC/USDT:USDT", "BTCUSDT"),
    ("ETH/USDC:USDC", "ETHUSDC"),
    ("1000PEPE/USDT:USDT", "1000PEPEUSDT"),
    ("1000SHIB/USDT:USDT", "1000SHIBUSDT"),
    ("BTC/USDT:USDT-250328", "BTCUSDT_250328"),
    ("币安人生/USDT:USDT", "币安人生USDT"),
]


@pytest.mark.parametrize(("unified", "market_id"), RULE_TABLE)
def test_rule_converts_both_ways(unified: str, market_id: str) -> None:
    assert to_exchange_id(unified) == market_id
    assert to_unified(market_id) == unified
    assert to_unified(unified) == unified and to_exchange_id(market_id) == market_id


def test_bases_of_letters_and_digits_in_any_script() -> None:
    assert to_unified("1000PEPEUSDT") == "1000PEPE/USDT:USDT"
    assert to_exchange_id(to_unified("币安人生USDT")) == "币安人生USDT"  # Binance lists such a contract


def test_ids_in_any_case() -> None:
    assert to_exchange_id("btcusdt") == "BTCUSDT"
    assert to_unified("btcusdt") == "BTC/USDT:USDT"


@pytest.mark.parametrize("bad", ["BTC/USD:BTC", "BTC/USDT", "BTCUSD_PERP", "ETHBTC", "BTC/USDT:USDC", "",
                                 "BTC-USDT", "BTC_USDT", "BTC USDT", "BTC-/USDT:USDT", "BTC.X/USDT:USDT"])
def test_symbols_outside_the_rule_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"BTC|rule|linear|form|contract"):
        to_exchange_id(bad) if "/" in bad else to_unified(bad)


@pytest.fixture(scope="module")
def binanceusdm():  # type: ignore[no-untyped-def]
    """Real ccxt with markets loaded from the recorded exchangeInfo, no network."""
    import ccxt

    exchange = ccxt.binanceusdm()
    info = json.loads((DATA / "rest" / "exchangeInfo.json").read_text())
    exchange.set_markets([exchange.parse_market(row) for row in info["symbols"]])
    return exchange


def test_loaded_ccxt_markets_are_used(binanceusdm) -> None:  # type: ignore[no-untyped-def]
    assert to_exchange_id("BTC/USDT:USDT", binanceusdm) == "BTCUSDT"
    assert to_unified("ETHUSDT", binanceusdm) == "ETH/USDT:USDT"
    # what ccxt does not know falls back to the rule
    assert to_unified("1000PEPEUSDT", binanceusdm) == "1000PEPE/USDT:USDT"
    assert to_exchange_id("1000PEPE/USDT:USDT", binanceusdm) == "1000PEPEUSDT"


def test_markets_and_rule_agree(binanceusdm) -> None:  # type: ignore[no-untyped-def]
    for symbol, market in binanceusdm.markets.items():
        if market["linear"] and market["swap"]:
            assert to_exchange_id(symbol) == market["id"]
            assert to_unified(market["id"]) == symbol
