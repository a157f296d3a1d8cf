"""Binance's market rules without a network: the shipped ``exchangeInfo`` of the recorded symbols.

A market order on Binance USD-M must have a quantity that is a multiple of the market's step (``LOT_SIZE`` /
``MARKET_LOT_SIZE`` ``stepSize``), at least its minimum quantity (``minQty``) and a value of at least its
minimum notional (``MIN_NOTIONAL`` ``notional``: 100 USDT on BTCUSDT, 20 on ETHUSDT, 5 on most others);
stop and take-profit prices are multiples of its tick (``PRICE_FILTER`` ``tickSize``). The live bot reads
these from the exchange (``ExchangeClient.load_markets``). A backtest, and ``run`` in paper mode when the
exchange cannot be reached, read them from :data:`SHIPPED_MARKETS`, a file in exchangeInfo's own shape that
ships with the package (where each value comes from: ``data/SOURCES.md``). Both are parsed by ccxt's own
``binanceusdm.parse_market`` (:meth:`ExchangeClient.offline`), so paper and live round with the same code.

A symbol without known rules is not traded by a backtest: the report lists it with the reason.

ccxt is imported when the rules are built (about 0.2 s; parsing the file takes under 1 ms).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from liquidation_hunter.trading.exchange import ExchangeClient

__all__ = ["SHIPPED_MARKETS", "listed", "shipped_rules"]

SHIPPED_MARKETS = Path(__file__).with_name("exchangeInfo_markets_2025.json")
"""Binance USD-M rules of BTC, ETH, SOL, DOGE, BNB, WIF, XRP and DOT USDT perpetuals (2025)."""


def shipped_rules(path: str | Path = SHIPPED_MARKETS) -> ExchangeClient:
    """An offline :class:`ExchangeClient` answering the rounding and minimums of the markets in ``path``
    (an exchangeInfo JSON file). Raises ``OSError`` or ``ValueError`` (bad JSON) naming nothing more: callers
    name the file."""
    info = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(info, dict) or not isinstance(info.get("symbols"), list):
        raise ValueError(f"{path}: not an exchangeInfo answer (no 'symbols' list)")
    return ExchangeClient.offline(info)


def listed(rules: ExchangeClient, symbols: Iterable[str]) -> tuple[list[str], list[str]]:
    """``symbols`` split into (those ``rules`` has markets for, the others), each in the given order."""
    known: list[str] = []
    unknown: list[str] = []
    for symbol in symbols:
        (known if rules.has_market(symbol) else unknown).append(symbol)
    return known, unknown
