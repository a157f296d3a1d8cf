"""What the heartbeat watches besides the counters: how long the stream has been disconnected (the heartbeat line
goes to warning after a minute and to error after five) and which symbols' prices are too old to trade on
(logged once when a price goes stale and once when it is fresh again; their ages go to ``status``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import structlog

from live_heatmap.stream.status import StreamStatus

__all__ = ["DISCONNECTED_ERROR_MS", "DISCONNECTED_WARN_MS", "DisconnectionWatch", "StalePrices"]

log = structlog.get_logger("liquidation_hunter.bot")

DISCONNECTED_WARN_MS = 60_000
DISCONNECTED_ERROR_MS = 300_000
"""The heartbeat's level while the stream is disconnected: warning after a minute, error after five."""


class DisconnectionWatch:
    """Since when the stream is disconnected, as the heartbeats see it; ``started_at``: the bot's start."""

    def __init__(self, started_at: int) -> None:
        self._started_at = started_at
        self.since: int | None = None
        """When the stream went down (None: connected, or no stream)."""
        self._seen_connected = False

    def observe(self, stream: StreamStatus | None, now_ms: int) -> None:
        """A heartbeat's look at the stream (None: no stream, a backtest)."""
        if stream is None or stream.connected:
            self.since = None
            self._seen_connected = self._seen_connected or stream is not None
        elif self.since is None:  # since the start, or since the first heartbeat that saw it down
            self.since = now_ms if self._seen_connected else self._started_at

    def down_ms(self, now_ms: int) -> int:
        return 0 if self.since is None else now_ms - self.since

    def seconds(self, now_ms: int) -> float | None:
        """How long the stream has been down, in seconds (one decimal) for the health record; None when up."""
        return None if self.since is None else round((now_ms - self.since) / 1000, 1)

    def level(self, now_ms: int) -> Callable[..., object]:
        """The log method of the heartbeat line: info, warning after a minute down, error after five."""
        down_ms = self.down_ms(now_ms)
        level: Callable[..., object] = log.error if down_ms >= DISCONNECTED_ERROR_MS \
            else log.warning if down_ms >= DISCONNECTED_WARN_MS else log.info
        return level


class StalePrices:
    """The symbols whose last price is too old to trade on, with their age in seconds at the last look."""

    def __init__(self) -> None:
        self.ages: dict[str, float] = {}

    def note(self, stale: Mapping[str, int]) -> None:
        """``stale``: symbol -> age in ms. Log a symbol once when its price goes stale, once when it is fresh
        again; keep the ages for status."""
        for symbol in stale.keys() - self.ages.keys():
            log.warning("price_stale", symbol=symbol, age_s=round(stale[symbol] / 1000, 1),
                        consequence="not traded until a fresh price comes")
        for symbol in self.ages.keys() - stale.keys():
            log.info("price_fresh", symbol=symbol)
        self.ages = {s: round(age / 1000, 1) for s, age in stale.items()}
