"""One WebSocket connection to Binance's market streams, read by its own thread.

A :class:`Connection` connects, sends its SUBSCRIBE requests (at most
``max_messages_per_second``), hands every data frame to a :class:`Router`,
answers pings, sends its own, and ends when the server closes, the socket
breaks, it is told to close, or one of two liveness checks fails:

* ping/pong, for dead sockets: after each of our pings, something must arrive
  within ``pong_timeout``;
* a watchdog, for connections that are open but silent: no data frame and no
  server ping for ``silence_timeout`` (Binance pings every 3 minutes; its
  retired URLs reportedly accept connections, answer pings and send nothing).

It never reconnects: the shard supervising it decides that.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import structlog
import websocket

from live_heatmap.stream.subscriptions import subscribe_requests

__all__ = ["Connection", "ConnectionSettings", "Router"]

log = structlog.get_logger("live_heatmap.stream.stream")

_DATA = (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY)
_PING, _CLOSE = websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_CLOSE


class Router(Protocol):
    """Where a connection's decoded messages go."""

    def on_payload(self, payload: Any) -> None:
        """A data payload (envelope already removed): a forceOrder, a markPriceUpdate, an array..."""

    def on_reject(self, reason: str, raw: bytes) -> None:
        """A frame that could not be used (not JSON, unknown shape)."""


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Timing of one connection, in seconds."""

    connect_timeout: float = 10.0
    silence_timeout: float = 300.0
    """No data frame and no server ping for this long: the connection is replaced."""
    ping_interval: float = 30.0
    """How often we ping the server."""
    pong_timeout: float = 20.0
    """After our ping, nothing at all received for this long: the socket is dead."""
    max_messages_per_second: float = 5.0
    """Outgoing; Binance disconnects above 10."""
    close_timeout: float = 1.0
    """How long a graceful close reads on, waiting for the server's close frame."""
    tick: float = 0.1
    """Longest wait in one read: how fast a close request or deadline is noticed."""


