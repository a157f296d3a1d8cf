"""Liquidation hunter: trade signals from observed liquidation clusters.

``LiquidationHunter`` picks the best cluster of a symbol and turns it into a
signal ``(signal, strength, cluster)`` for a ccxt symbol such as ``BTC/USDT:USDT``.
"""

from liquidation_hunter.signals.hunter import LiquidationHunter
from liquidation_hunter.signals.rules import HunterConfig, Rule, Signal, magnet_rule, place_exits
from liquidation_hunter.signals.sources import SOURCES, Attached, DataSource, register_source
from live_heatmap import to_exchange_id, to_unified

__version__ = "0.1.0"

__all__ = [
    "SOURCES",
    "Attached",
    "DataSource",
    "HunterConfig",
    "LiquidationHunter",
    "Rule",
    "Signal",
    "__version__",
    "magnet_rule",
    "place_exits",
    "register_source",
    "to_exchange_id",
    "to_unified",
]
