"""A local fake of Bybit's v5 public linear WebSocket (`/v5/public/linear`), for tests of the stream.

Speaks what the stream needs: `{"op":"subscribe","args":[...],"req_id":..}` answered per request (one unknown
topic fails the whole request; a topic already subscribed is an error "already subscribed"; the `args` of one
connection may not exceed `max_args_chars`), `{"op":"ping"}` answered `{"success":true,"ret_msg":"pong",
"op":"ping",...}`, and `allLiquidation.<symbol>` pushes whose `data` holds several liquidations. A client that
sends nothing for `ping_timeout` seconds is dropped (TCP abort, no close frame). Faults: `drop_all`,
`close_all`, `send_raw`.

    with FakeBybit(ping_timeout=0.5) as fake:
        stream = LiquidationStream(heatmap, ["BTCUSDT"], venue="bybit", ws_url=fake.url, ...)
        fake.publish("BTCUSDT", [{"T": ..., "s": "BTCUSDT", "S": "Buy", "v": "0.1", "p": "82000"}])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from ..ws_venue import Out, VenueConnection, VenueServer

TOPIC = "allLiquidation."


class FakeBybit(VenueServer):
    """Bybit's public linear stream on 127.0.0.1. `unknown_symbols`: ids whose topic Bybit does not know."""

    name = "bybit"
    path = "/v5/public/linear"

    def __init__(self, *, ping_timeout: float = 30.0, unknown_symbols: Iterable[str] = (),
                 max_args_chars: int = 21_000) -> None:
        super().__init__()
        self.ping_timeout = ping_timeout
        self.unknown_symbols = set(unknown_symbols)
        self.max_args_chars = max_args_chars
        self.failed_requests = 0

    def answer(self, conn: VenueConnection, text: str) -> list[Out]:
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError:
            return [_reply("", False, f"error:invalid request {text[:20]!r}", "")]
        if type(request) is not dict:
            return [_reply("", False, "error:invalid request", "")]
        op, req_id = request.get("op"), request.get("req_id", "")
        if op == "ping":
            conn.pings_received += 1
            return [_reply(conn, True, "pong", "ping", req_id)]
        if op != "subscribe":
            return [_reply(conn, False, f"error:unknown op {op!r}", str(op), req_id)]
        conn.subscribe_requests += 1
        args = request.get("args")
        if type(args) is not list or not all(type(a) is str for a in args):
            return [_reply(conn, False, "error:args must be a list of topics", "subscribe", req_id)]
        for topic in args:
            if not topic.startswith(TOPIC) or topic[len(TOPIC):] in self.unknown_symbols:
                self.failed_requests += 1
                return [_reply(conn, False, f"error:handler not found,topic:{topic}", "subscribe", req_id)]
            if topic in conn.subscriptions:
                return [_reply(conn, False, f"error:already subscribed,topic:{topic}", "subscribe", req_id)]
        if len(orjson.dumps(sorted(conn.subscriptions | set(args)))) > self.max_args_chars:
            self.failed_requests += 1
            return [_reply(conn, False, f"error:args size >{self.max_args_chars}", "subscribe", req_id)]
        conn.subscriptions.update(args)
        return [_reply(conn, True, "", "subscribe", req_id)]

    def keepalive_expired(self, conn: VenueConnection, now: float) -> tuple[str, int] | None:
        return ("abort", 0) if now - conn.last_client_message > self.ping_timeout else None

    def publish(self, symbol: str, items: list[dict[str, Any]], ts: int | None = None) -> int:
        """Push `items` (liquidations `{T, s, S, v, p}`) as one `allLiquidation.<symbol>` message."""
        stamp = ts if ts is not None else max((int(i.get("T", 0)) for i in items), default=0) + 300
        return self.publish_to(TOPIC + symbol, {"topic": TOPIC + symbol, "type": "snapshot", "ts": stamp,
                                                 "data": items})


def _reply(conn: VenueConnection | str, success: bool, ret_msg: str, op: str, req_id: Any = "") -> bytes:
    conn_id = f"fake-{conn.id}" if isinstance(conn, VenueConnection) else ""
    return orjson.dumps({"success": success, "ret_msg": ret_msg, "conn_id": conn_id, "req_id": req_id, "op": op})
