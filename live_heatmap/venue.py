"""``Venue`` and ``PriceKind``: which exchange an event came from, and what its price is.

Every :class:`~live_heatmap.wire.events.LiquidationEvent` carries both. They are ``str`` enums (``"bybit"``,
``"bankruptcy"``): they compare, hash and serialise (JSON, SQLite) as those strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

__all__ = ["PRICE_KIND_OF", "VENUES_BY_CODE", "Exchanges", "PriceKind", "Venue", "chosen_venues"]


class Venue(StrEnum):
    """An exchange whose public liquidation feed this project reads."""

    BINANCE = "binance"
    BYBIT = "bybit"
    OKX = "okx"

    @property
    def code(self) -> int:
        """0, 1, 2...: the venue in arrays (its position in :data:`VENUES_BY_CODE`)."""
        return _CODES[self]


class PriceKind(StrEnum):
    """What an event's price is."""

    FILL_AVG = "fill_avg"
    """The average price the liquidation order filled at (Binance's ``ap``)."""
    BANKRUPTCY = "bankruptcy"
    """The position's bankruptcy price (Bybit's ``p``, OKX's ``bkPx``): beyond the liquidation price by about
    the maintenance margin."""


VENUES_BY_CODE = tuple(Venue)
"""``VENUES_BY_CODE[venue.code] is venue``."""
_CODES = {venue: code for code, venue in enumerate(VENUES_BY_CODE)}
PRICE_KIND_OF = {Venue.BINANCE: PriceKind.FILL_AVG, Venue.BYBIT: PriceKind.BANKRUPTCY, Venue.OKX: PriceKind.BANKRUPTCY}
"""The kind of price each venue's feed publishes."""

Exchanges = Iterable[Venue | str] | str | None
"""A choice of venues: names (any case) or :class:`Venue` values; None for every venue."""


def chosen_venues(exchanges: Exchanges, *, allow_empty: bool = True) -> frozenset[Venue] | None:
    """``exchanges`` as a set of :class:`Venue` (None stays None: every venue). Raises ``ValueError`` naming an
    unknown venue (``unknown exchange 'kraken' (known: binance, bybit, okx)``), or an empty choice unless
    ``allow_empty``."""
    if exchanges is None:
        return None
    if isinstance(exchanges, str):
        exchanges = [exchanges]
    chosen = set()
    for name in exchanges:
        try:
            chosen.add(Venue(str(name).strip().lower()))
        except ValueError:
            raise ValueError(f"unknown exchange {str(name)[:40]!r} (known: {', '.join(Venue)})") from None
    if not chosen and not allow_empty:
        raise ValueError(f"exchanges: expected at least one of {', '.join(Venue)}, got none")
    return frozenset(chosen)
