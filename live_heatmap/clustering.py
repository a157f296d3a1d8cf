"""Clusters from one symbol's events: pure numpy, no state, time passed in.

The algorithm is described in docs/INTERNALS.md ("How clusters are built") precisely
enough to recompute a cluster by hand; this module is its only implementation.

1. Events older than the horizon (or more than a minute after ``now``) are ignored. Each event's weight is
   ``notional * exp(-age_minutes / time_decay_minutes)`` (age clamped at 0).
2. Per side, prices are sorted. A group is cut at its widest relative gap
   (``p[i+1] / p[i]``, ties: the lowest) while its ``high / low`` exceeds
   ``1 + cluster_window_pct``. This is single-linkage clustering, cut at the
   largest groups that fit in the window: it depends only on price ratios, so
   there is no grid to straddle and scaling all prices changes nothing.
3. Groups with fewer than ``min_cluster_size`` events are dropped; the rest
   get a weight-averaged price level and a strength (docs/INTERNALS.md, "Strength").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from live_heatmap.cluster import LiquidationCluster
from live_heatmap.config import HeatmapConfig
from live_heatmap.side import SIDES_BY_CODE, Side
from live_heatmap.venue import VENUES_BY_CODE, Venue

__all__ = ["SIDE_LONG", "SIDE_SHORT", "Groups", "SideArrays", "SideVenues", "build_clusters", "cluster_starts",
           "group_events", "no_groups", "reference_notional", "sort_by_side", "venues_by_side"]

SIDE_LONG = Side.LONG.code
SIDE_SHORT = Side.SHORT.code

#: Events stamped up to this far after ``now`` count with age 0 (exchange clock ahead of ours);
#: later ones have not happened yet as far as ``now`` is concerned and are ignored.
FUTURE_TOLERANCE_MS = 60_000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: One side's events sorted by price: (price, quantity, trade_time).
SideArrays = tuple[FloatArray, FloatArray, IntArray]
#: The venue codes of each side's events (long, short), in the order of :data:`SideArrays`.
SideVenues = tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]


def cluster_starts(sorted_prices: FloatArray, window_pct: float) -> IntArray:
    """Start indices of the clusters of ascending, positive ``sorted_prices``.

    Every returned group satisfies ``high / low <= 1 + window_pct``; a group is
    only ever cut at its widest gap, so a tight group is never split.
    """
    if sorted_prices.size == 0:
        return np.empty(0, dtype=np.int64)
    return _group_bounds(sorted_prices, 1.0 + window_pct)[:-1]


def _group_bounds(p: FloatArray, limit: float, split_at: int = 0) -> IntArray:
    """``[*starts, p.size]`` of the groups of non-empty ``p``, ascending on ``[0, split_at)`` and on
    ``[split_at, p.size)``: a group never spans ``split_at``, so the two runs are grouped independently
    (each group is only ever cut inside itself, and the gap between the runs is no group's gap).

    Each oversize group is cut at its widest gap (``argmax``: the first, lowest, of equal maxima), then its
    oversize parts in turn. (Cutting all oversize groups at once, in vectorised rounds, was a second way:
    on the real loads it was slower, benchmarks/RESULTS.md "One way to cut groups".)
    """
    n = p.size
    ratios = p[1:] / p[:-1]  # ratios[g] is gap g, between p[g] and p[g + 1]
    # is_start[i]: a group starts at i; is_start[n] is a sentinel, so flatnonzero gives the ends too.
    is_start = np.empty(n + 1, dtype=bool)
    is_start[0] = is_start[n] = True
    cut = is_start[1:n]  # cut[g]: gap g is cut (a view: setting it marks the start g + 1)
    # Any gap wider than the window is cut in the end whatever the order: cut them first.
    np.greater(ratios, limit, out=cut)
    if 0 < split_at < n:
        is_start[split_at] = True
    bounds = np.flatnonzero(is_start)
    over = np.flatnonzero(p[bounds[1:] - 1] > p[bounds[:-1]] * limit)
    if over.size == 0:
        return bounds
    todo = list(zip(bounds[over].tolist(), bounds[over + 1].tolist(), strict=True))
    while todo:  # a group's cut depends on the group alone, so the order does not matter
        s, e = todo.pop()
        g = s + int(ratios[s:e - 1].argmax())
        cut[g] = True
        if p[g] > p[s] * limit:
            todo.append((s, g + 1))
        if p[e - 1] > p[g + 1] * limit:
            todo.append((g + 1, e))
    return np.flatnonzero(is_start)


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


def venues_by_side(prices: FloatArray, sides: npt.NDArray[np.int8], venues: npt.NDArray[np.int8]) -> SideVenues:
    """The venue codes in the order :func:`sort_by_side` puts the events in (same arguments)."""
    out = []
    for side in (SIDE_LONG, SIDE_SHORT):
        idx = np.flatnonzero(sides == side)
        out.append(venues[idx[np.argsort(prices[idx], kind="stable")]])
    return out[0], out[1]


@dataclass(frozen=True, slots=True, eq=False)
class Groups:
    """A symbol's clusters without their decay: what stays the same while the window and its live events do.

    Made by :func:`group_events` at some ``now``; :meth:`at` gives the clusters at any ``now`` in
    ``[valid_from, valid_to]``, where no event enters or leaves the live range (the horizon, the future
    tolerance), so the members, bounds, counts, notionals and reference do not move: only the decayed sums
    are computed, and only over the members of groups that are kept. They are recomputed event by event
    rather than rescaled by one factor: each event's decay is rounded to float32 on its own (see
    :func:`group_events`), so ``exp(-(a + d) / tau)`` is not bit for bit ``exp(-a / tau) * exp(-d / tau)``,
    and the clusters must be the ones a build from scratch gives, to the last bit.
    """

    symbol: str
    version: object
    """The window's version the groups were made from (:attr:`EventWindow.version`)."""
    valid_from: int
    valid_to: int
    price: FloatArray
    """Members of the kept groups, group after group (each sorted by price)."""
    notional: FloatArray
    trade_time: IntArray
    starts: IntArray
    """Start of each kept group in the member arrays."""
    side: tuple[Side, ...]
    low: FloatArray
    high: FloatArray
    counts: IntArray
    sum_notional: FloatArray
    mean_price: FloatArray
    """Plain mean price per group: the level if every weight underflowed to 0."""
    first_t: list[int]
    last_t: list[int]
    reference: float
    scales: FloatArray
    """``[[-reference], [-min_cluster_size]]``: what :func:`_strength` divides by."""
    plain: tuple[list[float], list[float], list[int], list[float]]
    """low, high, counts and total notional as Python numbers, as each cluster takes them."""
    by_venue: list[tuple[tuple[Venue, float], ...]]
    """Each group's total notional split by venue (:attr:`LiquidationCluster.notional_by_venue`)."""

    def __bool__(self) -> bool:
        return bool(self.side)

    def covers(self, now_ms: int) -> bool:
        """Whether :meth:`at` holds at ``now_ms`` (the live events there are the ones grouped)."""
        return self.valid_from <= now_ms <= self.valid_to

    def at(self, now_ms: int, config: HeatmapConfig, current_price: float | None = None
           ) -> tuple[LiquidationCluster, ...]:
        """The clusters at ``now_ms`` (which :meth:`covers`), strongest first."""
        if not self.side:
            return ()
        ages_ms = now_ms - self.trade_time
        rows = np.empty((3, ages_ms.size))
        w, decay, wp = rows
        if ages_ms.min() < 0:  # events stamped after now (within the tolerance) count with age 0
            np.maximum(ages_ms, 0, out=ages_ms)
        np.multiply(ages_ms, -1.0 / (config.time_decay_minutes * 60_000.0), out=decay)
        # float32 exp is SIMD-fast; its 1e-7 relative error is far below any trading decision.
        # (dtype=float32: the input is rounded to float32, as by astype, and the result widened back.)
        np.exp(decay, out=decay, dtype=np.float32)
        np.multiply(self.notional, decay, out=w)
        np.multiply(w, self.price, out=wp)
        sums = np.add.reduceat(rows, self.starts, axis=1)  # rows w, decay, wp per group
        sum_w, sum_wp = sums[0], sums[2]
        if sum_w.min() > 0:  # every weight positive (the usual case; NaN is not)
            level = sum_wp / sum_w
        else:  # weighted mean; if every weight underflowed to 0, fall back to the plain mean
            positive = sum_w > 0
            level = np.where(positive, sum_wp / np.where(positive, sum_w, 1.0), self.mean_price)
        level = np.clip(level, self.low, self.high)
        strength = _strength(sums[0:2], self.scales, config.count_weight)  # rows sum_w, sum_decay
        symbol = self.symbol
        lows, highs, counts, totals = self.plain
        clusters: list[LiquidationCluster] = []
        for name, lvl, lo, hi, n, tot, wsum, st, t0, t1, venues in zip(
                self.side, level.tolist(), lows, highs, counts, totals, sum_w.tolist(), strength.tolist(),
                self.first_t, self.last_t, self.by_venue, strict=True):
            clusters.append(LiquidationCluster(  # positional: the fields in their order
                f"{symbol}-{name}-{t0}", symbol, name, lvl, lo, hi, n, tot, wsum, st,
                abs(lvl - current_price) / current_price * 100.0 if current_price else None, current_price, t0, t1,
                now_ms, venues))
        clusters.sort(key=lambda c: (-c.strength, -c.weighted_notional, c.cluster_id))
        return tuple(clusters)


