"""What the parsers and the subscriptions need to know about a venue's instruments: pure data.

The ccxt layer of the bot (``liquidation_hunter``) builds an :class:`Instruments` table per venue from
the venue's markets (cached on disk, refreshed daily) and hands it to the stream; nothing here talks to
the network.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from live_heatmap.venue import Venue

__all__ = ["Instrument", "Instruments"]


@dataclass(frozen=True, slots=True)
class Instrument:
    """One contract on one venue."""

    venue: Venue
    venue_id: str
    """The venue's id: ``BTCUSDT`` (Binance, Bybit), ``BTC-USDT-SWAP`` (OKX)."""
    unified: str
    """ccxt's unified symbol: ``BTC/USDT:USDT``, ``BTC/USD:BTC``."""
    key: str
    """The heatmap's key (:func:`live_heatmap.common.symbols.symbol_key` of ``unified`` for linear USDT/USDC
    contracts, ``BTCUSDT``; the unified symbol itself for others)."""
    contract_size: float = 1.0
    """Base units (linear) or USD (inverse) per contract: OKX's ``ctVal``; 1.0 where sizes are in base units."""
    inverse: bool = False
    """True for coin-margined contracts (OKX ``BTC-USD-SWAP``): ``sz * ctVal`` is USD, not base units."""


@dataclass(frozen=True, slots=True)
class Instruments:
    """One venue's instruments, by venue id and by unified symbol; ``as_of_ms`` says when they were read."""

    venue: Venue
    as_of_ms: int
    by_id: dict[str, Instrument] = field(default_factory=dict)
    by_unified: dict[str, Instrument] = field(default_factory=dict)

    @classmethod
    def of(cls, venue: Venue, as_of_ms: int, instruments: Iterable[Instrument]) -> Instruments:
        items = list(instruments)
        return cls(venue, as_of_ms, {i.venue_id: i for i in items}, {i.unified: i for i in items})

    def get(self, venue_id: str) -> Instrument | None:
        """The instrument with this venue id, or None when the venue does not list it."""
        return self.by_id.get(venue_id)

    def for_unified(self, unified: str) -> Instrument | None:
        """The instrument of a unified symbol on this venue, or None when the venue does not list it."""
        return self.by_unified.get(unified)
