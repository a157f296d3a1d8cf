"""``Venue`` and ``PriceKind``: which exchange an event came from, and what its price is.

Every :class:`~live_heatmap.wire.events.LiquidationEvent` carries both. They are ``str`` enums (``"bybit"``,
``"bankruptcy"``): they compare, hash and serialise (JSON, SQLite) as those strings.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["PRICE_KIND_OF", "VENUES_BY_CODE", "PriceKind", "Venue"]


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
