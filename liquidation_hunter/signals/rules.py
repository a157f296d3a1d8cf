"""Signal rules: clusters + price -> a :class:`Signal`. Pure functions, time passed in.

The default rule, ``magnet`` (README, "The hunter's rule"):

* a cluster of **long** liquidations **below** the price is a target to go
  **short** toward (signal -1); a cluster of **short** liquidations **above**
  is a target to go **long** toward (+1). Clusters on the other side of the
  price (already traded through) are ignored;
* candidates need ``strength >= min_strength`` and a distance within
  ``[min_distance_pct, max_distance_pct]``;
* the pick maximises ``strength * proximity``, where proximity falls linearly
  from 1 at ``preferred_distance_pct`` to 0.5 at the farther band edge (both
  sides fall at the same rate, so at the nearer edge it is above 0.5); ties go
  to the larger weighted notional;
* take-profit sits ``take_profit_fraction`` of the way from the entry to the
  cluster (short of it), stop-loss on the other side at
  ``|take_profit - entry| / reward_to_risk``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from live_heatmap import ConfigError, LiquidationCluster
from live_heatmap.config import section_from_mapping

__all__ = ["HunterConfig", "Rule", "Signal", "magnet_rule", "place_exits"]


@dataclass(frozen=True, slots=True)
class HunterConfig:
    """Parameters of the hunter's rule (README, "The hunter's rule")."""

    min_strength: float = 0.6
    min_distance_pct: float = 0.2
    max_distance_pct: float = 5.0
    preferred_distance_pct: float = 1.5
    take_profit_fraction: float = 0.8
    reward_to_risk: float = 2.0
    allow_long: bool = True
    allow_short: bool = True

    def __post_init__(self) -> None:
        def check(cond: bool, key: str, expected: str) -> None:
            if not cond:
                raise ConfigError(f"{key}: expected {expected}, got {getattr(self, key)!r}")

        check(_num(self.min_strength) and 0.0 <= self.min_strength <= 1.0, "min_strength", "a number in [0, 1]")
        for key in ("min_distance_pct", "max_distance_pct", "preferred_distance_pct"):
            check(_num(getattr(self, key)) and getattr(self, key) >= 0.0, key, "a percentage >= 0")
        check(self.min_distance_pct < self.max_distance_pct, "max_distance_pct",
              f"more than min_distance_pct ({self.min_distance_pct})")
        check(self.min_distance_pct <= self.preferred_distance_pct <= self.max_distance_pct,
              "preferred_distance_pct", f"within [{self.min_distance_pct}, {self.max_distance_pct}]")
        check(_num(self.take_profit_fraction) and 0.0 < self.take_profit_fraction <= 1.0,
              "take_profit_fraction", "a fraction in (0, 1]")
        check(_num(self.reward_to_risk) and self.reward_to_risk > 0.0, "reward_to_risk", "a positive number")
        check(isinstance(self.allow_long, bool), "allow_long", "true or false")
        check(isinstance(self.allow_short, bool), "allow_short", "true or false")

    @classmethod
    def from_mapping(cls, values: dict[str, Any], where: str = "hunter") -> HunterConfig:
        """Build from a YAML section; unknown keys are rejected with their path."""
        return section_from_mapping(cls, values, where)


def _num(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True, slots=True)
class Signal:
    """A trade idea. ``direction`` is +1 (long), -1 (short) or 0 (nothing to do)."""

    symbol: str
    """Unified ccxt symbol (``BTC/USDT:USDT``)."""
    direction: int
    strength: float
    cluster: LiquidationCluster | None
    entry: float | None
    stop_loss: float | None
    take_profit: float | None
    reason: str
    generated_at: int
    origin: str = ""
    """What the idea is, stable across calls and restarts (e.g. a cascade's first event time); with the
    cluster's id it makes the entry's client order id. Empty: the cluster id, else ``generated_at``."""

    @property
    def side(self) -> str | None:
        """``"buy"``, ``"sell"`` or None: the order side that opens the trade."""
        return {1: "buy", -1: "sell"}.get(self.direction)

    def as_tuple(self) -> tuple[int, float, LiquidationCluster | None]:
        """The guide's ``(signal, strength, cluster)``."""
        return self.direction, self.strength, self.cluster


#: A rule picks a direction and cluster: (clusters, price, config) -> (direction, cluster, reason).
Rule = Callable[[Sequence[LiquidationCluster], float, HunterConfig], tuple[int, LiquidationCluster | None, str]]


def _direction(cluster: LiquidationCluster, price: float) -> int:
    if cluster.side == "long" and cluster.price_level < price:
        return -1
    if cluster.side == "short" and cluster.price_level > price:
        return 1
    return 0


def _proximity(distance: float, config: HunterConfig) -> float:
    pref = config.preferred_distance_pct
    reach = max(pref - config.min_distance_pct, config.max_distance_pct - pref)
    return 1.0 - 0.5 * abs(distance - pref) / reach


def magnet_rule(clusters: Sequence[LiquidationCluster], price: float,
                config: HunterConfig) -> tuple[int, LiquidationCluster | None, str]:
    """The default rule (module docstring). A full tie (score and weighted notional) goes to the cluster
    listed first."""
    allowed = {1: config.allow_long, -1: config.allow_short}
    best_key: tuple[float, float] | None = None
    best: tuple[LiquidationCluster, int] | None = None
    for cluster in clusters:
        if cluster.strength < config.min_strength:
            continue
        direction = _direction(cluster, price)
        if not allowed.get(direction):  # direction 0: behind the price
            continue
        distance = abs(cluster.price_level - price) / price * 100.0
        if not config.min_distance_pct <= distance <= config.max_distance_pct:
            continue
        key = (cluster.strength * _proximity(distance, config), cluster.weighted_notional)
        if best_key is None or key > best_key:
            best_key, best = key, (cluster, direction)
    if best is None:
        return 0, None, "no cluster in the band at or above min_strength"
    cluster, direction = best
    target = "long liquidations below" if cluster.side == "long" else "short liquidations above"
    return direction, cluster, f"{target} at {cluster.price_level:.8g}"


def place_exits(direction: int, entry: float, level: float, config: HunterConfig) -> tuple[float, float]:
    """(stop_loss, take_profit) for a trade from ``entry`` toward a cluster at ``level``."""
    take_profit = entry + (level - entry) * config.take_profit_fraction
    stop_loss = entry - direction * abs(take_profit - entry) / config.reward_to_risk
    return stop_loss, take_profit
