"""Walls: price bins holding far more resting notional than their neighbours, for long enough to count, and how
each one ended (``filled`` or ``pulled``).

The rule (docs/LIQUIDITY.md, "Depth over time and walls"), per side and per sample:

* the bins are the global 0.05 % log-price bins of :mod:`~live_heatmap.orderbook.depth_history`; the WINDOW is
  ``+-window_fraction`` (2 %) of the mid; a bin QUALIFIES when its notional >= ``max(k * median, floor)``, the
  median taken over the side's non-empty bins in the window (``k = 5``);
* a qualifying bin is a CANDIDATE from its first qualifying sample; it becomes a WALL once it is ``min_age_ms``
  (30 s) old, qualifies in the sample and qualified in >= ``presence`` (90 %) of the samples of the last
  ``min_age_ms``; a candidate whose
  trailing presence drops below that is forgotten;
* a wall ENDS when its trailing presence drops below ``presence`` (a few samples after it went); its end time is
  the first sample that missed it after its last qualifying one, and it is ``filled`` when the trades inside its
  bin (``trade``: aggTrade price and quantity) during its life reached >= ``filled_share`` (50 %) of its last
  notional, else ``pulled``.

Decisions where the rule is silent:

* a wall that moves one bin ends (``pulled`` unless traded) and its new bin starts as a new candidate: L2 data
  cannot tell a moved order from a pulled one and a new one;
* a sample where a tracked bin is outside the window (the mid moved away) counts neither as present nor as
  absent; a wall unobserved for longer than ``min_age_ms`` is dropped without a label (it is not listed as
  ended: nobody saw it filled or pulled), counted in :attr:`WallTracker.unobserved`;
* a bin the mid moves through changes side: the old side's wall ends there (usually ``filled``: it traded).

No "smart money", iceberg or "institutional flow" label: L2 data cannot show them. Pure: time passed in.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from live_heatmap.orderbook.depth_history import SIDES, BookSide, BookView, bin_notional, bin_of, bin_price, book_mid

__all__ = ["Wall", "WallEvent", "WallTracker"]

WallState = Literal["active", "filled", "pulled"]


@dataclass(frozen=True, slots=True)
class Wall:
    """A wall as last seen (quote prices, quote notional)."""

    symbol: str
    side: BookSide
    price: float
    """Notional-weighted mean price of the bin's levels at the last qualifying sample."""
    price_low: float
    price_high: float
    notional: float
    """The bin's notional at the last qualifying sample."""
    first_seen_ms: int
    last_seen_ms: int
    state: WallState
    traded: float
    """Quote notional traded inside the bin since the wall was first seen."""
    ended_ms: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {"symbol": self.symbol, "side": self.side, "price": self.price, "price_low": self.price_low,
                "price_high": self.price_high, "notional": self.notional, "first_seen_ms": self.first_seen_ms,
                "last_seen_ms": self.last_seen_ms, "state": self.state, "traded": self.traded,
                "ended_ms": self.ended_ms}


@dataclass(frozen=True, slots=True)
class WallEvent:
    """A wall appeared (``kind="new"``, the wall active) or ended (``"filled"`` / ``"pulled"``)."""

    kind: Literal["new", "filled", "pulled"]
    wall: Wall


@dataclass(slots=True)
class _Track:
    side: BookSide
    bin: int
    first_seen_ms: int
    last_seen_ms: int
    last_observed_ms: int
    notional: float
    price: float
    traded: float = 0.0
    is_wall: bool = False
    marks: deque[tuple[int, bool]] = field(default_factory=deque)
    """(sample time, qualified) of the observed samples of the last ``min_age_ms``."""


