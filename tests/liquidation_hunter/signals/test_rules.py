"""The hunter's rule pinned at its edges: which candidate wins, the inclusive band and strength edges, the
exits, and the config's refusals. Each test names the behaviour a trader relies on; the numbers are worked
out in the comments from the rule as docs/INTERNALS.md states it ("The hunter's rule")."""

from __future__ import annotations

import pytest
from helpers import cluster

from liquidation_hunter import HunterConfig, Signal, magnet_rule
from liquidation_hunter.signals.rules import place_exits
from live_heatmap import ConfigError, LiquidationCluster

DEFAULT = HunterConfig()
# With the defaults (preferred 1.5 %, band 0.2..5 %) proximity falls by 0.5 over the farther side's reach,
# max(1.5 - 0.2, 5 - 1.5) = 3.5 points: 1 at 1.5 %, 0.5 at 5 %, 1 - 0.5 * 1.3 / 3.5 = 0.81428... at 0.2 %.
LOOSE = HunterConfig(min_strength=0.1)


def pick(clusters: list[LiquidationCluster], price: float = 100.0,
         config: HunterConfig = DEFAULT) -> tuple[int, float | None, str]:
    direction, chosen, reason = magnet_rule(clusters, price, config)
    return direction, (chosen.price_level if chosen is not None else None), reason


# --- a rejected candidate never hides the ones after it

@pytest.mark.parametrize(("first", "why"), [
    (cluster("long", 102.0, 0.95), "long liquidations above the price: already traded through"),
    (cluster("short", 97.0, 0.95), "short liquidations below the price: already traded through"),
    (cluster("long", 98.0, 0.5), "below min_strength"),
    (cluster("long", 99.9, 0.95), "inside min_distance_pct"),
    (cluster("long", 90.0, 0.95), "beyond max_distance_pct"),
])
def test_a_rejected_cluster_does_not_stop_the_search(first: LiquidationCluster, why: str) -> None:
    assert pick([first, cluster("long", 98.5, 0.7)])[:2] == (-1, 98.5), why


def test_a_disallowed_direction_does_not_stop_the_search() -> None:
    shorts_above_only_long = [cluster("short", 101.5, 0.95), cluster("long", 98.5, 0.7)]
    assert pick(shorts_above_only_long, config=HunterConfig(allow_long=False))[:2] == (-1, 98.5)
    longs_below_only_short = [cluster("long", 98.5, 0.95), cluster("short", 101.5, 0.7)]
    assert pick(longs_below_only_short, config=HunterConfig(allow_short=False))[:2] == (1, 101.5)
    assert pick(longs_below_only_short, config=HunterConfig(allow_short=False, allow_long=False))[0] == 0


# --- which candidate wins: strength * proximity

def test_proximity_is_half_at_the_farther_edge() -> None:
    # 0.40 at the preferred 1.5 % scores 0.40; at the 5 % edge proximity is 0.5, so 0.81 scores 0.405 and
    # wins, 0.79 scores 0.395 and loses.
    near = cluster("long", 98.5, 0.40)
    assert pick([near, cluster("short", 105.0, 0.81)], config=LOOSE)[:2] == (1, 105.0)
    assert pick([near, cluster("short", 105.0, 0.79)], config=LOOSE)[:2] == (-1, 98.5)


def test_proximity_at_the_nearer_edge_falls_at_the_farther_sides_rate() -> None:
    # At 0.2 % proximity is 1 - 0.5 * 1.3 / 3.5 = 0.8142857: 0.62 scores 0.5049 and beats 0.50 at 1.5 %;
    # 0.61 scores 0.4967 and loses. (Falling to 0.5 at the nearer edge would need strength 1.0.)
    preferred = cluster("long", 98.5, 0.50)
    assert pick([preferred, cluster("short", 100.2, 0.62)], config=LOOSE)[:2] == (1, 100.2)
    assert pick([preferred, cluster("short", 100.2, 0.61)], config=LOOSE)[:2] == (-1, 98.5)


