"""Estimated liquidation levels (issue 14): where open positions *would* be liquidated, as opposed to the observed
liquidations the rest of ``live_heatmap`` shows. Pure: numpy, time passed in, no network, no wall clock; imports
nothing of ``liquidation_hunter``.

* :mod:`.liquidation` -- Binance's liquidation price, exact (:func:`liquidation_price`,
  :func:`liquidation_price_at_leverage`, :func:`liquidation_prices`) and a symbol's leverage :class:`Brackets`.
"""

from __future__ import annotations

from live_heatmap.estimated.liquidation import (
    Bracket,
    Brackets,
    liquidation_price,
    liquidation_price_at_leverage,
    liquidation_prices,
)

__all__ = [
    "Bracket",
    "Brackets",
    "liquidation_price",
    "liquidation_price_at_leverage",
    "liquidation_prices",
]
