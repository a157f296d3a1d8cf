"""A local fake of Bybit's v5 public linear WebSocket (`/v5/public/linear`), for tests of the stream.

Speaks what the stream needs: `{"op":"subscribe","args":[...],"req_id":..}` answered per request (one unknown
topic fails the whole request; a topic already subscribed is an error "already subscribed"; the `args` of one
connection may not exceed `max_args_chars`), `{"op":"ping"}` answered `{"success":true,"ret_msg":"pong",
"op":"ping",...}`, and `allLiquidation.<symbol>` pushes whose `data` holds several liquidations. A client that
sends nothing for `ping_timeout` seconds is dropped (TCP abort, no close frame). Faults: `drop_all`,
`close_all`, `send_raw`.

Books (issue 15): `orderbook.<1|50|200|1000>.<symbol>` is answered, after the subscribe reply, with a snapshot of
the book the test set (`set_book`); `book_delta` changes it and pushes a delta with `u` + 1, `skip_update` changes
it without pushing (a gap the client must notice); `{"op":"unsubscribe"}` is answered (an unsubscribe then a
subscribe gets a fresh snapshot, Bybit's resync). `publish_trade` pushes a `publicTrade.<symbol>` message.

    with FakeBybit(ping_timeout=0.5) as fake:
        stream = LiquidationStream(heatmap, ["BTCUSDT"], venue="bybit", ws_url=fake.url, ...)
        fake.publish("BTCUSDT", [{"T": ..., "s": "BTCUSDT", "S": "Buy", "v": "0.1", "p": "82000"}])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..ws_venue import Out, VenueConnection, VenueServer

TOPIC = "allLiquidation."
BOOK = "orderbook."
TRADE = "publicTrade."
BOOK_DEPTHS = ("1", "50", "200", "1000")


@dataclass
class FakeBook:
    """One symbol's book as the fake holds it: price -> size per side, and the last update id `u`."""

    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)
    u: int = 0

    def apply(self, bids: Iterable[tuple[float, float]], asks: Iterable[tuple[float, float]]) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for price, size in levels:
                if size == 0:
                    side.pop(price, None)
                else:
                    side[price] = size
        self.u += 1

    def levels(self) -> tuple[list[list[str]], list[list[str]]]:
        bids = [[repr(p), repr(q)] for p, q in sorted(self.bids.items(), reverse=True)]
        asks = [[repr(p), repr(q)] for p, q in sorted(self.asks.items())]
        return bids, asks


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
        self.books: dict[str, FakeBook] = {}
        self.snapshots_sent = 0
        self.unsubscribes = 0
        self.ts = 1_786_310_817_680

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
        if op not in ("subscribe", "unsubscribe"):
            return [_reply(conn, False, f"error:unknown op {op!r}", str(op), req_id)]
        args = request.get("args")
        if type(args) is not list or not all(type(a) is str for a in args):
            return [_reply(conn, False, "error:args must be a list of topics", str(op), req_id)]
        if op == "unsubscribe":
            self.unsubscribes += 1
            missing = [t for t in args if t not in conn.subscriptions]
            if missing:
                return [_reply(conn, False, f"error:not subscribed,topic:{missing[0]}", "unsubscribe", req_id)]
            conn.subscriptions.difference_update(args)
            return [_reply(conn, True, "", "unsubscribe", req_id)]
        conn.subscribe_requests += 1
        for topic in args:
            if not _known(topic) or topic.rsplit(".", 1)[-1] in self.unknown_symbols:
                self.failed_requests += 1
                return [_reply(conn, False, f"error:handler not found,topic:{topic}", "subscribe", req_id)]
            if topic in conn.subscriptions:
                return [_reply(conn, False, f"error:already subscribed,topic:{topic}", "subscribe", req_id)]
        if len(orjson.dumps(sorted(conn.subscriptions | set(args)))) > self.max_args_chars:
            self.failed_requests += 1
            return [_reply(conn, False, f"error:args size >{self.max_args_chars}", "subscribe", req_id)]
        conn.subscriptions.update(args)
        out: list[Out] = [_reply(conn, True, "", "subscribe", req_id)]
        for topic in args:
            if topic.startswith(BOOK):
                symbol = topic.rsplit(".", 1)[-1]
                out.append(self._book_message(topic, "snapshot", self.books.setdefault(symbol, FakeBook())))
                self.snapshots_sent += 1
        return out

    def keepalive_expired(self, conn: VenueConnection, now: float) -> tuple[str, int] | None:
        return ("abort", 0) if now - conn.last_client_message > self.ping_timeout else None

    # ---------------------------------------------------------------- books and trades (issue 15)

    def set_book(self, symbol: str, bids: Iterable[tuple[float, float]], asks: Iterable[tuple[float, float]],
                 u: int = 1) -> None:
        """The book sent as the snapshot of `orderbook.*.<symbol>` from now on (subscribers get it on subscribe)."""
        with self.cond:
            self.books[symbol] = FakeBook(dict(bids), dict(asks), u)

    def book_delta(self, symbol: str, bids: Iterable[tuple[float, float]] = (),
                   asks: Iterable[tuple[float, float]] = (), depth: str = "200") -> int:
        """Change the book (size 0 removes a level) and push the change as a delta with `u` + 1; subscribers."""
        bids, asks = list(bids), list(asks)
        with self.cond:
            book = self.books.setdefault(symbol, FakeBook())
            book.apply(bids, asks)
            message = self._delta(f"{BOOK}{depth}.{symbol}", symbol, book.u, bids, asks)
        return self.publish_to(f"{BOOK}{depth}.{symbol}", message)

    def skip_update(self, symbol: str, bids: Iterable[tuple[float, float]] = (),
                    asks: Iterable[tuple[float, float]] = ()) -> None:
        """Change the book and its `u` without pushing anything: the next delta shows a gap."""
        with self.cond:
            self.books.setdefault(symbol, FakeBook()).apply(list(bids), list(asks))

    def book_levels(self, symbol: str) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """The book's levels, best first (bids high to low, asks low to high)."""
        with self.cond:
            book = self.books[symbol]
            return sorted(book.bids.items(), reverse=True), sorted(book.asks.items())

    def publish_trade(self, symbol: str, price: float, size: float, at_ms: int, side: str = "Buy") -> int:
        """Push one `publicTrade.<symbol>` message holding one trade; subscribers reached."""
        message = {"topic": TRADE + symbol, "type": "snapshot", "ts": at_ms + 5,
                   "data": [{"T": at_ms, "s": symbol, "S": side, "v": repr(size), "p": repr(price),
                             "L": "PlusTick", "i": f"fake-{at_ms}", "BT": False}]}
        return self.publish_to(TRADE + symbol, message)

    def _next_ts(self) -> int:
        self.ts += 100
        return self.ts

    def _book_message(self, topic: str, kind: str, book: FakeBook) -> bytes:
        bids, asks = book.levels()
        ts = self._next_ts()
        return orjson.dumps({"topic": topic, "type": kind, "ts": ts, "cts": ts - 2,
                             "data": {"s": topic.rsplit(".", 1)[-1], "b": bids, "a": asks, "u": book.u,
                                      "seq": book.u * 10}})

    def _delta(self, topic: str, symbol: str, u: int, bids: list[tuple[float, float]],
               asks: list[tuple[float, float]]) -> bytes:
        ts = self._next_ts()
        return orjson.dumps({"topic": topic, "type": "delta", "ts": ts, "cts": ts - 2,
                             "data": {"s": symbol, "b": [[repr(p), repr(q)] for p, q in bids],
                                      "a": [[repr(p), repr(q)] for p, q in asks], "u": u, "seq": u * 10}})

    def publish(self, symbol: str, items: list[dict[str, Any]], ts: int | None = None) -> int:
        """Push `items` (liquidations `{T, s, S, v, p}`) as one `allLiquidation.<symbol>` message."""
        stamp = ts if ts is not None else max((int(i.get("T", 0)) for i in items), default=0) + 300
        return self.publish_to(TOPIC + symbol, {"topic": TOPIC + symbol, "type": "snapshot", "ts": stamp,
                                                 "data": items})


def _known(topic: str) -> bool:
    if topic.startswith((TOPIC, TRADE)):
        return True
    parts = topic.split(".")
    return topic.startswith(BOOK) and len(parts) == 3 and parts[1] in BOOK_DEPTHS


def _reply(conn: VenueConnection | str, success: bool, ret_msg: str, op: str, req_id: Any = "") -> bytes:
    conn_id = f"fake-{conn.id}" if isinstance(conn, VenueConnection) else ""
    return orjson.dumps({"success": success, "ret_msg": ret_msg, "conn_id": conn_id, "req_id": req_id, "op": op})
