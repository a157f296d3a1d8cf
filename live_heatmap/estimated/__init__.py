"""Estimated liquidation levels (issue 14): where open positions *would* be liquidated, as opposed to the observed
liquidations the rest of ``live_heatmap`` shows. Pure: numpy, time passed in, no network, no wall clock; imports
nothing of ``liquidation_hunter``.

* :mod:`.liquidation` -- Binance's liquidation price, exact (:func:`liquidation_price`,
  :func:`liquidation_price_at_leverage`, :func:`liquidation_prices`) and a symbol's leverage :class:`Brackets`.
* :mod:`.brackets` -- many symbols' brackets with their date (:class:`BracketTable`): the table shipped in the
  package (:func:`shipped_brackets`) or an exchange answer (:func:`parse_leverage_brackets`).
* :mod:`.validation`, :mod:`.baselines`, :mod:`.harness` -- scoring a predictor against observed liquidations
  (log-score gain over climatology, the gate); :mod:`.replay` -- the model's states at the harness's times.
* :mod:`.model` -- one symbol's estimated levels, bar by closed bar (:class:`EstimatedLevels`, fed
  :class:`Bar` s, set by :class:`ModelConfig`): per-side levels, binned, and a leverage distribution.
* :mod:`.layer` -- many symbols' models with their bracket table and validation verdict
  (:class:`EstimatedLayer`, :class:`Validation`) and the zones where levels pile up (:class:`EstimatedZone`).
"""

from __future__ import annotations

from live_heatmap.estimated.bars import Bar, BarError, aggregate_bars
from live_heatmap.estimated.brackets import BracketTable, parse_leverage_brackets, shipped_brackets
from live_heatmap.estimated.config import WINDOWS_MS, ModelConfig, ModelConfigError
from live_heatmap.estimated.layer import EstimatedLayer, EstimatedZone, Validation
from live_heatmap.estimated.liquidation import (
    Bracket,
    Brackets,
    NoLiquidationPrice,
    liquidation_price,
    liquidation_price_at_leverage,
    liquidation_prices,
)
from live_heatmap.estimated.model import BinnedLevels, EstimatedLevels, ExactLevels, LeverageDistribution

__all__ = [
    "WINDOWS_MS",
    "Bar",
    "BarError",
    "BinnedLevels",
    "Bracket",
    "BracketTable",
    "Brackets",
    "EstimatedLayer",
    "EstimatedLevels",
    "EstimatedZone",
    "ExactLevels",
    "LeverageDistribution",
    "ModelConfig",
    "ModelConfigError",
    "NoLiquidationPrice",
    "Validation",
    "aggregate_bars",
    "liquidation_price",
    "liquidation_price_at_leverage",
    "liquidation_prices",
    "parse_leverage_brackets",
    "shipped_brackets",
]
