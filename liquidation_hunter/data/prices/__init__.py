"""Price series for a backtest: time-sorted price points per symbol, read from trade or kline CSV files.

Two modules, one job each:

* :mod:`.series`: the values (:class:`PriceSeries`, :class:`PricePath`, :class:`PriceSource`) and how they are
  read without look-ahead: a kline is one price point at its ``close_time`` (its close), its high and low are
  the path a stop or a take-profit is checked against, a bar still open is not used;
* :mod:`.files`: :func:`load_prices`, the one reader of price files (trades, aggTrades, Binance klines; plain,
  ``.gz``, ``.zip``, folders) and its one-line errors (:class:`PriceFileError`).

Import the names from here: ``from liquidation_hunter.data.prices import PriceSeries, load_prices``.
"""

from __future__ import annotations

from liquidation_hunter.data.prices.files import KlineBars, PriceFileError, load_kline_bars, load_prices
from liquidation_hunter.data.prices.series import PricePath, PriceSeries, PriceSource

__all__ = ["KlineBars", "PriceFileError", "PricePath", "PriceSeries", "PriceSource", "load_kline_bars", "load_prices"]
