"""One WebSocket connection to a venue's market streams, read by its own thread.

A :class:`Connection` connects, sends its session's subscribe requests (at most
``max_messages_per_second``), hands every frame to its :class:`~live_heatmap.stream.venues.base.Session` (which
routes data to the router and checks the answers), keeps the connection alive the venue's way, and ends when
the server closes, the socket breaks, it is told to close, the session gives up, or one of two liveness
checks fails:

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

import structlog
import websocket

from live_heatmap.common.errors import describe
from live_heatmap.stream.settings import ConnectionSettings
from live_heatmap.stream.venues.base import KeepAlive, Session

__all__ = ["Connection", "ConnectionSettings"]

log = structlog.get_logger("live_heatmap.stream.stream")

_DATA = (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY)
_PING, _CLOSE = websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_CLOSE


class Connection:
    """One connection, one reader thread. Thread-safe: ``close`` may be called from anywhere."""

    def __init__(self, name: str, url: str, streams: tuple[str, ...], session: Session,
                 settings: ConnectionSettings, *, venue: str = "binance",
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.url = url
        self.streams = streams
        self.session = session
        self.settings = settings
        self.venue = venue
        self._monotonic = monotonic
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

    @property
    def errors(self) -> deque[str]:
        """The server's latest error answers (bounded: a misbehaving server cannot grow it)."""
        return self.session.errors

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
            cause = describe(exc)[:200]
        finally:
            with self._lock:
                requested = self._close_requested
                ws, self._ws = self._ws, None
            if ws is not None:
                _shutdown(ws)
            self.cause = requested or cause
            self.finished.set()
            log.info("stream.disconnected", venue=self.venue, connection=self.name, cause=self.cause,
                     uptime_s=round(self.uptime(), 3), messages=self.messages)

    def _connect_and_read(self) -> str:
        ws = websocket.WebSocket(skip_utf8_validation=True, enable_multithread=True)
        with self._lock:
            if self._close_requested:
                return self._close_requested
            self._ws = ws
        ws.connect(self.url, timeout=self.settings.connect_timeout, suppress_origin=True)  # type: ignore[no-untyped-call]
        self.opened_at = self._monotonic()
        log.info("stream.connected", venue=self.venue, connection=self.name, url=self.url, streams=len(self.streams))
        if self.session.ready():
            self.ready.set()
        return self._read(ws)

    def _read(self, ws: websocket.WebSocket) -> str:
        """Read until the end, sending the subscribe requests and keep-alives on the way, paced.

        websocket-client reads the frames (``recv_data_frame``; it answers pings itself and keeps a frame cut by
        the read timeout for the next call), the timeout being ``tick`` so that requests, pings and deadlines
        are served between frames."""
        s, session = self.settings, self.session
        keepalive = session.keepalive
        next_ping = self._monotonic() + s.ping_interval
        last_frame = self._monotonic()
        ping_sent: float | None = None
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
            if session.failure is not None:
                return session.failure
            if close_deadline is None and self.silence() >= s.silence_timeout:
                return f"silent for {self.silence():.1f}s"
            if close_deadline is None and ping_sent is not None and now - ping_sent >= s.pong_timeout:
                return f"no pong for {now - ping_sent:.1f}s"
            to_send, sent = close_deadline is None and session.has_requests(), False
            if to_send and now >= next_send:
                request = session.next_request()
                sent = request is not None
                if request is not None:
                    ws.send(request)
                next_send = now + (gap if sent else s.tick)  # not sent: the session's budget says wait
            if sent or close_deadline is not None:
                pass
            elif ping_sent is None and (
                    now >= next_ping if keepalive is not KeepAlive.WHEN_IDLE else now - last_frame >= s.ping_interval):
                if keepalive is KeepAlive.WS_PING:
                    ws.ping()
                else:
                    ws.send(session.ping_message)
                next_ping = now + s.ping_interval
                ping_sent = now
            elif keepalive is KeepAlive.WS_PING and now >= next_ping:
                ws.ping()  # Binance: pinged every interval; the first unanswered one is the one timed
                next_ping = now + s.ping_interval
            wait = min(s.tick, max(0.001, next_send - now)) if to_send else s.tick
            if wait != timeout:
                timeout = wait
                ws.settimeout(timeout)
            try:
                opcode, frame = ws.recv_data_frame(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue
            ping_sent = None  # anything received answers our ping
            last_frame = self._monotonic()
            if opcode in _DATA:
                self.messages += 1
                self.last_received = last_frame
                session.on_frame(frame.data)
                if not self.ready.is_set() and session.ready():
                    self.ready.set()
            elif opcode == _PING:  # websocket-client has sent the pong
                self.last_received = last_frame
            elif opcode == _CLOSE:  # websocket-client has answered with its close frame
                data = frame.data
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                return self._close_requested or f"server closed (code {code})"


def _shutdown(ws: websocket.WebSocket) -> None:
    """Wake a thread blocked in connect or recv, and close the socket."""
    sock = ws.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError, websocket.WebSocketException):
        ws.shutdown()  # type: ignore[no-untyped-call]
