"""The event-loop side of the fake server: handshakes, control messages, outboxes, timers, replays.

Every method here runs on the server's loop thread, except that session state is also read by
other threads under `Engine.cond` (which guards every change to it).
"""

from __future__ import annotations

import asyncio
import http
import logging
import math
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .protocol import RouteError, StreamState, decode, handle_control, parse_route
from .replay import ReplayHandle, ReplayItem
from .session import FakeConnection, OutClose, OutFrame, Session

HOST = "127.0.0.1"
TICK = 0.01  # seconds between housekeeping passes (pings, pong deadlines, lifetimes)
CLOSE_TIMEOUT = 1.0  # how long a close handshake may take before the TCP connection is aborted
LOG = logging.getLogger("fake_binance")


@dataclass
class Settings:
    """The knobs; the public setters change them from any thread (plain attribute writes)."""

    ping_interval: float | None
    pong_timeout: float
    max_incoming_per_second: int
    max_streams: int
    min_event_gap_ms: int
    legacy_paths_silent: bool
    silent: bool = False
    ignore_pongs: bool = False
    max_lifetime: float | None = None
    refuse_until: float = 0.0  # time.monotonic()


class Engine:
    """One websockets server and the sessions of its connections."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cond = threading.Condition()  # guards sessions, their state, and `rejected`
        self.sessions: dict[int, Session] = {}
        self.rejected: list[tuple[str, int]] = []
        self.port = 0
        self._next_id = 1
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # ---------------------------------------------------------------- start and stop

    async def start(self) -> None:
        self._server = await serve(
            self._handle, HOST, 0, process_request=self._process_request, compression=None,
            ping_interval=None, ping_timeout=None,  # our housekeeping pings, so that it can be silenced
            close_timeout=CLOSE_TIMEOUT, create_connection=FakeConnection, logger=LOG,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._spawn(self._housekeeping())

    async def stop(self) -> None:
        """Close every connection with 1001 (aborting those that do not answer) and stop listening."""
        for task in list(self._tasks):
            task.cancel()
        if self._server is None:
            return
        with self.cond:
            for session in self.open_sessions():
                session.ended_by = session.ended_by or "server_stop"
        self._server.close(code=1001)
        try:
            await asyncio.wait_for(self._server.wait_closed(), CLOSE_TIMEOUT + 0.5)
        except TimeoutError:  # a client that answers nothing: cut it
            for session in self.sessions.values():
                if session.closed_at is None:
                    session.ws.transport.abort()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------- connections

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Route the handshake, or refuse it (404 unknown path, 400 bad streams, 503 while refusing)."""
        status, text = 0, ""
        if time.monotonic() < self.settings.refuse_until:
            status, text = 503, "Service Unavailable\n"
        else:
            try:
                assert isinstance(connection, FakeConnection)
                connection.route = parse_route(request.path, max_streams=self.settings.max_streams)
            except RouteError as exc:
                status, text = exc.status, exc.text
        if not status:
            return None
        with self.cond:
            self.rejected.append((request.path, status))
        return connection.respond(http.HTTPStatus(status), text)

    async def _handle(self, ws: ServerConnection) -> None:
        """Serve one connection: read control messages; a writer task sends its outbox in order."""
        assert isinstance(ws, FakeConnection)
        session = self._open_session(ws)
        writer = asyncio.create_task(self._write_loop(session))
        try:
            async for message in ws:
                if not self._receive(session, message):
                    await writer  # sends what was queued, then the rate-limit close frame
                    break
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            with self.cond:
                session.closed_at = time.monotonic()
                session.ended_by = session.ended_by or "client"
                self.cond.notify_all()

    def _open_session(self, ws: FakeConnection) -> Session:
        assert ws.route is not None and ws.request is not None
        route = ws.route
        with self.cond:
            session = Session(
                id=self._next_id, path=ws.request.path, route=route, ws=ws,
                state=StreamState(combined=route.combined, subscriptions=dict.fromkeys(route.streams)),
                silent=self.drops_control_frames, on_pong=self._on_pong,
            )
            session.next_ping_at = asyncio.get_running_loop().time() + (self.settings.ping_interval or 0.0)
            self._next_id += 1
            self.sessions[session.id] = session
            ws.session = session
            self.cond.notify_all()
        return session

    def _receive(self, session: Session, message: str | bytes) -> bool:
        """Handle one client message; False when it broke the rate limit and the connection closes."""
        decoded, reply = decode(message)
        with self.cond:
            session.messages.append(decoded)
            over_limit = session.count_message(time.monotonic()) > self.settings.max_incoming_per_second
            if not over_limit and reply is None:
                reply = handle_control(decoded, session.state, max_streams=self.settings.max_streams)
            self.cond.notify_all()
        if over_limit:
            self.close_session(session, 1008, "Too many requests", "rate_limit")
            return False
        assert reply is not None
        self.enqueue(session, OutFrame(orjson.dumps(reply)))
        return True

    async def _write_loop(self, session: Session) -> None:
        ws = session.ws
        while True:
            item = await session.outbox.get()
            try:
                if isinstance(item, OutClose):
                    await ws.close(item.code, item.reason)
                    return
                if self.is_silent(session):
                    continue
                await ws.send(item.data, text=not item.binary)
            except ConnectionClosed:
                return
            with self.cond:
                session.frames_sent += 1

    # ---------------------------------------------------------------- per-session actions

    def open_sessions(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.closed_at is None and not s.closing]

    def is_silent(self, session: Session) -> bool:
        """No data, replies or pings for this session (set_silent, or a retired path)."""
        return self.settings.silent or (self.settings.legacy_paths_silent
                                         and not (session.route.market or session.route.public))

    def drops_control_frames(self, session: Session) -> bool:
        """Not even automatic pongs (set_silent only: a retired path still answers pings)."""
        return self.settings.silent

    def _on_pong(self, session: Session) -> None:
        if self.settings.ignore_pongs:
            return
        with self.cond:
            session.pongs += 1
            session.awaiting_pong_since = None

    def enqueue(self, session: Session, item: OutFrame) -> bool:
        """Queue a frame behind the others; False if the session is closing or silent."""
        if session.closing or session.closed_at is not None or self.is_silent(session):
            return False
        session.outbox.put_nowait(item)
        return True

    def close_session(self, session: Session, code: int, reason: str, why: str) -> bool:
        """Queue a close frame behind the frames already queued."""
        if session.closing or session.closed_at is not None:
            return False
        session.closing = True
        session.ended_by = why
        session.outbox.put_nowait(OutClose(code, reason))
        return True

    def abort(self, session: Session) -> bool:
        """Drop the TCP connection now: no close frame, queued frames lost."""
        if session.closed_at is not None:
            return False
        session.closing = True
        session.ended_by = "drop"
        session.ws.transport.abort()
        return True

    # ---------------------------------------------------------------- publishing

    def publish(self, stream: str, data: bytes, *, public: bool | None = None) -> int:
        """To every open session subscribed to ``stream`` (``public``: only those on ``/public``, or only the
        others)."""
        envelope = b'{"stream":' + orjson.dumps(stream) + b',"data":' + data + b"}"
        count = 0
        for session in self.open_sessions():
            if public is not None and session.route.public is not public:
                continue
            if stream in session.state.subscriptions:
                count += self.enqueue(session, OutFrame(envelope if session.state.combined else data))
        return count

    def publish_force_order(self, item: ReplayItem) -> int:
        by_symbol = self.publish(f"{item.symbol.lower()}@forceOrder", item.wire)
        return by_symbol + self.publish("!forceOrder@arr", item.wire)

    async def replay(self, handle: ReplayHandle, items: list[ReplayItem], speed: float) -> None:
        """Publish `items` spaced by their `o.T` gaps divided by `speed` (0 or inf: no spacing)."""
        loop = asyncio.get_running_loop()
        paced = 0 < speed < math.inf
        start, first_ms = loop.time(), items[0].trade_ms if items else 0
        try:
            for index, item in enumerate(items):
                if paced:
                    delay = start + (item.trade_ms - first_ms) / 1000.0 / speed - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                elif index % 256 == 0:
                    await asyncio.sleep(0)  # let the writers and readers run
                self.publish_force_order(item)
                handle._record(item.payload)
        finally:
            handle._finish()

    # ---------------------------------------------------------------- timers

    async def _housekeeping(self) -> None:
        """Every TICK: close connections past their lifetime, send due pings, drop pong-less clients."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(TICK)
            now = loop.time()
            for session in self.open_sessions():
                self._check_lifetime(session)
                if not session.closing:
                    self._check_keepalive(session, now)

    def _check_lifetime(self, session: Session) -> None:
        lifetime = self.settings.max_lifetime
        if lifetime is not None and time.monotonic() - session.opened_at >= lifetime:
            self.close_session(session, 1000, "Connection lifetime exceeded", "max_lifetime")

    def _check_keepalive(self, session: Session, now: float) -> None:
        interval = self.settings.ping_interval
        if interval is None:
            return
        if self.is_silent(session):  # no pings, so no pong is owed; pings resume an interval later
            session.awaiting_pong_since = None
            session.next_ping_at = now + interval
            return
        since = session.awaiting_pong_since
        if since is not None and now - since >= self.settings.pong_timeout:
            self.close_session(session, 1008, "Pong timeout", "pong_timeout")
            return
        if now >= session.next_ping_at:
            session.next_ping_at += interval * (1 + (now - session.next_ping_at) // interval)
            if since is None:
                session.awaiting_pong_since = now
            self._spawn(self._ping(session))

    async def _ping(self, session: Session) -> None:
        try:
            await session.ws.ping()
        except ConnectionClosed:
            return
        with self.cond:
            session.pings_sent += 1
