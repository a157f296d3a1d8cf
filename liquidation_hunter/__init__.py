"""Liquidation hunter: trade signals from observed liquidation clusters.

``LiquidationHunter`` picks the best cluster of a symbol and turns it into a
signal ``(signal, strength, cluster)`` for a ccxt symbol such as ``BTC/USDT:USDT``.
"""

from live_heatmap import to_exchange_id, to_unified

from .hunter import LiquidationHunter
from .rules import HunterConfig, Rule, Signal, magnet_rule, place_exits
from .sources import SOURCES, DataSource, register_source

__version__ = "0.1.0"

__all__ = [
    "SOURCES",
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
