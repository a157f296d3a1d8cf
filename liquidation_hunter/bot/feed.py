"""The feed's parts of a bot and of ``record`` (issue 17, ``docs/FEED.md``): a :class:`FeedConsumer` in place of
the venues' streams (``feed.source``), a :class:`FeedPublisher` beside the recorder (``feed.publish`` or ``record
--publish``)."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from msgspec.structs import replace

from liquidation_hunter.bot.app import Service
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.feed.client import connect
from liquidation_hunter.feed.consumer import CursorBook, FeedConsumer
from liquidation_hunter.feed.publisher import FeedPublisher
from live_heatmap import LiveLiquidationHeatmap

__all__ = ["feed_consumer", "on_feed", "publisher_service"]

log = structlog.get_logger("liquidation_hunter.feed")


def on_feed(config: BotConfig) -> BotConfig:
    """``config`` as a bot on a feed runs it: no Binance stream is opened, so its prices are polled over REST
    (``exchange.mark_price`` false: the ``prices`` job every ``schedule.prices`` seconds). Unchanged without
    ``feed.source``."""
    if config.feed.source is None or not config.exchange.mark_price:
        return config
    return replace(config, exchange=replace(config.exchange, mark_price=False))


def feed_consumer(config: BotConfig, heatmap: LiveLiquidationHeatmap, books: CursorBook, *, now_ms: int,
                  clock: Callable[[], int]) -> FeedConsumer:
    """The bot's feed (``config.feed.source`` set), not started: it resumes from the books' cursors, or the first
    time from the heatmap's horizon back."""
    feed = config.feed
    if feed.source is None:
        raise ValueError("feed.source is null: the bot reads the venues")
    client = connect(feed.source, timeout_s=feed.block_ms / 1000 + 5.0)
    start_ms = now_ms - int(heatmap.config.horizon_minutes * 60_000)
    return FeedConsumer(client, config.feed_exchanges, lambda events: heatmap.ingest_many(list(events)), books,
                        start_ms=start_ms, url=feed.source, block_ms=feed.block_ms, fill_from=feed.fill_from,
                        clock=clock)


def publisher_service(config: BotConfig, url: str, heatmap: LiveLiquidationHeatmap, *,
                      clock: Callable[[], int]) -> tuple[FeedPublisher, Service]:
    """A publisher to ``url`` (``record --publish``, or ``feed.publish`` of ``record`` or ``run``) of every event
    ``heatmap`` accepts, and the service that starts it (attached) and stops it (what is queued sent first)."""
    publisher = FeedPublisher(connect(url), maxlen=config.feed.maxlen, buffer=config.feed.buffer, clock=clock)

    def start() -> None:
        publisher.attach(heatmap).start()
        log.info("feed_publishing", url=url, maxlen=config.feed.maxlen)

    def stop() -> None:
        publisher.stop(timeout=1.0)
        log.info("feed_published", **publisher.stats())

    return publisher, Service("publisher", start, stop)