def test_proximity_in_the_middle_of_the_far_side() -> None:
    # At 3.25 % (1.75 points past 1.5 %) proximity is 1 - 0.5 * 1.75 / 3.5 = 0.75: 0.80 scores 0.600.
    # Against 0.605 at 1.5 % (score 0.605) it loses; against 0.595 (0.595) it wins.
    far = cluster("short", 103.25, 0.80)
    assert pick([far, cluster("long", 98.5, 0.605)], config=LOOSE)[:2] == (-1, 98.5)
    assert pick([far, cluster("long", 98.5, 0.595)], config=LOOSE)[:2] == (1, 103.25)


def test_equal_distances_either_side_of_preferred_score_alike_and_notional_breaks_the_tie() -> None:
    # 1.0 % and 2.0 % are both 0.5 points from 1.5 %: equal proximity, equal strength -> larger notional wins
    light, heavy = cluster("long", 99.0, 0.8, notional=1e4), cluster("short", 102.0, 0.8, notional=2e4)
    assert pick([light, heavy])[:2] == (1, 102.0)
    assert pick([heavy, light])[:2] == (1, 102.0)
    heavy_below = cluster("long", 99.0, 0.8, notional=3e4)
    assert pick([heavy, heavy_below])[:2] == (-1, 99.0)


def test_proximity_when_the_nearer_side_is_the_longer_one() -> None:
    # band 0.5..5 %, preferred 4 %: the reach is max(4 - 0.5, 5 - 4) = 3.5 points, so at 0.5 % proximity is
    # 0.5 and at 5 % it is 1 - 0.5 * 1 / 3.5 = 0.857. 0.5 at 4 % (score 0.5) against 0.58 at 5 % (0.497):
    # the 4 % one wins; against 0.59 (0.5057) the 5 % one does.
    config = HunterConfig(min_strength=0.1, min_distance_pct=0.5, preferred_distance_pct=4.0, max_distance_pct=5.0)
    preferred = cluster("long", 96.0, 0.5)
    assert pick([preferred, cluster("short", 105.0, 0.58)], config=config)[:2] == (-1, 96.0)
    assert pick([preferred, cluster("short", 105.0, 0.59)], config=config)[:2] == (1, 105.0)
    # at the 0.5 % edge proximity is 0.5: 0.99 scores 0.495 and loses to 0.5 at 4 %
    assert pick([preferred, cluster("short", 100.5, 0.99)], config=config)[:2] == (-1, 96.0)


def test_a_full_tie_goes_to_the_cluster_listed_first() -> None:
    below, above = cluster("long", 98.5, 0.8), cluster("short", 101.5, 0.8)
    assert pick([below, above])[:2] == (-1, 98.5)
    assert pick([above, below])[:2] == (1, 101.5)


def test_the_pick_is_the_best_of_many_whatever_their_order() -> None:
    clusters = [cluster("long", 99.5, 0.7), cluster("long", 98.5, 0.9), cluster("short", 104.0, 0.95),
                cluster("short", 101.0, 0.85)]
    # scores: 0.5 %: 0.7 * (1 - 0.5/3.5) = 0.6; 1.5 %: 0.9; 4 %: 0.95 * (1 - 0.5 * 2.5 / 3.5) = 0.6107;
    # 1 %: 0.85 * (1 - 0.25/3.5) = 0.789
    for shift in range(4):
        assert pick(clusters[shift:] + clusters[:shift])[:2] == (-1, 98.5)


# --- inclusive edges

def test_min_strength_is_inclusive() -> None:
    assert pick([cluster("long", 98.5, 0.6)])[:2] == (-1, 98.5)
    assert pick([cluster("long", 98.5, 0.5999)])[0] == 0


