"""One liquidation stream per configured venue (``exchanges``), as the one feed the bot starts, stops and asks for
its health: :class:`VenueStreams`.

For each venue the stream gets the venue's instruments (:mod:`liquidation_hunter.trading.venue_markets`: cached on
disk, read again after a day, the cache when the venue cannot be reached) and the configured symbols in unified
form; the stream maps them to the venue's ids and skips, with one warning, a symbol the venue does not list
(``status`` shows them per venue). Binance's stream is built as before (its mark prices and funding rates feed
the bot); Bybit's and OKX's only bring liquidations. A venue whose instruments cannot be had (no network and no
cache) is not streamed: one error line, and ``status`` says why. OKX's recent liquidations are read over REST on
start (:meth:`VenueStreams.backfill`) when ``venues.okx.backfill`` is on and the symbols are a list.

While the bot runs, :meth:`VenueStreams.refresh_markets` (the ``markets`` job, hourly) reads a venue's instruments
again once its table is a day old (the cache first: another process on the same ``venues.markets_dir`` may have
read them already) and hands the new table to the venue's running stream: a changed contract size (OKX's ctVal)
applies from the next message. A failed read is one warning, counted (``status``), and the old table is kept. A
configured symbol the venue lists only now is not subscribed until the bot restarts (one warning says so).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

import structlog

from liquidation_hunter.bot.assembly import stream_settings
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.trading.okx_backfill import BackfillResult, EventSink, backfill_okx
from liquidation_hunter.trading.venue_markets import (
    MARKETS_MAX_AGE_MS,
    MarketsLoad,
    MarketsUnavailable,
    load_instruments,
)
from live_heatmap import to_exchange_id
from live_heatmap.common.instruments import Instruments
from live_heatmap.funding import FundingRates
from live_heatmap.stream.router import KlineSink, Sink, TradeSink
from live_heatmap.stream.settings import StreamSettings
from live_heatmap.stream.status import StreamStatus
from live_heatmap.stream.stream import LiquidationStream
from live_heatmap.venue import Venue

__all__ = ["VenueFeed", "VenueStreams", "venue_streams"]

log = structlog.get_logger("liquidation_hunter.bot")


@dataclass
class VenueFeed:
    """One venue: its stream (None: not streamed, ``markets_error`` says why), where its instruments came from,
    and the start's backfill (OKX)."""

    venue: Venue
    stream: LiquidationStream | None
    instruments: Instruments | None = None
    markets_source: str = "rule"
    """``exchange`` (read at start), ``cache``, ``stale cache`` (the venue failed), ``rule`` (Binance's ids)
    or ``unavailable``."""
    markets_error: str | None = None
    backfill: BackfillResult | None = None
    reload: Callable[..., MarketsLoad] | None = None
    """``reload(now_ms=)`` reads the venue's instruments again (:meth:`VenueStreams.refresh_markets`); None:
    Binance."""
    refresh_failures: int = 0
    """Daily refreshes that failed (the old table kept)."""

    def to_dict(self) -> dict[str, Any]:
        """The venue's part of the health record (``status`` shows it)."""
        st = self.stream.status() if self.stream is not None else None
        as_of = self.instruments.as_of_ms if self.instruments is not None else None
        return {
            "venue": self.venue.value,
            "streaming": st is not None,
            "connected": None if st is None else st.connected,
            "connections": None if st is None else st.connections,
            "reconnects": None if st is None else st.reconnects,
            "events": None if st is None else st.events_received,
            "since_last_event_s": None if st is None else st.since_last_event_s,
            "rejected": {} if st is None else dict(st.rejected),
            "subscription_errors": None if st is None else st.subscription_errors,
            "skipped_symbols": [] if st is None else list(st.skipped_symbols),
            "instruments": None if self.instruments is None else len(self.instruments.by_id),
            "instruments_as_of": None if as_of is None else
            datetime.fromtimestamp(as_of / 1000, UTC).isoformat(timespec="seconds"),
            "markets_source": self.markets_source,
            "markets_error": self.markets_error,
            "markets_refresh_failures": self.refresh_failures,
            "backfill": None if self.backfill is None else self.backfill.to_dict(),
        }


