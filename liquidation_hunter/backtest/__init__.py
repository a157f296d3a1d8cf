"""Backtests: the live bot's own parts (heatmap, strategy, risk, paper broker, books) replayed on a simulated
clock over recorded liquidations and prices, with a report and parameter sweeps.

::

    from liquidation_hunter.backtest import load_prices, run_backtest, write_report
    result = run_backtest(config, events, load_prices("aggtrades.csv"))
    write_report(result, "out/")          # report.json, report.md, report.html, equity.png

See :mod:`.runner` for the simulated clock, :mod:`liquidation_hunter.data.prices` for the prices and their files,
:mod:`.report` and :mod:`.sweep`. Nothing here imports matplotlib until a picture is drawn.
"""

from liquidation_hunter.backtest.report import render_summary, report_dict, write_report
from liquidation_hunter.backtest.result import BacktestResult, EquityPoint, OpenRecord, TradeRecord
from liquidation_hunter.backtest.runner import BacktestError, SimulatedClock, run_backtest
from liquidation_hunter.backtest.sweep import SweepResult, parse_grid, run_sweep
from liquidation_hunter.data.prices import PriceFileError, PricePath, PriceSeries, PriceSource, load_prices

__all__ = [
    "BacktestError",
    "BacktestResult",
    "EquityPoint",
    "OpenRecord",
    "PriceFileError",
    "PricePath",
    "PriceSeries",
    "PriceSource",
    "SimulatedClock",
    "SweepResult",
    "TradeRecord",
    "load_prices",
    "parse_grid",
    "render_summary",
    "report_dict",
    "run_backtest",
    "run_sweep",
    "write_report",
]