FOREVER = 2**62
"""A now no window reaches: :class:`Groups` that hold at any time."""


def no_groups(symbol: str, version: object = None) -> Groups:
    """Groups of a window that cannot hold a cluster (fewer events than ``min_cluster_size``): none, at any now."""
    empty_f = np.empty(0, dtype=np.float64)
    empty_i = np.empty(0, dtype=np.int64)
    return Groups(symbol, version, -FOREVER, FOREVER, empty_f, empty_f, empty_i, empty_i, (), empty_f, empty_f,
                  empty_i, empty_f, empty_f, [], [], 0.0, empty_f, ([], [], [], []), [])


def group_events(
    symbol: str,
    by_side: tuple[SideArrays, SideArrays],
    *,
    now_ms: int,
    config: HeatmapConfig,
    version: object = None,
    venues: SideVenues | None = None,
) -> Groups:
    """The groups of one symbol's events live at ``now_ms`` (module docstring, steps 1 to 3 but the decay).

    ``by_side`` holds (price, quantity, trade_time) arrays for the long and the short side, each sorted by
    price (:func:`sort_by_side` makes them). ``venues``: the venue code of each of those events, in the same
    order (:func:`venues_by_side`), for each cluster's notional per venue; None: every event is Binance's.
    Which venue an event came from changes nothing else.
    """
    # Both sides go through every step at once, long then short in one array: each numpy call costs
    # microseconds of overhead, so one call over both sides beats two. A group never spans the side
    # boundary (``_group_bounds(split_at=...)``), so the sides stay independent.
    (p_long, q_long, t_long), (p_short, q_short, t_short) = by_side
    n_long = p_long.size
    t = np.concatenate((t_long, t_short))
    if t.size == 0:
        return no_groups(symbol, version)
    horizon_ms = config.horizon_minutes * 60_000.0
    horizon_int = math.floor(horizon_ms)  # ages are integers: age <= horizon_ms iff age <= horizon_int
    ages_ms = now_ms - t
    p = np.concatenate((p_long, p_short))
    q = np.concatenate((q_long, q_short))
    v = None if venues is None else np.concatenate(venues)
    # The range of now over which the live events stay the same: an event is live at now iff
    # t - FUTURE_TOLERANCE_MS <= now <= t + horizon_int.
    youngest, oldest = int(ages_ms.min()), int(ages_ms.max())
    valid_from, valid_to = -FOREVER, FOREVER
    if oldest > horizon_ms or youngest < -FUTURE_TOLERANCE_MS:
        live = (ages_ms <= horizon_ms) & (ages_ms >= -FUTURE_TOLERANCE_MS)
        if oldest > horizon_ms:  # old ones come back if now goes back past them
            valid_from = int(t[ages_ms > horizon_ms].max()) + horizon_int + 1
        if youngest < -FUTURE_TOLERANCE_MS:  # future ones come in
            valid_to = int(t[ages_ms < -FUTURE_TOLERANCE_MS].min()) - FUTURE_TOLERANCE_MS - 1
        n_long = int(np.count_nonzero(live[:n_long]))
        p, q, t = p[live], q[live], t[live]
        v = None if v is None else v[live]
        if t.size == 0:
            return no_groups_until(symbol, version, valid_from, valid_to)
    valid_from = max(valid_from, int(t.max()) - FUTURE_TOLERANCE_MS)  # the newest stays live
    valid_to = min(valid_to, int(t.min()) + horizon_int)  # the oldest stays live
    notional = p * q
    reference = reference_notional(notional, config)

    bounds = _group_bounds(p, 1.0 + config.cluster_window_pct, split_at=n_long)
    starts = bounds[:-1]
    keep = np.flatnonzero(bounds[1:] - starts >= config.min_cluster_size)
    if keep.size == 0:
        return no_groups_until(symbol, version, valid_from, valid_to)
    low_at, end_at = starts[keep], bounds[keep + 1]
    counts = end_at - low_at
    sum_notional = np.add.reduceat(notional, starts)[keep]
    first_t = np.minimum.reduceat(t, starts)[keep]
    last_t = np.maximum.reduceat(t, starts)[keep]
    mean_price = np.add.reduceat(p, starts)[keep] / counts
    member_starts = np.cumsum(counts) - counts
    members: slice | IntArray = slice(None)  # every event is a member
    if keep.size < starts.size:  # the kept groups' events, group after group
        members = np.arange(int(counts.sum())) + np.repeat(low_at - member_starts, counts)
    totals = sum_notional.tolist()
    return Groups(symbol, version, valid_from, valid_to, p[members], notional[members], t[members], member_starts,
                  tuple(SIDES_BY_CODE[SIDE_LONG if at < n_long else SIDE_SHORT] for at in low_at.tolist()),
                  p[low_at], p[end_at - 1], counts, sum_notional, mean_price, first_t.tolist(), last_t.tolist(),
                  reference, _scales(reference, config),
                  (p[low_at].tolist(), p[end_at - 1].tolist(), counts.tolist(), totals),
                  _by_venue(v, notional, starts, keep, totals))


