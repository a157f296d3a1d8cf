"""The shipped market rules: ccxt's own parsing of the file, offline, agrees with the file's filters, and the
offline client never sends a request."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from liquidation_hunter.trading.errors import ExchangeUnavailable
from liquidation_hunter.trading.markets import SHIPPED_MARKETS, listed, shipped_rules

RECORDED = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT", "BNBUSDT", "WIFUSDT", "XRPUSDT", "DOTUSDT"]


def test_every_recorded_symbol_has_rules_and_ccxt_reads_them_as_the_file_says() -> None:
    rules = shipped_rules()
    assert listed(rules, [*RECORDED, "NOPEUSDT"]) == (RECORDED, ["NOPEUSDT"])
    info = json.loads(SHIPPED_MARKETS.read_text())
    for market in info["symbols"]:
        f = {x["filterType"]: x for x in market["filters"]}
        symbol, step = market["symbol"], Decimal(f["LOT_SIZE"]["stepSize"])
        assert rules.min_amount(symbol) == float(max(Decimal(f["LOT_SIZE"]["minQty"]),
                                                     Decimal(f["MARKET_LOT_SIZE"]["minQty"])))
        assert rules.min_notional(symbol) == float(f["MIN_NOTIONAL"]["notional"])
        # 7.77 steps round DOWN to 7 steps; a price 0.4 tick above a tick rounds to that tick
        assert Decimal(repr(rules.amount_to_precision(symbol, float(step * Decimal("7.77"))))) == step * 7
        tick = Decimal(f["PRICE_FILTER"]["tickSize"])
        assert Decimal(repr(rules.price_to_precision(symbol, float(tick * Decimal("1234.4"))))) == tick * 1234


def test_btc_and_eth_minimums_are_the_2023_ones() -> None:
    rules = shipped_rules()
    assert (rules.min_notional("BTCUSDT"), rules.min_notional("ETHUSDT"), rules.min_notional("DOGEUSDT")) == (
        100.0, 20.0, 5.0)


def test_the_offline_client_never_connects() -> None:
    rules = shipped_rules()
    with pytest.raises(ExchangeUnavailable, match="offline market rules"):
        rules.mark_prices(["BTCUSDT"])
