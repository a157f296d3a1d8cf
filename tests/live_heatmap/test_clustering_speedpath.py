"""The shortcuts in ``build_clusters`` change nothing: both sides built in one pass, the cut of oversize
groups one at a time, the float32 decay."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from live_heatmap import clustering
from live_heatmap.clustering import build_clusters, cluster_starts
from live_heatmap.config import HeatmapConfig

NOW = 1_700_000_000_000
MINUTE = 60_000


def _side(rows: list[tuple[float, float, int]]) -> clustering.SideArrays:
    rows = sorted(rows, key=lambda r: r[0])
    return (np.array([r[0] for r in rows], dtype=np.float64), np.array([r[1] for r in rows], dtype=np.float64),
            np.array([r[2] for r in rows], dtype=np.int64))


def _reference_split(prices: list[float], window: float) -> list[list[float]]:
    """The definition in docs/INTERNALS.md, the slow obvious way: cut at the widest gap (the lowest of equal ones)."""
    if prices[-1] <= prices[0] * (1 + window):
        return [prices]
    ratios = [b / a for a, b in itertools.pairwise(prices)]
    cut = ratios.index(max(ratios)) + 1
    return _reference_split(prices[:cut], window) + _reference_split(prices[cut:], window)


@settings(max_examples=160, deadline=None)
@given(st.lists(st.floats(min_value=1.0, max_value=64.0), min_size=1, max_size=400),
       st.sampled_from([0.001, 0.005, 0.02, 0.3]))
def test_the_cut_matches_the_definition(prices: list[float], window: float) -> None:
    p = np.sort(np.array(prices))
    starts = cluster_starts(p, window).tolist()
    groups = [p[a:b].tolist() for a, b in itertools.pairwise([*starts, p.size])]
    assert groups == _reference_split(p.tolist(), window)


event_st = st.tuples(st.floats(min_value=99.0, max_value=104.0), st.floats(min_value=0.01, max_value=5.0),
                     st.integers(min_value=-3 * MINUTE, max_value=200 * MINUTE))  # (price, qty, age ms)


@settings(max_examples=100, deadline=None)
@given(st.lists(event_st, max_size=40), st.lists(event_st, max_size=40), st.integers(min_value=1, max_value=6))
def test_sides_built_together_are_the_sides_built_alone(longs: list[tuple[float, float, int]],
                                                          shorts: list[tuple[float, float, int]],
                                                          min_size: int) -> None:
    """Both sides share one pass, over overlapping prices, with stale and future events among them;
    no group crosses from one side to the other. (A floor above any median fixes the reference.)"""
    config = HeatmapConfig(min_cluster_size=min_size, min_reference_notional=1e9)
    long_side = _side([(p, q, NOW - a) for p, q, a in longs])
    short_side = _side([(p, q, NOW - a) for p, q, a in shorts])
    empty = _side([])
    both = build_clusters("X", (long_side, short_side), now_ms=NOW, config=config, current_price=101.0)
    alone = (build_clusters("X", (long_side, empty), now_ms=NOW, config=config, current_price=101.0)
             + build_clusters("X", (empty, short_side), now_ms=NOW, config=config, current_price=101.0))
    assert sorted(both, key=repr) == sorted(alone, key=repr)
    assert {c.side for c in both} <= {"long", "short"}


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=1e-3, max_value=1e6), st.floats(min_value=1e-3, max_value=1e3),
       st.integers(min_value=-MINUTE, max_value=180 * MINUTE))
def test_decay_is_the_float32_exp_of_the_clamped_age(price: float, qty: float, age_ms: int) -> None:
    config = HeatmapConfig(min_cluster_size=1)
    side = _side([(price, qty, NOW - age_ms)])
    (cluster,) = build_clusters("X", (side, _side([])), now_ms=NOW, config=config)
    decay = float(np.exp(np.float32(max(age_ms, 0) * (-1.0 / (60.0 * MINUTE)))))
    assert cluster.weighted_notional == price * qty * decay
