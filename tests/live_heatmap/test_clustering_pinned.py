"""Pinned before the refactor: the strength reference's median and the time window, to the millisecond.

Everything goes through the public output (cluster strength, count, weighted notional) of
:class:`LiveLiquidationHeatmap` and of the public clustering functions; the expected values are computed
here from the formulas of docs/INTERNALS.md ("How clusters are built", "Strength"), not read back from the code.
All events are stamped ``now`` unless a test is about age, so every decay is exactly 1.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import MINUTE, NOW, event, heatmap_with

from live_heatmap import HeatmapConfig, LiquidationEvent, LiveLiquidationHeatmap
from live_heatmap.clustering import build_clusters, reference_notional, sort_by_side

FUTURE_TOLERANCE_MS = 60_000  # docs/INTERNALS.md, "How clusters are built", step 1: "more than 60 s after now"


def _median(values: list[float]) -> float:
    """The textbook median, written out: the middle value, or the mean of the two middle values."""
    ordered = sorted(values)
    n = len(ordered)
    if n % 2 == 1:
        return ordered[n // 2]
    return (ordered[n // 2 - 1] + ordered[n // 2]) / 2.0


def _strength(weighted: float, decay_sum: float, reference: float, min_size: int, count_weight: float) -> float:
    notional_score = 1.0 - math.exp(-weighted / reference)
    count_score = 1.0 - math.exp(-decay_sum / min_size)
    return notional_score ** (1.0 - count_weight) * count_score ** count_weight


def _fresh(notionals: list[float], price0: float = 100.0) -> list[LiquidationEvent]:
    """Long events of these notionals (quantity = notional / price), all at ``NOW``, within 0.6 % in price."""
    out = []
    for i, n in enumerate(notionals):
        price = price0 + 0.1 * i
        out.append(event(price, n / price))
    return out


# -- the strength reference: max(floor, multiple * median) --------------------------------------------------


def test_even_count_reference_uses_the_mean_of_the_two_middle_notionals() -> None:
    notionals = [1_000.0, 9_000.0, 2_000.0, 8_000.0, 3_000.0, 7_000.0]  # middles 3000 and 7000: median 5000
    events = _fresh(notionals)
    notional = [e.notional for e in events]
    median = _median(notional)
    assert median == pytest.approx(5_000.0)
    reference = max(10_000.0, 10.0 * median)  # 50_000: above the floor, so the median decides
    (cluster,) = heatmap_with(events).get_clusters("BTCUSDT")
    assert cluster.liquidation_count == 6
    expected = _strength(sum(notional), 6.0, reference, 5, 0.25)
    assert cluster.strength == pytest.approx(expected, rel=1e-9)
    # Either middle value alone (or the value past them) would give a visibly different strength.
    for wrong in (3_000.0, 7_000.0, 8_000.0):
        assert cluster.strength != pytest.approx(_strength(sum(notional), 6.0, 10.0 * wrong, 5, 0.25), rel=1e-3)


def test_odd_count_reference_uses_the_middle_notional() -> None:
    notionals = [1_000.0, 9_000.0, 2_000.0, 8_000.0, 4_000.0]  # median 4000
    events = _fresh(notionals)
    notional = [e.notional for e in events]
    reference = max(10_000.0, 10.0 * _median(notional))
    assert reference == pytest.approx(40_000.0)
    (cluster,) = heatmap_with(events).get_clusters("BTCUSDT")
    assert cluster.strength == pytest.approx(_strength(sum(notional), 5.0, reference, 5, 0.25), rel=1e-9)
    for wrong in (2_000.0, 8_000.0, (2_000.0 + 4_000.0) / 2, (4_000.0 + 8_000.0) / 2):
        assert cluster.strength != pytest.approx(_strength(sum(notional), 5.0, 10.0 * wrong, 5, 0.25), rel=1e-3)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 8])
def test_reference_is_multiple_times_median_for_small_counts(n: int) -> None:
    # Distinct notionals in a scrambled order; multiple 3 and a low floor so the median always decides.
    notionals = [float(1_000 * ((7 * i) % 11 + 1)) for i in range(n)]
    median = _median(notionals)
    params = {"min_cluster_size": 1, "reference_multiple": 3.0, "min_reference_notional": 1.0,
              "count_weight": 0.4}
    heatmap = heatmap_with(_fresh(notionals), **params)
    clusters = heatmap.get_clusters("BTCUSDT")
    assert len(clusters) == 1
    expected = _strength(sum(notionals), float(n), 3.0 * median, 1, 0.4)
    assert clusters[0].strength == pytest.approx(expected, rel=1e-9)
    config = HeatmapConfig(**params)  # type: ignore[arg-type]
    assert reference_notional(np.array(notionals), config) == pytest.approx(3.0 * median, rel=1e-12)


def test_the_median_counts_every_side_and_far_away_events_too() -> None:
    """The reference is the symbol's: events outside the cluster (other side, other prices) are in the median."""
    cluster_events = _fresh([2_000.0] * 5)
    shorts = [event(200.0 + i * 0.1, 60_000.0 / (200.0 + i * 0.1), side="short") for i in range(3)]
    far = [event(500.0, 40_000.0 / 500.0)]
    everything = cluster_events + shorts + far  # 9 notionals: five 2000, one 40000, three 60000 -> median 2000
    notional = [e.notional for e in everything]
    reference = max(10_000.0, 10.0 * _median(notional))
    clusters = heatmap_with(everything, min_cluster_size=5).get_clusters("BTCUSDT")
    (long_c,) = [c for c in clusters if c.side == "long"]
    assert long_c.strength == pytest.approx(_strength(10_000.0, 5.0, reference, 5, 0.25), rel=1e-9)
    # Four more big events move the median (13 notionals: the 7th is 40000 -> reference 400000).
    more = [event(300.0 + i, 40_000.0 / (300.0 + i), side="short") for i in range(4)]
    notional += [e.notional for e in more]
    reference = max(10_000.0, 10.0 * _median(notional))
    assert reference == pytest.approx(400_000.0)
    clusters = heatmap_with(everything + more, min_cluster_size=5).get_clusters("BTCUSDT")
    (long_c,) = [c for c in clusters if c.side == "long"]
    assert long_c.strength == pytest.approx(_strength(10_000.0, 5.0, reference, 5, 0.25), rel=1e-9)