@pytest.mark.parametrize(("price", "level", "direction"), [
    (100.0, 95.0, -1),  # 5 % below, exactly the far edge (5 / 100 * 100 == 5.0 in floating point)
    (100.0, 105.0, 1),  # 5 % above
    (1000.0, 998.0, -1),  # 0.2 % below, exactly the near edge
    (1000.0, 1002.0, 1),  # 0.2 % above
])
def test_the_distance_band_is_inclusive_at_both_edges(price: float, level: float, direction: int) -> None:
    side = "long" if direction < 0 else "short"
    assert pick([cluster(side, level, 0.9, price=price)], price=price)[:2] == (direction, level)


@pytest.mark.parametrize(("price", "level"), [(100.0, 94.99), (100.0, 105.01), (1000.0, 998.01),
                                              (1000.0, 1001.99)])
def test_just_outside_the_band_is_out(price: float, level: float) -> None:
    side = "long" if level < price else "short"
    assert pick([cluster(side, level, 0.9, price=price)], price=price)[0] == 0


def test_a_cluster_at_the_price_is_no_target() -> None:
    tight = HunterConfig(min_distance_pct=0.0, preferred_distance_pct=0.0)
    assert pick([cluster("long", 100.0, 0.9), cluster("short", 100.0, 0.9)], config=tight)[0] == 0


# --- reasons

def test_the_reason_says_what_is_targeted_and_where() -> None:
    assert pick([cluster("long", 98.5, 0.9)])[2] == "long liquidations below at 98.5"
    assert pick([cluster("short", 101.23456789, 0.9)])[2] == "short liquidations above at 101.23457"
    assert pick([])[2] == "no cluster in the band at or above min_strength"


# --- exits

@pytest.mark.parametrize(("direction", "entry", "level", "fraction_rr", "stop_take"), [
    # long toward shorts at 110: take 100 + 10 * 0.8 = 108, stop 100 - 8 / 2 = 96
    (1, 100.0, 110.0, (0.8, 2.0), (96.0, 108.0)),
    # short toward longs at 90: take 100 - 10 * 0.8 = 92, stop 100 + 8 / 2 = 104
    (-1, 100.0, 90.0, (0.8, 2.0), (104.0, 92.0)),
    # take the whole way, risk as much as the reward: take 120, stop 80
    (1, 100.0, 120.0, (1.0, 1.0), (80.0, 120.0)),
    # a quarter of the way, reward 4x the risk: take 0.5 - 0.1 * 0.25 = 0.475, stop 0.5 + 0.025 / 4
    (-1, 0.5, 0.4, (0.25, 4.0), (0.50625, 0.475)),
])
def test_exits_sit_short_of_the_cluster_and_the_stop_on_the_other_side(
        direction: int, entry: float, level: float, fraction_rr: tuple[float, float],
        stop_take: tuple[float, float]) -> None:
    config = HunterConfig(take_profit_fraction=fraction_rr[0], reward_to_risk=fraction_rr[1])
    stop, take = place_exits(direction, entry, level, config)
    assert (stop, take) == (pytest.approx(stop_take[0], rel=1e-12), pytest.approx(stop_take[1], rel=1e-12))


def test_signal_side_and_tuple() -> None:
    found = cluster("short", 101.5, 0.9)
    buy = Signal("BTC/USDT:USDT", 1, 0.9, found, 100.0, 99.0, 101.2, "r", 1)
    assert buy.side == "buy" and buy.as_tuple() == (1, 0.9, found)
    assert Signal("BTC/USDT:USDT", -1, 0.9, None, 100.0, 101.0, 99.0, "r", 1).side == "sell"
    assert Signal("BTC/USDT:USDT", 0, 0.0, None, None, None, None, "r", 1).side is None


# --- the config refuses what would break the rule

