"""The estimated-levels model, step by step (issue 14, docs/ESTIMATED.md "The model")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from live_heatmap.estimated.bars import Bar, BarError, aggregate_bars
from live_heatmap.estimated.config import WINDOWS_MS, ModelConfig, ModelConfigError
from live_heatmap.estimated.model import EstimatedLevels

MMR = 0.004
FIVE_MIN = 300_000


def bar(k: int, *, oi: float, high: float = 100.5, low: float = 99.5, close: float = 100.0,
        base: float = 100.0, quote: float = 10_000.0, buy_base: float = 60.0,
        buy_quote: float = 5_990.0) -> Bar:
    """Bar number k of a 5-minute series."""
    return Bar(open_time=k * FIVE_MIN, close_time=k * FIVE_MIN + FIVE_MIN - 1, mark_high=high, mark_low=low,
               close=close, base_volume=base, quote_volume=quote, taker_buy_base=buy_base,
               taker_buy_quote=buy_quote, open_interest=oi)


def model(**settings: object) -> EstimatedLevels:
    return EstimatedLevels(ModelConfig(maint_margin_ratio=MMR, **settings))  # type: ignore[arg-type]


def opened(m: EstimatedLevels, oi_change: float = 10.0, **fields: float) -> tuple[Bar, float]:
    """Two bars: the first sets OI, the second adds ``oi_change``; returns the second and its dV."""
    m.update(bar(0, oi=1_000.0))
    second = bar(1, oi=1_000.0 + oi_change, **fields)
    m.update(second)
    return second, oi_change * second.quote_volume / second.base_volume


def test_taker_attribution_gives_longs_the_taker_buy_share_at_the_taker_buy_price() -> None:
    m = model()
    second, dv = opened(m)
    vwap_buy = second.taker_buy_quote / second.taker_buy_base
    vwap_sell = (second.quote_volume - second.taker_buy_quote) / (second.base_volume - second.taker_buy_base)
    long_total, short_total = m.total_notional()
    assert long_total == pytest.approx(0.6 * dv, rel=1e-12)
    assert short_total == pytest.approx(0.4 * dv, rel=1e-12)
    longs = m.levels("long")
    ten = longs.leverage == 10.0
    assert longs.notional[ten].sum() == pytest.approx(0.30 * 0.6 * dv, rel=1e-12)
    assert longs.price[ten][0] == pytest.approx(vwap_buy * 0.9 / (1 - MMR), rel=1e-12)
    shorts = m.levels("short")
    assert shorts.price[shorts.leverage == 25.0][0] == pytest.approx(vwap_sell * 1.04 / (1 + MMR), rel=1e-12)


def test_the_10x_long_bins_hold_030_of_the_longs_centred_on_the_exact_price() -> None:
    m = model()
    second, dv = opened(m)
    exact = second.taker_buy_quote / second.taker_buy_base * 0.9 / (1 - MMR)
    binned = m.binned()
    step = math.log1p(m.config.bin_width)
    below = int(np.searchsorted(binned.prices, exact)) - 1
    pair = binned.long[below:below + 2]
    assert binned.prices[below] <= exact <= binned.prices[below + 1]
    assert pair.sum() == pytest.approx(0.30 * 0.6 * dv, rel=1e-12)
    # the linear split puts the pair's log-weighted centre on the exact price
    centre = (np.log(binned.prices[below:below + 2]) * pair).sum() / pair.sum()
    assert centre == pytest.approx(math.log(exact), abs=step * 1e-9)
    assert binned.long.sum() + binned.long_outside == pytest.approx(0.6 * dv, rel=1e-12)


def test_candle_attribution_follows_the_close_against_the_previous_close() -> None:
    up = model(attribution="candle")
    _, dv = opened(up, close=100.4)
    assert up.total_notional() == (pytest.approx(dv), 0.0)
    assert up.levels("long").price[0] == pytest.approx(100.4 * 0.8 / (1 - MMR))
    down = model(attribution="candle")
    opened(down, close=99.6)
    assert down.total_notional()[0] == 0.0
    flat = model(attribution="candle")
    opened(flat)
    assert flat.total_notional()[0] == pytest.approx(flat.total_notional()[1])


def test_even_attribution_splits_in_half_at_the_bar_vwap() -> None:
    m = model(attribution="even")
    second, dv = opened(m)
    assert m.total_notional() == (pytest.approx(dv / 2), pytest.approx(dv / 2))
    vwap = second.quote_volume / second.base_volume
    assert m.levels("short").price[-1] == pytest.approx(vwap * 1.01 / (1 + MMR))


FIRST_VINTAGE = 2 * FIVE_MIN - 1  # the close time of bar 1, which opened the first positions


def long_level_10x(m: EstimatedLevels) -> float:
    longs = m.levels("long")
    return float(longs.price[(longs.leverage == 10.0) & (longs.opened_at == FIRST_VINTAGE)][0])


def test_consumption_is_inclusive_at_the_level_and_not_one_tick_above() -> None:
    probe = model()
    opened(probe)
    level = long_level_10x(probe)
    above = np.nextafter(level, np.inf)

    touched = model()
    opened(touched)
    touched.update(bar(2, oi=1_010.0, low=level))
    left = touched.levels("long")
    assert not np.any((left.leverage == 10.0) & (left.opened_at == FIRST_VINTAGE))
    assert np.any((left.leverage == 5.0) & (left.opened_at == FIRST_VINTAGE))
    assert touched.last_consumed > 0

    missed = model()
    opened(missed)
    missed.update(bar(2, oi=1_010.0, low=above))
    assert long_level_10x(missed) == level
    # what is consumed is added back to dV: OI unchanged, the consumed notional re-opens
    assert touched.last_dv == pytest.approx(touched.last_consumed)


def test_short_levels_at_or_below_the_mark_high_are_consumed() -> None:
    m = model()
    opened(m)
    shorts = m.levels("short")
    hundred = float(shorts.price[shorts.leverage == 100.0][0])
    m.update(bar(2, oi=1_010.0, high=hundred, low=99.9))
    after = m.levels("short")
    assert not np.any((after.leverage == 100.0) & (after.opened_at == FIRST_VINTAGE))
    assert np.any((after.leverage == 50.0) & (after.opened_at == FIRST_VINTAGE))


def test_falling_oi_shrinks_every_level_by_the_same_share() -> None:
    m = model()
    opened(m)
    before = m.levels("long").notional.copy(), m.levels("short").notional.copy()
    total = sum(m.total_notional())
    quote_per_base = 100.0
    m.update(bar(2, oi=1_007.0))
    keep = 1 - 3.0 * quote_per_base / total
    np.testing.assert_allclose(m.levels("long").notional, before[0] * keep, rtol=1e-12)
    np.testing.assert_allclose(m.levels("short").notional, before[1] * keep, rtol=1e-12)
    m.update(bar(3, oi=1.0))
    assert m.total_notional() == (0.0, 0.0)
    assert len(m.levels("long").price) == 0


def test_vintages_leave_when_older_than_the_window() -> None:
    m = model(window_ms=WINDOWS_MS["12h"])
    opened(m)
    bars_in_window = WINDOWS_MS["12h"] // FIVE_MIN
    oi = 1_010.0
    for k in range(2, bars_in_window + 1):
        m.update(bar(k, oi=oi))
    assert m.levels("long").opened_at.min() == FIRST_VINTAGE
    m.update(bar(bars_in_window + 1, oi=oi))
    assert len(m.levels("long").price) == 0
    assert m.total_notional() == (0.0, 0.0)


def test_the_ring_grows_when_bars_come_faster_than_configured() -> None:
    m = model(bar_ms=FIVE_MIN)
    one_minute = 60_000
    oi = 1_000.0
    for k in range(700):  # 700 minutes: inside the 12 h window, 4.8 times the ring sized for 5-minute bars
        oi += 1.0
        m.update(Bar(k * one_minute, k * one_minute + one_minute - 1, 100.5, 99.5, 100.0, 100.0, 10_000.0,
                     50.0, 5_000.0, oi))
    opened_at = m.levels("long").opened_at
    assert len(np.unique(opened_at)) == 699  # every bar after the first opened a vintage, none lost
    assert np.all(np.diff(opened_at) >= 0)


def test_tiers_above_the_maximum_leverage_fold_into_it() -> None:
    m = model(max_leverage=50.0)
    distribution_model = model()
    opened(m)
    opened(distribution_model)
    folded = m.leverage_distribution()
    full = distribution_model.leverage_distribution()
    assert list(folded.leverages) == [5.0, 10.0, 25.0, 50.0]
    assert folded.long[-1] == pytest.approx(full.long[-1] + full.long[-2])
    assert folded.long.sum() == pytest.approx(full.long.sum())
    longs = m.levels("long")
    assert longs.price.min() > 0 and np.all(longs.leverage <= 50.0)


def test_leverage_distribution_matches_the_mix_after_one_vintage() -> None:
    m = model()
    _, dv = opened(m)
    distribution = m.leverage_distribution()
    np.testing.assert_allclose(distribution.long, 0.6 * dv * np.array([0.15, 0.30, 0.25, 0.20, 0.10]), rtol=1e-12)
    np.testing.assert_allclose(distribution.short, 0.4 * dv * np.array([0.15, 0.30, 0.25, 0.20, 0.10]), rtol=1e-12)


def test_levels_outside_the_binned_range_are_counted_apart() -> None:
    m = model()
    opened(m)
    narrow = m.binned(range_fraction=0.05)
    long_total, _ = m.total_notional()
    assert narrow.long_outside > 0
    assert narrow.long.sum() + narrow.long_outside == pytest.approx(long_total)
    assert narrow.prices[0] <= 95.0 and narrow.prices[-1] >= 105.0


def test_bad_bars_and_settings_are_refused_with_the_field_named() -> None:
    m = model()
    m.update(bar(1, oi=1_000.0))
    with pytest.raises(BarError, match="time order"):
        m.update(bar(1, oi=1_000.0))
    with pytest.raises(BarError, match="open_interest"):
        m.update(bar(2, oi=math.nan))
    with pytest.raises(BarError, match="mark_low"):
        m.update(bar(2, oi=1.0, low=101.0, high=100.0))
    with pytest.raises(ModelConfigError, match="window_ms"):
        ModelConfig(window_ms=3_600_000)
    with pytest.raises(ModelConfigError, match="sum to 1"):
        ModelConfig(leverage_mix=((10.0, 0.5),))
    with pytest.raises(ModelConfigError, match="as soon as it opens"):
        ModelConfig(maint_margin_ratio=0.01, leverage_mix=((100.0, 1.0),))
    assert ModelConfig(maint_margin_ratio=0.01, leverage_mix=((100.0, 1.0),), max_leverage=75.0).tiers()[0][0] == 75.0
    with pytest.raises(ModelConfigError, match="never liquidated"):
        ModelConfig(leverage_mix=((1.0, 1.0),))
    with pytest.raises(ModelConfigError, match="attribution"):
        ModelConfig(attribution="colour")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reference price"):
        model().binned()


def test_aggregate_bars_keeps_extremes_sums_and_the_last_close() -> None:
    bars = [bar(k, oi=1_000.0 + k, high=100.0 + k, low=99.0 - k, close=100.0 + k / 10) for k in range(5)]
    merged = aggregate_bars(bars, 3)
    assert [b.open_time for b in merged] == [0, 3 * FIVE_MIN]
    assert merged[0].mark_high == 102.0 and merged[0].mark_low == 97.0
    assert merged[0].base_volume == 300.0 and merged[0].open_interest == 1_002.0
    assert merged[1].close == bars[4].close and merged[1].close_time == bars[4].close_time
