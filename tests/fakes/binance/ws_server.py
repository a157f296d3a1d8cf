"""A local fake of Binance's USD-M market-stream WebSocket server, for tests of stream clients.

The `websockets` asyncio server runs in its own event loop on a daemon thread and binds 127.0.0.1
only, on a port the OS picks. Every public method is synchronous and thread-safe: it runs its work
on the loop thread and returns once that is done (frames are queued, not necessarily delivered,
when `publish` returns). Per connection, frames go out in the order they were published.

Typical use::

    with FakeBinance(ping_interval=0.2) as fake:
        ws = websocket.create_connection(fake.market_url + "/ws/!forceOrder@arr")
        fake.publish_force_order(payload)
        assert json.loads(ws.recv()) == payload
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any, Self

import orjson

from .engine import HOST, Engine, Settings
from .loop_thread import LoopThread
from .replay import Payload, ReplayHandle, prepare, replay_item
from .session import ConnectionInfo, OutFrame

FUNDING_PERIOD_MS = 8 * 3600 * 1000


class FakeBinance:
    """Binance's market streams on 127.0.0.1: routes, control messages, pings, limits and faults.

    ping_interval: seconds between the server's WebSocket pings (None: no pings).
    pong_timeout: a client that leaves a ping unanswered this long is closed (1008 "Pong timeout").
    max_incoming_per_second: a connection sending more messages than this within one second is
        closed (1008 "Too many requests"); the offending message gets no answer.
    max_streams: a SUBSCRIBE (or URL) that would exceed this many streams is refused.
    min_event_gap_ms: per-symbol spacing in `o.T` that `replay(thin=True)` enforces.
    legacy_paths_silent: connections on the retired paths without `/market` are accepted, get no
        data, replies or pings, and only their pings answered, as Binance's reportedly behave
        since April 2026.
    """

    def __init__(self, *, ping_interval: float | None = 180.0, pong_timeout: float = 600.0,
                 max_incoming_per_second: int = 10, max_streams: int = 1024,
                 min_event_gap_ms: int = 1000, legacy_paths_silent: bool = False) -> None:
        self._engine = Engine(Settings(
            ping_interval=ping_interval, pong_timeout=pong_timeout,
            max_incoming_per_second=max_incoming_per_second, max_streams=max_streams,
            min_event_gap_ms=min_event_gap_ms, legacy_paths_silent=legacy_paths_silent,
        ))
        self._thread = LoopThread("fake-binance")

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        """Start the loop thread and listen on 127.0.0.1 (OS-chosen port). Returns self."""
        self._thread.start()
        self._thread.submit(self._engine.start()).result(5.0)
        return self

    def stop(self) -> None:
        """Close every connection (1001; aborted if the client does not answer within ~1 s),
        stop listening, end running replays and join the thread. Idempotent."""
        self._thread.stop(self._engine.stop())

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """`ws://127.0.0.1:<port>`; append `/market/ws/...` or `/market/stream?streams=...`."""
        if not self._engine.port:
            raise RuntimeError("FakeBinance is not running")
        return f"ws://{HOST}:{self._engine.port}"

    @property
    def market_url(self) -> str:
        """`base_url + "/market"`, the current Binance prefix for market streams."""
        return self.base_url + "/market"

    @property
    def public_url(self) -> str:
        """`base_url + "/public"`: Binance's prefix for order-book streams since 2026-04 (issue 15)."""
        return self.base_url + "/public"

    # ---------------------------------------------------------------- what the server sees

    def connections(self) -> list[ConnectionInfo]:
        """Snapshots of every connection that completed its handshake, open or closed, oldest first."""
        with self._engine.cond:
            return [session.snapshot() for session in self._engine.sessions.values()]

    def open_connections(self) -> list[ConnectionInfo]:
        """Snapshots of the connections still open."""
        return [info for info in self.connections() if info.is_open]

    @property
    def total_connections(self) -> int:
        """How many connections completed their handshake since start (reconnections count)."""
        with self._engine.cond:
            return len(self._engine.sessions)

    @property
    def rejected_handshakes(self) -> list[tuple[str, int]]:
        """(path, HTTP status) of each refused handshake: 404 unknown path, 400 bad streams, 503."""
        with self._engine.cond:
            return list(self._engine.rejected)

    def wait_for_connections(self, n: int, timeout: float = 5.0) -> bool:
        """Block until `total_connections >= n`; False on timeout."""
        engine = self._engine
        with engine.cond:
            return engine.cond.wait_for(lambda: len(engine.sessions) >= n, timeout)

    def wait_for_subscription(self, stream: str, timeout: float = 5.0) -> bool:
        """Block until some open connection is subscribed to `stream`; False on timeout."""
        engine = self._engine

        def subscribed() -> bool:
            return any(s.closed_at is None and stream in s.state.subscriptions for s in engine.sessions.values())

        with engine.cond:
            return engine.cond.wait_for(subscribed, timeout)

    def wait_for_disconnect(self, connection_id: int, timeout: float = 5.0) -> bool:
        """Block until the connection with this id has ended; False on timeout."""
        engine = self._engine

        def ended() -> bool:
            session = engine.sessions.get(connection_id)
            return session is not None and session.closed_at is not None

        with engine.cond:
            return engine.cond.wait_for(ended, timeout)

    # ---------------------------------------------------------------- feeding

    def publish(self, stream: str, payload: dict[str, Any] | bytes) -> int:
        """Queue `payload` to every open connection subscribed to `stream`; returns how many.

        Raw connections get the payload itself (bytes byte for byte); combined ones get
        `{"stream": stream, "data": payload}`. Nothing is queued to silent connections.
        """
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        return self._thread.call(self._engine.publish, stream, data)

    def publish_force_order(self, payload: Payload) -> int:
        """Publish a forceOrder payload (dict or raw JSON) to `<symbol lower>@forceOrder` and
        `!forceOrder@arr`; a connection subscribed to both gets it twice, once per stream."""
        return self._thread.call(self._engine.publish_force_order, replay_item(payload))

    def publish_mark_price(self, symbol: str, price: float | str, event_ms: int, *,
                           index_price: float | str | None = None, funding_rate: str = "0.00010000",
                           next_funding_ms: int | None = None) -> int:
        """Publish a `markPriceUpdate` to `<symbol lower>@markPrice@1s` and `<symbol lower>@markPrice`."""
        mark = _decimal_text(price)
        if next_funding_ms is None:  # Binance funds every 8 hours
            next_funding_ms = (event_ms // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS
        payload = {
            "e": "markPriceUpdate", "E": event_ms, "s": symbol.upper(), "p": mark,
            "i": mark if index_price is None else _decimal_text(index_price), "P": mark, "r": funding_rate,
            "T": next_funding_ms,
        }
        data, name, engine = orjson.dumps(payload), symbol.lower(), self._engine
        return self._thread.call(
            lambda: engine.publish(f"{name}@markPrice@1s", data) + engine.publish(f"{name}@markPrice", data))

    def publish_kline(self, symbol: str, open_ms: int, *, open_: float, high: float, low: float, close: float,
                      volume: float = 10.0, taker_buy: float = 6.0, closed: bool = True) -> int:
        """Publish a 5-minute `kline` event (Binance's shape: `k` with t, T, o, h, l, c, v, q, V, Q, x) to
        `<symbol lower>@kline_5m`."""
        close_ms = open_ms + 299_999
        payload = {"e": "kline", "E": close_ms + 1 if closed else open_ms + 1000, "s": symbol.upper(), "k": {
            "t": open_ms, "T": close_ms, "s": symbol.upper(), "i": "5m", "f": 1, "L": 100,
            "o": _decimal_text(open_), "c": _decimal_text(close), "h": _decimal_text(high), "l": _decimal_text(low),
            "v": _decimal_text(volume), "n": 100, "x": closed, "q": _decimal_text(volume * close),
            "V": _decimal_text(taker_buy), "Q": _decimal_text(taker_buy * close), "B": "0"}}
        return self.publish(f"{symbol.lower()}@kline_5m", payload)

    def publish_depth(self, payload: dict[str, Any], *, speed: str = "100ms") -> int:
        """Publish a `depthUpdate` payload (``tests.fakes.binance.depth.FakeDepth.update`` makes them) to
        `<symbol lower>@depth@<speed>`, on `/public` connections only, as Binance serves order-book streams."""
        stream = f"{str(payload['s']).lower()}@depth@{speed}"
        data, engine = orjson.dumps(payload), self._engine
        return self._thread.call(lambda: engine.publish(stream, data, public=True))

    def publish_agg_trade(self, symbol: str, price: float, quantity: float, event_ms: int, *,
                          buyer_maker: bool = False, trade_id: int = 1) -> int:
        """Publish an `aggTrade` to `<symbol lower>@aggTrade`, on `/market` connections only."""
        payload = {"e": "aggTrade", "E": event_ms, "s": symbol.upper(), "a": trade_id, "p": _decimal_text(price),
                   "q": _decimal_text(quantity), "f": trade_id, "l": trade_id, "T": event_ms, "m": buyer_maker}
        data, engine, stream = orjson.dumps(payload), self._engine, f"{symbol.lower()}@aggTrade"
        return self._thread.call(lambda: engine.publish(stream, data, public=False))

    def replay(self, payloads: Iterable[Payload], speed: float, *, thin: bool = True) -> ReplayHandle:
        """Publish recorded forceOrder payloads in the background, spaced by their `o.T` gaps / `speed`.

        `speed` 0 or inf publishes as fast as possible. With `thin`, each symbol keeps at most one
        event per `min_event_gap_ms` of `o.T` (the latest), like Binance's snapshot stream.
        Payloads may be dicts or raw JSON lines (sent byte for byte), in the order to play them.
        """
        if math.isnan(speed) or speed < 0:
            raise ValueError("speed must be >= 0 (0 or inf: as fast as possible)")
        items = prepare(payloads, thin=thin, gap_ms=self._engine.settings.min_event_gap_ms)
        handle = ReplayHandle(len(items))
        future = self._thread.submit(self._engine.replay(handle, items, speed))
        handle._attach(future.cancel)
        return handle

    # ---------------------------------------------------------------- faults

    def close_all(self, code: int = 1000, reason: str = "") -> int:
        """Close every open connection with a close frame, sent after the frames already queued."""
        engine = self._engine
        return self._thread.call(
            lambda: sum(engine.close_session(s, code, reason, "close") for s in engine.open_sessions()))

    def close_connection(self, connection_id: int, code: int = 1000, reason: str = "") -> bool:
        """Close one connection with a close frame; False if it is not open."""
        engine = self._engine

        def close_one() -> bool:
            session = engine.sessions.get(connection_id)
            return session is not None and engine.close_session(session, code, reason, "close")

        return self._thread.call(close_one)

    def drop_all(self) -> int:
        """Abort every open TCP connection now, with no close frame (what a dead network looks like)."""
        engine = self._engine
        return self._thread.call(lambda: sum(engine.abort(s) for s in engine.open_sessions()))

    def drop_connection(self, connection_id: int) -> bool:
        """Abort one TCP connection with no close frame; False if it is not open."""
        engine = self._engine

        def drop_one() -> bool:
            session = engine.sessions.get(connection_id)
            return session is not None and engine.abort(session)

        return self._thread.call(drop_one)

    def set_silent(self, silent: bool) -> None:
        """While on, keep sockets open but send nothing: no data, no pings, no replies, not even
        pongs to client pings. Subscriptions still change; published frames are discarded."""
        self._engine.settings.silent = silent

    def set_ignore_pongs(self, ignore: bool) -> None:
        """While on, client pongs are not counted, so a client is closed `pong_timeout` after a ping."""
        self._engine.settings.ignore_pongs = ignore

    def set_max_lifetime(self, seconds: float | None) -> None:
        """Close each connection (1000) `seconds` after it opened, like Binance's 24-hour cut.
        Applies to open connections too; None turns it off."""
        self._engine.settings.max_lifetime = seconds

    def send_raw(self, data: bytes | str, *, binary: bool = False) -> int:
        """Send `data` unchanged to every open connection, as a text frame (even if it is not valid
        UTF-8 or JSON) unless `binary`. For malformed, truncated, unknown or oversized frames."""
        frame = OutFrame(data.encode() if isinstance(data, str) else data, binary=binary)
        engine = self._engine
        return self._thread.call(lambda: sum(engine.enqueue(s, frame) for s in engine.open_sessions()))

    def refuse_connections(self, seconds: float) -> None:
        """Answer every handshake with HTTP 503 for the next `seconds` (0 stops refusing)."""
        self._engine.settings.refuse_until = time.monotonic() + seconds


def _decimal_text(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:.8f}"
