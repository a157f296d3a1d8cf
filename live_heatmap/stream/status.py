"""The stream's connection health as typed values, kept apart from the heatmap's ingest counters.

:meth:`LiquidationStream.status` returns a :class:`StreamStatus`; ``to_dict()`` is the JSON the API, the logs and
the books have always shown (serialised at the edge, nowhere else).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

__all__ = ["ShardStatus", "StreamHealth", "StreamStatus"]


@dataclass(frozen=True, slots=True)
class ShardStatus:
    """One shard: its streams and the connection currently serving them."""

    shard: int
    streams: int
    connected: bool
    subscribed: bool
    connection: str | None
    uptime_s: float
    since_last_message_s: float | None
    messages: int
    reconnects: int
    rotations: int
    disconnect_causes: Mapping[str, int]
    last_disconnect_cause: str | None
    subscribe_errors: tuple[str, ...]
    dropped_topics: tuple[str, ...] = ()
    """Topics the venue refused for good (Bybit: an unknown symbol), no longer subscribed."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """One venue's stream: every shard connected?, what was routed, reconnects and rotations, rejects by
    reason, refused subscriptions and the configured symbols the venue does not list."""

    connected: bool
    url: str
    events_received: int
    events_filtered: int
    mark_prices: int
    last_event_ms: int | None
    since_last_event_s: float | None
    since_last_message_s: float | None
    reconnects: int
    rotations: int
    shards: tuple[ShardStatus, ...]
    venue: str = "binance"
    connections: int = 0
    """Connections open now."""
    rejected: Mapping[str, int] = field(default_factory=dict)
    """Frames (or elements of them) the stream could not use, by reason (Binance: its own checks; a forceOrder
    is parsed by the heatmap, which counts its rejects)."""
    subscription_errors: int = 0
    """Refused subscriptions and error answers since start."""
    skipped_symbols: tuple[str, ...] = ()
    """Configured symbols this venue does not list."""
    venues_down: tuple[str, ...] = ()
    """Several venues summed: those whose stream is not connected (one venue: see ``down()``)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # the shards as dicts too

    def down(self) -> tuple[str, ...]:
        """The venues whose stream is not connected: each by name, for one venue's status or several summed."""
        if self.venues_down or self.connected:
            return self.venues_down
        return (self.venue,)


class StreamHealth(Protocol):
    """Anything that reports a stream's health (a :class:`~live_heatmap.stream.stream.LiquidationStream`)."""

    def status(self) -> StreamStatus: ...
