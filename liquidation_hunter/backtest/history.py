"""A backtest over fetched history: trading estimated levels where no liquidation was recorded (issue 14).

``liquidation-hunter backtest --history DIR --symbol S`` replays what ``fetch-history`` keeps (klines, mark price
klines, open interest; :func:`~liquidation_hunter.data.history_bars.load_history_bars`) through the same bot as
every backtest (:func:`~liquidation_hunter.backtest.runner.run_backtest`):

* **prices** are the trade klines (a bar is a point at its close time with its open, high and low, as a klines
  price file is read: no look-ahead, stops and take-profits see each bar's wick);
* the **estimated layer** takes each model bar at its close time, before the signals of that moment, so a bar's
  levels are known at its close and trades come after; the ``window_ms`` of bars before ``--from`` warm it up
  (never traded on);
* the **hunter** targets ``estimated`` zones (the config's ``hunter.target`` when it is ``estimated`` or
  ``agree``; ``agree`` needs recorded liquidation events too);
* the **jobs** run once a bar, at its close (``clusters``, ``signals``, ``positions`` every bar; ``snapshot`` at
  most once an hour, :data:`SNAPSHOT_SECONDS`, so the equity curve and its drawdown are hourly): between two closes
  neither the price nor the levels change, so running them more often would do the same thing again;
* the **paper broker** fills as in every backtest (fees, slippage, steps, minimums, funding).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from liquidation_hunter.backtest.inputs import BacktestError
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.data.history_bars import HistoryBars, load_history_bars
from liquidation_hunter.data.prices import PriceSeries
from live_heatmap import to_unified
from live_heatmap.common.symbols import symbol_key
from live_heatmap.estimated.config import ModelConfig

__all__ = ["SNAPSHOT_SECONDS", "HistoryInputs", "history_config", "load_history_inputs"]

SNAPSHOT_SECONDS = 3600.0
"""The equity snapshots of a history backtest: at most one an hour (a year is 8,760 points; every bar would be
105,120 writes to the books for an equity curve no report draws finer)."""


@dataclass(frozen=True, slots=True)
class HistoryInputs:
    """What a history backtest replays: the prices, the model bars (warm-up included), the range traded."""

    history: HistoryBars
    prices: PriceSeries
    start_ms: int
    """The first traded bar's close time (the replay's first moment: the jobs run at each close from here)."""
    end_ms: int
    """One past the last traded bar's close time."""
    interval_ms: int
    warm_bars: int
    """Model bars before ``start_ms`` (the layer's warm-up)."""

    def info(self) -> dict[str, object]:
        """What the report's inputs say of the history."""
        return {"history": {"symbol": self.history.symbol, "interval": self.history.interval,
                            "bars": len(self.history.bars), "warm_up_bars": self.warm_bars,
                            "notes": self.history.notes()}}


def load_history_inputs(root: str | os.PathLike[str], symbol: str, *, interval: str = "5m",
                        start_ms: int | None = None, end_ms: int | None = None,
                        warm_ms: int = ModelConfig().window_ms) -> HistoryInputs:
    """The history of ``symbol`` under ``root`` for a backtest of ``[start_ms, end_ms)`` (bar close times), with
    ``warm_ms`` of model bars before it. Raises :class:`~liquidation_hunter.data.history_bars.HistoryError` or
    :class:`BacktestError` (``ValueError`` s with one line) when there is nothing to trade."""
    load_from = None if start_ms is None else start_ms - warm_ms
    history = load_history_bars(root, symbol, interval=interval, start_ms=load_from,
                                end_ms=None if end_ms is None else end_ms - 1)
    assert history.prices is not None  # load_history_bars fills it
    times = history.prices.times(history.symbol) if history.symbol in history.prices else None
    lo = start_ms if start_ms is not None else None
    traded = times if times is None or lo is None else times[times >= lo]
    if traded is None or not len(traded) or not history.bars:
        raise BacktestError(f"{root}: no bars of {history.symbol} at {interval} in the chosen time range")
    first = int(traded[0])
    last = int(traded[-1])
    bar = history.bars[0]
    interval_ms = bar.close_time - bar.open_time + 1
    warm = sum(1 for b in history.bars if b.close_time < first)
    return HistoryInputs(history=history, prices=history.prices.window(first, last + 1), start_ms=first,
                         end_ms=last + 1, interval_ms=interval_ms, warm_bars=warm)


def history_config(config: BotConfig, symbol: str, interval_ms: int, *, with_events: bool) -> BotConfig:
    """``config`` as a history backtest of ``symbol`` runs it (module docstring): that symbol only, the jobs once a
    bar, the hunter on estimated levels. Raises :class:`BacktestError` for target ``agree`` without events."""
    target = config.hunter.target
    if target == "agree" and not with_events:
        raise BacktestError("hunter.target agree needs recorded liquidations (--events) beside --history")
    data = config.to_dict(masked=False)
    data["symbols"] = [to_unified(symbol_key(symbol))]
    if target == "observed":
        data["hunter"]["target"] = "estimated"
    seconds = interval_ms / 1000.0
    schedule = data["schedule"]
    for job in ("clusters", "signals", "positions"):
        schedule[job] = seconds
    schedule["snapshot"] = max(seconds, float(schedule["snapshot"]), SNAPSHOT_SECONDS)
    return BotConfig.from_mapping(data)