@pytest.mark.parametrize(("values", "key"), [
    ({"take_profit_fraction": 0.0}, "take_profit_fraction"),  # 0: the take-profit is the entry
    ({"take_profit_fraction": -0.5}, "take_profit_fraction"),
    ({"take_profit_fraction": 1.01}, "take_profit_fraction"),
    ({"take_profit_fraction": "0.8"}, "take_profit_fraction"),
    ({"take_profit_fraction": True}, "take_profit_fraction"),
    ({"take_profit_fraction": float("nan")}, "take_profit_fraction"),
    ({"reward_to_risk": 0.0}, "reward_to_risk"),  # 0 divides by zero in place_exits
    ({"reward_to_risk": -1.0}, "reward_to_risk"),
    ({"reward_to_risk": "2"}, "reward_to_risk"),
    ({"reward_to_risk": float("inf")}, "reward_to_risk"),
    ({"min_strength": 1.01}, "min_strength"),
    ({"min_strength": -0.01}, "min_strength"),
    ({"min_strength": "0.6"}, "min_strength"),
    ({"min_strength": False}, "min_strength"),
    ({"min_distance_pct": -0.1}, "min_distance_pct"),
    ({"max_distance_pct": "5"}, "max_distance_pct"),
    ({"preferred_distance_pct": float("nan")}, "preferred_distance_pct"),
    ({"min_distance_pct": 5.0, "max_distance_pct": 5.0, "preferred_distance_pct": 5.0}, "max_distance_pct"),
    ({"preferred_distance_pct": 0.1}, "preferred_distance_pct"),
    ({"preferred_distance_pct": 5.1}, "preferred_distance_pct"),
    ({"allow_long": 1}, "allow_long"),
    ({"allow_short": "yes"}, "allow_short"),
])
def test_the_config_refuses_values_that_break_the_rule(values: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}: expected .*, got "):
        HunterConfig(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("values", [
    {"take_profit_fraction": 1.0, "reward_to_risk": 0.01},
    {"min_strength": 0.0}, {"min_strength": 1.0}, {"min_strength": 1},
    {"min_distance_pct": 0.0, "preferred_distance_pct": 0.0},
    {"preferred_distance_pct": 0.2}, {"preferred_distance_pct": 5.0},
    {"allow_long": False, "allow_short": False},
])
def test_the_config_accepts_its_edges(values: dict[str, object]) -> None:
    config = HunterConfig(**values)  # type: ignore[arg-type]
    for key, value in values.items():
        assert getattr(config, key) == value


def test_config_errors_name_the_expectation() -> None:
    with pytest.raises(ConfigError, match=r"^max_distance_pct: expected more than min_distance_pct \(3\.0\), "
                                          r"got 2\.0$"):
        HunterConfig(min_distance_pct=3.0, max_distance_pct=2.0, preferred_distance_pct=2.5)
    with pytest.raises(ConfigError, match=r"^preferred_distance_pct: expected within \[0\.2, 5\.0\], got 6\.0$"):
        HunterConfig(preferred_distance_pct=6.0)
    with pytest.raises(ConfigError, match=r"^min_strength: expected a number in \[0, 1\], got 2$"):
        HunterConfig(min_strength=2)
    with pytest.raises(ConfigError, match=r"^min_distance_pct: expected a number >= 0 \(percent\), got -1$"):
        HunterConfig(min_distance_pct=-1)
    with pytest.raises(ConfigError, match=r"^take_profit_fraction: expected a number in \(0, 1\], got 0$"):
        HunterConfig(take_profit_fraction=0)
    with pytest.raises(ConfigError, match=r"^reward_to_risk: expected a number > 0, got 0$"):
        HunterConfig(reward_to_risk=0)
    with pytest.raises(ConfigError, match=r"^allow_long: expected true or false, got 'no'$"):
        HunterConfig(allow_long="no")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^allow_short: expected true or false, got 0$"):
        HunterConfig(allow_short=0)  # type: ignore[arg-type]


def test_config_from_a_yaml_section_names_unknown_keys() -> None:
    assert HunterConfig.from_mapping({"min_strength": 0.7}).min_strength == 0.7
    with pytest.raises(ConfigError, match="hunter"):
        HunterConfig.from_mapping({"min_strenght": 0.7})