def test_the_floor_applies_when_the_median_is_small() -> None:
    notionals = [100.0, 300.0, 200.0, 400.0]  # 10 * median 250 = 2500 < floor 10000
    events = _fresh(notionals)
    (cluster,) = heatmap_with(events, min_cluster_size=4).get_clusters("BTCUSDT")
    assert cluster.strength == pytest.approx(_strength(1_000.0, 4.0, 10_000.0, 4, 0.25), rel=1e-9)
    # A lower floor lets the median through: reference 2500.
    (cluster,) = heatmap_with(events, min_cluster_size=4, min_reference_notional=1_000.0).get_clusters("BTCUSDT")
    assert cluster.strength == pytest.approx(_strength(1_000.0, 4.0, 2_500.0, 4, 0.25), rel=1e-9)
    assert reference_notional(np.array([], dtype=np.float64), HeatmapConfig()) == 10_000.0


def test_the_median_uses_only_events_inside_the_horizon() -> None:
    horizon_ms = 180 * MINUTE  # default: 3 * time_decay_minutes
    cluster_events = _fresh([3_000.0] * 5)
    # Six big events 1 ms past the horizon: counted, they would make the median 1e6 (reference 1e7).
    old_big = [event(150.0 + i, 1_000_000.0 / (150.0 + i), now=NOW - horizon_ms - 1) for i in range(6)]
    (cluster,) = heatmap_with(cluster_events + old_big).get_clusters("BTCUSDT")
    assert cluster.strength == pytest.approx(_strength(15_000.0, 5.0, 30_000.0, 5, 0.25), rel=1e-9)


# -- the time window: the horizon and the future tolerance, to the millisecond --------------------------------