def _by_venue(v: npt.NDArray[np.int8] | None, notional: FloatArray, starts: IntArray, keep: IntArray,
              totals: list[float]) -> list[tuple[tuple[Venue, float], ...]]:
    """Each kept group's notional per venue; one venue's groups take their total as it is (no second sum)."""
    present = [0] if v is None or v.size == 0 else np.unique(v).tolist()
    if len(present) == 1:
        only = VENUES_BY_CODE[present[0]]
        return [((only, total),) for total in totals]
    parts = [(VENUES_BY_CODE[code], np.add.reduceat(np.where(v == code, notional, 0.0), starts)[keep].tolist())
             for code in present]
    return [tuple((venue, sums[g]) for venue, sums in parts if sums[g] > 0.0) for g in range(len(totals))]


def no_groups_until(symbol: str, version: object, valid_from: int, valid_to: int) -> Groups:
    """:func:`no_groups` over ``[valid_from, valid_to]``."""
    return replace(no_groups(symbol, version), valid_from=valid_from, valid_to=valid_to)


def build_clusters(
    symbol: str,
    by_side: tuple[SideArrays, SideArrays],
    *,
    now_ms: int,
    config: HeatmapConfig,
    current_price: float | None = None,
    venues: SideVenues | None = None,
) -> tuple[LiquidationCluster, ...]:
    """All clusters of one symbol at ``now_ms``, strongest first (:func:`group_events`, then :meth:`Groups.at`).

    ``by_side`` holds (price, quantity, trade_time) arrays for the long and the
    short side, each sorted by price (:func:`sort_by_side` makes them).
    """
    return group_events(symbol, by_side, now_ms=now_ms, config=config, venues=venues).at(now_ms, config, current_price)


def _scales(reference: float, config: HeatmapConfig) -> FloatArray:
    # x / -r is bit for bit -x / r (negation is exact and rounding symmetric).
    return np.array([[-reference], [-float(config.min_cluster_size)]])


def _strength(weighted_and_count: FloatArray, scales: FloatArray, cw: float) -> FloatArray:
    """Strength from rows (weighted notional, decayed count), both scored in one call per step; ``scales``
    from :func:`_scales`, ``cw`` the count weight."""
    notional_score, count_score = -np.expm1(weighted_and_count / scales)
    result: FloatArray = np.clip(notional_score ** (1.0 - cw) * count_score ** cw, 0.0, 1.0)
    return result
