"""How much of Binance's REST weight the order-book layer's snapshots use (issue 15): pure arithmetic, so the config
can refuse a setting before anything runs.

``GET /fapi/v1/depth`` is weighted by ``limit`` (Binance's table): 2 for up to 50 levels, 5 for 100, 10 for 500,
20 for 1000 (:func:`depth_weight`). Two modes ask for it:

* ``stream``: one snapshot per symbol to synchronise the book, then one per resync. The busiest minute is the
  start (every symbol once); a resync is rare on a healthy connection. Counted: the start, plus
  ``resyncs_per_minute`` per symbol (1 by default: a generous bound, the real rate is shown in ``status``).
* ``rest`` (the cheap mode, no stream): one snapshot per symbol every ``interval_seconds`` (the first minute
  holds ``ceil(60 / interval_seconds)`` rounds). 10 symbols every 10 s at 1000 levels: 1,200 weight a minute,
  exactly the 50 % share.

The limit and the share left to the bot's other calls are the estimated layer's
(:data:`~live_heatmap.estimated.budget.BINANCE_WEIGHT_PER_MINUTE`, 2,400 a minute: the conservative figure;
:data:`~live_heatmap.estimated.budget.DEFAULT_SHARE`, 50 %): one budget for both layers, :func:`combined_ok` checks
the two together.

Bybit's books (``venue="bybit"``, stream only) cost no REST weight at all: Bybit's ``orderbook.200`` stream sends
its own snapshots (on subscribe, and after a resync's re-subscribe); the budget is 0 and its line says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from live_heatmap.estimated.budget import BINANCE_WEIGHT_PER_MINUTE, DEFAULT_SHARE

__all__ = ["DEPTH_LIMITS", "DepthBudget", "combined_ok", "depth_budget", "depth_weight"]

DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
"""The ``limit`` values ``GET /fapi/v1/depth`` accepts."""


def depth_weight(limit: int) -> int:
    """Binance's weight of one ``GET /fapi/v1/depth`` with ``limit`` levels (2/5/10/20 for <=50/100/500/1000)."""
    if limit not in DEPTH_LIMITS:
        raise ValueError(f"depth limit: one of {', '.join(map(str, DEPTH_LIMITS))}, got {limit!r}")
    if limit <= 50:
        return 2
    if limit <= 100:
        return 5
    return 10 if limit <= 500 else 20


@dataclass(frozen=True, slots=True)
class DepthBudget:
    """The order-book layer's REST weight for ``symbols`` symbols (module docstring)."""

    mode: Literal["stream", "rest"]
    symbols: int
    limit: int
    interval_seconds: float | None
    """``rest``: seconds between two snapshots of a symbol (None in ``stream`` mode)."""
    per_minute: float
    """Steady state, all symbols."""
    first_minute: float
    weight_limit: int = BINANCE_WEIGHT_PER_MINUTE
    share: float = DEFAULT_SHARE
    venue: Literal["binance", "bybit"] = "binance"
    """Whose books: Bybit's come with their snapshots in the stream (0 weight)."""

    @property
    def allowed(self) -> float:
        return self.weight_limit * self.share

    @property
    def ok(self) -> bool:
        return self.first_minute <= self.allowed

    def line(self) -> str:
        """One line naming the numbers."""
        if self.venue == "bybit":
            return (f"{self.symbols} symbols on Bybit's orderbook.200 stream (snapshots come in the stream) = 0 "
                    f"weight/minute of Binance's {self.weight_limit}")
        how = (f"a {self.limit}-level snapshot every {self.interval_seconds:g} s" if self.mode == "rest"
               else f"a {self.limit}-level snapshot at start and per resync")
        return (f"{self.symbols} symbols, {how} ({depth_weight(self.limit)} weight each) = {self.per_minute:.1f} "
                f"weight/minute; first minute {self.first_minute:.0f} of Binance's {self.weight_limit} weight/minute "
                f"(allowed: {self.share:.0%} = {self.allowed:.0f})")

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "venue": self.venue, "symbols": self.symbols, "limit": self.limit,
                "interval_seconds": self.interval_seconds,
                "weight_per_request": 0 if self.venue == "bybit" else depth_weight(self.limit),
                "weight_per_minute": round(self.per_minute, 2), "first_minute_weight": round(self.first_minute, 2),
                "limit_per_minute": self.weight_limit, "allowed_share": self.share, "line": self.line()}


def depth_budget(symbols: int, *, mode: Literal["stream", "rest"], limit: int = 1000,
                 interval_seconds: float | None = None, resyncs_per_minute: float = 1.0,
                 share: float = DEFAULT_SHARE, weight_limit: int = BINANCE_WEIGHT_PER_MINUTE,
                 venue: Literal["binance", "bybit"] = "binance") -> DepthBudget:
    """The weight of ``symbols`` books of ``venue`` kept in ``mode`` (module docstring)."""
    if symbols < 0:
        raise ValueError("symbols >= 0 is needed")
    if venue == "bybit":
        if mode != "stream":
            raise ValueError("bybit's books are kept in stream mode only")
        return DepthBudget(mode, symbols, limit, None, 0.0, 0.0, weight_limit, share, venue)
    weight = depth_weight(limit)
    if mode == "rest":
        if interval_seconds is None or interval_seconds <= 0:
            raise ValueError("rest mode needs interval_seconds > 0")
        per_minute = symbols * weight * 60.0 / interval_seconds
        first = symbols * weight * math.ceil(60.0 / interval_seconds - 1e-9)  # rounds at 0, interval, ... < 60 s
        return DepthBudget(mode, symbols, limit, interval_seconds, per_minute, first, weight_limit, share)
    per_minute = symbols * weight * resyncs_per_minute
    return DepthBudget(mode, symbols, limit, None, per_minute, symbols * weight + per_minute, weight_limit, share)


def combined_ok(first_minutes: list[float], *, share: float = DEFAULT_SHARE,
                weight_limit: int = BINANCE_WEIGHT_PER_MINUTE) -> bool:
    """Whether the layers' busiest minutes together stay within ``share`` of the limit."""
    return sum(first_minutes) <= weight_limit * share