class VenueStreams:
    """Every configured venue's stream as one feed (``Bot.stream``): started and stopped together, their health
    as one :class:`StreamStatus` (a single venue's is its own, unchanged) and per venue (:meth:`venues`)."""

    def __init__(self, feeds: list[VenueFeed]) -> None:
        self.feeds = feeds

    def feed(self, venue: Venue) -> VenueFeed | None:
        return next((f for f in self.feeds if f.venue is venue), None)

    @property
    def streams(self) -> list[LiquidationStream]:
        return [f.stream for f in self.feeds if f.stream is not None]

    def start(self) -> VenueStreams:
        for stream in self.streams:
            stream.start()
        return self

    def stop(self, timeout: float = 1.5) -> None:
        """Stop every stream within about ``timeout`` seconds in all."""
        deadline = time.monotonic() + timeout
        for stream in self.streams:
            stream.stop(timeout=max(0.05, deadline - time.monotonic()))

    def status(self) -> StreamStatus:
        """One venue: its stream's status. Several: connected when every one is, the counters summed, the shards
        of all, ``venue`` the list (``binance,bybit,okx``), ``url`` the first's."""
        statuses = [s.status() for s in self.streams]
        if len(statuses) == 1:
            return statuses[0]
        if not statuses:
            return StreamStatus(connected=False, url="", events_received=0, events_filtered=0, mark_prices=0,
                                last_event_ms=None, since_last_event_s=None, since_last_message_s=None,
                                reconnects=0, rotations=0, shards=(), venue="")
        lasts = [s.last_event_ms for s in statuses if s.last_event_ms is not None]
        since_events = [s.since_last_event_s for s in statuses if s.since_last_event_s is not None]
        silences = [s.since_last_message_s for s in statuses if s.since_last_message_s is not None]
        rejected: dict[str, int] = {}
        for s in statuses:
            for reason, n in s.rejected.items():
                key = f"{s.venue}:{reason}"
                rejected[key] = rejected.get(key, 0) + n
        first = statuses[0]
        return replace(
            first, connected=all(s.connected for s in statuses),
            events_received=sum(s.events_received for s in statuses),
            events_filtered=sum(s.events_filtered for s in statuses),
            mark_prices=sum(s.mark_prices for s in statuses),
            last_event_ms=max(lasts) if lasts else None,
            since_last_event_s=min(since_events) if since_events else None,
            since_last_message_s=max(silences) if silences else None,
            reconnects=sum(s.reconnects for s in statuses), rotations=sum(s.rotations for s in statuses),
            shards=tuple(shard for s in statuses for shard in s.shards),
            venue=",".join(s.venue for s in statuses), connections=sum(s.connections for s in statuses),
            rejected=rejected, subscription_errors=sum(s.subscription_errors for s in statuses),
            skipped_symbols=tuple(f"{s.venue}:{sym}" for s in statuses for sym in s.skipped_symbols),
            venues_down=tuple(s.venue for s in statuses if not s.connected))

    def venues(self) -> list[dict[str, Any]]:
        """Per venue: stream health, instruments (count, as of, source), skipped symbols, backfill."""
        return [f.to_dict() for f in self.feeds]

    def refresh_markets(self, now_ms: int) -> None:
        """Every streamed venue whose instruments are ``MARKETS_MAX_AGE_MS`` old: read them again (module
        docstring); never raises for a venue's failure."""
        for feed in self.feeds:
            if feed.stream is None or feed.reload is None or feed.instruments is None:
                continue
            if now_ms - feed.instruments.as_of_ms >= MARKETS_MAX_AGE_MS:
                _refresh(feed, feed.stream, feed.reload, now_ms)

    def backfill(self, config: BotConfig, sink: EventSink) -> BackfillResult | None:
        """OKX's recent liquidations over REST into ``sink`` (the heatmap: the recorder sees them), when OKX is
        streamed, ``venues.okx.backfill`` is on and the symbols are a list; never raises for OKX's failures."""
        feed = self.feed(Venue.OKX)
        if feed is None or feed.instruments is None or feed.stream is None:
            return None
        if not config.venues.okx.backfill:
            feed.backfill = BackfillResult(skipped="venues.okx.backfill is false")
        elif config.symbols == "all":
            feed.backfill = BackfillResult(skipped="symbols: all (the backfill reads a list of symbols)")
        else:
            feed.backfill = backfill_okx(feed.instruments, config.symbols, sink, rest_url=config.venues.okx.rest_url,
                                         timeout_s=config.exchange.timeouts.rest)
        return feed.backfill


