"""The one place that converts between ccxt's unified symbols and Binance's ids.

``BTC/USDT:USDT`` (ccxt unified, the form strategies and the bot use) <->
``BTCUSDT`` (Binance's id, the form on the wire and in the heatmap).

With a ccxt exchange whose markets are loaded, its ``market_id`` /
``safe_symbol`` answer. Without one, a documented rule covers Binance's linear
perpetuals settled in USDT or USDC, and their dated futures:

* ``BASE/Q:Q`` <-> ``BASEQ`` for ``Q`` in ``USDT``, ``USDC``
  (``1000PEPE/USDT:USDT`` <-> ``1000PEPEUSDT``);
* ``BASE/Q:Q-YYMMDD`` <-> ``BASEQ_YYMMDD``.

Anything else raises :class:`ValueError` instead of guessing.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Protocol

__all__ = ["LINEAR_QUOTES", "MarketsLike", "symbol_key", "to_exchange_id", "to_unified"]

LINEAR_QUOTES = ("USDT", "USDC")

# Bases are letters and digits, mostly [A-Z0-9], but Binance lists non-ASCII ones too (``币安人生USDT``).
_ID_RULE = re.compile(r"^(?P<base>[^\W_]+?)(?P<quote>USDT|USDC)(?:_(?P<expiry>\d{6}))?$")
_UNIFIED_RULE = re.compile(r"^(?P<base>[^\W_]+)/(?P<quote>[A-Z0-9]+):(?P<settle>[A-Z0-9]+)(?:-(?P<expiry>\d{6}))?$")


class MarketsLike(Protocol):
    """What we use of a ccxt exchange: its loaded markets and two lookups."""

    markets: dict[str, object] | None

    def market_id(self, symbol: str) -> str: ...

    def safe_symbol(self, market_id: str) -> str: ...


def _markets_loaded(markets: MarketsLike | None) -> bool:
    return markets is not None and bool(getattr(markets, "markets", None))


@lru_cache(maxsize=4096)
def _id_by_rule(symbol: str) -> str:
    if "/" not in symbol:
        upper = symbol.upper()
        if _ID_RULE.match(upper) is None:
            raise ValueError(f"{symbol!r} is not a Binance USDT/USDC linear contract id")
        return upper
    match = _UNIFIED_RULE.match(symbol.upper())
    if match is None:
        raise ValueError(f"{symbol!r} is not a unified symbol of the form BASE/QUOTE:SETTLE")
    quote, settle = match["quote"], match["settle"]
    if quote != settle or quote not in LINEAR_QUOTES:
        raise ValueError(f"{symbol!r}: only linear contracts settled in {'/'.join(LINEAR_QUOTES)} follow the rule")
    expiry = match["expiry"]
    return f"{match['base']}{quote}" + (f"_{expiry}" if expiry else "")


@lru_cache(maxsize=4096)
def _unified_by_rule(symbol: str) -> str:
    if "/" in symbol:
        _id_by_rule(symbol)  # validates
        return symbol.upper()
    match = _ID_RULE.match(symbol.upper())
    if match is None:
        raise ValueError(f"{symbol!r} is not a Binance USDT/USDC linear contract id")
    quote, expiry = match["quote"], match["expiry"]
    return f"{match['base']}/{quote}:{quote}" + (f"-{expiry}" if expiry else "")


def to_exchange_id(symbol: str, markets: MarketsLike | None = None) -> str:
    """Binance id (``BTCUSDT``) for a unified symbol or an id in any case.

    Uses ``markets`` (a ccxt exchange with markets loaded) when given and it
    knows the symbol, else the rule in the module docstring.
    """
    if _markets_loaded(markets) and "/" in symbol:
        assert markets is not None
        try:
            return markets.market_id(symbol)
        except Exception:  # noqa: BLE001 - ccxt raises BadSymbol; fall back to the rule
            pass
    return _id_by_rule(symbol)


def symbol_key(symbol: str) -> str:
    """Either symbol form (``BTC/USDT:USDT``, ``btcusdt``) as the exchange id the heatmap, the event store and
    the price files key by: a unified symbol through :func:`to_exchange_id`, an id upper-cased as it is (not
    checked against the rule: a recording may hold any id the exchange sent)."""
    return to_exchange_id(symbol) if "/" in symbol else symbol.upper()


def to_unified(symbol: str, markets: MarketsLike | None = None) -> str:
    """Unified ccxt symbol (``BTC/USDT:USDT``) for a Binance id or a unified symbol."""
    if _markets_loaded(markets) and "/" not in symbol:
        assert markets is not None
        unified = markets.safe_symbol(symbol.upper())
        if "/" in unified:  # ccxt echoes unknown ids back unchanged
            return unified
    return _unified_by_rule(symbol)
