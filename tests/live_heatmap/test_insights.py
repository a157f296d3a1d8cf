"""The unified view's insight rules (live_heatmap/insights.py) on plain inputs: key levels where layers coincide,
the risk level from cluster strength near the price against the depth it trades into, and the warnings."""

from __future__ import annotations

from live_heatmap.insights import Caveat, InsightRules, Level, insights, key_levels, risk_level, warnings

PRICE = 100_000.0


def wall(price: float, side: str = "bid") -> Level:
    return Level("wall", side, price, 5e6, state="active")


def cluster(price: float, side: str = "long", strength: float = 0.9, notional: float = 1e6) -> Level:
    return Level("observed", side, price, notional, strength)


def zone(price: float, side: str = "long", strength: float = 0.8) -> Level:
    return Level("estimated", side, price, 2e7, strength)


def test_a_wall_near_a_cluster_and_a_zone_is_one_key_level_of_three_layers() -> None:
    levels = key_levels(PRICE, [wall(99_000.0)], [cluster(99_100.0)], [zone(98_950.0)], InsightRules(near_pct=0.3))
    assert len(levels) == 1
    assert levels[0]["layers"] == ["wall", "observed", "estimated"]
    assert levels[0]["price"] == 99_000.0 and round(levels[0]["distance_pct"], 6) == -1.0


def test_layers_farther_apart_than_near_pct_do_not_coincide() -> None:
    assert key_levels(PRICE, [wall(99_000.0)], [cluster(99_500.0)], [zone(98_000.0)], InsightRules(near_pct=0.3)) == []


def test_a_cluster_and_a_zone_of_the_same_side_coincide_without_a_wall_and_rank_after_three_layers() -> None:
    levels = key_levels(PRICE, [wall(101_000.0, "ask")], [cluster(98_000.0), cluster(101_100.0, "short")],
                        [zone(98_050.0), zone(98_010.0, "short"), zone(101_050.0, "short")])
    assert [k["layers"] for k in levels] == [["wall", "observed", "estimated"], ["observed", "estimated"]]
    assert [z["side"] for z in levels[1]["estimated"]] == ["long"]  # the short zone is not the long cluster's


def test_risk_low_without_a_strong_cluster_near_the_price() -> None:
    far = [cluster(95_000.0), cluster(99_900.0, strength=0.3)]
    assert risk_level(PRICE, far, {"bid": 1e9, "ask": 1e9})["level"] == "low"


def test_risk_medium_without_depth_and_high_when_the_book_is_thin_against_the_cluster() -> None:
    near = [cluster(99_500.0, "long", notional=2e6)]
    assert risk_level(PRICE, near, None)["level"] == "medium"
    deep = risk_level(PRICE, near, {"bid": 1e8, "ask": 1.0})  # long liquidations sell into the bids
    assert deep["level"] == "medium" and deep["inputs"]["depth_against"] == 1e8
    thin = risk_level(PRICE, near, {"bid": 4e6, "ask": 1e9}, InsightRules(thin_ratio=0.25))
    assert thin["level"] == "high" and thin["inputs"]["pressure"] == 0.5


def test_risk_unknown_without_a_price() -> None:
    assert risk_level(None, [cluster(99_500.0)], None)["level"] == "unknown"


def test_warnings_name_each_missing_or_doubtful_layer() -> None:
    codes = [w.code for w in warnings(liquidity_kept=False, book_state=None, depth_known=False,
                                      venues_down=["bybit"], estimated_kept=True, estimated_validated=False)]
    assert codes == ["no_liquidity_layer", "venue_down", "estimated_not_validated"]
    codes = [w.code for w in warnings(liquidity_kept=True, book_state="resyncing", depth_known=False,
                                      venues_down=[], estimated_kept=False, estimated_validated=False)]
    assert codes == ["book_not_synced", "no_depth"]
    assert warnings(liquidity_kept=True, book_state="synced", depth_known=True, venues_down=[],
                    estimated_kept=True, estimated_validated=True) == []


def test_insights_carries_its_rules_and_the_warnings() -> None:
    out = insights(PRICE, [], [], [], depth=None, found=[Caveat("x", "y")], rules=InsightRules(near_pct=0.5))
    assert out["rules"]["near_pct"] == 0.5 and out["warnings"] == [{"code": "x", "message": "y"}]
    assert out["key_levels"] == [] and out["risk"]["level"] == "low"
