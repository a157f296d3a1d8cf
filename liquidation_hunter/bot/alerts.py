"""The bot's alerts (issue 16; ``docs/ALERTS.md``): the hub with the configured rules, the sender thread, and
what the rules read of the bot.

* The ``alerts`` job (every ``schedule.clusters`` seconds) looks at the books for a new halt (``halt`` by hand,
  or the drawdown limit: ``drawdown_halt``) and new ``flatten`` requests carried out, then runs every rule: only
  SQLite inserts, so no job ever waits on a channel;
* the engine feeds entries and exits as they happen (:meth:`BotAlerts.event`: queued at once, one insert);
* the sender starts after the bot and stops before it (:mod:`.runner`);
* ``status`` shows the outbox's counts (from the books) and the channels with their secrets masked (the health
  record's ``alerts``).

Nothing of this exists while no channel is enabled: the bot is then unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import structlog

from liquidation_hunter.alerts import (
    AlertHub,
    BotEventsRule,
    CascadeRule,
    Channel,
    ClusterRule,
    Rule,
    Sender,
    StreamDownRule,
    WallPulledRule,
    build_channels,
)
from liquidation_hunter.alerts.rules import ClustersOf, WallsEnded
from liquidation_hunter.bot.risk import DRAWDOWN_HALT
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.trading.books import Books
from live_heatmap import LiveLiquidationHeatmap
from live_heatmap.common.errors import describe

__all__ = ["BotAlerts", "StreamWatch", "cascade_notional"]

log = structlog.get_logger("liquidation_hunter.alerts")

def cascade_notional(heatmap: LiveLiquidationHeatmap) -> Callable[[int, int], dict[str, float]]:
    """Each symbol's liquidation notional traded within ``[since_ms, until_ms]`` (the cascade rule's input)."""

    def notional_in(since_ms: int, until_ms: int) -> dict[str, float]:
        out = {}
        for symbol in heatmap.symbols():
            cols = heatmap.events_since(symbol, since_ms)
            if len(cols.trade_time):
                total = float(cols.notional[cols.trade_time <= until_ms].sum())
                if total > 0:
                    out[symbol] = total
        return out

    return notional_in


class StreamWatch:
    """How long each venue's stream has been down, as the alerts job sees it: ``venues()`` gives the venues'
    health dicts (``venue``, ``connected``; :meth:`.venues.VenueStreams.venues`)."""

    def __init__(self, venues: Callable[[], Iterable[Mapping[str, Any]]]) -> None:
        self._venues = venues
        self._since: dict[str, int] = {}

    def __call__(self, now_ms: int) -> dict[str, float]:
        out = {}
        for venue in self._venues():
            name = str(venue.get("venue", "stream"))
            if venue.get("connected") is False:
                since = self._since.setdefault(name, now_ms)
                out[name] = (now_ms - since) / 1000
            else:
                self._since.pop(name, None)
                out[name] = 0.0
        return out


class BotAlerts:
    """The hub, its rules, the sender and the watch of the books (module docstring)."""

    def __init__(self, hub: AlertHub, sender: Sender, channels: Mapping[str, Channel],
                 events: BotEventsRule | None) -> None:
        self.hub = hub
        self.sender = sender
        self.channels = dict(channels)
        self.events = events
        self._halt: str | None = None
        self._flatten_seen: int | None = None

    @classmethod
    def from_config(cls, config: BotConfig, books: Books, heatmap: LiveLiquidationHeatmap, *,
                    venues: Callable[[], Iterable[Mapping[str, Any]]] | None = None,
                    clusters: ClustersOf | None = None, walls_ended: WallsEnded | None = None,
                    environ: Mapping[str, str] | None = None) -> BotAlerts | None:
        """None while no channel is enabled. ``clusters``: every symbol's clusters with statistics at a moment
        (the statistics layer's; None: no cluster rule). ``walls_ended``: the order-book walls ended since a
        moment (the liquidity layer's; None: no wall rule). A channel whose secret is missing from the environment
        raises :class:`~.alerts.ChannelError` (one line)."""
        cfg = config.alerts
        if not cfg.enabled:
            return None
        channels = build_channels(cfg, environ)
        rules_cfg = cfg.rules
        rules: list[Rule] = []
        if rules_cfg.cluster.enabled and clusters is not None:
            rules.append(ClusterRule(clusters, risk_level=rules_cfg.cluster.risk_level,
                                     z_score=rules_cfg.cluster.z_score))
        if rules_cfg.cascade.enabled:
            rules.append(CascadeRule(cascade_notional(heatmap), window_ms=int(rules_cfg.cascade.window_seconds * 1000),
                                     notional=rules_cfg.cascade.notional))
        events = BotEventsRule(rules_cfg.bot_events.kinds) if rules_cfg.bot_events.enabled else None
        if events is not None:
            rules.append(events)
        if rules_cfg.stream_down.enabled and venues is not None:
            rules.append(StreamDownRule(StreamWatch(venues), seconds=rules_cfg.stream_down.seconds))
        if rules_cfg.wall_pulled.enabled and walls_ended is not None and clusters is not None:
            rules.append(WallPulledRule(walls_ended, clusters, pct=rules_cfg.wall_pulled.pct))
        sender = Sender(books, channels, max_attempts=cfg.max_attempts, timeout_s=cfg.timeout_seconds)
        hub = AlertHub(books, tuple(channels), rules, cooldown_s=cfg.cooldown_seconds, cap=cfg.outbox_cap,
                       on_queued=sender.wake)
        return cls(hub, sender, channels, events)

    def start(self, now_ms: int) -> None:
        """The cooldowns of a previous run restored, the halt and flatten state as they are (not alerted), the
        sender started."""
        self.hub.restore_cooldowns(now_ms)
        self._halt = self.hub.books.halt_reason()
        self._flatten_seen = self._last_flatten()
        self.sender.start()

    def stop(self) -> None:
        self.sender.stop(timeout=1.0)

    def event(self, kind: str, symbol: str | None, text: str, at_ms: int, *, data: Mapping[str, Any] | None = None,
              key: str = "") -> None:
        """One of the bot's own events (entry, exit...): queued at once (one insert, as the trade's own records;
        a crash right after the trade cannot lose its alert). A failure to queue is logged and counted; it never
        reaches the trade."""
        if self.events is None:
            return
        self.events.feed(kind, symbol, text, at_ms, data=data, key=key)
        try:
            self.hub.run(at_ms, [self.events])
        except Exception as exc:  # noqa: BLE001 - the trade is done; its alert is not worth failing it for
            self.hub.rule_failures[self.events.name] += 1
            self.hub.last_error = f"{self.events.name}: {describe(exc)}"
            log.error("alert_event_not_queued", kind=kind, symbol=symbol, error=self.hub.last_error)

    def poll(self, now_ms: int) -> int:
        """The ``alerts`` job: the books' halts and flattens seen, every rule run; returns the alerts queued."""
        books = self.hub.books
        halt = books.halt_reason()
        if halt is not None and halt != self._halt:
            kind = "drawdown_halt" if halt.startswith(DRAWDOWN_HALT) else "halt"
            self.event(kind, None, f"entries halted: {halt}", now_ms, data={"reason": halt}, key=str(now_ms))
        self._halt = halt
        flatten = self._last_flatten()
        if flatten is not None and flatten != self._flatten_seen:
            self.event("flatten", None, "every position flattened (requested by hand)", now_ms,
                       data={"request": flatten}, key=str(flatten))
        self._flatten_seen = flatten
        return self.hub.run(now_ms)

    def _last_flatten(self) -> int | None:
        done = [r.id for r in self.hub.books.control_requests(limit=20) if r.kind == "flatten" and r.status == "done"]
        return max(done) if done else None

    def status(self) -> dict[str, Any]:
        """The health record's ``alerts``: channels (secrets masked), the hub's and the sender's counters."""
        counts: defaultdict[str, int] = defaultdict(int)
        for name, value in (*self.hub.counts.items(), *self.sender.counts.items()):
            counts[name] += value
        return {"channels": [c.describe() for c in self.channels.values()],
                "rules": [r.name for r in self.hub.rules], "counts": dict(counts),
                "rule_failures": dict(self.hub.rule_failures),
                "last_error": self.hub.last_error or self.sender.last_error}
