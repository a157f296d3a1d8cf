"""``LiquidationStream``: keeps a sink (a heatmap) fed from Binance for weeks without anyone watching.

``LiquidationStream(heatmap, symbols, mark_price=True).start()`` ... ``.stop()``: the heatmap knows nothing of
it (it only satisfies :class:`~live_heatmap.stream.router.Sink`), so the app that builds both starts and stops
the stream as one of its services.

One *shard* per group of at most 1024 streams. Each shard's supervisor thread
owns the current :class:`~live_heatmap.stream.connection.Connection` and

* reconnects after a close, an error, a drop or a silent connection, waiting a
  capped, jittered exponential backoff that resets after a healthy period,
  and replays the shard's subscriptions on the new connection;
* rotates the connection before Binance's 24-hour cut: it opens the new
  connection first, waits until its subscriptions are acknowledged, then closes
  the old one gracefully (reading until the server's close frame), so no event
  is lost; the overlap's duplicates are dropped by the heatmap's dedupe.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from live_heatmap.common.backoff import Backoff
from live_heatmap.stream.connection import Connection, ConnectionSettings
from live_heatmap.stream.router import FundingSink, Router, Sink, StreamStats, system_wall_ms
from live_heatmap.stream.status import ShardStatus, StreamStatus
from live_heatmap.stream.subscriptions import BINANCE_MARKET_URL, plan_subscriptions, stream_url

__all__ = ["LiquidationStream", "StreamSettings", "settings_with"]

log = structlog.get_logger("live_heatmap.stream.stream")


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """Everything about the stream that is not the heatmap's business. Times in seconds."""

    ws_url: str = BINANCE_MARKET_URL
    """Base URL: Binance's since 2026; a testnet, a proxy or the next URL change go here."""
    combined: bool = True
    """``<ws_url>/stream`` (``{"stream","data"}`` frames) or ``<ws_url>/ws`` (bare payloads)."""
    mark_price: bool = False
    """Also subscribe ``<symbol>@markPrice@1s`` and feed ``update_price`` from it."""
    per_symbol_limit: int = 50
    """Above this many symbols, ``!forceOrder@arr`` with a symbol filter is used instead."""
    max_streams_per_connection: int = 1024
    rotate_after: float = 23 * 3600.0
    """Open a fresh connection this long after the current one opened (Binance cuts at 24 h)."""
    connection: ConnectionSettings = field(default_factory=ConnectionSettings)
    backoff: Callable[[], Backoff] = Backoff
    """Makes each shard's backoff; tests pass a tiny one."""


class _Shard:
    """One group of streams and the supervisor thread that keeps a connection open for it."""

    def __init__(self, index: int, streams: tuple[str, ...], router: Router, settings: StreamSettings,
                 stop: threading.Event) -> None:
        self.index = index
        self.streams = streams
        self.router = router
        self.settings = settings
        self.backoff = settings.backoff()
        self._stop = stop
        self._serial = 0
        self._request_id = 1
        self.current: Connection | None = None
        self.reconnects = 0
        self.rotations = 0
        self.causes: Counter[str] = Counter()
        self.last_cause: str | None = None
        self.thread = threading.Thread(target=self._supervise, name=f"liq-shard-{index}", daemon=True)

    def _open(self) -> Connection:
        self._serial += 1
        conn = Connection(f"{self.index}.{self._serial}", stream_url(self.settings.ws_url,
                                                                     combined=self.settings.combined),
                          self.streams, self.router, self.settings.connection, first_request_id=self._request_id)
        self._request_id += len(self.streams) + 1  # ids stay unique across connections
        return conn.start()

    def _supervise(self) -> None:
        while not self._stop.is_set():
            conn = self.current = self._open()
            while not self._stop.is_set():
                if conn.finished.wait(self.settings.connection.tick):
                    break
                if conn.ready.is_set() and conn.uptime() >= self.settings.rotate_after:
                    conn = self._rotate(conn)
            if self._stop.is_set():
                break
            cause = conn.cause or "unknown"
            self.last_cause = cause
            self.causes[_cause_kind(cause)] += 1
            self.backoff.succeeded(conn.uptime())
            delay = self.backoff.next_delay()
            self.reconnects += 1
            log.info("stream.reconnecting", shard=self.index, cause=cause, delay_s=round(delay, 3),
                     reconnects=self.reconnects)
            self._stop.wait(delay)

    def _rotate(self, old: Connection) -> Connection:
        new = self.current = self._open()
        wait = self.settings.connection.connect_timeout + len(self.streams) / 50 + 5.0
        deadline = time.monotonic() + wait
        while not new.ready.wait(self.settings.connection.tick):
            if new.finished.is_set() or self._stop.is_set() or time.monotonic() > deadline:
                new.close("rotation abandoned", graceful=False)
                self.current = old
                log.warning("stream.rotation_failed", shard=self.index, cause=new.cause)
                return old  # try again at the next tick; the old connection still works
            if old.finished.is_set():
                break  # the old one died meanwhile: the new one simply takes over
        old.close("rotated")
        self.rotations += 1
        log.info("stream.rotated", shard=self.index, old=old.name, new=new.name,
                 old_uptime_s=round(old.uptime(), 3))
        return new

    def stop(self, deadline: float) -> None:
        conn = self.current
        if conn is not None:
            conn.close("stopped")
        self.thread.join(max(0.0, deadline - time.monotonic()))
        for c in (conn, self.current):
            if c is not None and not c.join(max(0.0, deadline - time.monotonic())):
                c.close("stopped", graceful=False)
                c.join(0.2)

    def status(self) -> ShardStatus:
        conn = self.current
        open_now = conn is not None and conn.opened_at is not None and not conn.finished.is_set()
        return ShardStatus(
            shard=self.index,
            streams=len(self.streams),
            connected=open_now,
            subscribed=bool(open_now and conn is not None and conn.ready.is_set()),
            connection=conn.name if conn else None,
            uptime_s=round(conn.uptime(), 3) if open_now and conn else 0.0,
            since_last_message_s=round(conn.silence(), 3) if open_now and conn else None,
            messages=conn.messages if conn else 0,
            reconnects=self.reconnects,
            rotations=self.rotations,
            disconnect_causes=dict(self.causes),
            last_disconnect_cause=self.last_cause,
            subscribe_errors=tuple(conn.errors) if conn else (),
        )


