"""``DepthStream``: Binance's order-book diffs (``<symbol>@depth@100ms``) on their own connection (issue 15).

Since 2026-04 Binance serves order-book streams at ``wss://fstream.binance.com/public`` while liquidations, mark
prices, klines and trades stay on ``/market``: two connections. This stream is the ``/public`` one; it shares the
liquidation stream's machinery (shards, reconnects with backoff, 24 h rotation, keep-alive: :mod:`.stream`) and
differs in what it subscribes (:func:`~live_heatmap.stream.subscriptions.plan_depth`) and how it routes
(:class:`DepthRouter`):

* a ``depthUpdate`` of a followed symbol goes to the :class:`DepthSink` (the bot's book syncs, which parse and
  apply it; a sync needing a snapshot is served by the bot's job, off this thread);
* an event that belongs on ``/market`` (``forceOrder``, ``markPriceUpdate``, ``kline``, ``aggTrade``) is rejected
  as ``wrong_connection`` and counted, as the ``/market`` router does for depth;
* the two URLs must differ: a stream built on the market URL is refused (``ValueError``; the config refuses it
  first, naming ``orderbook.public_url``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

import structlog

from live_heatmap.common.instruments import Instruments
from live_heatmap.stream.router import (
    DEPTH_EVENTS,
    MARKET_EVENTS,
    WRONG_CONNECTION,
    Sink,
    StreamStats,
    system_wall_ms,
)
from live_heatmap.stream.settings import StreamSettings
from live_heatmap.stream.status import StreamStatus
from live_heatmap.stream.stream import _Shard
from live_heatmap.stream.subscriptions import (
    BINANCE_MARKET_URL,
    BINANCE_PUBLIC_URL,
    Plan,
    plan_depth,
    same_connection,
    stream_url,
)
from live_heatmap.stream.venues.base import MessageRouter, SubscriptionBook, VenueAdapter
from live_heatmap.stream.venues.binance import BinanceSession
from live_heatmap.venue import Venue

__all__ = ["DepthRouter", "DepthSink", "DepthStream", "same_connection"]

log = structlog.get_logger("live_heatmap.stream.stream")


class DepthSink(Protocol):
    """What takes the order-book diffs (the bot's :class:`~liquidation_hunter.bot.liquidity.LiquidityInputs`)."""

    def on_depth(self, payload: dict[str, Any]) -> None:
        """One ``depthUpdate`` payload of a followed symbol, as Binance sent it (the taker parses it). Never raises
        for a bad frame."""


class DepthRouter:
    """Routes the ``/public`` connection's payloads: depth to the sink, ``/market`` events rejected by reason."""

    def __init__(self, sink: DepthSink, symbol_filter: frozenset[str], stats: StreamStats, *,
                 wall_ms: Callable[[], int] = system_wall_ms) -> None:
        self.sink = sink
        self.symbol_filter = symbol_filter
        self.stats = stats
        self._wall_ms = wall_ms

    def on_payload(self, payload: Any) -> None:
        if type(payload) is list:
            for item in payload:
                self.on_payload(item)
            return
        event = str(payload.get("e")) if type(payload) is dict else None
        if event in MARKET_EVENTS:
            self.on_reject(WRONG_CONNECTION, b"")
            return
        if event not in DEPTH_EVENTS or type(payload) is not dict:
            self.on_reject("unknown_event_type", b"")
            return
        if event != "depthUpdate":  # bookTicker: not subscribed here
            self.on_reject("unknown_event_type", b"")
            return
        self.stats.last_event_wall_ms = self._wall_ms()
        if payload.get("s") not in self.symbol_filter:
            self.on_reject("unknown_symbol", b"")
            return
        self.stats.events += 1
        self.sink.on_depth(payload)

    def on_reject(self, reason: str, raw: bytes) -> None:
        self.stats.rejected[reason] += 1
        log.debug("stream.rejected", connection="public", reason=reason, raw=raw[:200])


class _DepthAdapter:
    """The ``/public`` connection's part: depth subscriptions, the Binance session (SUBSCRIBE answered by id)."""

    venue = Venue.BINANCE

    def __init__(self, sink: DepthSink, wall_ms: Callable[[], int]) -> None:
        self._sink = sink
        self._wall_ms = wall_ms

    def plan(self, symbols: Sequence[str] | str, settings: StreamSettings, instruments: Instruments | None) -> Plan:
        del instruments
        if isinstance(symbols, str):
            raise ValueError("symbols: an order book follows a list of symbols, not 'all'")
        return plan_depth(symbols, max_streams=settings.max_streams_per_connection)

    def url(self, settings: StreamSettings) -> str:
        return stream_url(settings.ws_url, combined=settings.combined)

    def router(self, sink: Any, plan: Plan, stats: StreamStats, *, funding: Any, wall_ms: Callable[[], int],
               instruments: Instruments | None) -> MessageRouter:
        del sink, funding, wall_ms, instruments
        return DepthRouter(self._sink, plan.symbol_filter or frozenset(), stats, wall_ms=self._wall_ms)

    def session(self, name: str, topics: tuple[str, ...], router: MessageRouter, settings: StreamSettings, *,
                first_id: int, book: SubscriptionBook, monotonic: Callable[[], float]) -> BinanceSession:
        del settings, book, monotonic
        return BinanceSession(name, topics, router, first_id)


class DepthStream:
    """The ``/public`` depth feed of ``symbols`` into ``sink``. ``settings.ws_url`` is the public base URL
    (default Binance's); ``market_url`` the liquidation stream's: equal ones are refused (one connection cannot
    carry both since 2026-04)."""

    connection = "public"
    """The connection's name in the log lines."""

    def __init__(self, sink: DepthSink, symbols: Sequence[str], settings: StreamSettings | None = None, *,
                 market_url: str = BINANCE_MARKET_URL, wall_ms: Callable[[], int] = system_wall_ms) -> None:
        settings = settings or StreamSettings(ws_url=BINANCE_PUBLIC_URL)
        if same_connection(settings.ws_url, market_url):
            raise ValueError(f"the depth stream's URL {settings.ws_url} is the market stream's: Binance serves "
                             "order-book streams on /public, a separate connection from /market")
        self._build(_DepthAdapter(sink, wall_ms), symbols, settings, wall_ms)

    def _build(self, adapter: VenueAdapter, symbols: Sequence[str], settings: StreamSettings,
               wall_ms: Callable[[], int]) -> None:
        """The shards of ``adapter``'s plan for ``symbols`` (shared with the other venues' depth streams)."""
        self.settings = settings
        self.adapter = adapter
        self.plan = adapter.plan(symbols, settings, None)
        self.stats = StreamStats()
        self._wall_ms = wall_ms
        self._stop = threading.Event()
        self.router = adapter.router(cast("Sink", None), self.plan,  # the depth adapters carry their own sink
                                      self.stats, funding=None, wall_ms=wall_ms, instruments=None)
        self.shards = [_Shard(i, streams, adapter, self.router, settings=settings, stop=self._stop, limiter=None)
                       for i, streams in enumerate(self.plan.shards)]
        self.started = False

    def start(self) -> DepthStream:
        if self.started:
            raise RuntimeError("stream already started")
        self.started = True
        log.info("stream.starting", venue=str(self.adapter.venue), connection=self.connection,
                 url=self.adapter.url(self.settings),
                 streams=sum(len(s.streams) for s in self.shards))
        for shard in self.shards:
            shard.thread.start()
        return self

    def stop(self, timeout: float = 1.5) -> None:
        """Close the connection and join its threads within about ``timeout`` seconds; idempotent."""
        if self._stop.is_set() or not self.started:
            self._stop.set()
            return
        self._stop.set()
        deadline = time.monotonic() + timeout
        for shard in self.shards:
            shard.stop(deadline)

    def status(self) -> StreamStatus:
        shards = tuple(s.status() for s in self.shards)
        last = self.stats.last_event_wall_ms
        silences = [s.since_last_message_s for s in shards if s.since_last_message_s is not None]
        return StreamStatus(
            connected=bool(shards) and all(s.connected for s in shards), url=self.settings.ws_url,
            events_received=self.stats.events, events_filtered=self.stats.filtered, mark_prices=0,
            last_event_ms=last,
            since_last_event_s=None if last is None else round((self._wall_ms() - last) / 1000, 3),
            since_last_message_s=max(silences) if silences else None,
            reconnects=sum(s.reconnects for s in shards), rotations=sum(s.rotations for s in shards),
            shards=shards, venue=str(self.adapter.venue), connections=sum(1 for s in shards if s.connected),
            rejected=dict(self.stats.rejected), subscription_errors=sum(s.book.errors for s in self.shards))
