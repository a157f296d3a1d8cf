"""Signal rules: clusters + price -> a :class:`Signal`. Pure functions, time passed in.

The default rule, ``magnet`` (docs/INTERNALS.md, "The hunter's rule"):

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

``target`` chooses what the hunter trades toward (docs/ESTIMATED.md, "Trading estimated levels"):

* ``observed`` (the default): the ``magnet`` rule over the clusters of observed liquidations;
* ``estimated``: :func:`estimated_rule`, the same band, direction and score over the *estimated* zones
  (:class:`~live_heatmap.estimated.layer.EstimatedZone`: long levels below the price -> short toward them, short
  levels above -> long), zones weaker than ``min_estimated_strength`` left out;
* ``agree``: the ``magnet`` rule's pick, kept only when an estimated zone of the same side (at or above
  ``min_estimated_strength``) lies within ``agree_pct`` percent of the cluster's level (:func:`agreeing_zone`).

``wall`` adds the order book (docs/LIQUIDITY.md, "The unified view"; issue 15). The wall that counts for a target
is an ACTIVE wall on the book side that meets the move at the target (:func:`facing_wall`): a **bid** wall for long
liquidations below the price (the short trade's move down runs into resting buyers there), an **ask** wall for short
liquidations above, within ``wall_pct`` percent of the target's level -- the level where the move is expected to
stop, so the take-profit short of it is more likely reached and not passed:

* ``off`` (the default): walls are not read; nothing changes;
* ``require``: the rule picks among the targets that have such a wall only; none -> no signal;
* ``prefer``: the rule's pick among the targets with such a wall, when it picks one; else its pick among all
  (a walled target wins over a better-scored one without a wall; without walls the signal is the ``off`` one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol, TypeVar

from msgspec import Meta

from live_heatmap import ConfigError, LiquidationCluster
from live_heatmap.common.structs import Settings, convert
from live_heatmap.estimated.layer import EstimatedZone
from live_heatmap.venue import Venue

__all__ = ["TARGETS", "WALL_OPTIONS", "HunterConfig", "Rule", "Signal", "agreeing_zone", "check_estimated_target",
           "check_wall_option", "estimated_rule", "facing_wall", "magnet_rule", "place_exits", "walled", "zone_origin"]

Percent = Annotated[float, Meta(ge=0, description="percent")]
Target = Literal["observed", "estimated", "agree"]
TARGETS: tuple[Target, ...] = ("observed", "estimated", "agree")
WallOption = Literal["off", "prefer", "require"]
WALL_OPTIONS: tuple[WallOption, ...] = ("off", "prefer", "require")


class HunterConfig(Settings, frozen=True):
    """Parameters of the hunter's rule (docs/INTERNALS.md, "The hunter's rule")."""

    min_strength: Annotated[float, Meta(ge=0, le=1)] = 0.6
    min_distance_pct: Percent = 0.2
    max_distance_pct: Percent = 5.0
    preferred_distance_pct: Percent = 1.5
    take_profit_fraction: Annotated[float, Meta(gt=0, le=1)] = 0.8
    reward_to_risk: Annotated[float, Meta(gt=0)] = 2.0
    allow_long: bool = True
    allow_short: bool = True
    exchanges: tuple[Venue, ...] | None = None
    """The venues whose liquidations the hunter reads (``[bybit, okx]``); None: every venue the heatmap holds
    (the configured ones). Clusters are then built from those venues' events only."""
    target: Target = "observed"
    """What to trade toward: ``observed`` clusters, ``estimated`` zones, or an observed cluster an estimated
    zone ``agree`` s with (module docstring). ``estimated``/``agree`` need the estimated layer."""
    agree_pct: Percent = 0.5
    """``agree``: an estimated zone of the cluster's side within this percent of the cluster's level agrees."""
    min_estimated_strength: Annotated[float, Meta(ge=0, le=1)] = 0.5
    """``estimated``/``agree``: zones weaker than this (the zone's notional over the heaviest zone's) are
    left out."""
    wall: WallOption = "off"
    """The order book's walls (module docstring): ``off``, ``prefer`` or ``require`` a wall meeting the move at the
    target. ``prefer``/``require`` need the liquidity layer (``orderbook.enabled``)."""
    wall_pct: Percent = 0.3
    """A wall within this percent of the target's level meets the move there."""

    def check(self) -> None:
        if self.exchanges is not None and not self.exchanges:
            raise ConfigError.wrong("exchanges", f"null or a list of {', '.join(Venue)}", [])
        if self.min_distance_pct >= self.max_distance_pct:
            raise ConfigError.wrong("max_distance_pct", f"more than min_distance_pct ({self.min_distance_pct})",
                                    self.max_distance_pct)
        if not self.min_distance_pct <= self.preferred_distance_pct <= self.max_distance_pct:
            raise ConfigError.wrong("preferred_distance_pct",
                                    f"within [{self.min_distance_pct}, {self.max_distance_pct}]",
                                    self.preferred_distance_pct)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None, where: str | None = "hunter") -> HunterConfig:
        """From a YAML section; unknown keys and bad values raise :class:`ConfigError` naming the key. ``wall: off``
        unquoted (YAML reads it as false) is ``off``."""
        if values is not None and values.get("wall") is False:
            values = {**values, "wall": "off"}
        return convert(cls, values, where)


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
    zone: EstimatedZone | None = None
    """The estimated zone traded toward (target ``estimated``), or the one that agreed (target ``agree``)."""

    @property
    def level(self) -> float | None:
        """The price level traded toward: the cluster's, else the estimated zone's; None without either."""
        if self.cluster is not None:
            return self.cluster.price_level
        return self.zone.price_level if self.zone is not None else None

    @property
    def side(self) -> str | None:
        """``"buy"``, ``"sell"`` or None: the order side that opens the trade."""
        return {1: "buy", -1: "sell"}.get(self.direction)

    def as_tuple(self) -> tuple[int, float, LiquidationCluster | None]:
        """The guide's ``(signal, strength, cluster)``."""
        return self.direction, self.strength, self.cluster


