"""The answers of ``GET /api/v1/density/{symbol}`` (the density profile, issue 16) and ``GET /api/v1/stats/{symbol}``
(the summary: total notional, dominant side, clusters at risk ``high`` or above, with each cluster's z-score), as
plain data from the source's :class:`~live_heatmap.stats.SymbolStatistics`."""

from __future__ import annotations

from typing import Any

from liquidation_hunter.api.views import ApiSource
from live_heatmap import to_unified

__all__ = ["DENSITY_POINTS", "density_answer", "stats_answer"]

DENSITY_POINTS = 600
"""The profile is sent as at most about this many points (every k-th of its grid)."""


def density_answer(source: ApiSource, symbol: str, bandwidth: float | None = None) -> dict[str, Any]:
    """The decayed notional density per side on a log-price grid (``prices``, ``long``, ``short``: USD per unit
    of log price), ``bandwidth`` the kernel's width as a fraction of the price (default: ``stats.bandwidth``; the
    route checks 0.0001..0.5)."""
    key = source.symbol_key(symbol)
    now = source.now()
    statistics = source.statistics_of()
    profile = statistics.density(key, now, bandwidth=bandwidth)
    return {"symbol": key, "unified": to_unified(key), "at": now, "price": source.price(key, now),
            "time_decay_minutes": source.heatmap.config.time_decay_minutes, **profile.to_dict(points=DENSITY_POINTS)}


def stats_answer(source: ApiSource, symbol: str) -> dict[str, Any]:
    """The symbol's summary and its clusters with ``z_score``, ``risk_level`` and ``history_events``."""
    key = source.symbol_key(symbol)
    now = source.now()
    statistics = source.statistics_of()
    thresholds = statistics.thresholds
    return {**statistics.summary(key, now), "at": now,
            "thresholds": {"extreme": thresholds.extreme, "high": thresholds.high, "moderate": thresholds.moderate},
            "min_history": statistics.baseline.min_history,
            "clusters_with_stats": [
                {"cluster_id": s.cluster.cluster_id, "side": s.cluster.side.value, "price_level": s.cluster.price_level,
                 "weighted_notional": s.cluster.weighted_notional, "z_score": s.z_score, "risk_level": s.risk_level}
                for s in statistics.clusters(key, now)]}
