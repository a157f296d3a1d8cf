"""Estimated liquidation levels (issue 14): where open positions *would* be liquidated, as opposed to the observed
liquidations the rest of ``live_heatmap`` shows. Pure: numpy, time passed in, no network, no wall clock; imports
nothing of ``liquidation_hunter``.

* :mod:`.liquidation` -- Binance's liquidation price, exact (:func:`liquidation_price`,
  :func:`liquidation_price_at_leverage`, :func:`liquidation_prices`) and a symbol's leverage :class:`Brackets`.
* :mod:`.brackets` -- many symbols' brackets with their date (:class:`BracketTable`): the table shipped in the
  package (:func:`shipped_brackets`) or an exchange answer (:func:`parse_leverage_brackets`).
"""

from __future__ import annotations

from live_heatmap.estimated.brackets import BracketTable, parse_leverage_brackets, shipped_brackets
from live_heatmap.estimated.liquidation import (
    Bracket,
    Brackets,
    NoLiquidationPrice,
    liquidation_price,
    liquidation_price_at_leverage,
    liquidation_prices,
)

__all__ = [
    "Bracket",
    "BracketTable",
    "Brackets",
    "NoLiquidationPrice",
    "liquidation_price",
    "liquidation_price_at_leverage",
    "liquidation_prices",
    "parse_leverage_brackets",
    "shipped_brackets",
]
