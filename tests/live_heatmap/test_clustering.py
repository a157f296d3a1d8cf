"""Clusters: golden values computed by hand, and the properties docs/INTERNALS.md promises."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from helpers import MINUTE, NOW, event, heatmap_with
from hypothesis import given, settings
from hypothesis import strategies as st

from live_heatmap import LiveLiquidationHeatmap, parse_force_order
from live_heatmap.clustering import cluster_starts


def test_golden_two_clusters_by_hand() -> None:
    # Longs: five at 100..101 (ages 0,10,20,30,40 min), one far away at 120 (too small alone).
    longs = [event(100.0, 10, age_min=0), event(100.5, 10, age_min=10), event(101.0, 20, age_min=20),
             event(100.2, 5, age_min=30), event(100.8, 5, age_min=40), event(120.0, 100, age_min=0)]
    shorts = [event(110.0 + i * 0.1, 50, age_min=5, side="short") for i in range(5)]
    heatmap = heatmap_with(longs + shorts)
    heatmap.update_price("BTCUSDT", 105.0)
    clusters = {c.side: c for c in heatmap.get_clusters("BTCUSDT")}
    assert set(clusters) == {"long", "short"}

    long_c = clusters["long"]
    decay = [math.exp(-a / 60) for a in (0, 10, 20, 30, 40)]
    notional = [1000.0, 1005.0, 2020.0, 501.0, 504.0]
    prices = [100.0, 100.5, 101.0, 100.2, 100.8]
    w = [n * d for n, d in zip(notional, decay, strict=True)]
    assert long_c.liquidation_count == 5
    assert long_c.total_notional == pytest.approx(sum(notional))
    assert long_c.weighted_notional == pytest.approx(sum(w))
    assert long_c.price_level == pytest.approx(sum(p * x for p, x in zip(prices, w, strict=True)) / sum(w))
    assert (long_c.price_low, long_c.price_high) == (100.0, 101.0)
    assert long_c.distance_from_price == pytest.approx(abs(long_c.price_level - 105) / 105 * 100)
    assert long_c.first_event_ms == NOW - 40 * MINUTE and long_c.last_updated == NOW
    assert long_c.cluster_id == f"BTCUSDT-long-{NOW - 40 * MINUTE}"

    # Strength by hand: reference = max(10_000, 10 * median of all 11 notionals).
    all_notional = [*notional, 12000.0] + [(110.0 + i * 0.1) * 50 for i in range(5)]
    reference = max(10_000.0, 10 * float(np.median(all_notional)))
    expected = (1 - math.exp(-sum(w) / reference)) ** 0.75 * (1 - math.exp(-sum(decay) / 5)) ** 0.25
    assert long_c.strength == pytest.approx(expected)

    short_c = clusters["short"]
    short_prices = [110.0 + i * 0.1 for i in range(5)]  # same age, weight proportional to price * 50
    assert short_c.liquidation_count == 5
    assert short_c.price_level == pytest.approx(sum(p * p for p in short_prices) / sum(short_prices))


def test_readme_worked_example() -> None:
    rows = [(100.0, 10, 0), (100.5, 10, 10), (101.0, 20, 20), (100.2, 5, 30), (100.8, 5, 40)]
    (c,) = heatmap_with([event(p, q, age_min=a) for p, q, a in rows]).get_clusters("BTCUSDT")
    assert round(c.weighted_notional, 1) == 3860.7
    assert round(c.price_level, 3) == 100.554
    assert round(c.strength, 3) == 0.362


def test_decay_window_is_the_configured_minutes() -> None:
    """Peer defect 3: ``time_decay_minutes // 60`` made 60 minutes into 1."""
    fresh = heatmap_with([event(100.0 + i * 0.01, 100) for i in range(5)])
    hour_old = heatmap_with([event(100.0 + i * 0.01, 100, age_min=60) for i in range(5)])
    w_fresh = fresh.get_clusters("BTCUSDT")[0].weighted_notional
    w_old = hour_old.get_clusters("BTCUSDT")[0].weighted_notional
    assert w_old / w_fresh == pytest.approx(math.exp(-1.0))  # not exp(-60)
    ten_min = heatmap_with([event(100.0 + i * 0.01, 100, age_min=10) for i in range(5)], time_decay_minutes=10)
    assert ten_min.get_clusters("BTCUSDT")[0].weighted_notional / w_fresh == pytest.approx(math.exp(-1.0))