class Connection:
    """One connection, one reader thread. Thread-safe: ``close`` may be called from anywhere."""

    def __init__(self, name: str, url: str, streams: tuple[str, ...], router: Router,
                 settings: ConnectionSettings, *, first_request_id: int = 1,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.url = url
        self.streams = streams
        self.router = router
        self.settings = settings
        self._monotonic = monotonic
        self._requests = subscribe_requests(streams, first_request_id)
        self._pending_ids = {int(r["id"]) for r in self._requests}  # type: ignore[call-overload]
        self._ws: websocket.WebSocket | None = None
        self._close_requested: str | None = None
        self._graceful = True
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"liq-stream-{name}", daemon=True)
        self.ready = threading.Event()
        """Set once every subscription is acknowledged."""
        self.finished = threading.Event()
        self.cause: str | None = None
        """Why the connection ended (None while it runs)."""
        self.opened_at: float | None = None
        self.last_received: float | None = None
        """Monotonic time of the last data frame or server ping (what the watchdog watches)."""
        self.messages = 0
        self.errors: deque[str] = deque(maxlen=20)
        """The server's latest error frames (bounded: a misbehaving server cannot grow it)."""

    # -- control ------------------------------------------------------------------------------

    def start(self) -> Connection:
        self._thread.start()
        return self

    def close(self, cause: str, *, graceful: bool = True) -> None:
        """Ask the connection to end. Graceful: send a close frame and read until the server's
        close frame (so nothing it already sent is lost); else drop the socket at once."""
        with self._lock:
            if self._close_requested is None:
                self._close_requested = cause
            self._graceful = self._graceful and graceful
            ws = self._ws
        if not graceful and ws is not None:
            _shutdown(ws)

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def uptime(self) -> float:
        """Seconds since the connection opened (0 before it did)."""
        return 0.0 if self.opened_at is None else self._monotonic() - self.opened_at

    def silence(self) -> float:
        """Seconds since the last data frame or server ping (since opening when none came)."""
        ref = self.last_received if self.last_received is not None else self.opened_at
        return 0.0 if ref is None else self._monotonic() - ref

    # -- the reader thread ----------------------------------------------------------------------

    def _run(self) -> None:
        cause = "stopped"
        try:
            cause = self._connect_and_read()
        except websocket.WebSocketConnectionClosedException:
            cause = "connection closed without a close frame"
        except (websocket.WebSocketException, OSError) as exc:
            cause = f"{type(exc).__name__}: {exc}"[:200]
        finally:
            with self._lock:
                requested = self._close_requested
                ws, self._ws = self._ws, None
            if ws is not None:
                _shutdown(ws)
            self.cause = requested or cause
            self.finished.set()
            log.info("stream.disconnected", connection=self.name, cause=self.cause,
                     uptime_s=round(self.uptime(), 3), messages=self.messages)

    def _connect_and_read(self) -> str:
        ws = websocket.WebSocket(skip_utf8_validation=True, enable_multithread=True)
        with self._lock:
            if self._close_requested:
                return self._close_requested
            self._ws = ws
        ws.connect(self.url, timeout=self.settings.connect_timeout, suppress_origin=True)  # type: ignore[no-untyped-call]
        self.opened_at = self._monotonic()
        log.info("stream.connected", connection=self.name, url=self.url, streams=len(self.streams))
        if not self._requests:
            self.ready.set()
        return self._read(ws)

    def _read(self, ws: websocket.WebSocket) -> str:
        """Read until the end, sending the SUBSCRIBE requests on the way, paced.

        websocket-client reads the frames (``recv_data_frame``; it answers pings itself and keeps a frame cut by
        the read timeout for the next call), the timeout being ``tick`` so that requests, pings and deadlines
        are served between frames."""
        s = self.settings
        next_ping = self._monotonic() + s.ping_interval
        ping_sent: float | None = None
        to_send = list(self._requests)
        gap = 1.0 / s.max_messages_per_second
        next_send = self._monotonic()
        close_deadline: float | None = None
        timeout = s.tick
        ws.settimeout(timeout)
        while True:
            now = self._monotonic()
            if self._close_requested is not None and close_deadline is None:
                if not self._graceful:
                    return self._close_requested
                close_deadline = now + s.close_timeout
                with contextlib.suppress(websocket.WebSocketException, OSError):
                    ws.send_close()
            if close_deadline is not None and now >= close_deadline:
                return self._close_requested or "closed"
            if close_deadline is None and self.silence() >= s.silence_timeout:
                return f"silent for {self.silence():.1f}s"
            if close_deadline is None and ping_sent is not None and now - ping_sent >= s.pong_timeout:
                return f"no pong for {now - ping_sent:.1f}s"
            if close_deadline is None and to_send and now >= next_send:
                ws.send(orjson.dumps(to_send.pop(0)).decode())
                next_send = now + gap
            elif close_deadline is None and now >= next_ping:
                ws.ping()
                next_ping = now + s.ping_interval
                if ping_sent is None:
                    ping_sent = now
            wait = min(s.tick, max(0.001, next_send - now)) if to_send and close_deadline is None else s.tick
            if wait != timeout:
                timeout = wait
                ws.settimeout(timeout)
            try:
                opcode, frame = ws.recv_data_frame(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue
            ping_sent = None  # anything received answers our ping
            if opcode in _DATA:
                self.messages += 1
                self.last_received = self._monotonic()
                self._route(frame.data)
            elif opcode == _PING:  # websocket-client has sent the pong
                self.last_received = self._monotonic()
            elif opcode == _CLOSE:  # websocket-client has answered with its close frame
                data = frame.data
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                return self._close_requested or f"server closed (code {code})"

    def _route(self, data: bytes) -> None:
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            self.router.on_reject("not_json", data)
            return
        if type(message) is dict:
            if "stream" in message and "data" in message:
                self.router.on_payload(message["data"])
                return
            if "e" in message:
                self.router.on_payload(message)
                return
            if "id" in message and ("result" in message or "code" in message):
                self._on_reply(message)
                return
            if "code" in message:
                self.errors.append(str(message.get("msg"))[:200])
                log.warning("stream.error_frame", connection=self.name, code=message.get("code"),
                            msg=str(message.get("msg"))[:200])
                return
        elif type(message) is list:
            self.router.on_payload(message)
            return
        self.router.on_reject("unknown_message", data)

    def _on_reply(self, reply: dict[str, Any]) -> None:
        request_id = reply.get("id")
        if "code" in reply:
            self.errors.append(str(reply.get("msg"))[:200])
            log.warning("stream.subscribe_refused", connection=self.name, id=request_id,
                        code=reply.get("code"), msg=str(reply.get("msg"))[:200])
        if isinstance(request_id, int):
            self._pending_ids.discard(request_id)
            if not self._pending_ids:
                self.ready.set()


def _shutdown(ws: websocket.WebSocket) -> None:
    """Wake a thread blocked in connect or recv, and close the socket."""
    sock = ws.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError, websocket.WebSocketException):
        ws.shutdown()  # type: ignore[no-untyped-call]
