"""A local fake of OKX's v5 public WebSocket (`/ws/v5/public`), for tests of the stream.

Speaks what the stream needs: `{"op":"subscribe","args":[{"channel":"liquidation-orders","instType":"SWAP"}]}`
answered `{"event":"subscribe",...}` (another channel: `{"event":"error","code":"60018",...}`; more than
`max_subscribes` requests on one connection: error `60014`), the text `ping` answered `pong`, and
`liquidation-orders` pushes (several `data` elements, several `details` each). A connection on which no data
has flowed either way for `idle_limit` seconds is closed with code 4004 (OKX: 30 s). Faults: `drop_all`,
`close_all`, `send_raw`.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..ws_venue import Out, VenueConnection, VenueServer

CHANNEL = "liquidation-orders"
SWAP = f"{CHANNEL}:SWAP"


class FakeOkx(VenueServer):
    """OKX's public stream on 127.0.0.1."""

    name = "okx"
    path = "/ws/v5/public"

    def __init__(self, *, idle_limit: float = 30.0, max_subscribes: int = 480) -> None:
        super().__init__()
        self.idle_limit = idle_limit
        self.max_subscribes = max_subscribes

    def answer(self, conn: VenueConnection, text: str) -> list[Out]:
        if text == "ping":
            conn.pings_received += 1
            conn.last_data_sent = conn.last_client_message
            return ["pong"]
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError:
            return [_error(conn, "", "60012", f"Invalid request: {text[:40]}")]
        if type(request) is not dict or request.get("op") != "subscribe":
            return [_error(conn, "", "60012", "Invalid request")]
        conn.subscribe_requests += 1
        req_id = request.get("id", "")
        if conn.subscribe_requests > self.max_subscribes:
            return [_error(conn, req_id, "60014", "Requests too frequent.")]
        args = request.get("args")
        if type(args) is not list or not args:
            return [_error(conn, req_id, "60012", "Invalid request")]
        replies: list[Out] = []
        for arg in args:
            channel = arg.get("channel") if type(arg) is dict else None
            if channel != CHANNEL or arg.get("instType") != "SWAP":
                return [_error(conn, req_id, "60018", f"Wrong URL or channel:{channel},instType:{arg}")]
            conn.subscriptions.add(SWAP)
            replies.append(orjson.dumps({"id": req_id, "event": "subscribe", "arg": arg, "connId": f"fake-{conn.id}"}))
        return replies

    def keepalive_expired(self, conn: VenueConnection, now: float) -> tuple[str, int] | None:
        last = max(conn.last_client_message, conn.last_data_sent)
        return ("close", 4004) if now - last > self.idle_limit else None

    def publish(self, elements: list[dict[str, Any]]) -> int:
        """Push one message whose `data` holds `elements` (`{"instId": ..., "details": [...]}`, completed with
        the other fields OKX sends)."""
        data = [{"instFamily": e["instId"].removesuffix("-SWAP"), "instType": "SWAP",
                 "uly": e["instId"].removesuffix("-SWAP"), **e} for e in elements]
        return self.publish_to(SWAP, {"arg": {"channel": CHANNEL, "instType": "SWAP"}, "data": data})


def _error(conn: VenueConnection, req_id: Any, code: str, msg: str) -> bytes:
    return orjson.dumps({"id": req_id, "event": "error", "code": code, "msg": msg, "connId": f"fake-{conn.id}"})
