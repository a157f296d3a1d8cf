"""What the fake Bybit and OKX WebSocket servers share: a `websockets` server on 127.0.0.1 in its own event loop
(Binance's fake's `LoopThread`), one ordered outbox per connection, keep-alive enforcement, faults on command.

A subclass says how a client's text is answered (`answer`) and when a connection has gone quiet for too long
(`keepalive_expired`). Every public method is synchronous and thread-safe.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from .binance.loop_thread import LoopThread

HOST = "127.0.0.1"
TICK = 0.01
LOG = logging.getLogger("fake_venue")

Out = bytes | str | tuple[str, int]
"""A frame to send (bytes: as text, unchanged), or ("close", code) / ("abort", 0)."""


@dataclass
class VenueConnection:
    """One client connection as the fake sees it. Times are `time.monotonic()` seconds."""

    id: int
    path: str
    ws: ServerConnection
    opened_at: float = field(default_factory=time.monotonic)
    closed_at: float | None = None
    last_client_message: float = field(default_factory=time.monotonic)
    last_data_sent: float = field(default_factory=time.monotonic)
    subscriptions: set[str] = field(default_factory=set)
    messages_received: list[Any] = field(default_factory=list)
    pings_received: int = 0
    subscribe_requests: int = 0
    frames_sent: int = 0
    ended_by: str | None = None
    outbox: asyncio.Queue[Out] = field(default_factory=asyncio.Queue)

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class VenueServer:
    """The shared machinery; see the module docstring."""

    name = "venue"
    path = "/"

    def __init__(self) -> None:
        self.cond = threading.Condition()  # guards connections and their state
        self._connections: dict[int, VenueConnection] = {}
        self._next_id = 1
        self._thread = LoopThread(f"fake-{self.name}")
        self._server: Server | None = None
        self._housekeeper: asyncio.Task[None] | None = None
        self.port = 0

    # ---------------------------------------------------------------- the subclass's part

    def answer(self, conn: VenueConnection, text: str) -> list[Out]:
        """The frames answering one client message (called under `cond`, on the loop)."""
        raise NotImplementedError

    def keepalive_expired(self, conn: VenueConnection, now: float) -> tuple[str, int] | None:
        """("close", code) or ("abort", 0) when the client has been quiet too long, else None."""
        raise NotImplementedError

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        self._thread.start()
        self._thread.submit(self._start()).result(5.0)
        return self

    async def _start(self) -> None:
        self._server = await serve(self._handle, HOST, 0, compression=None, ping_interval=None, ping_timeout=None,
                                   close_timeout=0.5, logger=LOG)
        self.port = self._server.sockets[0].getsockname()[1]
        self._housekeeper = asyncio.get_running_loop().create_task(self._housekeeping())

    def stop(self) -> None:
        self._thread.stop(self._stop())

    async def _stop(self) -> None:
        if self._housekeeper is not None:
            self._housekeeper.cancel()
        if self._server is not None:
            with self.cond:
                for conn in self._connections.values():
                    conn.ended_by = conn.ended_by or "server_stop"
            self._server.close(code=1001)
            try:
                await asyncio.wait_for(self._server.wait_closed(), 1.5)
            except TimeoutError:
                for conn in self._connections.values():
                    conn.ws.transport.abort()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError(f"fake {self.name} is not running")
        return f"ws://{HOST}:{self.port}{self.path}"

    # ---------------------------------------------------------------- one connection

    async def _handle(self, ws: ServerConnection) -> None:
        with self.cond:
            conn = VenueConnection(self._next_id, ws.request.path if ws.request else "", ws)
            self._connections[conn.id] = conn
            self._next_id += 1
            self.cond.notify_all()
        writer = asyncio.create_task(self._write(conn))
        try:
            async for message in ws:
                text = message.decode(errors="replace") if isinstance(message, bytes) else message
                with self.cond:
                    conn.last_client_message = time.monotonic()
                    try:
                        conn.messages_received.append(orjson.loads(text))
                    except orjson.JSONDecodeError:
                        conn.messages_received.append(text)
                    replies = self.answer(conn, text)
                    self.cond.notify_all()
                for reply in replies:
                    conn.outbox.put_nowait(reply)
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            with self.cond:
                conn.closed_at = time.monotonic()
                conn.ended_by = conn.ended_by or "client"
                self.cond.notify_all()

    async def _write(self, conn: VenueConnection) -> None:
        try:
            while True:
                item = await conn.outbox.get()
                if isinstance(item, tuple):
                    if item[0] == "abort":
                        conn.ws.transport.abort()
                    else:
                        await conn.ws.close(code=item[1])
                    return
                await conn.ws.send(_text(item))
                conn.frames_sent += 1
        except ConnectionClosed:
            pass

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            with self.cond:
                for conn in self._connections.values():
                    if conn.closed_at is None and conn.ended_by is None:
                        verdict = self.keepalive_expired(conn, now)
                        if verdict is not None:
                            conn.ended_by = "keepalive"
                            conn.outbox.put_nowait(verdict)

    # ---------------------------------------------------------------- what the server sees

    def connections(self) -> list[VenueConnection]:
        """Every connection since start, oldest first (live objects: read, do not change)."""
        with self.cond:
            return list(self._connections.values())

    def open_connections(self) -> list[VenueConnection]:
        return [c for c in self.connections() if c.is_open and c.ended_by is None]

    @property
    def total_connections(self) -> int:
        with self.cond:
            return len(self._connections)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until `condition()` (called under the lock) holds; False on timeout."""
        with self.cond:
            return self.cond.wait_for(condition, timeout)

    def wait_for_subscription(self, topic: str, timeout: float = 5.0) -> bool:
        """Block until some open connection is subscribed to `topic`."""
        return self.wait_for(lambda: any(c.is_open and c.ended_by is None and topic in c.subscriptions
                                         for c in self._connections.values()), timeout)

    # ---------------------------------------------------------------- feeding and faults

    def _to_open(self, pick: Callable[[VenueConnection], bool], item: Out) -> int:
        def put() -> int:
            with self.cond:
                targets = [c for c in self._connections.values()
                           if c.is_open and c.ended_by is None and pick(c)]
                for conn in targets:
                    conn.outbox.put_nowait(item)
                    if not isinstance(item, tuple):
                        conn.last_data_sent = time.monotonic()
                return len(targets)

        return self._thread.call(put)

    def publish_to(self, topic: str, message: dict[str, Any] | bytes) -> int:
        """Queue `message` to every open connection subscribed to `topic`; returns how many."""
        data = message if isinstance(message, bytes) else orjson.dumps(message)
        return self._to_open(lambda c: topic in c.subscriptions, data)

    def send_raw(self, data: bytes | str) -> int:
        """Send `data` unchanged, as a text frame, to every open connection (garbage, truncated frames...)."""
        return self._to_open(lambda c: True, data)

    def close_all(self, code: int = 1000) -> int:
        """Close every open connection with a close frame, after the frames already queued."""
        return self._end_all(("close", code), "close")

    def drop_all(self) -> int:
        """Abort every open TCP connection, no close frame, after the frames already queued."""
        return self._end_all(("abort", 0), "drop")

    def _end_all(self, item: tuple[str, int], why: str) -> int:
        def end() -> int:
            with self.cond:
                targets = [c for c in self._connections.values() if c.is_open and c.ended_by is None]
                for conn in targets:
                    conn.ended_by = why
                    conn.outbox.put_nowait(item)
                return len(targets)

        return self._thread.call(end)


def _text(item: bytes | str) -> str | bytes:
    """A text frame when the bytes are UTF-8 (JSON, truncated JSON, words), else a binary frame."""
    if isinstance(item, str):
        return item
    try:
        return item.decode()
    except UnicodeDecodeError:
        return item