def test_events_beyond_the_horizon_do_not_count() -> None:
    # Default horizon is 3 * time_decay_minutes = 180 minutes.
    inside = [event(100.0 + i * 0.01, 10, age_min=170) for i in range(5)]
    outside = [event(100.0 + i * 0.01, 10, age_min=190) for i in range(5)]
    assert len(heatmap_with(inside).get_clusters("BTCUSDT")) == 1
    assert heatmap_with(outside).get_clusters("BTCUSDT") == []
    assert heatmap_with(outside, max_age_minutes=200).get_clusters("BTCUSDT") != []


def test_future_events_wait_for_their_time() -> None:
    later = [event(100.0 + i * 0.01, 10, age_min=-5) for i in range(5)]
    heatmap = heatmap_with(later)
    assert heatmap.get_clusters("BTCUSDT") == []
    assert len(heatmap.get_clusters("BTCUSDT", now_ms=NOW + 5 * MINUTE)) == 1


def test_min_cluster_size_counts_events_not_notional() -> None:
    four_big = [event(100.0 + i * 0.01, 1000) for i in range(4)]
    assert heatmap_with(four_big).get_clusters("BTCUSDT") == []
    five_small = [event(100.0 + i * 0.01, 0.01) for i in range(5)]
    assert heatmap_with(five_small).get_clusters("BTCUSDT")[0].liquidation_count == 5
    assert heatmap_with(four_big, min_cluster_size=4).get_clusters("BTCUSDT") != []


def test_longs_and_shorts_never_share_a_cluster() -> None:
    mixed = [event(100.0 + i * 0.01, 10, side="long" if i % 2 else "short") for i in range(10)]
    clusters = heatmap_with(mixed).get_clusters("BTCUSDT")
    assert sorted(c.side for c in clusters) == ["long", "short"]
    assert all(c.liquidation_count == 5 for c in clusters)


def test_a_tight_group_is_not_split_where_a_bin_edge_would_fall() -> None:
    # A 2 % grid anchored at 0 has an edge at 102.0; this group straddles it.
    group = [event(p, 10) for p in (101.90, 101.95, 101.99, 102.01, 102.05, 102.10)]
    clusters = heatmap_with(group).get_clusters("BTCUSDT")
    assert len(clusters) == 1 and clusters[0].liquidation_count == 6


def test_a_wide_spread_is_cut_at_its_widest_gap() -> None:
    left = [100.0, 100.2, 100.4, 100.6, 100.8]
    right = [101.9, 102.1, 102.3, 102.5, 102.7]  # 100 -> 102.7 is wider than 2 %
    clusters = heatmap_with([event(p, 10) for p in left + right]).get_clusters("BTCUSDT")
    assert sorted((c.price_low, c.price_high) for c in clusters) == [(100.0, 100.8), (101.9, 102.7)]


def test_cluster_starts_golden() -> None:
    p = np.array([1.0, 1.001, 1.002, 1.05, 1.051, 1.2, 1.21, 1.215, 1.23])
    assert cluster_starts(p, 0.02).tolist() == [0, 3, 5, 8]
    assert cluster_starts(p, 0.5).tolist() == [0]
    assert cluster_starts(np.array([5.0]), 0.02).tolist() == [0]
    assert cluster_starts(np.array([], dtype=float), 0.02).tolist() == []
    # Equal widest gaps: the lowest is cut first.
    assert cluster_starts(np.array([1.0, 2.0, 4.0]), 0.5).tolist() == [0, 1, 2]


