"""The hunter's wall option (issue 15): ``hunter.wall: off|prefer|require`` reads the liquidity layer's active walls;
the wall that counts is on the book side meeting the move at the target (bids under long liquidations, asks over
short ones) within ``wall_pct`` of its level. ``off`` moves nothing."""

from __future__ import annotations

import pytest
from helpers import NOW, event, heatmap_with
from liquidity_books import WallPlan, fed_layer

from liquidation_hunter import HunterConfig, LiquidationHunter
from liquidation_hunter.signals.rules import check_wall_option, facing_wall
from live_heatmap import ConfigError
from live_heatmap.orderbook.layer import LiquidityLayer

PRICE = 100.0
NEAR, FAR = 99.5, 98.3  # long clusters below of one strength: FAR scores better (1.5 % is the preferred distance)


def heatmap() -> object:
    """Two long clusters of eight liquidations each, and small ones far away that set the strength's reference."""
    small = [event(90.0 + 0.01 * i, 1.0, age_min=1) for i in range(12)]
    return heatmap_with(small + [event(level, 450.0, age_min=m) for level in (FAR, NEAR) for m in range(1, 9)],
                        cluster_window_pct=0.005)


def layer_with(*walls: WallPlan) -> LiquidityLayer:
    return fed_layer("BTCUSDT", PRICE, list(walls), NOW - 120_000, NOW)


def signal(layer: LiquidityLayer | None, **config: object) -> object:
    hunter = LiquidationHunter(HunterConfig.from_mapping({"min_strength": 0.5, **config}), heatmap(),
                               liquidity=layer)
    return hunter.evaluate("BTC/USDT:USDT", PRICE, now_ms=NOW)


def test_off_is_the_default_and_ignores_walls() -> None:
    assert HunterConfig().wall == "off"
    plain = signal(None)
    walled = signal(layer_with(WallPlan("bid", NEAR, NOW - 120_000)))
    assert plain.cluster is not None and plain.cluster.price_level == pytest.approx(FAR, rel=1e-3)
    assert (walled.direction, walled.cluster, walled.reason) == (plain.direction, plain.cluster, plain.reason)


def test_require_trades_the_target_a_bid_wall_meets_and_nothing_without_one() -> None:
    layer = layer_with(WallPlan("bid", NEAR, NOW - 120_000))
    found = signal(layer, wall="require")
    assert found.direction == -1 and found.cluster is not None
    assert found.cluster.price_level == pytest.approx(NEAR, rel=1e-3)
    assert "bid wall" in found.reason and "meets the move" in found.reason
    none = signal(layer_with(), wall="require")
    assert none.direction == 0 and "no target with a wall within 0.3%" in none.reason
    wrong_side = signal(layer_with(WallPlan("ask", NEAR, NOW - 120_000)), wall="require")
    assert wrong_side.direction == 0  # an ask wall under long liquidations does not meet a move down
    young = signal(layer_with(WallPlan("bid", NEAR, NOW - 10_000)), wall="require")
    assert young.direction == 0  # held 10 s: not a wall yet
    no_layer = signal(None, wall="require")
    assert no_layer.direction == 0 and "no liquidity layer" in no_layer.reason


def test_prefer_picks_the_walled_target_and_falls_back_without_walls() -> None:
    walled = signal(layer_with(WallPlan("bid", NEAR, NOW - 120_000)), wall="prefer")
    assert walled.cluster is not None and walled.cluster.price_level == pytest.approx(NEAR, rel=1e-3)
    plain = signal(None)
    for layer in (layer_with(), None):
        fallback = signal(layer, wall="prefer")
        assert (fallback.cluster, fallback.reason) == (plain.cluster, plain.reason)


def test_wall_pct_bounds_the_distance_to_the_level() -> None:
    layer = layer_with(WallPlan("bid", NEAR * 0.996, NOW - 120_000))  # 0.4 % under the cluster
    assert signal(layer, wall="require", wall_pct=0.3).direction == 0
    assert signal(layer, wall="require", wall_pct=0.5).direction == -1


def test_facing_wall_side_follows_the_target_side() -> None:
    layer = layer_with(WallPlan("ask", 101.0, NOW - 120_000), WallPlan("bid", NEAR, NOW - 120_000))
    tracker = layer.walls("BTCUSDT")
    assert tracker is not None
    walls = tracker.active()
    config = HunterConfig(wall="require")
    short_target = type("T", (), {"side": "short", "price_level": 101.05, "strength": 1.0})()
    long_target = type("T", (), {"side": "long", "price_level": 101.05, "strength": 1.0})()
    found = facing_wall(short_target, walls, config)
    assert found is not None and found.side == "ask"
    assert facing_wall(long_target, walls, config) is None


def test_a_wall_option_without_the_order_book_is_refused() -> None:
    check_wall_option(HunterConfig(), orderbook_enabled=False)
    check_wall_option(HunterConfig(wall="prefer"), orderbook_enabled=True)
    with pytest.raises(ConfigError, match=r"hunter\.wall"):
        check_wall_option(HunterConfig(wall="require"), orderbook_enabled=False)
    with pytest.raises(ConfigError, match="wall"):
        HunterConfig.from_mapping({"wall": "maybe"})
    assert HunterConfig.from_mapping({"wall": False}).wall == "off"  # YAML's unquoted off
