"""Observed liquidation heatmap for Binance USD-M futures.

``forceOrder`` frames -> :class:`LiquidationEvent` -> per-symbol windows ->
time-decayed price clusters (:class:`LiquidationCluster`).
"""

from .cluster import LiquidationCluster
from .config import ConfigError, HeatmapConfig
from .events import FrameRejected, LiquidationEvent, RejectReason, parse_force_order
from .heatmap import IngestReport, LiveLiquidationHeatmap, system_clock_ms
from .symbols import to_exchange_id, to_unified

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "FrameRejected",
    "HeatmapConfig",
    "IngestReport",
    "LiquidationCluster",
    "LiquidationEvent",
    "LiveLiquidationHeatmap",
    "RejectReason",
    "__version__",
    "parse_force_order",
    "system_clock_ms",
    "to_exchange_id",
    "to_unified",
]