# -- properties ------------------------------------------------------------------------------

prices_st = st.lists(st.floats(min_value=1.0, max_value=2.0, allow_nan=False), min_size=1, max_size=120)
window_st = st.floats(min_value=0.001, max_value=0.2)


def _groups(prices: list[float], window: float) -> list[list[float]]:
    p = np.sort(np.array(prices))
    starts = cluster_starts(p, window).tolist()
    bounds = [*starts, p.size]
    return [p[a:b].tolist() for a, b in itertools.pairwise(bounds)]


@given(prices_st, window_st)
def test_no_group_is_wider_than_the_window(prices: list[float], window: float) -> None:
    groups = _groups(prices, window)
    assert sum(len(g) for g in groups) == len(prices)
    for g in groups:
        assert g[-1] <= g[0] * (1 + window)


def _reference_split(prices: list[float], window: float) -> list[list[float]]:
    """The definition in docs/INTERNALS.md, written the slow obvious way: cut at the widest gap while too wide."""
    if prices[-1] <= prices[0] * (1 + window):
        return [prices]
    ratios = [b / a for a, b in itertools.pairwise(prices)]
    cut = ratios.index(max(ratios)) + 1  # lowest of equal widest gaps
    return _reference_split(prices[:cut], window) + _reference_split(prices[cut:], window)


@given(prices_st, window_st)
def test_groups_match_the_readme_definition(prices: list[float], window: float) -> None:
    assert _groups(prices, window) == _reference_split(sorted(prices), window)


@given(prices_st, window_st, st.integers(min_value=-20, max_value=20))
def test_scaling_prices_by_a_power_of_two_changes_nothing_else(prices: list[float], window: float, k: int) -> None:
    scale = 2.0 ** k
    plain = _groups(prices, window)
    scaled = _groups([p * scale for p in prices], window)
    assert [[p * scale for p in g] for g in plain] == scaled


@given(st.lists(st.floats(min_value=0.0, max_value=0.004), min_size=2, max_size=30),
       st.floats(min_value=1.0, max_value=1000.0), st.floats(min_value=0.01, max_value=0.98))
def test_tight_group_survives_wherever_it_sits(offsets: list[float], base: float, frac: float) -> None:
    """A group whose inner gaps are all narrower than the gaps around it stays whole, wherever a
    grid edge would fall (``frac`` slides it across)."""
    window = 0.02
    anchor = base * (1 + window * frac)
    group = [anchor * (1 + o) for o in offsets]  # spans < 0.5 %
    neighbours = [anchor * 0.97, anchor * 0.975, anchor * 1.03, anchor * 1.036]  # gaps > 0.5 % around it
    groups = _groups(group + neighbours, window)
    assert any(sorted(group) == g or set(group) <= set(g) for g in groups)


@settings(max_examples=50)
@given(st.lists(st.tuples(st.floats(min_value=50.0, max_value=150.0), st.floats(min_value=0.001, max_value=50.0),
                          st.floats(min_value=0.0, max_value=170.0), st.sampled_from(["long", "short"])),
                min_size=1, max_size=60), st.integers(min_value=-8, max_value=8))
def test_heatmap_properties(rows: list[tuple[float, float, float, str]], k: int) -> None:
    # keyed as the heatmap dedupes (ages less than a millisecond apart give one trade time)
    events = {e.dedupe_key: e for e in (event(p, q, age_min=a, side=s) for p, q, a, s in rows)}.values()
    heatmap = heatmap_with(events)
    clusters = heatmap.get_clusters("BTCUSDT")
    for c in clusters:
        assert c.price_high <= c.price_low * 1.02
        assert (c.price_high - c.price_low) / c.price_level <= 0.02
        assert c.price_low <= c.price_level <= c.price_high
        assert 0.0 <= c.strength <= 1.0 and c.liquidation_count >= 5
    # Scaling every price (by a power of two: exact in floating point) scales levels and nothing else.
    scale = 2.0 ** k
    scaled = heatmap_with(event(e.price * scale, e.quantity / scale,
                                age_min=(NOW - e.trade_time) / MINUTE, side=e.side) for e in events)
    again = scaled.get_clusters("BTCUSDT")
    assert [(c.side, c.liquidation_count, c.strength) for c in clusters] == \
           [(c.side, c.liquidation_count, c.strength) for c in again]
    for a, b in zip(clusters, again, strict=True):
        assert b.price_level == pytest.approx(a.price_level * scale, rel=1e-12)
        assert b.total_notional == pytest.approx(a.total_notional, rel=1e-12)


