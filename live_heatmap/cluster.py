"""The cluster value object handed to strategies, the API and the bot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from live_heatmap.side import Side
from live_heatmap.venue import Venue

__all__ = ["LiquidationCluster"]


@dataclass(frozen=True, slots=True)
class LiquidationCluster:
    """A group of same-side liquidations close in price, weighted by age.

    Prices are in quote currency, notionals in quote currency (USD for
    USDT/USDC contracts), times in UTC epoch milliseconds, percentages in
    percent (``1.5`` means 1.5 %).
    """

    cluster_id: str
    """``<symbol>-<side>-<trade time of its earliest event>``: stable while that event is in the window."""
    symbol: str
    """Exchange id (``BTCUSDT``)."""
    side: Side
    """Side of the liquidated positions (``"long"`` or ``"short"`` in JSON)."""
    price_level: float
    """Weight-averaged fill price of the cluster's events."""
    price_low: float
    price_high: float
    liquidation_count: int
    """Number of events (each a Binance snapshot of at most one second)."""
    total_notional: float
    """Sum of ``price * quantity``, undecayed."""
    weighted_notional: float
    """Sum of ``notional * exp(-age_minutes / time_decay_minutes)``."""
    strength: float
    """0..1, see docs/INTERNALS.md, "Strength"."""
    distance_from_price: float | None
    """``|price_level - price| / price * 100``; ``None`` while no price is known."""
    current_price: float | None
    first_event_ms: int
    last_updated: int
    """Trade time of the newest event in the cluster."""
    built_at: int
    """The ``now`` the cluster was computed for."""
    notional_by_venue: tuple[tuple[Venue, float], ...] = ()
    """``total_notional`` split by the venue the events came from, ``((venue, notional), ...)`` in venue order,
    the venues with none left out (``{"binance": ..., "bybit": ...}`` in JSON). Binance prices are average fills,
    Bybit's and OKX's bankruptcy prices (docs/VENUES.md, "The heatmap across venues")."""

    @property
    def span_pct(self) -> float:
        """``(price_high - price_low) / price_level * 100``; never above the window."""
        return (self.price_high - self.price_low) / self.price_level * 100.0

    @property
    def is_below_price(self) -> bool | None:
        """True when the cluster sits below the current price; ``None`` without a price."""
        if self.current_price is None:
            return None
        return self.price_level < self.current_price

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (adds ``span_pct``); its fields are plain values, so no deep copy."""
        out = {name: getattr(self, name) for name in _FIELDS}
        out["notional_by_venue"] = {venue.value: notional for venue, notional in self.notional_by_venue}
        out["span_pct"] = self.span_pct
        return out


_FIELDS = tuple(LiquidationCluster.__dataclass_fields__)
