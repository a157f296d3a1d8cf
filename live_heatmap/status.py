"""The heatmap's ingest counters as a typed value, and the one place they meet the stream's health.

``heatmap.status()`` is an :class:`IngestStatus` (counters only); ``stream.status()`` a
:class:`~live_heatmap.stream.status.StreamStatus` (connections only). :func:`feed_dict` serialises the two
together, at the edge, as the single object the API's ``/api/v1/status`` has always shown under ``heatmap``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from live_heatmap.stream.status import StreamStatus

__all__ = ["IngestStatus", "feed_dict"]


@dataclass(frozen=True, slots=True)
class IngestStatus:
    """Counters since start: accepted (and per venue), duplicates, fallbacks, rejected by reason, rebuilds,
    symbols."""

    accepted: int
    duplicates: int
    fallbacks: int
    rejected: Mapping[str, int]
    rebuilds: int
    symbols: int
    listener_errors: int
    accepted_by_venue: Mapping[str, int] = field(default_factory=dict)
    """``accepted`` per venue (``{"binance": 120, "bybit": 300}``), the venues with none left out. Rejected
    frames are counted by the stream, per venue, before they reach the heatmap."""

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def feed_dict(ingest: IngestStatus, stream: StreamStatus | None) -> dict[str, Any]:
    """``ingest`` and ``stream`` (None: not streaming) as one JSON object: the counters, ``stream`` and
    ``connected``."""
    return {**ingest.to_dict(), "stream": None if stream is None else stream.to_dict(),
            "connected": stream is not None and stream.connected}