def test_scaling_real_prices_by_any_constant_scales_the_clusters(wire_lines: list[bytes]) -> None:
    events = [parse_force_order(line) for line in wire_lines]
    now = 1738000000000  # end of the 2025-01-27 session
    events = [e for e in events if e.trade_time <= now]
    for scale in (1000.0, 0.37, 3.0):
        base = LiveLiquidationHeatmap(clock=lambda: now)
        scaled = LiveLiquidationHeatmap(clock=lambda: now)
        base.ingest_many(events)
        scaled.ingest_many(e._replace(price=e.price * scale, quantity=e.quantity / scale) for e in events)
        for symbol in base.symbols():
            a, b = base.get_clusters(symbol), scaled.get_clusters(symbol)
            assert [(c.side, c.liquidation_count) for c in a] == [(c.side, c.liquidation_count) for c in b]
            for x, y in zip(a, b, strict=True):
                assert y.price_level == pytest.approx(x.price_level * scale, rel=1e-9)
                assert y.strength == pytest.approx(x.strength, rel=1e-9)


# -- strength ----------------------------------------------------------------------------------


@given(st.integers(min_value=5, max_value=40), st.floats(min_value=0.0, max_value=100.0))
def test_strength_grows_with_count_and_weighted_notional(n: int, age: float) -> None:
    def strength(count: int, qty: float) -> float:
        # background activity fixes the reference: 20 events of 2k at other prices
        background = [event(200 + i * 10, 20, age_min=age) for i in range(20)]
        group = [event(100.0 + i * 0.001, qty, age_min=age) for i in range(count)]
        return heatmap_with(background + group).get_clusters("BTCUSDT")[0].strength

    assert strength(n + 1, 10) >= strength(n, 10)
    assert strength(n, 20) >= strength(n, 10)


@given(st.lists(st.floats(min_value=0.01, max_value=20.0), min_size=5, max_size=5),
       st.floats(min_value=0.0001, max_value=1e5))
def test_five_tiny_liquidations_never_reach_the_default_threshold(notionals: list[float], price: float) -> None:
    """Even as the only (so the biggest) cluster of a quiet symbol."""
    heatmap = heatmap_with(event(price * (1 + i * 1e-4), n / (price * (1 + i * 1e-4)), symbol="QUIETUSDT")
                           for i, n in enumerate(notionals))
    clusters = heatmap.get_clusters("QUIETUSDT")
    assert len(clusters) == 1
    assert clusters[0].strength < 0.6
    assert heatmap.get_best_cluster("QUIETUSDT") is None


def test_fifty_thousand_means_more_on_a_small_coin_than_on_btc() -> None:
    def cluster_strength(symbol: str, typical: float, price: float) -> float:
        background = [event(price * (1.5 + i * 0.05), typical / price, symbol=symbol) for i in range(40)]
        group = [event(price * (1 + i * 1e-4), 10_000 / price, symbol=symbol) for i in range(5)]
        return heatmap_with(background + group).get_clusters(symbol)[0].strength

    btc = cluster_strength("BTCUSDT", typical=40_000, price=90_000.0)  # BTC liquidations are large
    small = cluster_strength("SMALLUSDT", typical=300, price=0.05)
    assert small > btc
    assert small >= 0.6 > btc