def _refresh(feed: VenueFeed, stream: LiquidationStream, reload: Callable[..., MarketsLoad], now_ms: int) -> None:
    try:
        loaded = reload(now_ms=now_ms)
        error = loaded.error
    except MarketsUnavailable as exc:  # the cache was removed meanwhile
        error = str(exc)
    if error is not None:
        feed.refresh_failures += 1
        feed.markets_error = error
        log.warning("venue_markets_refresh_failed", venue=feed.venue.value, error=error,
                    failures=feed.refresh_failures, as_of_ms=feed.instruments.as_of_ms if feed.instruments else None,
                    consequence="the instruments in use are kept; tried again in an hour")
        return
    stream.update_instruments(loaded.instruments)
    feed.instruments, feed.markets_source, feed.markets_error = loaded.instruments, loaded.source, None
    log.info("venue_markets_refreshed", venue=feed.venue.value, source=loaded.source,
             instruments=len(loaded.instruments.by_id), as_of_ms=loaded.instruments.as_of_ms)
    listed = [s for s in stream.plan.skipped if loaded.instruments.for_unified(s) is not None]
    if listed:
        log.warning("venue_symbols_listed_now", venue=feed.venue.value, symbols=listed,
                    consequence="not streamed from this venue until the bot is restarted")


def venue_streams(config: BotConfig, sink: Sink, *, now_ms: int, markets: Any = None,
                  funding: FundingRates | None = None, mark_price: bool | None = None,
                  load: Callable[..., Any] = load_instruments, klines: KlineSink | None = None,
                  trades: TradeSink | None = None) -> VenueStreams:
    """A stream per venue of ``config.exchanges`` feeding ``sink``, not started. ``markets``: Binance's loaded
    ccxt markets (its symbol ids), ``funding``: where Binance's funding rates go, ``mark_price``: override of
    ``exchange.mark_price`` for Binance's stream (``record`` turns it off), ``klines``: where Binance's
    ``<symbol>@kline_5m`` frames go (subscribed only then: the estimated layer's inputs), ``trades``: where its
    ``<symbol>@aggTrade`` frames go (subscribed only then: the liquidity layer's walls)."""
    feeds = []
    for venue in config.venues_on:
        if venue is Venue.BINANCE:
            settings = stream_settings(config.exchange)
            if mark_price is not None:
                settings = replace(settings, mark_price=mark_price)
            if klines is not None:
                settings = replace(settings, klines=True)
            if trades is not None:
                settings = replace(settings, agg_trades=True)
            symbols: Any = "all" if config.symbols == "all" else [to_exchange_id(s, markets) for s in config.symbols]
            feeds.append(VenueFeed(venue, LiquidationStream(sink, symbols, settings, funding=funding, klines=klines,
                                                             trades=trades),
                                   markets_source="exchange" if markets else "rule"))
            continue
        urls = config.venues.bybit if venue is Venue.BYBIT else config.venues.okx
        reload = partial(load, venue, config.venues.markets_path(config.source), rest_url=urls.rest_url,
                         timeout_s=config.exchange.timeouts.rest)
        try:
            loaded = reload(now_ms=now_ms)
        except MarketsUnavailable as exc:
            log.error("venue_not_streamed", venue=venue.value, error=str(exc),
                      consequence="no liquidations from this venue until the bot is restarted with its markets")
            feeds.append(VenueFeed(venue, None, markets_source="unavailable", markets_error=str(exc)))
            continue
        if loaded.error is not None:
            log.warning("venue_markets_stale", venue=venue.value, error=loaded.error,
                        as_of_ms=loaded.instruments.as_of_ms, consequence="the cached instruments are used")
        settings = StreamSettings.for_venue(venue, ws_url=urls.ws_url,
                                            connect_timeout=config.exchange.timeouts.connect)
        symbols = "all" if config.symbols == "all" else list(config.symbols)
        stream = LiquidationStream(sink, symbols, settings, venue=venue, instruments=loaded.instruments)
        feeds.append(VenueFeed(venue, stream, loaded.instruments, loaded.source, loaded.error, reload=reload))
    return VenueStreams(feeds)

