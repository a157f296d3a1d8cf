"""Clusters from one symbol's events: pure numpy, no state, time passed in.

The algorithm is described in the README ("How clusters are built") precisely
enough to recompute a cluster by hand; this module is its only implementation.

1. Events older than the horizon (or more than a minute after ``now``) are ignored. Each event's weight is
   ``notional * exp(-age_minutes / time_decay_minutes)`` (age clamped at 0).
2. Per side, prices are sorted. A group is cut at its widest relative gap
   (``p[i+1] / p[i]``, ties: the lowest) while its ``high / low`` exceeds
   ``1 + cluster_window_pct``. This is single-linkage clustering, cut at the
   largest groups that fit in the window: it depends only on price ratios, so
   there is no grid to straddle and scaling all prices changes nothing.
3. Groups with fewer than ``min_cluster_size`` events are dropped; the rest
   get a weight-averaged price level and a strength (README, "Strength").
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .cluster import LiquidationCluster
from .config import HeatmapConfig

__all__ = ["SIDE_LONG", "SIDE_NAMES", "SIDE_SHORT", "build_clusters", "cluster_starts", "reference_notional"]

SIDE_LONG = 0
SIDE_SHORT = 1
SIDE_NAMES = ("long", "short")

#: Events stamped up to this far after ``now`` count with age 0 (exchange clock ahead of ours);
#: later ones have not happened yet as far as ``now`` is concerned and are ignored.
FUTURE_TOLERANCE_MS = 60_000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def cluster_starts(sorted_prices: FloatArray, window_pct: float) -> IntArray:
    """Start indices of the clusters of ascending, positive ``sorted_prices``.

    Every returned group satisfies ``high / low <= 1 + window_pct``; a group is
    only ever cut at its widest gap, so a tight group is never split.
    """
    n = sorted_prices.size
    if n == 0:
        return np.empty(0, dtype=np.int64)
    limit = 1.0 + window_pct
    ratios = sorted_prices[1:] / sorted_prices[:-1]
    # Any gap wider than the window is cut in the end whatever the order: cut them first.
    cut = ratios > limit
    while True:
        starts = np.flatnonzero(np.concatenate(([True], cut)))
        ends = np.append(starts[1:], n)
        over = sorted_prices[ends - 1] > sorted_prices[starts] * limit
        if not over.any():
            return starts
        seg_start, seg_end = starts[over], ends[over]
        n_gaps = seg_end - seg_start - 1  # >= 1: an oversize group has two points at least
        offsets = np.cumsum(n_gaps) - n_gaps
        seg_of_gap = np.repeat(np.arange(seg_start.size), n_gaps)
        gap_index = np.arange(int(n_gaps.sum())) - np.repeat(offsets - seg_start, n_gaps)
        gap_ratio = ratios[gap_index]
        widest = np.maximum.reduceat(gap_ratio, offsets)
        candidates = np.flatnonzero(gap_ratio == widest[seg_of_gap])
        cand_seg = seg_of_gap[candidates]
        first = np.concatenate(([True], cand_seg[1:] != cand_seg[:-1]))
        cut[gap_index[candidates[first]]] = True


def reference_notional(notional: FloatArray, config: HeatmapConfig) -> float:
    """The symbol's strength reference: ``max(floor, k * median event notional)``."""
    if notional.size == 0:
        return config.min_reference_notional
    median = float(np.median(notional))
    return max(config.min_reference_notional, config.reference_multiple * median)


def build_clusters(
    symbol: str,
    prices: FloatArray,
    quantities: FloatArray,
    trade_times: IntArray,
    sides: npt.NDArray[np.int8],
    *,
    now_ms: int,
    config: HeatmapConfig,
    current_price: float | None = None,
) -> tuple[LiquidationCluster, ...]:
    """All clusters of one symbol at ``now_ms``, strongest first.

    ``prices``/``quantities``/``trade_times``/``sides`` are parallel arrays of the
    symbol's events in any order (``sides`` holds ``SIDE_LONG``/``SIDE_SHORT``).
    """
    ages_ms = now_ms - trade_times
    in_horizon = (ages_ms <= config.horizon_minutes * 60_000.0) & (ages_ms >= -FUTURE_TOLERANCE_MS)
    if not in_horizon.all():
        prices, quantities, sides = prices[in_horizon], quantities[in_horizon], sides[in_horizon]
        trade_times, ages_ms = trade_times[in_horizon], ages_ms[in_horizon]
    if prices.size == 0:
        return ()
    notional = prices * quantities
    decay = np.exp(np.maximum(ages_ms, 0) * (-1.0 / (config.time_decay_minutes * 60_000.0)))
    weight = notional * decay
    reference = reference_notional(notional, config)

    clusters: list[LiquidationCluster] = []
    for side in (SIDE_LONG, SIDE_SHORT):
        on_side = np.flatnonzero(sides == side)
        if on_side.size < config.min_cluster_size:
            continue
        order = on_side[np.argsort(prices[on_side], kind="stable")]
        p = prices[order]
        starts = cluster_starts(p, config.cluster_window_pct)
        counts = np.diff(np.append(starts, p.size))
        big = counts >= config.min_cluster_size
        if not big.any():
            continue
        w, t = weight[order], trade_times[order]
        sum_w = np.add.reduceat(w, starts)[big]
        sum_wp = np.add.reduceat(w * p, starts)[big]
        sum_notional = np.add.reduceat(notional[order], starts)[big]
        sum_decay = np.add.reduceat(decay[order], starts)[big]
        first_t = np.minimum.reduceat(t, starts)[big]
        last_t = np.maximum.reduceat(t, starts)[big]
        low = p[starts[big]]
        high = p[(np.append(starts[1:], p.size) - 1)[big]]
        # Weighted mean; if every weight underflowed to 0, fall back to the plain mean.
        level = np.where(sum_w > 0, sum_wp / np.where(sum_w > 0, sum_w, 1.0),
                         np.add.reduceat(p, starts)[big] / counts[big])
        level = np.clip(level, low, high)
        strength = _strength(sum_w, sum_decay, reference, config)
        name = SIDE_NAMES[side]
        for i in range(sum_w.size):
            lvl = float(level[i])
            clusters.append(LiquidationCluster(
                cluster_id=f"{symbol}-{name}-{int(first_t[i])}",
                symbol=symbol,
                side=name,
                price_level=lvl,
                price_low=float(low[i]),
                price_high=float(high[i]),
                liquidation_count=int(counts[big][i]),
                total_notional=float(sum_notional[i]),
                weighted_notional=float(sum_w[i]),
                strength=float(strength[i]),
                distance_from_price=(abs(lvl - current_price) / current_price * 100.0
                                     if current_price else None),
                current_price=current_price,
                first_event_ms=int(first_t[i]),
                last_updated=int(last_t[i]),
                built_at=now_ms,
            ))
    clusters.sort(key=lambda c: (-c.strength, -c.weighted_notional, c.cluster_id))
    return tuple(clusters)


def _strength(weighted: FloatArray, decayed_count: FloatArray, reference: float,
              config: HeatmapConfig) -> FloatArray:
    notional_score = -np.expm1(-weighted / reference)
    count_score = -np.expm1(-decayed_count / config.min_cluster_size)
    cw = config.count_weight
    result: FloatArray = np.clip(notional_score ** (1.0 - cw) * count_score ** cw, 0.0, 1.0)
    return result
