"""``LiquidationStream``: keeps a sink (a heatmap) fed from one venue for weeks without anyone watching.

``LiquidationStream(heatmap, symbols, mark_price=True).start()`` ... ``.stop()`` (Binance), or
``LiquidationStream(heatmap, symbols, venue=Venue.BYBIT, instruments=...)``: one stream per venue. The heatmap
knows nothing of it (it only satisfies :class:`~live_heatmap.stream.router.Sink`), so the app that builds both
starts and stops the stream as one of its services. What differs between venues (URL, subscriptions and
shards, answers, keep-alive, routing) is the venue's adapter (``stream/venues/``); the rest is here.

One *shard* per group of streams (Binance: at most 1024; Bybit: ``args`` within 21,000 characters; OKX: one
subscription). New connections wait for the venue's connection limiter, shared by its shards. Each shard's
supervisor thread
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
from typing import Any

import structlog

from live_heatmap.common.instruments import Instruments
from live_heatmap.stream.connection import Connection
from live_heatmap.stream.limits import RateLimiter
from live_heatmap.stream.router import FundingSink, KlineSink, Router, Sink, StreamStats, TradeSink, system_wall_ms
from live_heatmap.stream.settings import StreamSettings, settings_with
from live_heatmap.stream.status import ShardStatus, StreamStatus
from live_heatmap.stream.subscriptions import BINANCE_MARKET_URL
from live_heatmap.stream.venues import adapter_for
from live_heatmap.stream.venues.base import MessageRouter, SubscriptionBook, VenueAdapter
from live_heatmap.stream.venues.routing import EventRouter
from live_heatmap.venue import Venue

__all__ = ["LiquidationStream", "StreamSettings", "settings_with"]

log = structlog.get_logger("live_heatmap.stream.stream")


class _Shard:
    """One group of streams and the supervisor thread that keeps a connection open for it."""

    def __init__(self, index: int, streams: tuple[str, ...], adapter: VenueAdapter, router: MessageRouter, *,
                 settings: StreamSettings, stop: threading.Event, limiter: RateLimiter | None) -> None:
        self.index = index
        self.streams = streams
        self.adapter = adapter
        self.router = router
        self.settings = settings
        self.limiter = limiter
        self.backoff = settings.backoff()
        self.book = SubscriptionBook()
        self._stop = stop
        self._serial = 0
        self._request_id = 1
        self.current: Connection | None = None
        self.reconnects = 0
        self.rotations = 0
        self.causes: Counter[str] = Counter()
        self.last_cause: str | None = None
        name = f"liq-shard-{index}" if adapter.venue is Venue.BINANCE else f"liq-shard-{adapter.venue}-{index}"
        self.thread = threading.Thread(target=self._supervise, name=name, daemon=True)

    def _open(self) -> Connection | None:
        """A new connection, once the venue's connection limit allows (None: stopped while waiting)."""
        if self.limiter is not None and not self.limiter.wait(self._stop):
            return None
        self._serial += 1
        name = f"{self.index}.{self._serial}"
        session = self.adapter.session(name, self.streams, self.router, self.settings, first_id=self._request_id,
                                       book=self.book, monotonic=time.monotonic)
        conn = Connection(name, self.adapter.url(self.settings), self.streams, session, self.settings.connection,
                          venue=str(self.adapter.venue))
        self._request_id += len(self.streams) + 1  # ids stay unique across connections
        return conn.start()

    def _supervise(self) -> None:
        while not self._stop.is_set():
            opened = self._open()
            if opened is None:
                break
            conn = self.current = opened
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
            log.info("stream.reconnecting", venue=str(self.adapter.venue), shard=self.index, cause=cause,
                     delay_s=round(delay, 3), reconnects=self.reconnects)
            self._stop.wait(delay)

    def _rotate(self, old: Connection) -> Connection:
        opened = self._open()
        if opened is None:
            return old
        new = self.current = opened
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
            dropped_topics=tuple(sorted(self.book.dropped)),
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
    """The live feed of one sink (a heatmap) from one venue. Start with :meth:`start`, end with :meth:`stop`.

    ``symbols``: ids or unified symbols, or ``"all"``. ``venue``: which exchange (Binance by default);
    ``instruments``: that venue's table (:class:`~live_heatmap.common.instruments.Instruments`: ids, heatmap
    keys, contract sizes), needed for OKX and for Bybit's ``"all"``; a symbol the venue does not list is
    skipped with a warning and shown in :meth:`status`. ``settings`` (default: the venue's,
    :meth:`StreamSettings.for_venue`) and keyword ``options`` (any :class:`StreamSettings` or
    :class:`~live_heatmap.stream.connection.ConnectionSettings` field by name, e.g. ``ws_url=``,
    ``mark_price=True``, ``silence_timeout=``) set the transport. With mark prices (Binance), ``funding`` (a
    :class:`~live_heatmap.stream.router.FundingSink`) receives each symbol's funding rate; with ``klines=True``
    in the settings, ``klines`` (a :class:`~live_heatmap.stream.router.KlineSink`) each kline frame; with
    ``agg_trades=True``, ``trades`` (a :class:`~live_heatmap.stream.router.TradeSink`) each aggTrade. ``wall_ms`` is the
    wall clock (UTC epoch ms) that stamps the last event. ``connection_limiter``: share one between streams of
    the same venue from one IP (default: one per stream, from ``settings.connection_limit``).
    """

    def __init__(self, sink: Sink, symbols: Sequence[str] | str = "all", settings: StreamSettings | None = None,
                 *, venue: Venue | str = Venue.BINANCE, instruments: Instruments | None = None,
                 funding: FundingSink | None = None, klines: KlineSink | None = None,
                 trades: TradeSink | None = None, wall_ms: Callable[[], int] = system_wall_ms,
                 connection_limiter: RateLimiter | None = None, **options: Any) -> None:
        self.venue = Venue(venue)
        self.adapter = adapter_for(self.venue)
        self.sink = sink
        base = settings or StreamSettings.for_venue(self.venue)
        self.settings = settings_with(base, **options) if options else base
        if self.venue is not Venue.BINANCE and self.settings.ws_url == BINANCE_MARKET_URL:
            raise ValueError(f"{self.venue}: ws_url is Binance's; use StreamSettings.for_venue({self.venue.name})")
        self.plan = self.adapter.plan(symbols, self.settings, instruments)
        if self.plan.track:
            sink.track(self.plan.track)
        self._stop = threading.Event()
        self._wall_ms = wall_ms
        self.stats = StreamStats()
        limit = self.settings.connection_limit
        self.limiter = connection_limiter if connection_limiter is not None else (
            None if limit is None else RateLimiter(limit[0], limit[1]))
        self.router = self.adapter.router(sink, self.plan, self.stats, funding=funding, wall_ms=wall_ms,
                                          instruments=instruments)
        if klines is not None:
            if not isinstance(self.router, Router):
                raise ValueError(f"{self.venue}: klines are Binance's only")
            self.router.klines = klines
        if trades is not None:
            if not isinstance(self.router, Router):
                raise ValueError(f"{self.venue}: aggTrades are Binance's only")
            self.router.trades = trades
        self.shards = [_Shard(i, streams, self.adapter, self.router, settings=self.settings, stop=self._stop,
                              limiter=self.limiter)
                       for i, streams in enumerate(self.plan.shards)]
        self.started = False

    def update_instruments(self, instruments: Instruments) -> None:
        """Parse from the next message on with ``instruments`` (a daily refresh: a changed contract size applies at
        once, on the open connections). The subscriptions stay as planned at construction: a symbol skipped then
        (not listed) is not subscribed until the stream is built again. Binance's stream has no table to replace
        (its ids follow the rule): ValueError, as for another venue's table."""
        if instruments.venue is not self.venue or not isinstance(self.router, EventRouter):
            raise ValueError(f"{self.venue}: the stream cannot take {instruments.venue}'s instruments")
        self.router.instruments = instruments

    def start(self) -> LiquidationStream:
        if self.started:
            raise RuntimeError("stream already started")
        self.started = True
        log.info("stream.starting", venue=str(self.venue), url=self.adapter.url(self.settings), shards=len(self.shards),
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
        log.info("stream.stopped", venue=str(self.venue), reconnects=sum(s.reconnects for s in self.shards))

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
            venue=str(self.venue),
            connections=sum(1 for s in shards if s.connected),
            rejected=dict(self.stats.rejected),
            subscription_errors=sum(s.book.errors for s in self.shards),
            skipped_symbols=self.plan.skipped,
        )
