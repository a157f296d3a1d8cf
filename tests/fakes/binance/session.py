"""One client connection as the fake server sees it: its state, its outbox, and its public snapshot."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from .protocol import Route, StreamState


@dataclass(frozen=True)
class ConnectionInfo:
    """A snapshot of one connection. Times are `time.monotonic()` seconds.

    `messages_received` holds each client message decoded from JSON (or its raw text when it was
    not JSON); `ended_by` says who ended the connection: "client", "close" (close_all/close_connection),
    "drop" (drop_all/drop_connection), "rate_limit", "pong_timeout", "max_lifetime" or "server_stop"
    (None while open).
    """

    id: int
    path: str
    opened_at: float
    closed_at: float | None
    subscriptions: frozenset[str]
    messages_received: list[Any]
    pongs_received: int
    pings_sent: int
    frames_sent: int
    combined: bool
    ended_by: str | None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class OutFrame:
    """A data frame to send: text unless `binary`."""

    data: bytes
    binary: bool = False


@dataclass(frozen=True)
class OutClose:
    """Close the connection with a close frame, after the frames queued before it."""

    code: int
    reason: str


Outgoing = OutFrame | OutClose


@dataclass
class Session:
    """Mutable per-connection state. Mutated on the server's loop thread under the server's lock."""

    id: int
    path: str
    route: Route
    ws: FakeConnection
    state: StreamState
    silent: Callable[[Session], bool]
    on_pong: Callable[[Session], None]
    opened_at: float = field(default_factory=time.monotonic)
    closed_at: float | None = None
    messages: list[Any] = field(default_factory=list)
    pongs: int = 0
    pings_sent: int = 0
    frames_sent: int = 0
    ended_by: str | None = None
    closing: bool = False
    recent: deque[float] = field(default_factory=deque)  # monotonic times of the last second's messages
    awaiting_pong_since: float | None = None  # loop time of the oldest unanswered ping
    next_ping_at: float = 0.0  # loop time
    outbox: asyncio.Queue[Outgoing] = field(default_factory=asyncio.Queue)

    def snapshot(self) -> ConnectionInfo:
        return ConnectionInfo(
            id=self.id,
            path=self.path,
            opened_at=self.opened_at,
            closed_at=self.closed_at,
            subscriptions=frozenset(self.state.subscriptions),
            messages_received=list(self.messages),
            pongs_received=self.pongs,
            pings_sent=self.pings_sent,
            frames_sent=self.frames_sent,
            combined=self.state.combined,
            ended_by=self.ended_by,
        )

    def count_message(self, now: float) -> int:
        """Record one incoming message; return how many arrived within the last second."""
        self.recent.append(now)
        while self.recent and now - self.recent[0] >= 1.0:
            self.recent.popleft()
        return len(self.recent)


class FakeConnection(ServerConnection):
    """A websockets server connection that reports client pongs and can go fully silent.

    websockets answers client pings by itself, below the application; a silent server must not,
    so while its session is silent the bytes the protocol wants to write are discarded (closing
    frames excepted: the state is no longer OPEN by then).
    """

    route: Route | None = None
    session: Session | None = None

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PONG and self.session is not None:
            self.session.on_pong(self.session)
        super().process_event(event)

    def send_data(self) -> None:
        session = self.session
        if session is not None and self.protocol.state is State.OPEN and session.silent(session):
            self.protocol.data_to_send()  # drop automatic pongs: silent means silent
            return
        super().send_data()
