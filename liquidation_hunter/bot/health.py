"""The bot's health record as a typed value: what each heartbeat writes into the books and ``status`` reads.

:meth:`BotHealth.to_dict` is the JSON the books have always held (serialised at the edge, in
:meth:`~liquidation_hunter.bot.engine.Bot.job_heartbeat` and :meth:`~liquidation_hunter.bot.engine.Bot.stop`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BotHealth", "StreamSummary"]


@dataclass(frozen=True, slots=True)
class StreamSummary:
    """The stream's part of the health record."""

    connected: bool
    reconnects: int

    def to_dict(self) -> dict[str, Any]:
        return {"connected": self.connected, "reconnects": self.reconnects}


@dataclass(frozen=True, slots=True)
class BotHealth:
    """Stream health and loop counters, as ``status`` shows them."""

    pid: int
    mode: str
    broker: str
    strategy: str
    started_at: int
    connected: bool
    events: int
    rejected: Mapping[str, int]
    symbols: int
    stream: StreamSummary | None
    """None: the bot has no stream (a backtest, a test)."""
    prices: int
    held_prices: Mapping[str, float | None]
    entries: int
    exits: int
    job_runs: Mapping[str, int]
    job_failures: Mapping[str, int]
    jobs_skipped: Mapping[str, int]
    job_errors: Mapping[str, int]
    last_job_error: str | None
    ready: bool = True
    """The broker has started (live: the exchange answered); False: not trading, trying again."""
    stale_prices: Mapping[str, float] = field(default_factory=dict)
    """Symbols whose last price is too old to trade on: age in seconds."""
    unknown_symbols: tuple[str, ...] = ()
    """Configured symbols the exchange does not list."""
    exchange_wallet: float | None = None
    """Live: the exchange's wallet balance at the last look (None: paper, or not asked yet)."""
    exchange_available: float | None = None
    disconnected_s: float | None = None
    """How long the stream has been disconnected (None: connected, or no stream)."""
    equity: float | None = None
    """Set by the heartbeat."""
    stopped: str | None = None
    """Why the bot stopped; set by its last record only."""
    venues: tuple[Mapping[str, Any], ...] = ()
    """Per venue of ``exchanges``: stream health, instruments (count, as of, source), skipped symbols, backfill
    (:meth:`liquidation_hunter.bot.venues.VenueFeed.to_dict`)."""

    estimated: Mapping[str, Any] | None = None
    """The estimated layer's inputs (``estimated.enabled``): REST budget, label, per symbol bars and errors
    (:meth:`liquidation_hunter.bot.estimated.EstimatedInputs.status`)."""
    orderbook: Mapping[str, Any] | None = None
    """The liquidity layer's books (``orderbook.enabled``): mode, REST budget, the ``/public`` stream, per symbol
    the book's state, resyncs, rejects and snapshot errors
    (:meth:`liquidation_hunter.bot.liquidity.LiquidityInputs.status`)."""
    statistics: Mapping[str, Any] | None = None
    """The statistics' summary of the symbols with clusters (issue 16): total notional, dominant side, clusters at
    risk high or above, the highest z-score and the history behind it (:meth:`Bot._statistics`)."""

    alerts: Mapping[str, Any] | None = None
    """Notifications (a channel enabled): the channels with secrets masked, counters, rule failures
    (:meth:`liquidation_hunter.bot.alerts.BotAlerts.status`)."""

    feed: Mapping[str, Any] | None = None
    """A bot on a feed (``feed.source``, issue 17): the source, per stream its cursor, the gaps met (how many, the
    entries missed, the events filled from the store)
    (:meth:`liquidation_hunter.feed.consumer.FeedConsumer.feed_status`)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "pid": self.pid, "mode": self.mode, "broker": self.broker, "strategy": self.strategy,
            "started_at": self.started_at, "connected": self.connected, "events": self.events,
            "rejected": dict(self.rejected), "symbols": self.symbols,
            "reconnects": None if self.stream is None else self.stream.reconnects,
            "stream": {} if self.stream is None else self.stream.to_dict(),
            "prices": self.prices, "held_prices": dict(self.held_prices), "entries": self.entries,
            "exits": self.exits, "job_runs": dict(self.job_runs), "job_failures": dict(self.job_failures),
            "jobs_skipped": dict(self.jobs_skipped), "job_errors": dict(self.job_errors),
            "last_job_error": self.last_job_error, "ready": self.ready, "stale_prices": dict(self.stale_prices),
            "unknown_symbols": list(self.unknown_symbols), "disconnected_s": self.disconnected_s,
            "exchange": None if self.exchange_wallet is None else {"wallet": self.exchange_wallet,
                                                                   "available": self.exchange_available},
        }
        if self.venues:
            out["venues"] = [dict(v) for v in self.venues]
        if self.estimated is not None:
            out["estimated"] = dict(self.estimated)
        if self.orderbook is not None:
            out["orderbook"] = dict(self.orderbook)
        if self.statistics is not None:
            out["statistics"] = dict(self.statistics)
        if self.alerts is not None:
            out["alerts"] = dict(self.alerts)
        if self.feed is not None:
            out["feed"] = dict(self.feed)
        if self.equity is not None:
            out["equity"] = self.equity
        if self.stopped is not None:
            out["stopped"] = self.stopped
        return out
