"""The hunter's targets on estimated levels (issue 14): ``estimated`` trades toward the layer's zones with the
magnet rule's band and direction; ``agree`` keeps an observed cluster only when an estimated zone of its side
agrees; without the layer (or its levels) both say so and signal nothing."""

from __future__ import annotations

import pytest
from helpers import NOW, event, heatmap_with

from liquidation_hunter import HunterConfig, LiquidationHunter
from liquidation_hunter.bot.risk import entry_client_id
from liquidation_hunter.signals.rules import check_estimated_target, place_exits
from live_heatmap import ConfigError
from live_heatmap.estimated.bars import Bar
from live_heatmap.estimated.layer import EstimatedLayer, EstimatedZone

BAR_MS = 300_000
T0 = NOW - 48 * BAR_MS
PRICE = 100.0


def bar(i: int, oi: float, close: float = PRICE) -> Bar:
    """A 5-minute bar at a flat price whose open interest grows: positions open around ``close``."""
    return Bar(T0 + i * BAR_MS, T0 + (i + 1) * BAR_MS - 1, close + 0.5, close - 0.5, close, 50.0, 50.0 * close,
               30.0, 30.0 * close, oi)


def fed_layer(bars: int = 48) -> EstimatedLayer:
    layer = EstimatedLayer()
    for i in range(bars):
        layer.update("BTCUSDT", bar(i, 1_000.0 + 10.0 * i))
    return layer


def hunter(layer: EstimatedLayer | None, **config: object) -> LiquidationHunter:
    return LiquidationHunter(HunterConfig.from_mapping({"target": "estimated", **config}), heatmap_with([]),
                             estimated=layer)


def candidates(layer: EstimatedLayer, config: HunterConfig) -> list[EstimatedZone]:
    """The zones the rule may pick: strong enough, on the side that is ahead, in the band."""
    out = []
    for z in layer.zones("BTCUSDT", PRICE):
        ahead = z.price_level < PRICE if z.side == "long" else z.price_level > PRICE
        if ahead and z.strength >= config.min_estimated_strength and \
                config.min_distance_pct <= z.distance_from_price <= config.max_distance_pct:
            out.append(z)
    return out


def test_long_levels_below_are_shorted_toward_and_short_levels_above_bought_toward() -> None:
    layer = fed_layer()
    assert {z.side for z in layer.zones("BTCUSDT", PRICE)} == {"long", "short"}  # the layer has both sides
    down = hunter(layer, allow_long=False).evaluate("BTC/USDT:USDT", PRICE, now_ms=NOW)
    assert down.direction == -1 and down.zone is not None and down.cluster is None
    assert down.zone.side == "long" and down.zone.price_level < PRICE and down.level == down.zone.price_level
    up = hunter(layer, allow_short=False).evaluate("BTC/USDT:USDT", PRICE, now_ms=NOW)
    assert up.direction == 1 and up.zone is not None and up.zone.side == "short" and up.zone.price_level > PRICE
    assert "estimated short levels above at" in up.reason
    assert "brackets of 2025-12-25" in up.reason and "not validated" in up.reason


def test_only_zones_in_the_band_and_strong_enough_are_targets() -> None:
    layer = fed_layer()
    config = HunterConfig(target="estimated", min_distance_pct=0.2, preferred_distance_pct=1.5,
                          max_distance_pct=2.0, min_estimated_strength=0.5)
    allowed = candidates(layer, config)
    assert len(allowed) == 1  # the synthetic layer has one such zone, the others are farther or weaker
    sig = hunter(layer, **{k: getattr(config, k) for k in ("min_distance_pct", "preferred_distance_pct",
                                                          "max_distance_pct", "min_estimated_strength")}
                 ).evaluate("BTCUSDT", PRICE, now_ms=NOW)
    assert sig.zone == allowed[0]
    # exits as the magnet rule places them: take-profit 0.8 of the way to the level, stop at half that distance
    level = allowed[0].price_level
    take = PRICE + (level - PRICE) * 0.8
    assert (sig.take_profit, sig.stop_loss) == pytest.approx((take, PRICE - sig.direction * abs(take - PRICE) / 2))
    assert (sig.stop_loss, sig.take_profit) == place_exits(sig.direction, PRICE, level, config)
    nothing = hunter(layer, min_distance_pct=4.0, preferred_distance_pct=4.5, max_distance_pct=5.0,
                     min_estimated_strength=0.5).evaluate("BTCUSDT", PRICE, now_ms=NOW)
    assert not candidates(layer, HunterConfig(min_distance_pct=4.0, preferred_distance_pct=4.5, max_distance_pct=5.0,
                                              min_estimated_strength=0.5))
    assert nothing.direction == 0 and nothing.zone is None and "no estimated zone in the band" in nothing.reason


