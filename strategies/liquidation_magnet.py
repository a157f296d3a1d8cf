"""``liquidation_magnet``: the hunter's own rule as a strategy (README, "The hunter's rule").

Trade toward the strongest cluster of liquidations in the distance band: longs liquidated below
the price pull it down (sell), shorts liquidated above pull it up (buy). Exactly
:meth:`LiquidationHunter.evaluate`; its parameters are the config's ``hunter`` section, so this
strategy takes none of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from liquidation_hunter import HunterConfig, LiquidationHunter, Signal
from live_heatmap import to_exchange_id
from strategies.base import reject_unknown_params

__all__ = ["LiquidationMagnet", "validate_params"]

NAME = "liquidation_magnet"


def validate_params(params: Mapping[str, Any]) -> None:
    """Any key is an error; the hunter's own keys are pointed to the ``hunter`` section."""
    elsewhere = {f.name: f"hunter.{f.name}" for f in fields(HunterConfig)}
    reject_unknown_params(NAME, params, (), elsewhere=elsewhere)


class LiquidationMagnet:
    """Signals of :meth:`LiquidationHunter.evaluate`, unchanged."""

    name: str = NAME

    def __init__(self, hunter: LiquidationHunter, params: Mapping[str, Any]) -> None:
        validate_params(params)
        self.hunter = hunter

    def decide(self, symbol: str, price: float, now_ms: int) -> Signal:
        return self.hunter.evaluate(symbol, price, now_ms=now_ms)

    def may_signal(self, symbol: str, now_ms: int) -> bool:
        """False for a symbol without clusters at ``now_ms``: the hunter's rule picks one of them."""
        hunter = self.hunter
        return bool(hunter.heatmap.get_clusters(to_exchange_id(symbol, hunter.markets), now_ms=now_ms))