def _cause_kind(cause: str) -> str:
    """A short key for counting causes: 'server closed', 'silent', 'ConnectionRefusedError'..."""
    if cause.startswith("silent"):
        return "silent"
    if cause.startswith("no pong"):
        return "no pong"
    if cause.startswith("server closed"):
        return "server closed"
    return cause.split(":", 1)[0][:60]


class LiquidationStream:
    """The live feed of one sink (a heatmap). Start with :meth:`start`, end with :meth:`stop`.

    ``symbols``: ids or unified symbols, or ``"all"``. ``settings`` and keyword ``options`` (any
    :class:`StreamSettings` or :class:`~live_heatmap.stream.connection.ConnectionSettings` field by name, e.g.
    ``ws_url=``, ``mark_price=True``, ``silence_timeout=``) set the transport. With mark prices, ``funding``
    (a :class:`~live_heatmap.stream.router.FundingSink`) receives each symbol's funding rate.
    ``wall_ms`` is the wall clock (UTC epoch ms) that stamps the last event.
    """

    def __init__(self, sink: Sink, symbols: Sequence[str] | str = "all", settings: StreamSettings | None = None,
                 *, funding: FundingSink | None = None, wall_ms: Callable[[], int] = system_wall_ms,
                 **options: Any) -> None:
        self.sink = sink
        self.settings = settings_with(settings, **options) if options else settings or StreamSettings()
        self.plan = plan_subscriptions(symbols, mark_price=self.settings.mark_price,
                                       per_symbol_limit=self.settings.per_symbol_limit,
                                       max_streams=self.settings.max_streams_per_connection)
        if self.plan.symbol_filter is not None:
            sink.track(self.plan.symbol_filter)
        self._stop = threading.Event()
        self._wall_ms = wall_ms
        self.stats = StreamStats()
        router = Router(sink, self.plan.symbol_filter, self.stats, funding=funding, wall_ms=wall_ms)
        self.shards = [_Shard(i, streams, router, self.settings, self._stop)
                       for i, streams in enumerate(self.plan.shards)]
        self.started = False

    def start(self) -> LiquidationStream:
        if self.started:
            raise RuntimeError("stream already started")
        self.started = True
        log.info("stream.starting", url=self.settings.ws_url, shards=len(self.shards),
                 streams=sum(len(s.streams) for s in self.shards),
                 symbols="all" if self.plan.symbol_filter is None else len(self.plan.symbol_filter))
        for shard in self.shards:
            shard.thread.start()
        return self

    def stop(self, timeout: float = 1.5) -> None:
        """Close every connection and join every thread; returns within about ``timeout`` seconds.
        Idempotent; a stream never started has nothing to stop."""
        if self._stop.is_set() or not self.started:
            self._stop.set()
            return
        self._stop.set()
        deadline = time.monotonic() + timeout
        for shard in self.shards:
            shard.stop(deadline)
        log.info("stream.stopped", reconnects=sum(s.reconnects for s in self.shards))

    @staticmethod
    def threads_alive() -> list[str]:
        """Names of stream threads still running in this process (empty after :meth:`stop`)."""
        return [t.name for t in threading.enumerate() if t.name.startswith(("liq-shard-", "liq-stream-"))]

    def status(self) -> StreamStatus:
        """Connection health (the ingest counters are the sink's: ``heatmap.status()``)."""
        shards = tuple(s.status() for s in self.shards)
        last = self.stats.last_event_wall_ms
        silences = [s.since_last_message_s for s in shards if s.since_last_message_s is not None]
        return StreamStatus(
            connected=bool(shards) and all(s.connected for s in shards),
            url=self.settings.ws_url,
            events_received=self.stats.events,
            events_filtered=self.stats.filtered,
            mark_prices=self.stats.mark_prices,
            last_event_ms=last,
            since_last_event_s=None if last is None else round((self._wall_ms() - last) / 1000, 3),
            since_last_message_s=max(silences) if silences else None,
            reconnects=sum(s.reconnects for s in shards),
            rotations=sum(s.rotations for s in shards),
            shards=shards,
        )


def settings_with(base: StreamSettings | None, **changes: Any) -> StreamSettings:
    """``base`` (or the defaults) with some fields replaced; nested connection fields by name."""
    settings = base or StreamSettings()
    conn_fields = {k: changes.pop(k) for k in list(changes) if k in ConnectionSettings.__dataclass_fields__}
    if conn_fields:
        changes["connection"] = replace(settings.connection, **conn_fields)
    return replace(settings, **changes)
