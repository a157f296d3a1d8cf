"""Insights of the unified view (docs/LIQUIDITY.md, "The unified view"): pure rules over plain inputs, no clock,
no network, nothing of ``liquidation_hunter``.

* **Key levels** -- where layers coincide: an order-book wall with an observed cluster and/or an estimated zone
  within ``near_pct`` percent of the wall's price; where no wall is near, an observed cluster with an estimated
  zone of the same side within ``near_pct`` of it. Each key level lists the layers it joins (``wall``,
  ``observed``, ``estimated``); the levels with more layers come first, then the nearer to the price.
* **Risk level** -- how much liquidation interest sits near the price against the depth that would absorb it.
  The inputs are the strongest observed cluster within ``risk_pct`` percent of the price (its ``strength`` and
  notional) and the resting depth within ``risk_pct`` on the side that cluster's liquidations trade into (long
  liquidations are market sells: the bids; short liquidations are market buys: the asks):

  - ``unknown``: no price for the symbol;
  - ``low``: no observed cluster of ``strength >= strong`` within ``risk_pct`` of the price;
  - ``medium``: such a cluster, and either no depth is known (no liquidity layer) or the depth it trades into is
    more than ``1 / thin_ratio`` times its notional;
  - ``high``: such a cluster whose notional is at least ``thin_ratio`` times the depth it trades into (the book
    is thin against it).

  It is a reading of the present book and of past liquidations, not a forecast.
* **Warnings** -- what makes the answer less complete: no liquidity layer kept, the book not synced (resyncing)
  or no depth sampled for the symbol, a venue's stream down, the estimated layer kept but not validated.

Nothing here invents a layer: a missing input yields no key level from it and, for the liquidity layer, a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Caveat", "InsightRules", "Level", "insights", "key_levels", "risk_level", "warnings"]

Layer = Literal["wall", "observed", "estimated"]


@dataclass(frozen=True, slots=True)
class Level:
    """A price level of one layer: a wall (side ``bid``/``ask``), an observed cluster or an estimated zone (side
    ``long``/``short``). ``strength`` 0..1 (walls: 1), ``notional`` in quote currency."""

    layer: Layer
    side: str
    price: float
    notional: float
    strength: float = 1.0
    state: str | None = None
    """Walls: ``active``, ``filled`` or ``pulled``."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"layer": self.layer, "side": self.side, "price": self.price,
                               "notional": self.notional, "strength": self.strength}
        if self.state is not None:
            out["state"] = self.state
        return out


@dataclass(frozen=True, slots=True)
class Caveat:
    """One reason the answer is less complete: a stable ``code`` and a sentence."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class InsightRules:
    """The rules' settings (module docstring)."""

    near_pct: float = 0.3
    """Layers within this percent of each other coincide (a key level)."""
    risk_pct: float = 1.0
    """The risk level reads clusters and depth within this percent of the price."""
    strong: float = 0.6
    """A cluster at or above this strength counts for the risk level."""
    thin_ratio: float = 0.25
    """``high`` when the cluster's notional is at least this share of the depth it trades into."""


def _gap_pct(a: float, b: float) -> float:
    return abs(a - b) / b * 100.0


def key_levels(price: float | None, walls: Sequence[Level], clusters: Sequence[Level], zones: Sequence[Level],
               rules: InsightRules = InsightRules()) -> list[dict[str, Any]]:
    """Where layers coincide (module docstring): each ``{price, layers, distance_pct, wall, observed,
    estimated}``; ``wall`` is the anchoring wall (None for a cluster-and-zone level), ``observed`` and
    ``estimated`` the clusters and zones near it."""
    out: list[dict[str, Any]] = []
    used: set[int] = set()
    for wall in walls:
        near_c = [c for c in clusters if _gap_pct(c.price, wall.price) <= rules.near_pct]
        near_z = [z for z in zones if _gap_pct(z.price, wall.price) <= rules.near_pct]
        if not near_c and not near_z:
            continue
        used.update(id(c) for c in near_c)
        out.append(_level(wall.price, price, wall, near_c, near_z))
    for cluster in clusters:
        if id(cluster) in used:
            continue
        near_z = [z for z in zones if z.side == cluster.side and _gap_pct(z.price, cluster.price) <= rules.near_pct]
        if near_z:
            out.append(_level(cluster.price, price, None, [cluster], near_z))
    out.sort(key=lambda k: (-len(k["layers"]), k["distance_pct"] if k["distance_pct"] is not None else 0.0))
    return out


