"""Observed liquidation heatmap for USD-M perpetual futures (Binance, with Bybit and OKX beside it).

Venue frames -> :class:`LiquidationEvent` (each with its :class:`Venue` and :class:`PriceKind`) -> per-symbol
windows -> time-decayed price clusters (:class:`LiquidationCluster`), of every venue or of some
(``exchanges=``).
"""

from live_heatmap.cluster import LiquidationCluster
from live_heatmap.common.symbols import to_exchange_id, to_unified
from live_heatmap.config import ConfigError, HeatmapConfig
from live_heatmap.heatmap import IngestReport, LiveLiquidationHeatmap, system_clock_ms
from live_heatmap.side import Side
from live_heatmap.venue import PriceKind, Venue
from live_heatmap.wire.events import FrameRejected, LiquidationEvent, RejectReason, parse_force_order

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "FrameRejected",
    "HeatmapConfig",
    "IngestReport",
    "LiquidationCluster",
    "LiquidationEvent",
    "LiveLiquidationHeatmap",
    "PriceKind",
    "RejectReason",
    "Side",
    "Venue",
    "__version__",
    "parse_force_order",
    "system_clock_ms",
    "to_exchange_id",
    "to_unified",
]