def _window_heatmap(trade_time: int, not_yet: bool, **params: float) -> LiveLiquidationHeatmap:
    """One symbol: five fresh long events, and one more event of notional 1000 at ``trade_time`` (min size 6).

    ``not_yet`` adds a short far away, stamped 10 minutes after ``NOW``: ignored itself, it makes the build
    sort every event in or out one by one (without it, the newest and oldest alone show all are in).
    """
    base = _fresh([1_000.0] * 5)
    probe = LiquidationEvent("BTCUSDT", "long", 100.05, 1_000.0 / 100.05, trade_time, trade_time, "FILLED", False)
    extra = [event(500.0, 1.0, side="short", age_min=-10)] if not_yet else []
    return heatmap_with([*base, probe, *extra], min_cluster_size=6, **params)


@pytest.mark.parametrize("not_yet", [False, True])
@pytest.mark.parametrize("horizon_min", [180.0, 0.5])  # the default (3 * 60) and max_age_minutes=0.5
def test_an_event_exactly_horizon_old_counts_one_ms_older_does_not(horizon_min: float, not_yet: bool) -> None:
    horizon_ms = int(horizon_min * MINUTE)
    params = {} if horizon_min == 180.0 else {"max_age_minutes": horizon_min}
    at_edge = _window_heatmap(NOW - horizon_ms, not_yet, **params).get_clusters("BTCUSDT", now_ms=NOW)
    assert len(at_edge) == 1 and at_edge[0].liquidation_count == 6
    decay = math.exp(-horizon_min / 60.0)
    assert at_edge[0].weighted_notional == pytest.approx(5_000.0 + 1_000.0 * decay, rel=1e-6)
    assert at_edge[0].first_event_ms == NOW - horizon_ms
    beyond = _window_heatmap(NOW - horizon_ms - 1, not_yet, **params).get_clusters("BTCUSDT", now_ms=NOW)
    assert beyond == []  # five events left: below min_cluster_size 6


@pytest.mark.parametrize("other_age", [None, 2 * 180 * MINUTE, -10 * MINUTE])
def test_window_edges_in_build_clusters(other_age: int | None) -> None:
    """The same edges through the public clustering functions (no window pruning in front of them).

    ``other_age``: a short far away, too old or too new to count, so every event is judged one by one."""
    config = HeatmapConfig(min_cluster_size=1)
    horizon_ms = int(config.horizon_minutes * MINUTE)
    for age, counted in ((horizon_ms, True), (horizon_ms + 1, False), (-FUTURE_TOLERANCE_MS, True),
                         (-FUTURE_TOLERANCE_MS - 1, False)):
        extra = [] if other_age is None else [other_age]
        prices = np.array([100.0, 100.1] + [500.0] * len(extra))
        quantities = np.array([10.0, 20.0] + [1.0] * len(extra))
        times = np.array([NOW, NOW - age] + [NOW - a for a in extra], dtype=np.int64)
        sides = np.array([0, 0] + [1] * len(extra), dtype=np.int8)
        clusters = build_clusters("BTCUSDT", sort_by_side(prices, quantities, times, sides), now_ms=NOW,
                                  config=config)
        assert len(clusters) == 1, age
        assert clusters[0].liquidation_count == (2 if counted else 1), age
        assert clusters[0].total_notional == pytest.approx(1_000.0 + (2_002.0 if counted else 0.0)), age


@pytest.mark.parametrize("not_yet", [False, True])
def test_an_event_exactly_at_the_future_tolerance_counts_with_age_zero_one_ms_more_does_not(not_yet: bool) -> None:
    at_edge = _window_heatmap(NOW + FUTURE_TOLERANCE_MS, not_yet).get_clusters("BTCUSDT", now_ms=NOW)
    assert len(at_edge) == 1 and at_edge[0].liquidation_count == 6
    assert at_edge[0].weighted_notional == pytest.approx(6_000.0, rel=1e-9)  # age clamped at 0: decay 1
    assert at_edge[0].last_updated == NOW + FUTURE_TOLERANCE_MS
    beyond = _window_heatmap(NOW + FUTURE_TOLERANCE_MS + 1, not_yet).get_clusters("BTCUSDT", now_ms=NOW)
    assert beyond == []
    # Once time has come, the same event counts.
    later = _window_heatmap(NOW + FUTURE_TOLERANCE_MS + 1, not_yet).get_clusters("BTCUSDT", now_ms=NOW + 1)
    assert len(later) == 1 and later[0].liquidation_count == 6