#: A rule picks a direction and cluster: (clusters, price, config) -> (direction, cluster, reason).
Rule = Callable[[Sequence[LiquidationCluster], float, HunterConfig], tuple[int, LiquidationCluster | None, str]]


class _Target(Protocol):
    """What the rules read of a target: an observed cluster or an estimated zone."""

    @property
    def side(self) -> str: ...
    @property
    def price_level(self) -> float: ...
    @property
    def strength(self) -> float: ...


_T = TypeVar("_T", bound=_Target)


def _direction(target: _Target, price: float) -> int:
    """-1 toward long liquidations below the price, +1 toward short ones above, 0 for a target behind it."""
    if target.side == "long" and target.price_level < price:
        return -1
    if target.side == "short" and target.price_level > price:
        return 1
    return 0


def _best(targets: Sequence[_T], price: float, config: HunterConfig, min_strength: float,
          weight: Callable[[_T], float]) -> tuple[_T, int] | None:
    """The magnet rule's pick among ``targets`` (module docstring): strong enough, ahead of the price in an allowed
    direction, within the band; the largest ``strength * proximity``, then the larger ``weight``, then the first
    listed."""
    allowed = {1: config.allow_long, -1: config.allow_short}
    best_key: tuple[float, float] | None = None
    best: tuple[_T, int] | None = None
    for target in targets:
        if target.strength < min_strength:
            continue
        direction = _direction(target, price)
        if not allowed.get(direction):  # direction 0: behind the price
            continue
        distance = abs(target.price_level - price) / price * 100.0
        if not config.min_distance_pct <= distance <= config.max_distance_pct:
            continue
        key = (target.strength * _proximity(distance, config), weight(target))
        if best_key is None or key > best_key:
            best_key, best = key, (target, direction)
    return best


def _proximity(distance: float, config: HunterConfig) -> float:
    pref = config.preferred_distance_pct
    reach = max(pref - config.min_distance_pct, config.max_distance_pct - pref)
    return 1.0 - 0.5 * abs(distance - pref) / reach


def magnet_rule(clusters: Sequence[LiquidationCluster], price: float,
                config: HunterConfig) -> tuple[int, LiquidationCluster | None, str]:
    """The default rule (module docstring). A full tie (score and weighted notional) goes to the cluster
    listed first."""
    best = _best(clusters, price, config, config.min_strength, lambda c: c.weighted_notional)
    if best is None:
        return 0, None, "no cluster in the band at or above min_strength"
    cluster, direction = best
    target = "long liquidations below" if cluster.side == "long" else "short liquidations above"
    return direction, cluster, f"{target} at {cluster.price_level:.8g}"