class WallTracker:
    """The walls of one symbol (module docstring)."""

    def __init__(self, symbol: str, *, k: float = 5.0, floor: float = 100_000.0, window_fraction: float = 0.02,
                 presence: float = 0.9, min_age_ms: int = 30_000, filled_share: float = 0.5,
                 bin_width: float = 0.0005, keep_ended: int = 500) -> None:
        for name, value in (("k", k), ("floor", floor), ("window_fraction", window_fraction),
                            ("presence", presence), ("filled_share", filled_share)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"WallTracker: {name} must be a non-negative number, got {value!r}")
        if not (0 < presence <= 1 and 0 < window_fraction < 1 and min_age_ms > 0):
            raise ValueError("WallTracker: need 0 < presence <= 1, 0 < window_fraction < 1, min_age_ms > 0")
        bin_of([1.0], bin_width)  # checks bin_width
        self.symbol = symbol
        self.k = k
        self.floor = floor
        self.window_fraction = window_fraction
        self.presence = presence
        self.min_age_ms = min_age_ms
        self.filled_share = filled_share
        self.bin_width = bin_width
        self.unobserved = 0
        """Walls dropped without a label because their bin stayed outside the window."""
        self._tracks: dict[tuple[BookSide, int], _Track] = {}
        self._ended: deque[Wall] = deque(maxlen=keep_ended)

    def _wall(self, track: _Track, state: WallState, ended_ms: int | None = None) -> Wall:
        low, high = bin_price([track.bin, track.bin + 1], self.bin_width)
        return Wall(self.symbol, track.side, track.price, float(low), float(high), track.notional,
                    track.first_seen_ms, track.last_seen_ms, state, track.traded, ended_ms)

    def _present_share(self, track: _Track) -> float:
        return sum(1 for _, hit in track.marks if hit) / len(track.marks) if track.marks else 0.0

    def sample(self, book: BookView, at_ms: int) -> list[WallEvent]:
        """Update the walls with ``book`` at ``at_ms``; returns the walls that appeared or ended. A book without
        a mid is an unobserved sample for every tracked bin."""
        mid = book_mid(book)
        events: list[WallEvent] = []
        seen: set[tuple[BookSide, int]] = set()
        if mid is not None:
            low_bin = int(bin_of([mid * (1 - self.window_fraction)], self.bin_width)[0])
            high_bin = int(bin_of([mid * (1 + self.window_fraction)], self.bin_width)[0])
            mid_bin = int(bin_of([mid], self.bin_width)[0])
            for side in SIDES:
                bins, notional, price = bin_notional(book, side, mid, self.window_fraction, self.bin_width)
                threshold = max(self.k * float(np.median(notional)), self.floor) if notional.size else math.inf
                qualified = {int(b): (float(n), float(p)) for b, n, p in zip(bins, notional, price, strict=True)
                             if n >= threshold}
                for b, (n, p) in qualified.items():
                    key = (side, b)
                    track = self._tracks.get(key)
                    if track is None:
                        track = self._tracks[key] = _Track(side, b, at_ms, at_ms, at_ms, n, p)
                    track.last_seen_ms, track.notional, track.price = at_ms, n, p
                    track.last_observed_ms = at_ms
                    track.marks.append((at_ms, True))
                    seen.add(key)
                # Tracked bins of this side inside the window that did not qualify: absent samples. A bin on the
                # far side of the mid is gone from this side (the price went through it).
                for key, track in self._tracks.items():
                    if key[0] != side or key in seen:
                        continue
                    beyond = track.bin > mid_bin if side == "bid" else track.bin < mid_bin
                    if low_bin < track.bin < high_bin or beyond:
                        track.marks.append((at_ms, False))
                        track.last_observed_ms = at_ms
        for key, track in list(self._tracks.items()):
            while track.marks and track.marks[0][0] <= at_ms - self.min_age_ms:
                track.marks.popleft()
            share = self._present_share(track)
            if track.is_wall:
                if not track.marks and at_ms - track.last_observed_ms > self.min_age_ms:
                    del self._tracks[key]
                    self.unobserved += 1
                elif track.marks and share < self.presence:
                    del self._tracks[key]
                    state: Literal["filled", "pulled"] = ("filled" if track.traded >= self.filled_share * track.notional
                                        else "pulled")
                    gone_ms = min((t for t, _ in track.marks if t > track.last_seen_ms), default=at_ms)
                    wall = self._wall(track, state, gone_ms)
                    self._ended.append(wall)
                    events.append(WallEvent(state, wall))
            elif (track.marks and share < self.presence) or (
                    not track.marks and at_ms - track.last_observed_ms > self.min_age_ms):
                del self._tracks[key]
            elif at_ms - track.first_seen_ms >= self.min_age_ms and track.last_seen_ms == at_ms:
                track.is_wall = True
                events.append(WallEvent("new", self._wall(track, "active")))
        return events

    def trade(self, price: float, quantity: float, at_ms: int) -> None:
        """A trade (aggTrade): its notional counts for every tracked bin holding its price. ``at_ms`` is the
        trade's time (kept for the interface; a trade counts for the walls tracked when it arrives)."""
        del at_ms
        if not (math.isfinite(price) and price > 0 and math.isfinite(quantity) and quantity > 0):
            return
        b = int(bin_of([price], self.bin_width)[0])
        for side in SIDES:
            track = self._tracks.get((side, b))
            if track is not None:
                track.traded += price * quantity

    def active(self) -> list[Wall]:
        """The walls now, heaviest first."""
        walls = [self._wall(t, "active") for t in self._tracks.values() if t.is_wall]
        return sorted(walls, key=lambda w: -w.notional)

    def ended(self, since_ms: int) -> list[Wall]:
        """The walls that ended at or after ``since_ms``, latest first (the last ``keep_ended`` kept)."""
        return sorted((w for w in self._ended if w.ended_ms is not None and w.ended_ms >= since_ms),
                      key=lambda w: -(w.ended_ms or 0))
