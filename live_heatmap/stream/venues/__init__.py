"""One small protocol adapter per venue: subscriptions and shards, URL, subscribe answers, keep-alive, routing."""

from __future__ import annotations

from live_heatmap.stream.venues.base import VenueAdapter
from live_heatmap.stream.venues.binance import BinanceAdapter
from live_heatmap.stream.venues.bybit import BybitAdapter
from live_heatmap.stream.venues.okx import OkxAdapter
from live_heatmap.venue import Venue

__all__ = ["adapter_for"]

_ADAPTERS: dict[Venue, VenueAdapter] = {Venue.BINANCE: BinanceAdapter(), Venue.BYBIT: BybitAdapter(),
                                        Venue.OKX: OkxAdapter()}


def adapter_for(venue: Venue | str) -> VenueAdapter:
    """The adapter of ``venue`` (a :class:`Venue` or its name)."""
    return _ADAPTERS[Venue(venue)]
