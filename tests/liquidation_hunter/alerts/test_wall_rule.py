"""The wall rule (issue 16 over issue 15's liquidity layer): a wall pulled near a liquidation cluster alerts once;
a wall pulled far from every cluster, or filled, does not. A real LiquidityLayer fed synthetic books, a real heatmap
and its statistics; the rule is added like any later layer's, the hub and sender untouched."""

from __future__ import annotations

from helpers import NOW, event, heatmap_with
from liquidity_books import WallPlan, fed_layer

from liquidation_hunter.alerts import WallPulledRule
from live_heatmap.stats import ClusterBaseline, SymbolStatistics

START = NOW - 120_000
GONE = NOW - 40_000
WALLS = [WallPlan("bid", 99.0, START, GONE), WallPlan("ask", 101.5, START, GONE),
         WallPlan("bid", 98.9, START, GONE, filled=True)]


def test_a_wall_pulled_near_a_cluster_alerts_once_and_others_do_not() -> None:
    heatmap = heatmap_with([event(90.0 + 0.01 * i, 1.0, age_min=1) for i in range(12)]
                           + [event(99.05, 400.0, age_min=m) for m in range(1, 9)])
    heatmap.update_price("BTCUSDT", 100.0, timestamp_ms=NOW)
    statistics = SymbolStatistics(heatmap, ClusterBaseline())
    clusters = statistics.clusters("BTCUSDT", NOW)
    assert any(abs(c.cluster.price_level - 99.05) < 0.1 for c in clusters)
    layer = fed_layer("BTCUSDT", 100.0, WALLS, START, NOW - 60_000)
    rule = WallPulledRule(layer.walls_ended, lambda _now: clusters, pct=0.3)
    assert rule.evaluate(NOW - 60_000) == []  # the walls stand
    fed_layer("BTCUSDT", 100.0, WALLS, NOW - 59_000, NOW, layer=layer)
    ended = {(w.side, round(w.price, 1), w.state) for w in layer.walls_ended(START)}
    assert ended == {("bid", 99.0, "pulled"), ("ask", 101.5, "pulled"), ("bid", 98.9, "filled")}
    [alert] = rule.evaluate(NOW)
    assert (alert.rule, alert.kind, alert.symbol) == ("wall_pulled", "wall_pulled", "BTCUSDT")
    assert alert.data["side"] == "bid" and abs(alert.data["price"] - 99.0) < 0.05
    assert abs(alert.data["cluster_price_level"] - 99.05) < 0.1 and "pulled" in alert.text
    assert rule.evaluate(NOW + 5_000) == []  # each wall looked at once
