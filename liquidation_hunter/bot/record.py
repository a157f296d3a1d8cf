"""``liquidation-hunter record``: only the liquidation stream and the recorder, no trading.

For collecting history on a small server: the liquidation stream of each venue of ``exchanges`` (Binance's
``forceOrder`` of ``symbols``, ``all``: the all-market stream; Bybit's and OKX's, :mod:`.venues`) goes into a
heatmap, whose accepted events a :class:`~live_heatmap.store.recorder.Recorder` appends to ``storage.events``
every second; OKX's recent liquidations are backfilled over REST first. No mark prices, no books; the only REST
calls are Bybit's and OKX's instruments (cached for a day) and OKX's backfill. The heatmap is there
for what it does to the stream anyway: it drops the duplicates of a reconnect or rotation overlap (the
store would too) and counts bad frames; it holds at most ``heatmap.max_events`` events per symbol.

An :class:`~.app.App` of three services: the recorder, the stream, the heartbeat (one line every
``schedule.heartbeat`` seconds: events written, their rate, whether the stream is connected; it also reads a
venue's instruments again once they are a day old, :mod:`.venues`). SIGINT/SIGTERM:
the stream is closed, the queue flushed and the file closed, within 5 s.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import structlog

from liquidation_hunter.bot.app import App, Service
from liquidation_hunter.bot.feed import publisher_service
from liquidation_hunter.bot.logs import configure_logging
from liquidation_hunter.bot.venues import VenueStreams, venue_streams
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.feed.publisher import FeedPublisher
from live_heatmap import LiveLiquidationHeatmap, system_clock_ms
from live_heatmap.store.recorder import Recorder
from live_heatmap.store.stores import open_event_store

__all__ = ["RecordingDisabled", "run_recorder"]

log = structlog.get_logger("liquidation_hunter.record")

FLUSH_INTERVAL_S = 1.0
"""Seconds between the recorder's writes: what a crash can lose."""


class RecordingDisabled(ValueError):
    """``storage.events`` is null: there is nowhere to record to."""


def run_recorder(config: BotConfig, *, clock: Callable[[], int] = system_clock_ms, install_signals: bool = True,
                 stop: threading.Event | None = None, publish: str | None = None) -> int:
    """Record liquidations until SIGINT/SIGTERM (or ``stop`` is set); returns the exit code (0).

    ``stop`` lets a caller (a test, an embedding program) end it without a signal. ``publish`` (``--publish``,
    else ``feed.publish``): every event stored is also appended to that Redis's ``liq:<exchange>`` (issue 17,
    :mod:`liquidation_hunter.feed.publisher`). Raises
    :class:`RecordingDisabled` when ``config.storage.events`` is null, and
    :class:`~live_heatmap.store.recorder.EventStoreError` when the file is not an event store.
    """
    if config.storage.events is None:
        raise RecordingDisabled(f"{config.source or 'the config'}: storage.events is null, so there is nowhere to "
                                "record to; set it to a file")
    secrets = config.secrets()
    configure_logging(fmt=config.logging.format, level=config.logging.level,
                      secrets=(secrets.api_key, secrets.api_secret))
    store = open_event_store(config.storage.events)
    heatmap = LiveLiquidationHeatmap(config=config.heatmap, clock=clock)
    recorder = Recorder(store, flush_interval=FLUSH_INTERVAL_S, retention_days=config.storage.retention_days,
                        clock=clock).attach(heatmap)
    stream = venue_streams(config, heatmap, now_ms=clock(), mark_price=False)
    target = publish or config.feed.publish
    publisher, publishing = (None, None) if target is None else publisher_service(config, target, heatmap,
                                                                                   clock=clock)
    heartbeat = _Heartbeat(config.schedule.heartbeat, heatmap, stream, recorder, clock,
                           publisher=publisher)

    def stop_recorder() -> None:
        recorder.stop(timeout=2.5)
        store.close()

    app = App([Service("recorder", recorder.start, stop_recorder),
               *([] if publishing is None else [publishing]),
               Service("backfill", lambda: stream.backfill(config, heatmap), lambda: None),
               Service("stream", stream.start, lambda: stream.stop(timeout=1.5)),
               Service("heartbeat", heartbeat.start, heartbeat.stop)])
    log.info("recorder_started", path=store.path, stored=store.count(), symbols=config.symbols,
             exchanges=list(config.exchanges),
             retention_days=config.storage.retention_days, publish=target, pid=os.getpid())
    reason = app.run(install_signals=install_signals, until=stop)
    stats = recorder.stats()
    log.info("recorder_stopped", reason=reason, written=stats["written"], duplicates=stats["duplicates"],
             errors=stats["errors"], lost=stats["pending"], stop_seconds=round(app.stop_seconds, 2),
             ran_seconds=round(app.ran_seconds, 1),
             **({} if publisher is None else {"published": publisher.published, "publish_dropped": publisher.dropped}))
    return 0


class _Heartbeat:
    """One status line every ``every`` seconds, on its own daemon thread, until stopped; before it, the venues'
    instruments are read again once a day old (as the bot's ``markets`` job does)."""

    def __init__(self, every: float, heatmap: LiveLiquidationHeatmap, stream: VenueStreams,
                 recorder: Recorder, clock: Callable[[], int], *,
                 publisher: FeedPublisher | None = None) -> None:
        self.every = every
        self.publisher = publisher
        self.clock = clock
        self.heatmap = heatmap
        self.stream = stream
        self.recorder = recorder
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recorder-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(1.0)

    def _run(self) -> None:
        last_written, last_at = self.recorder.written, time.monotonic()
        while not self._stop.wait(self.every):
            self.stream.refresh_markets(self.clock())  # a day-old venue table read again (bot.venues)
            now = time.monotonic()
            ingest, stream = self.heatmap.status(), self.stream.status()
            stats = self.recorder.stats()
            rate = (stats["written"] - last_written) / max(now - last_at, 1e-9)
            log.info("recorder_heartbeat", written=stats["written"], rate_per_s=round(rate, 2),
                     connected=stream.connected, since_last_event_s=stream.since_last_event_s,
                     pending=stats["pending"], duplicates=stats["duplicates"],
                     errors=stats["errors"], rejected=ingest.rejected_total,
                     reconnects=stream.reconnects, last_error=stats["last_error"],
                     **({} if self.publisher is None else {"feed": self.publisher.stats()}))
            last_written, last_at = stats["written"], now
