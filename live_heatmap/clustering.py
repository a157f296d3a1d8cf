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

__all__ = ["SIDE_LONG", "SIDE_NAMES", "SIDE_SHORT", "SideArrays", "build_clusters", "cluster_starts",
           "reference_notional", "sort_by_side"]

SIDE_LONG = 0
SIDE_SHORT = 1
SIDE_NAMES = ("long", "short")

#: Events stamped up to this far after ``now`` count with age 0 (exchange clock ahead of ours);
#: later ones have not happened yet as far as ``now`` is concerned and are ignored.
FUTURE_TOLERANCE_MS = 60_000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: One side's events sorted by price: (price, quantity, trade_time).
SideArrays = tuple[FloatArray, FloatArray, IntArray]


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
    n = notional.size
    if n == 0:
        return config.min_reference_notional
    half = n // 2
    if n % 2:
        median = float(np.partition(notional, half)[half])
    else:
        part = np.partition(notional, (half - 1, half))
        median = (float(part[half - 1]) + float(part[half])) / 2.0
    return max(config.min_reference_notional, config.reference_multiple * median)


def sort_by_side(prices: FloatArray, quantities: FloatArray, trade_times: IntArray,
                 sides: npt.NDArray[np.int8]) -> tuple[SideArrays, SideArrays]:
    """Split parallel event arrays by side (long, short), each sorted by price."""
    out = []
    for side in (SIDE_LONG, SIDE_SHORT):
        idx = np.flatnonzero(sides == side)
        idx = idx[np.argsort(prices[idx], kind="stable")]
        out.append((prices[idx], quantities[idx], trade_times[idx]))
    return out[0], out[1]


def build_clusters(
    symbol: str,
    by_side: tuple[SideArrays, SideArrays],
    *,
    now_ms: int,
    config: HeatmapConfig,
    current_price: float | None = None,
) -> tuple[LiquidationCluster, ...]:
    """All clusters of one symbol at ``now_ms``, strongest first.

    ``by_side`` holds (price, quantity, trade_time) arrays for the long and the
    short side, each sorted by price (:func:`sort_by_side` makes them).
    """
    horizon_ms = config.horizon_minutes * 60_000.0
    tau_ms = config.time_decay_minutes * 60_000.0
    sides = []
    for side_arrays in by_side:
        prices, quantities, trade_times = side_arrays
        ages_ms = now_ms - trade_times
        live = (ages_ms <= horizon_ms) & (ages_ms >= -FUTURE_TOLERANCE_MS)
        if not live.all():
            prices, quantities, trade_times, ages_ms = prices[live], quantities[live], trade_times[live], ages_ms[live]
        notional = prices * quantities
        # float32 exp is SIMD-fast; its 1e-7 relative error is far below any trading decision.
        decay = np.exp((np.maximum(ages_ms, 0) * (-1.0 / tau_ms)).astype(np.float32)).astype(np.float64)
        sides.append((prices, notional, decay, trade_times))
    all_notional = np.concatenate((sides[0][1], sides[1][1]))
    if all_notional.size == 0:
        return ()
    reference = reference_notional(all_notional, config)

    clusters: list[LiquidationCluster] = []
    for side, (p, notional, decay, t) in enumerate(sides):
        if p.size < config.min_cluster_size:
            continue
        starts = cluster_starts(p, config.cluster_window_pct)
        counts = np.diff(np.append(starts, p.size))
        big = counts >= config.min_cluster_size
        if not big.any():
            continue
        w = notional * decay
        sum_w = np.add.reduceat(w, starts)[big]
        sum_wp = np.add.reduceat(w * p, starts)[big]
        sum_notional = np.add.reduceat(notional, starts)[big]
        sum_decay = np.add.reduceat(decay, starts)[big]
        first_t = np.minimum.reduceat(t, starts)[big]
        last_t = np.maximum.reduceat(t, starts)[big]
        low = p[starts[big]]
        high = p[(np.append(starts[1:], p.size) - 1)[big]]
        counts = counts[big]
        # Weighted mean; if every weight underflowed to 0, fall back to the plain mean.
        level = np.where(sum_w > 0, sum_wp / np.where(sum_w > 0, sum_w, 1.0),
                         np.add.reduceat(p, starts)[big] / counts)
        level = np.clip(level, low, high)
        strength = _strength(sum_w, sum_decay, reference, config)
        name = SIDE_NAMES[side]
        for lvl, lo, hi, n, tot, wsum, st, t0, t1 in zip(
                level.tolist(), low.tolist(), high.tolist(), counts.tolist(), sum_notional.tolist(),
                sum_w.tolist(), strength.tolist(), first_t.tolist(), last_t.tolist(), strict=True):
            clusters.append(LiquidationCluster(
                cluster_id=f"{symbol}-{name}-{t0}",
                symbol=symbol,
                side=name,
                price_level=lvl,
                price_low=lo,
                price_high=hi,
                liquidation_count=n,
                total_notional=tot,
                weighted_notional=wsum,
                strength=st,
                distance_from_price=abs(lvl - current_price) / current_price * 100.0 if current_price else None,
                current_price=current_price,
                first_event_ms=t0,
                last_updated=t1,
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
