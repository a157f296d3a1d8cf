"""The router of the venues whose parser returns events (Bybit, OKX): message -> parser -> the sink.

Each event goes to ``sink.ingest`` as a :class:`~live_heatmap.wire.events.LiquidationEvent`; each reject is
counted by reason in the stream's own stats (its status, per venue) and passed to ``sink.record_reject``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import structlog

from live_heatmap.stream.router import Sink, StreamStats
from live_heatmap.venue import Venue
from live_heatmap.wire.parsed import ParsedFrame

__all__ = ["EventRouter"]

T = TypeVar("T")

log = structlog.get_logger("live_heatmap.stream.stream")


class EventRouter(Generic[T]):
    """Routes one venue's decoded data messages through ``parse(message, instruments)``; ``keep`` (optional) trims
    a message to the wanted instruments before it is parsed and returns how many liquidations it removed (counted
    as filtered). ``instruments`` may be replaced while messages flow (one attribute: each message is parsed with
    the old table or the new one, never a mix)."""

    def __init__(self, venue: Venue, sink: Sink, stats: StreamStats, parse: Callable[[Any, T], ParsedFrame],
                 instruments: T, *, wall_ms: Callable[[], int],
                 keep: Callable[[dict[str, Any]], int] | None = None) -> None:
        self.venue = venue
        self.sink = sink
        self.stats = stats
        self.instruments = instruments
        self._parse = parse
        self._wall_ms = wall_ms
        self._keep = keep

    def on_payload(self, payload: Any) -> None:
        self.stats.last_event_wall_ms = self._wall_ms()
        if self._keep is not None and type(payload) is dict:
            removed = self._keep(payload)
            if removed:
                self.stats.filtered += removed
                if not payload.get("data"):
                    return
        events, rejects = self._parse(payload, self.instruments)
        for rejected in rejects:
            self.on_reject(str(rejected.reason), b"", rejected.detail)
        for event in events:
            self.stats.events += 1
            self.sink.ingest(event)

    def on_reject(self, reason: str, raw: bytes, detail: str = "") -> None:
        self.stats.rejected[reason] += 1
        self.sink.record_reject(reason)
        log.debug("stream.rejected", venue=str(self.venue), reason=reason, detail=detail[:200], raw=raw[:200])