def estimated_rule(found: Sequence[EstimatedZone], price: float,
                   config: HunterConfig) -> tuple[int, EstimatedZone | None, str]:
    """Target ``estimated`` (module docstring): the magnet rule's band, direction and score over estimated zones
    at or above ``min_estimated_strength``; ties go to the larger notional, then the zone listed first. The
    reason names the side and level; the caller adds the bracket table's date and the validation."""
    best = _best(found, price, config, config.min_estimated_strength, lambda z: z.notional)
    if best is None:
        return 0, None, "no estimated zone in the band at or above min_estimated_strength"
    zone, direction = best
    return direction, zone, f"estimated {zone.side} levels {'below' if zone.side == 'long' else 'above'} at " \
                            f"{zone.price_level:,.8g}"


def agreeing_zone(cluster: LiquidationCluster, found: Sequence[EstimatedZone],
                  config: HunterConfig) -> EstimatedZone | None:
    """Target ``agree``: the estimated zone of the cluster's side, at or above ``min_estimated_strength``, nearest
    the cluster's level and within ``agree_pct`` percent of it; None when none agrees."""
    best: tuple[float, EstimatedZone] | None = None
    for zone in found:
        if zone.side != cluster.side or zone.strength < config.min_estimated_strength:
            continue
        gap = abs(zone.price_level - cluster.price_level) / cluster.price_level * 100.0
        if gap <= config.agree_pct and (best is None or gap < best[0]):
            best = (gap, zone)
    return None if best is None else best[1]


def zone_origin(zone: EstimatedZone, bar_close_ms: int | None) -> str:
    """A stable name of the idea "trade toward this zone as of this bar" for the entry's client order id: the
    side, the level rounded to 5 significant digits and the close time of the bar the levels are from."""
    return f"est:{zone.side}:{zone.price_level:.5g}:{bar_close_ms if bar_close_ms is not None else ''}"


def check_estimated_target(config: HunterConfig, estimated_enabled: bool) -> None:
    """Target ``estimated`` or ``agree`` needs the estimated layer: raises :class:`ConfigError` naming
    ``hunter.target`` when the layer is off (``estimated.enabled: false``)."""
    if config.target != "observed" and not estimated_enabled:
        raise ConfigError.wrong("hunter.target", "observed while estimated.enabled is false (estimated and agree "
                                "read the estimated layer)", config.target)


class WallLike(Protocol):
    """What the hunter reads of a wall (:class:`~live_heatmap.orderbook.walls.Wall`)."""

    @property
    def side(self) -> str: ...
    @property
    def price(self) -> float: ...
    @property
    def notional(self) -> float: ...


_W = TypeVar("_W", bound=WallLike)


def facing_wall(target: _Target, walls: Sequence[_W], config: HunterConfig) -> _W | None:
    """The wall that meets the move at ``target`` (module docstring): of side ``bid`` for long liquidations,
    ``ask`` for short ones, within ``wall_pct`` percent of the target's level; the nearest, then the larger; None
    when there is none."""
    side = "bid" if target.side == "long" else "ask"
    best: tuple[float, float, _W] | None = None
    for wall in walls:
        if wall.side != side:
            continue
        gap = abs(wall.price - target.price_level) / target.price_level * 100.0
        if gap <= config.wall_pct and (best is None or (gap, -wall.notional) < best[:2]):
            best = (gap, -wall.notional, wall)
    return None if best is None else best[2]


def walled(targets: Sequence[_T], walls: Sequence[WallLike], config: HunterConfig) -> list[_T]:
    """The targets a wall meets the move at (:func:`facing_wall`), in their order."""
    return [t for t in targets if facing_wall(t, walls, config) is not None]


def check_wall_option(config: HunterConfig, orderbook_enabled: bool) -> None:
    """``wall: prefer|require`` reads the liquidity layer: raises :class:`ConfigError` naming ``hunter.wall`` when
    the order book is off (``orderbook.enabled: false``)."""
    if config.wall != "off" and not orderbook_enabled:
        raise ConfigError.wrong("hunter.wall", "off while orderbook.enabled is false (prefer and require read the "
                                "order book's walls)", config.wall)


def place_exits(direction: int, entry: float, level: float, config: HunterConfig) -> tuple[float, float]:
    """(stop_loss, take_profit) for a trade from ``entry`` toward a cluster at ``level``."""
    take_profit = entry + (level - entry) * config.take_profit_fraction
    stop_loss = entry - direction * abs(take_profit - entry) / config.reward_to_risk
    return stop_loss, take_profit
