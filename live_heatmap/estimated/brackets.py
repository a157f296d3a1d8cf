"""Leverage brackets of many symbols, with the date they hold for: :class:`BracketTable`.

Two sources, one shape (Binance's ``GET /fapi/v1/leverageBracket`` answer,
``[{"symbol": "BTCUSDT", "brackets": [{"bracket", "initialLeverage", "notionalCap", "notionalFloor",
"maintMarginRatio", "cum"}, ...]}, ...]``), one reader (:func:`parse_leverage_brackets`):

* the exchange, when API keys exist (the endpoint is signed): ``liquidation_hunter.trading`` fetches it and parses
  it here with ``as_of`` = the time of the request;
* otherwise the dated table shipped in this package (:func:`shipped_brackets`, :data:`SHIPPED_AS_OF`): Binance's
  published brackets of 2025-12-25 (648 USD-M perpetuals; provenance in ``data/SOURCES.md``). Brackets change
  (Binance announces new ones every few weeks), so wherever estimated levels are shown, :attr:`BracketTable.as_of`
  is shown with them.

Numbers may be JSON numbers (the exchange) or strings (the shipped table, as dumped). Pure: no clock, no network;
the shipped file is read from the package.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

from live_heatmap.common.symbols import to_exchange_id
from live_heatmap.estimated.liquidation import Bracket, Brackets

__all__ = ["SHIPPED_AS_OF", "SHIPPED_FILE", "BracketSource", "BracketTable", "parse_leverage_brackets",
           "shipped_brackets"]

SHIPPED_FILE = "leverage_brackets_2025-12-25.json"
"""The shipped table, a file of this package."""
SHIPPED_AS_OF = datetime(2025, 12, 25, tzinfo=UTC)
"""The date the shipped table holds for."""

BracketSource = Literal["shipped", "exchange"]


@dataclass(frozen=True)
class BracketTable:
    """Leverage brackets by Binance symbol id (``BTCUSDT``), with when and where they come from."""

    as_of: datetime
    """When the brackets held (UTC): the shipped table's date, or the time they were fetched."""
    source: BracketSource
    """``shipped`` (the dated table in the package) or ``exchange`` (fetched with API keys)."""
    by_symbol: Mapping[str, Brackets] = field(repr=False)

    @property
    def label(self) -> str:
        """What to show beside estimated levels: ``brackets of 2025-12-25 (shipped table)``."""
        where = "shipped table" if self.source == "shipped" else "from the exchange"
        return f"brackets of {self.as_of:%Y-%m-%d} ({where})"

    def __len__(self) -> int:
        return len(self.by_symbol)

    def __iter__(self) -> Iterator[str]:
        return iter(self.by_symbol)

    def get(self, symbol: str) -> Brackets | None:
        """The brackets of ``symbol`` (``BTCUSDT`` or ``BTC/USDT:USDT``), None if the table has none."""
        found = self.by_symbol.get(symbol)
        if found is None and "/" in symbol:
            try:
                found = self.by_symbol.get(to_exchange_id(symbol))
            except ValueError:
                return None
        return found

    def for_symbol(self, symbol: str) -> Brackets:
        """The brackets of ``symbol`` (either form); :class:`KeyError` naming the symbol and the table's date
        if it has none (a symbol listed after the table was made)."""
        found = self.get(symbol)
        if found is None:
            raise KeyError(f"no leverage brackets for {symbol} in the {self.label}")
        return found


def _bracket(symbol: str, row: Mapping[str, Any]) -> Bracket:
    try:
        return Bracket(bracket=int(row["bracket"]), initial_leverage=int(float(row["initialLeverage"])),
                       notional_floor=float(row["notionalFloor"]), notional_cap=float(row["notionalCap"]),
                       maint_margin_ratio=float(row["maintMarginRatio"]), cum=float(row["cum"]))
    except KeyError as exc:
        raise ValueError(f"{symbol}: a leverage bracket without {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{symbol}: a leverage bracket with a bad value: {exc}") from None


def parse_leverage_brackets(payload: object, *, as_of: datetime, source: BracketSource) -> BracketTable:
    """A ``/fapi/v1/leverageBracket`` answer (the list of every symbol, or one symbol's object) as a table.

    Raises :class:`ValueError` with one line naming the symbol for anything not in that shape.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware (UTC)")
    rows = [payload] if isinstance(payload, Mapping) else payload
    if not isinstance(rows, list):
        raise ValueError(f"leverage brackets: expected a list of symbols, got {type(payload).__name__}")
    table: dict[str, Brackets] = {}
    for row in rows:
        if not isinstance(row, Mapping) or not isinstance(row.get("symbol"), str):
            raise ValueError(f"leverage brackets: a row without a symbol: {str(row)[:80]}")
        symbol = row["symbol"]
        brackets = row.get("brackets")
        if not isinstance(brackets, list):
            raise ValueError(f"{symbol}: no 'brackets' list")
        table[symbol] = Brackets(symbol, [_bracket(symbol, b) for b in brackets])
    return BracketTable(as_of=as_of.astimezone(UTC), source=source, by_symbol=MappingProxyType(table))


@cache
def shipped_brackets() -> BracketTable:
    """The dated table shipped in this package (:data:`SHIPPED_AS_OF`), read once per process (the table is
    read-only)."""
    text = resources.files(__package__ or "live_heatmap.estimated").joinpath(SHIPPED_FILE).read_text("utf-8")
    return parse_leverage_brackets(json.loads(text), as_of=SHIPPED_AS_OF, source="shipped")
