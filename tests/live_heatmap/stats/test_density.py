"""The density profile against scipy's gaussian_kde on the same weighted data (issue 16, "density profile")."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import gaussian_kde  # the analysis extra, which `make setup` installs

from live_heatmap.stats import density_profile
from live_heatmap.store.history import load_events
from tests.conftest import DATA

DECAY = 60.0


def _check_against_kde(prices: np.ndarray, notionals: np.ndarray, times: np.ndarray, longs: np.ndarray, *,
                       now: int, bandwidth: float) -> int:
    profile = density_profile(prices, notionals, times, longs, now_ms=now, time_decay_minutes=DECAY,
                              bandwidth=bandwidth)
    weight = notionals * np.exp(-(now - times) / (DECAY * 60_000))
    x = np.log(prices)
    checked = 0
    for mask, got, total in ((longs, profile.long, profile.long_notional),
                             (~longs, profile.short, profile.short_notional)):
        assert total == pytest.approx(weight[mask].sum())
        if mask.sum() < 2:
            continue
        spread = np.sqrt(np.cov(x[mask], aweights=weight[mask]))
        kde = gaussian_kde(x[mask], bw_method=bandwidth / spread, weights=weight[mask])
        want = kde(np.log(profile.prices)) * weight[mask].sum()
        above = want > 0.01 * want.max()
        np.testing.assert_allclose(got[above], want[above], rtol=1e-3)
        # and the profile integrates to the side's decayed notional
        assert np.trapezoid(got, np.log(profile.prices)) == pytest.approx(total, rel=1e-3)
        checked += int(above.sum())
    return checked


def test_density_agrees_with_gaussian_kde_on_recorded_liquidations() -> None:
    events = load_events(DATA / "liquidations_normalized.csv", symbols=["RAREUSDT"])
    prices = np.array([e.price for e in events])
    notionals = np.array([e.price * e.quantity for e in events])
    times = np.array([e.trade_time for e in events], np.int64)
    longs = np.array([e.side == "long" for e in events])
    day = times >= times[-1] - 86_400_000  # the last day of the recording: the profile's scale
    assert day.sum() > 50 and longs[day].any() and (~longs[day]).any()
    now = int(times[-1])
    assert _check_against_kde(prices[day], notionals[day], times[day], longs[day], now=now, bandwidth=0.003) > 100


def test_density_agrees_with_gaussian_kde_at_10000_events() -> None:
    rng = np.random.default_rng(16)
    n = 10_000
    now = 1_760_000_000_000
    prices = np.exp(rng.normal(np.log(65_000.0), 0.008, n))
    notionals = rng.lognormal(8.0, 1.5, n)
    times = now - rng.integers(0, 3 * 3_600_000, n)
    longs = prices < 65_000.0 * np.exp(rng.normal(0, 0.004, n))
    for bandwidth in (0.001, 0.003, 0.01):
        assert _check_against_kde(prices, notionals, times, longs, now=now, bandwidth=bandwidth) > 100


def test_no_events_and_bad_input() -> None:
    empty = density_profile([], [], [], [], now_ms=0, time_decay_minutes=DECAY, bandwidth=0.003)
    assert empty.events == 0 and empty.prices.size == 0 and empty.to_dict()["long"] == []
    with pytest.raises(ValueError, match="bandwidth"):
        density_profile([1.0], [1.0], [0], [True], now_ms=0, time_decay_minutes=DECAY, bandwidth=0.0)
    with pytest.raises(ValueError, match="length"):
        density_profile([1.0, 2.0], [1.0], [0], [True], now_ms=0, time_decay_minutes=DECAY, bandwidth=0.01)
    one = density_profile([100.0, -1.0], [50.0, 10.0], [0, 0], [False, True], now_ms=0, time_decay_minutes=DECAY,
                          bandwidth=0.01)
    assert one.events == 1 and one.long_notional == 0.0 and one.short_notional == pytest.approx(50.0)
    assert not one.long.any() and one.prices[int(np.argmax(one.short))] == pytest.approx(100.0, rel=1e-3)
    assert len(one.to_dict(points=50)["prices"]) <= 50
