"""An :class:`~.views.ApiSource` over a recording (``liquidation-hunter serve``): the heatmap as it was at a moment."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from liquidation_hunter.api.views import ApiSource
from liquidation_hunter.config.sections import StatsConfig
from liquidation_hunter.data.estimated_history import layer_from_history
from liquidation_hunter.data.prices import load_prices
from liquidation_hunter.signals.rules import HunterConfig
from live_heatmap import HeatmapConfig, LiveLiquidationHeatmap
from live_heatmap.stats import SymbolStatistics, replay_history
from live_heatmap.store.history import load_events

__all__ = ["source_from_recording"]


def source_from_recording(events: str | os.PathLike[str], *, at_ms: int | None = None,
                          prices: Sequence[str | os.PathLike[str]] = (), heatmap: HeatmapConfig | None = None,
                          hunter: HunterConfig | None = None, books_path: str | None = None,
                          heartbeat_s: float = 60.0, strategy: str = "liquidation_magnet",
                          strategy_params: Mapping[str, Any] | None = None,
                          strategy_path: str | None = None,
                          history: str | os.PathLike[str] | None = None,
                          stats: StatsConfig | None = None) -> ApiSource:
    """The heatmap of ``events`` (any format :func:`~live_heatmap.store.history.load_events` reads) as of ``at_ms``
    (default: the last event's trade time), on a clock fixed there.

    Each symbol's price is the last point at or before ``at_ms`` of the ``prices`` files (aggTrades or klines,
    :func:`~liquidation_hunter.data.prices.load_prices`), else its last liquidation's fill price. ``strategy``
    and its ``strategy_params`` (and ``strategy_path``, a strategy of your own) answer ``/api/v1/signal`` (the
    config's ``strategy`` section).
    ``history``: what ``fetch-history`` stored; its symbols' estimated layer, fed the bars closed at or before
    the served moment (no look-ahead), answers ``/api/v1/estimated/{symbol}``.
    ``stats`` (the config's section): each cluster's z-score is against the recording's clusters up to then
    (:func:`~live_heatmap.stats.replay_history`).
    Raises ``ValueError`` for an unreadable recording or one with no event up to ``at_ms``, or history without
    a bar by then.
    """
    config = heatmap or HeatmapConfig()
    loaded = load_events(events, until_ms=None if at_ms is None else at_ms + 1)
    if not loaded:
        raise ValueError(f"{os.fspath(events)}: no liquidation" + ("" if at_ms is None else " up to --at"))
    at = at_ms if at_ms is not None else max(e.trade_time for e in loaded)
    since = at - int(config.horizon_minutes * 60_000)
    hm = LiveLiquidationHeatmap(config=config, clock=lambda: at)
    hm.ingest_many((e for e in loaded if since <= e.trade_time <= at), notify=False)
    series = None
    if prices:
        series = load_prices(list(prices)).window(None, at + 1)
    last_fill = {e.symbol: e.price for e in loaded if e.trade_time <= at}  # sorted by time: the last wins
    for symbol in hm.symbols():
        price = series.price_at(symbol, at) if series is not None and symbol in series else None
        price = price if price is not None else last_fill.get(symbol)
        if price is not None:
            hm.update_price(symbol, price, at)
    estimated = None if history is None else layer_from_history(history, until_ms=at)[0]
    statistics = SymbolStatistics.from_settings(hm, stats or StatsConfig())
    replay_history(statistics.baseline, loaded, config, until_ms=at + 1)  # each cluster's history: the recording
    return ApiSource(hm, clock=lambda: at, statistics=statistics,
                     prices=series, books_path=books_path, heartbeat_s=heartbeat_s,
                     hunter=hunter or HunterConfig(), strategy=strategy, strategy_params=dict(strategy_params or {}),
                     strategy_path=strategy_path, estimated=estimated)
