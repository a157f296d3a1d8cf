"""``liquidation_magnet``: the hunter's own rule as a strategy (docs/INTERNALS.md, "The hunter's rule").

Trade toward the strongest cluster of liquidations in the distance band: longs liquidated below
the price pull it down (sell), shorts liquidated above pull it up (buy). Exactly
:meth:`LiquidationHunter.evaluate`; its parameters are the config's ``hunter`` section, so this
strategy takes none of its own.
"""

from __future__ import annotations

from liquidation_hunter import LiquidationHunter, Signal
from live_heatmap import to_exchange_id
from live_heatmap.common.structs import Settings

__all__ = ["LiquidationMagnet", "NoParams"]

NAME = "liquidation_magnet"


class NoParams(Settings, frozen=True):
    """The parameters of a strategy that takes none: any key is an error."""


class LiquidationMagnet:
    """Signals of :meth:`LiquidationHunter.evaluate`, unchanged."""

    name: str = NAME

    def __init__(self, hunter: LiquidationHunter, params: NoParams) -> None:
        self.hunter = hunter

    def decide(self, symbol: str, price: float, now_ms: int) -> Signal:
        return self.hunter.evaluate(symbol, price, now_ms=now_ms)

    def may_signal(self, symbol: str, now_ms: int) -> bool:
        """False for a symbol without clusters at ``now_ms`` (target ``observed``/``agree``: the rule picks one
        of them) or, with target ``estimated``, without estimated levels."""
        hunter = self.hunter
        if hunter.config.target == "estimated":
            return hunter.estimated is not None and symbol in hunter.estimated
        return bool(hunter.heatmap.get_clusters(to_exchange_id(symbol, hunter.markets), now_ms=now_ms,
                                                 exchanges=hunter.exchanges))