def _level(at: float, price: float | None, wall: Level | None, clusters: Sequence[Level], zones: Sequence[Level]
           ) -> dict[str, Any]:
    layers = [name for name, present in (("wall", wall is not None), ("observed", bool(clusters)),
                                          ("estimated", bool(zones))) if present]
    return {"price": at, "layers": layers, "distance_pct": None if price is None else (at - price) / price * 100.0,
            "wall": None if wall is None else wall.to_dict(), "observed": [c.to_dict() for c in clusters],
            "estimated": [z.to_dict() for z in zones]}


def risk_level(price: float | None, clusters: Sequence[Level], depth: dict[str, float] | None,
               rules: InsightRules = InsightRules()) -> dict[str, Any]:
    """The risk level and its inputs (module docstring). ``depth``: the resting notional within ``risk_pct`` of
    the mid, ``{"bid": ..., "ask": ...}`` (None: no liquidity layer or no book)."""
    inputs: dict[str, Any] = {"risk_pct": rules.risk_pct, "strong": rules.strong, "thin_ratio": rules.thin_ratio,
                              "cluster": None, "depth_against": None, "pressure": None}
    if price is None:
        return {"level": "unknown", "reason": "no price for the symbol", "inputs": inputs}
    near = [c for c in clusters if c.strength >= rules.strong and _gap_pct(c.price, price) <= rules.risk_pct]
    if not near:
        return {"level": "low", "reason": f"no observed cluster of strength >= {rules.strong:g} within "
                                          f"{rules.risk_pct:g}% of the price", "inputs": inputs}
    top = max(near, key=lambda c: (c.strength, c.notional))
    inputs["cluster"] = top.to_dict()
    into = "bid" if top.side == "long" else "ask"
    if depth is None or into not in depth:
        return {"level": "medium", "reason": f"a {top.side} cluster (strength {top.strength:.2f}) within "
                                             f"{rules.risk_pct:g}%; no depth known", "inputs": inputs}
    against = float(depth[into])
    pressure = top.notional / against if against > 0 else float("inf")
    inputs["depth_against"] = against
    inputs["pressure"] = pressure if against > 0 else None
    if pressure >= rules.thin_ratio:
        return {"level": "high", "reason": f"a {top.side} cluster of {top.notional:,.0f} within {rules.risk_pct:g}% "
                                           f"against {against:,.0f} of {into}s: the book is thin against it",
                "inputs": inputs}
    return {"level": "medium", "reason": f"a {top.side} cluster of {top.notional:,.0f} within {rules.risk_pct:g}% "
                                         f"against {against:,.0f} of {into}s", "inputs": inputs}


def warnings(*, liquidity_kept: bool, book_state: str | None, depth_known: bool, venues_down: Sequence[str],
             estimated_kept: bool, estimated_validated: bool) -> list[Caveat]:
    """The warnings (module docstring). ``book_state``: the symbol's book (``synced`` when served; None: not
    reported), ``depth_known``: the layer has sampled the symbol's book, ``venues_down``: venues whose stream
    is not connected."""
    out: list[Caveat] = []
    if not liquidity_kept:
        out.append(Caveat("no_liquidity_layer", "no liquidity layer kept (orderbook.enabled: false): no depth, "
                                                 "no walls"))
    else:
        if book_state is not None and book_state != "synced":
            out.append(Caveat("book_not_synced", f"the order book is {book_state}: depth and walls may be stale"))
        if not depth_known:
            out.append(Caveat("no_depth", "the liquidity layer has sampled no book of this symbol yet"))
    out.extend(Caveat("venue_down", f"the {venue} stream is not connected") for venue in venues_down)
    if estimated_kept and not estimated_validated:
        out.append(Caveat("estimated_not_validated", "the estimated layer is a model that no validation run "
                                                      "called validated"))
    return out


def insights(price: float | None, walls: Sequence[Level], clusters: Sequence[Level], zones: Sequence[Level], *,
             depth: dict[str, float] | None, found: Sequence[Caveat], rules: InsightRules = InsightRules()
             ) -> dict[str, Any]:
    """The ``insights`` object of the unified answer: key levels, the risk level, the warnings and the rules."""
    return {"key_levels": key_levels(price, walls, clusters, zones, rules),
            "risk": risk_level(price, clusters, depth, rules),
            "warnings": [w.to_dict() for w in found],
            "rules": {"near_pct": rules.near_pct, "risk_pct": rules.risk_pct, "strong": rules.strong,
                      "thin_ratio": rules.thin_ratio}}
