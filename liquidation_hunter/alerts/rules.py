"""The rules: objects with one method, ``evaluate(now_ms) -> list[Alert]``, each built with what it reads.

They are registered in one list (:class:`~.hub.AlertHub`'s ``rules``), so a later layer (a wall pulled near a
cluster) adds a rule by appending an object with ``name`` and ``evaluate``: the hub applies the cooldown and
queues what it returns; the sender never knows which rule raised an alert.

* :class:`ClusterRule`: a cluster whose ``risk_level`` is at or above the configured one, or whose ``z_score`` is
  at least the configured one (the statistics' :class:`ClusterStatsLike`; cooldown per cluster id);
* :class:`CascadeRule`: one symbol's liquidation notional within the last ``window`` above a threshold;
* :class:`BotEventsRule`: the bot's own events (entry, exit, halt, drawdown halt, flatten), fed by the bot with
  :meth:`BotEventsRule.feed` and handed on at the next evaluation (the bot evaluates it at once);
* :class:`StreamDownRule`: the stream, or one venue, disconnected longer than N seconds (once per outage);
* :class:`WallPulledRule` (the liquidity layer's, issue 15: added by appending it, the sender untouched): an
  order-book wall pulled (gone without the trades to fill it) within ``pct`` percent of a liquidation cluster.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from liquidation_hunter.alerts.model import Alert
from live_heatmap.stats.risk import RISK_LEVELS, RiskLevel, at_least

__all__ = ["BotEventsRule", "CascadeRule", "ClusterLike", "ClusterRule", "ClusterStatsLike", "ClustersOf", "Rule",
           "StreamDownRule", "VenueDown", "WallLike", "WallPulledRule", "WallsEnded"]


class Rule(Protocol):
    """What the hub runs: a name (the cooldown's first part, and ``rule`` in the outbox) and one method."""

    name: str

    def evaluate(self, now_ms: int) -> list[Alert]: ...


class ClusterLike(Protocol):
    """What the cluster rule reads of a cluster (``live_heatmap.LiquidationCluster``)."""

    @property
    def cluster_id(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def price_level(self) -> float: ...
    @property
    def weighted_notional(self) -> float: ...


class ClusterStatsLike(Protocol):
    """A cluster with its statistics (the statistics' ``ClusterStats``): ``z_score`` against its symbol's own
    history and its ``risk_level``, both None while the symbol's history is too short."""

    @property
    def cluster(self) -> ClusterLike: ...
    @property
    def z_score(self) -> float | None: ...
    @property
    def risk_level(self) -> str | None: ...


ClustersOf = Callable[[int], Iterable[ClusterStatsLike]]
"""Every symbol's clusters with their statistics at ``now_ms``."""


class ClusterRule:
    """A cluster at or above ``risk_level`` (``extreme`` > ``high`` > ``moderate`` > ``low``), or with a z-score of
    at least ``z_score`` when set. A cluster without statistics (a short history: None) never alerts: nothing is
    invented. The cooldown is per cluster id (a cluster keeps its id while its earliest event is in the window)."""

    name = "cluster"

    def __init__(self, clusters: ClustersOf, *, risk_level: RiskLevel = "high", z_score: float | None = None) -> None:
        if risk_level not in RISK_LEVELS:
            raise ValueError(f"risk_level: expected one of {', '.join(RISK_LEVELS)}, got {risk_level!r}")
        self._clusters = clusters
        self.risk_level = risk_level
        self.z_score = z_score

    def matches(self, stats: ClusterStatsLike) -> bool:
        level = stats.risk_level
        if level in RISK_LEVELS and at_least(level, self.risk_level):
            return True
        return self.z_score is not None and stats.z_score is not None and stats.z_score >= self.z_score

    def evaluate(self, now_ms: int) -> list[Alert]:
        out = []
        for stats in self._clusters(now_ms):
            if not self.matches(stats):
                continue
            c = stats.cluster
            z = "-" if stats.z_score is None else f"{stats.z_score:.2f}"
            out.append(Alert(
                rule=self.name, kind="cluster_risk", symbol=c.symbol, time=now_ms, cooldown_key=c.cluster_id,
                text=f"{c.symbol}: {stats.risk_level or 'unrated'} {c.side} liquidation cluster at {c.price_level:.6g}"
                     f" (z {z}, {c.weighted_notional:,.0f} USDT weighted)",
                data={"cluster_id": c.cluster_id, "side": str(c.side), "price_level": c.price_level,
                      "weighted_notional": c.weighted_notional, "z_score": stats.z_score,
                      "risk_level": stats.risk_level}))
        return out


class CascadeRule:
    """One symbol's liquidations summing ``notional`` USDT or more within the last ``window_ms``: ``notional_in``
    answers, for a window, the notional by symbol. One alert per symbol per cooldown (the hub's)."""

    name = "cascade"

    def __init__(self, notional_in: Callable[[int, int], Mapping[str, float]], *, window_ms: int,
                 notional: float) -> None:
        self._notional_in = notional_in
        self.window_ms = window_ms
        self.notional = notional

    def evaluate(self, now_ms: int) -> list[Alert]:
        out = []
        for symbol, total in sorted(self._notional_in(now_ms - self.window_ms, now_ms).items()):
            if total >= self.notional:
                out.append(Alert(
                    rule=self.name, kind="cascade", symbol=symbol, time=now_ms,
                    text=f"{symbol}: liquidation cascade, {total:,.0f} USDT in {self.window_ms / 1000:g} s",
                    data={"notional": total, "window_s": self.window_ms / 1000, "threshold": self.notional}))
        return out


class BotEventsRule:
    """The bot's own events: :meth:`feed` (from any thread: the jobs, the stream's mark prices) keeps them, the
    next :meth:`evaluate` hands them on. Kinds not in ``kinds`` are ignored. Each event is its own alert (a
    cooldown key of its own: two exits of one symbol are two alerts)."""

    name = "bot_events"

    def __init__(self, kinds: Sequence[str]) -> None:
        self.kinds = frozenset(kinds)
        self._pending: list[Alert] = []
        self._lock = threading.Lock()
        self._seq = 0

    def feed(self, kind: str, symbol: str | None, text: str, at_ms: int, *, data: Mapping[str, Any] | None = None,
             key: str = "") -> None:
        """Keep an event for the next evaluation. ``key`` identifies it (a position's client id): the same event
        fed twice is one alert."""
        if kind not in self.kinds:
            return
        with self._lock:
            self._seq += 1
            self._pending.append(Alert(rule=self.name, kind=kind, symbol=symbol, time=at_ms, text=text,
                                       data=dict(data or {}), cooldown_key=f"{kind}:{key or self._seq}"))

    def evaluate(self, now_ms: int) -> list[Alert]:
        with self._lock:
            out, self._pending = self._pending, []
        return out


class VenueDown(Protocol):
    """How long each venue's stream has been down (``{"binance": 0.0, "bybit": 130.0}``, seconds)."""

    def __call__(self, now_ms: int) -> Mapping[str, float]: ...


class StreamDownRule:
    """A venue's stream (or the one stream) disconnected for ``seconds`` or longer: one alert per outage (the
    outage's start is its cooldown key), and none again until it has come back."""

    name = "stream_down"

    def __init__(self, down_seconds: VenueDown, *, seconds: float) -> None:
        self._down = down_seconds
        self.seconds = seconds
        self._reported: dict[str, int] = {}

    def evaluate(self, now_ms: int) -> list[Alert]:
        out = []
        down = self._down(now_ms)
        for venue in list(self._reported):
            if down.get(venue, 0.0) <= 0.0:
                del self._reported[venue]  # back up: the next outage alerts again
        for venue, seconds in sorted(down.items()):
            if seconds < self.seconds or venue in self._reported:
                continue
            began = now_ms - int(seconds * 1000)
            self._reported[venue] = began
            out.append(Alert(rule=self.name, kind="stream_down", symbol=None, time=now_ms,
                             cooldown_key=f"{venue}:{began}",
                             text=f"{venue} stream down for {seconds:.0f} s",
                             data={"venue": venue, "down_s": seconds}))
        return out


class WallLike(Protocol):
    """What the wall rule reads of an ended wall (``live_heatmap.orderbook.walls.Wall``)."""

    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def price(self) -> float: ...
    @property
    def price_low(self) -> float: ...
    @property
    def notional(self) -> float: ...
    @property
    def state(self) -> str: ...
    @property
    def ended_ms(self) -> int | None: ...


WallsEnded = Callable[[int], Iterable[WallLike]]
"""The order-book walls that ended since ``since_ms`` (every symbol's)."""


class WallPulledRule:
    """A wall of the order book that was PULLED (it went without trades filling half of it: someone took the
    liquidity away) within ``pct`` percent of a liquidation cluster of its symbol, the clusters the statistics
    kept (``clusters``). ``walls_ended(since_ms)`` gives the walls that ended since a moment (the liquidity layer's
    ``WallTracker.ended`` of every symbol); each is looked at once. One alert per wall (its side, bin and end)."""

    name = "wall_pulled"

    def __init__(self, walls_ended: WallsEnded, clusters: ClustersOf, *,
                 pct: float) -> None:
        self._walls_ended = walls_ended
        self._clusters = clusters
        self.pct = pct
        self._seen_ms: int | None = None

    def evaluate(self, now_ms: int) -> list[Alert]:
        since = self._seen_ms if self._seen_ms is not None else now_ms
        self._seen_ms = now_ms
        pulled = [w for w in self._walls_ended(since) if w.state == "pulled" and (w.ended_ms or 0) >= since]
        if not pulled:
            return []
        by_symbol: dict[str, list[ClusterLike]] = {}
        for stats in self._clusters(now_ms):
            by_symbol.setdefault(stats.cluster.symbol, []).append(stats.cluster)
        out = []
        for wall in pulled:
            near = [c for c in by_symbol.get(wall.symbol, ())
                    if abs(c.price_level - wall.price) / c.price_level * 100.0 <= self.pct]
            if not near:
                continue
            c = min(near, key=lambda c: abs(c.price_level - wall.price))
            out.append(Alert(
                rule=self.name, kind="wall_pulled", symbol=wall.symbol, time=now_ms,
                cooldown_key=f"{wall.side}:{wall.price_low:.8g}:{wall.ended_ms}",
                text=f"{wall.symbol}: {wall.side} wall of {wall.notional:,.0f} USDT at {wall.price:.6g} pulled, "
                     f"{abs(c.price_level - wall.price) / c.price_level * 100:.2f} % from a {c.side} liquidation "
                     f"cluster at {c.price_level:.6g}",
                data={"side": wall.side, "price": wall.price, "notional": wall.notional, "ended_ms": wall.ended_ms,
                      "cluster_id": c.cluster_id, "cluster_price_level": c.price_level}))
        return out
