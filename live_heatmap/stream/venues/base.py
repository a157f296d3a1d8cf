"""What a venue adapter is: the small part of the stream that differs between exchanges.

An adapter (:class:`VenueAdapter`, one per venue) plans the subscriptions and their shards, names the URL,
builds the router that turns messages into events for the sink, and, per connection, a :class:`Session`: the
subscribe messages and how their answers are checked, how a message is classified (data to the router, a
control reply, a pong) and the keep-alive. The connection (``stream/connection.py``) owns the socket, the
pacing, the deadlines and the threads, the same for every venue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import orjson

from live_heatmap.common.instruments import Instruments
from live_heatmap.stream.router import FundingSink, Sink, StreamStats
from live_heatmap.stream.settings import StreamSettings
from live_heatmap.stream.subscriptions import Plan
from live_heatmap.venue import Venue

__all__ = ["JsonSession", "KeepAlive", "MessageRouter", "Plan", "Session", "SubscriptionBook", "VenueAdapter"]


class KeepAlive(StrEnum):
    """How a connection shows the server it is alive."""

    WS_PING = "ws_ping"
    """A WebSocket ping frame every ``ping_interval`` (Binance; the server also pings us)."""
    MESSAGE = "message"
    """A text message every ``ping_interval`` (Bybit: ``{"op":"ping"}``)."""
    WHEN_IDLE = "when_idle"
    """A text message after ``ping_interval`` with nothing received (OKX: ``ping``)."""


@dataclass(slots=True)
class SubscriptionBook:
    """One shard's record of refused subscriptions, kept across its connections."""

    dropped: set[str] = field(default_factory=set)
    """Topics the server refused for good (Bybit: an unknown symbol): not subscribed again."""
    errors: int = 0
    """Refused subscriptions and error answers, since start."""


class MessageRouter(Protocol):
    """Where a session's data messages go."""

    def on_payload(self, payload: Any) -> None:
        """A data message (Binance: the payload with the envelope removed; Bybit, OKX: the decoded message)."""

    def on_reject(self, reason: str, raw: bytes) -> None:
        """A frame that could not be used (not JSON, unknown shape)."""


class Session(Protocol):
    """One connection's protocol state; used by that connection's reader thread only."""

    keepalive: KeepAlive
    ping_message: str
    """The text sent as a keep-alive (unused for ``WS_PING``)."""
    errors: deque[str]
    """The server's latest error answers (bounded)."""
    failure: str | None
    """Set when the connection must end (a refused subscription it cannot do without)."""

    def next_request(self) -> str | None:
        """The next subscribe message to send now, or None (none left, or the budget says wait)."""

    def has_requests(self) -> bool:
        """Messages still to send."""

    def ready(self) -> bool:
        """Every subscription answered."""

    def on_frame(self, data: bytes) -> None:
        """A text or binary frame: data to the router, a control reply checked, a pong noted."""


class JsonSession:
    """What every venue's session shares: its name and router, the bounded error answers and the failure; each
    frame decoded as JSON (not JSON: a ``not_json`` reject) and handed to :meth:`on_message` (a shape it does not
    know: ``unknown_message``)."""

    def __init__(self, name: str, router: MessageRouter) -> None:
        self.name = name
        self.router = router
        self.errors: deque[str] = deque(maxlen=20)
        self.failure: str | None = None

    def on_frame(self, data: bytes) -> None:
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            self.router.on_reject("not_json", data)
            return
        if not self.on_message(message):
            self.router.on_reject("unknown_message", data)

    def on_message(self, message: Any) -> bool:
        """Route or check one decoded message; False when its shape is not one the venue sends."""
        raise NotImplementedError


class VenueAdapter(Protocol):
    """One venue's part of the stream."""

    venue: Venue

    def plan(self, symbols: Sequence[str] | str, settings: StreamSettings, instruments: Instruments | None) -> Plan:
        """The subscriptions for ``symbols`` (ids, unified symbols or ``"all"``), sharded."""

    def url(self, settings: StreamSettings) -> str:
        """The URL to connect to."""

    def router(self, sink: Sink, plan: Plan, stats: StreamStats, *, funding: FundingSink | None,
               wall_ms: Callable[[], int], instruments: Instruments | None) -> MessageRouter:
        """The router of the stream's data messages into ``sink``."""

    def session(self, name: str, topics: tuple[str, ...], router: MessageRouter, settings: StreamSettings, *,
                first_id: int, book: SubscriptionBook, monotonic: Callable[[], float]) -> Session:
        """A new connection's protocol state; what the server refuses is noted in the shard's ``book``."""
