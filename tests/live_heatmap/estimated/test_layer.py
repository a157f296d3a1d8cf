"""The estimated layer of many symbols: per-symbol settings from the brackets, zones, the label (issue 14)."""

from __future__ import annotations

import numpy as np
import pytest

from live_heatmap.estimated.bars import Bar, BarError
from live_heatmap.estimated.brackets import shipped_brackets
from live_heatmap.estimated.layer import EstimatedLayer, Validation, zones
from live_heatmap.estimated.model import BinnedLevels


def bar(k: int, close: float, oi: float, *, high: float | None = None, low: float | None = None) -> Bar:
    return Bar(k * 300_000, (k + 1) * 300_000 - 1, high or close * 1.001, low or close * 0.999, close,
               100.0, 100.0 * close, 50.0, 50.0 * close, oi)


def test_a_symbol_takes_its_first_bracket_and_the_label_says_what_the_layer_is() -> None:
    layer = EstimatedLayer()
    btc = shipped_brackets().for_symbol("BTCUSDT")[0]
    cfg = layer.config_for("BTC/USDT:USDT")
    assert cfg.maint_margin_ratio == btc.maint_margin_ratio
    assert cfg.max_leverage == float(btc.initial_leverage)
    assert layer.config_for("NOTLISTEDUSDT") == layer.config
    assert layer.label == "estimated · brackets of 2025-12-25 (shipped table) · not validated"
    assert EstimatedLayer(validation=Validation(True, "G +0.05")).label.endswith("· validated")


def test_bars_reach_the_symbols_model_under_either_symbol_form() -> None:
    layer = EstimatedLayer()
    layer.update("BTC/USDT:USDT", bar(0, 100_000.0, 1_000.0))
    layer.update("BTCUSDT", bar(1, 100_000.0, 1_100.0))
    assert list(layer) == ["BTCUSDT"] and "BTC/USDT:USDT" in layer and len(layer) == 1
    model = layer.get("btcusdt")
    assert model is not None and model.bars == 2
    long_total, short_total = model.total_notional()
    assert long_total + short_total == pytest.approx(100.0 * 100_000.0)
    with pytest.raises(BarError):
        layer.update("BTCUSDT", bar(1, 100_000.0, 1_200.0))  # not after the last bar
    assert model.bars == 2
    assert layer.get("ETHUSDT") is None and layer.zones("ETHUSDT") == []


def test_zones_are_runs_of_heavy_bins_on_the_side_ahead_of_the_price() -> None:
    prices = np.array([90.0, 91.0, 92.0, 93.0, 99.0, 100.0, 101.0, 107.0, 108.0, 110.0])
    long = np.array([1.0, 4.0, 2.0, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    short = np.array([0.0, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 1.0, 0.5, 0.0])  # 99: behind the price, left out
    found = zones("BTCUSDT", BinnedLevels(prices, long, short, 100.0, 0.0, 0.0), 100.0)
    assert [(z.side, z.price_low, z.price_high) for z in found] == [("long", 90.0, 92.0), ("short", 107.0, 108.0)]
    heavy, light = found
    assert heavy.notional == 7.0 and heavy.price_level == pytest.approx((90 + 4 * 91 + 2 * 92) / 7)
    assert heavy.share == pytest.approx(7.0 / 7.1) and heavy.strength == 1.0
    assert light.notional == 1.5 and light.strength == pytest.approx(1.5 / 7.0) and light.share == 1.0
    assert light.distance_from_price == pytest.approx(abs(light.price_level - 100.0))
    assert zones("BTCUSDT", BinnedLevels(prices, long * 0, short * 0, 100.0, 0.0, 0.0), 100.0) == []
    with pytest.raises(ValueError, match="price"):
        zones("BTCUSDT", BinnedLevels(prices, long, short, 100.0, 0.0, 0.0), float("nan"))


def test_the_layers_zones_sit_at_the_leverage_tiers_below_and_above_the_price() -> None:
    layer = EstimatedLayer()
    for k in range(12):
        layer.update("ETHUSDT", bar(k, 3_000.0, 10_000.0 + 100.0 * k))
    found = layer.zones("ETHUSDT")
    assert found and {z.side for z in found} == {"long", "short"}
    for z in found:
        assert (z.price_level < 3_000.0) == (z.side == "long")
        assert 0 < z.strength <= 1 and 0 < z.share <= 1
    ten_x_long = 3_000.0 * 0.9 / (1 - layer.config_for("ETHUSDT").maint_margin_ratio)
    assert any(z.side == "long" and z.price_low <= ten_x_long * 1.002 and z.price_high >= ten_x_long * 0.998
               for z in found)