def test_the_idea_is_named_by_the_zone_and_its_bar_stable_until_the_next_bar() -> None:
    layer = fed_layer()
    h = hunter(layer, allow_long=False)
    first = h.evaluate("BTCUSDT", PRICE, now_ms=NOW)
    again = h.evaluate("BTCUSDT", PRICE, now_ms=NOW + 60_000)
    assert first.origin == again.origin and str(T0 + 48 * BAR_MS - 1) in first.origin
    assert entry_client_id(first, "liquidation_magnet") == entry_client_id(again, "liquidation_magnet")
    layer.update("BTCUSDT", bar(48, 1_480.0))
    later = h.evaluate("BTCUSDT", PRICE, now_ms=NOW + BAR_MS)
    assert later.direction == -1 and later.origin != first.origin
    assert entry_client_id(later, "liquidation_magnet") != entry_client_id(first, "liquidation_magnet")


@pytest.mark.parametrize("target", ["estimated", "agree"])
def test_without_the_layer_or_its_levels_the_signal_is_nothing_and_says_why(target: str) -> None:
    no_layer = LiquidationHunter(HunterConfig(target=target), heatmap_with([])).evaluate("BTCUSDT", PRICE, now_ms=NOW)  # type: ignore[arg-type]
    assert no_layer.direction == 0 and f"target {target}: no estimated layer" in no_layer.reason
    empty = LiquidationHunter(HunterConfig(target=target), heatmap_with([]),  # type: ignore[arg-type]
                              estimated=EstimatedLayer()).evaluate("ETHUSDT", PRICE, now_ms=NOW)
    assert empty.direction == 0 and "no estimated levels for ETHUSDT" in empty.reason


def _agree_hunter(layer: EstimatedLayer, cluster_at: float, agree_pct: float) -> LiquidationHunter:
    events = [event(cluster_at + i * 0.001, 200) for i in range(10)]  # longs liquidated below the price
    return LiquidationHunter(HunterConfig(target="agree", agree_pct=agree_pct, min_estimated_strength=0.5),
                             heatmap_with(events), estimated=layer)


def test_agree_keeps_the_observed_pick_only_when_an_estimated_zone_of_its_side_is_near() -> None:
    layer = fed_layer()
    near = min((z for z in layer.zones("BTCUSDT", PRICE) if z.side == "long" and z.strength >= 0.5
                and 1.0 < z.distance_from_price < 5.0), key=lambda z: z.distance_from_price)
    observed = LiquidationHunter(heatmap=heatmap_with([event(near.price_level + i * 0.001, 200) for i in range(10)]))
    plain = observed.evaluate("BTCUSDT", PRICE, now_ms=NOW)
    assert plain.direction == -1 and plain.cluster is not None
    gap = abs(near.price_level - plain.cluster.price_level) / plain.cluster.price_level * 100
    kept = _agree_hunter(layer, near.price_level, agree_pct=gap + 0.05).evaluate("BTCUSDT", PRICE, now_ms=NOW)
    assert kept.direction == -1 and kept.zone == near and kept.cluster == plain.cluster
    assert (kept.stop_loss, kept.take_profit) == (plain.stop_loss, plain.take_profit)  # the cluster's trade
    assert "agree" in kept.reason and "not validated" in kept.reason
    # the same cluster 1 % away from every strong long zone: dropped
    far = near.price_level * 1.01
    assert all(abs(z.price_level - far) / far * 100 > 0.3 for z in layer.zones("BTCUSDT", PRICE)
               if z.side == "long" and z.strength >= 0.5)
    dropped = _agree_hunter(layer, far, agree_pct=0.3).evaluate("BTCUSDT", PRICE, now_ms=NOW)
    assert dropped.direction == 0 and "no estimated long zone within 0.3%" in dropped.reason


def test_target_estimated_or_agree_needs_the_estimated_layer_on() -> None:
    check_estimated_target(HunterConfig(), estimated_enabled=False)  # observed: nothing needed
    check_estimated_target(HunterConfig(target="agree"), estimated_enabled=True)
    with pytest.raises(ConfigError, match=r"hunter\.target"):
        check_estimated_target(HunterConfig(target="estimated"), estimated_enabled=False)
    with pytest.raises(ConfigError, match="target"):
        HunterConfig.from_mapping({"target": "guessed"})
