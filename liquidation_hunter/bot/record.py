"""``liquidation-hunter record``: only the liquidation stream and the recorder, no trading.

For collecting history on a small server: the ``forceOrder`` stream of ``symbols`` (``all``: the
all-market stream) goes into a heatmap, whose accepted events a :class:`~live_heatmap.store.recorder.Recorder`
appends to ``storage.events`` every second. No REST calls, no mark prices, no books. The heatmap is there
for what it does to the stream anyway: it drops the duplicates of a reconnect or rotation overlap (the
store would too) and counts bad frames; it holds at most ``heatmap.max_events`` events per symbol.

SIGINT/SIGTERM: the stream is closed, the queue flushed and the file closed, within 5 s. One heartbeat
line every ``schedule.heartbeat`` seconds: events written, their rate, whether the stream is connected.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from liquidation_hunter.bot.logs import configure_logging
from liquidation_hunter.config.model import BotConfig
from live_heatmap import LiveLiquidationHeatmap, system_clock_ms, to_exchange_id
from live_heatmap.store.recorder import EventStore, Recorder

__all__ = ["RecordingDisabled", "run_recorder"]

log = structlog.get_logger("liquidation_hunter.record")

FLUSH_INTERVAL_S = 1.0
"""Seconds between the recorder's writes: what a crash can lose."""


class RecordingDisabled(ValueError):
    """``storage.events`` is null: there is nowhere to record to."""


def run_recorder(config: BotConfig, *, clock: Callable[[], int] = system_clock_ms, install_signals: bool = True,
                 stop: threading.Event | None = None) -> int:
    """Record liquidations until SIGINT/SIGTERM (or ``stop`` is set); returns the exit code (0).

    ``stop`` lets a caller (a test, an embedding program) end it without a signal. Raises
    :class:`RecordingDisabled` when ``config.storage.events`` is null, and
    :class:`~live_heatmap.store.recorder.EventStoreError` when the file is not an event store.
    """
    if config.storage.events is None:
        raise RecordingDisabled(f"{config.source or 'the config'}: storage.events is null, so there is nowhere to "
                                "record to; set it to a file")
    secrets = config.secrets()
    configure_logging(fmt=config.logging.format, level=config.logging.level,
                      secrets=(secrets.api_key, secrets.api_secret))
    stop = stop or threading.Event()
    store = EventStore.open(config.storage.events)
    heatmap = LiveLiquidationHeatmap(config=config.heatmap, clock=clock, ws_url=config.exchange.ws_url)
    recorder = Recorder(store, flush_interval=FLUSH_INTERVAL_S, retention_days=config.storage.retention_days,
                        clock=clock).attach(heatmap).start()
    symbols: Any = "all" if config.symbols == "all" else [to_exchange_id(s) for s in config.symbols]
    reason: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        if not reason:
            reason.append(signal.Signals(signum).name)
        stop.set()

    if install_signals:
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
    begun = time.monotonic()
    log.info("recorder_started", path=store.path, stored=store.count(), symbols=symbols,
             retention_days=config.storage.retention_days, pid=os.getpid())
    try:
        heatmap.start_stream(symbols, settings=config.exchange.stream_settings(), mark_price=False)
        _heartbeats(config.schedule.heartbeat, heatmap, recorder, stop)
    finally:
        stopping = time.monotonic()
        heatmap.stop_stream(timeout=1.5)
        recorder.stop(timeout=2.5)
        stats = recorder.stats()
        store.close()
        log.info("recorder_stopped", reason=reason[0] if reason else "stopped", written=stats["written"],
                 duplicates=stats["duplicates"], errors=stats["errors"], lost=stats["pending"],
                 stop_seconds=round(time.monotonic() - stopping, 2), ran_seconds=round(stopping - begun, 1))
    return 0


def _heartbeats(every: float, heatmap: LiveLiquidationHeatmap, recorder: Recorder, stop: threading.Event) -> None:
    """One status line every ``every`` seconds until ``stop`` is set."""
    last_written, last_at = recorder.written, time.monotonic()
    while not stop.wait(every):
        now = time.monotonic()
        status = heatmap.status()
        stats = recorder.stats()
        rate = (stats["written"] - last_written) / max(now - last_at, 1e-9)
        log.info("recorder_heartbeat", written=stats["written"], rate_per_s=round(rate, 2),
                 connected=status["connected"], since_last_event_s=_since_last_event(status),
                 pending=stats["pending"], duplicates=stats["duplicates"],
                 errors=stats["errors"], rejected=sum(status["rejected"].values()),
                 reconnects=_reconnects(status), last_error=stats["last_error"])
        last_written, last_at = stats["written"], now


def _since_last_event(status: dict[str, Any]) -> float | None:
    stream = status.get("stream")
    value = stream.get("since_last_event_s") if isinstance(stream, dict) else None
    return value if isinstance(value, int | float) else None


def _reconnects(status: dict[str, Any]) -> int | None:
    stream = status.get("stream")
    if not isinstance(stream, dict):
        return None
    value = stream.get("reconnects")
    return value if isinstance(value, int) else None
