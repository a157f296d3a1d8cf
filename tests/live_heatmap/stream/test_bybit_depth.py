"""Bybit's ``orderbook.200`` and ``publicTrade`` on their own connection (issue 15, ``orderbook.venue: bybit``)
against the local fake Bybit WebSocket: the snapshot on subscribe syncs the book, deltas follow, a gap in ``u``
-> one re-subscribe (unsubscribe, subscribe) -> a fresh snapshot -> synced again; trades reach the sink; bad
trades are rejects by reason; a refused re-subscribe ends the connection (the reconnect resubscribes all)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
from fakes.bybit.ws_server import FakeBybit

from live_heatmap.orderbook.sync import BybitBookSync
from live_heatmap.stream.bybit_depth import (
    RESUBSCRIBE_GAP_S,
    BybitDepthRouter,
    BybitDepthSession,
    BybitDepthStream,
    book_topic,
)
from live_heatmap.stream.router import StreamStats
from live_heatmap.stream.settings import StreamSettings
from live_heatmap.stream.venues.base import SubscriptionBook
from live_heatmap.venue import Venue
from live_heatmap.wire.depth import DepthSnapshot, parse_bybit_depth

BIDS = [(100_000.0 - i, 1.0 + i % 3) for i in range(20)]
ASKS = [(100_001.0 + i, 2.0 + i % 2) for i in range(20)]


class BookSink:
    """The smallest sink: one BybitBookSync per symbol, the trades kept (what the bot's LiquidityInputs does)."""

    def __init__(self, symbols: list[str]) -> None:
        self.syncs = {s: BybitBookSync(s) for s in symbols}
        self.trades: list[tuple[str, float, float, int]] = []
        self.rejects: Counter[str] = Counter()
        self.lock = threading.Lock()

    def on_depth(self, payload: dict[str, Any]) -> None:
        update, rejected = parse_bybit_depth(payload, self.syncs.keys())
        with self.lock:
            if update is None:
                self.rejects[str(rejected.reason) if rejected else "unparsed"] += 1
            elif isinstance(update, DepthSnapshot):
                self.syncs[update.symbol].on_snapshot(update, update.event_ms)
            else:
                self.syncs[update.symbol].on_diff(update, update.event_ms)

    def on_trade(self, symbol: str, price: float, quantity: float, at_ms: int) -> None:
        with self.lock:
            self.trades.append((symbol, price, quantity, at_ms))

    def needs_snapshot(self, symbol: str) -> bool:
        with self.lock:
            return self.syncs[symbol].needs_snapshot

    def state(self, symbol: str) -> tuple[str, int, int | None]:
        with self.lock:
            sync = self.syncs[symbol]
            book = sync.book
            return sync.state, sync.resyncs, None if book is None else book.last_update_id

    def levels(self, symbol: str) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        with self.lock:
            book = self.syncs[symbol].book
            assert book is not None
            bids = list(zip(*book.levels("bid"), strict=True))
            asks = list(zip(*book.levels("ask"), strict=True))
            return [(float(p), float(q)) for p, q in bids], [(float(p), float(q)) for p, q in asks]


def _until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` (the sink changes without notifying the fake) until it holds or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _settings(url: str) -> StreamSettings:
    return StreamSettings.for_venue(Venue.BYBIT, ws_url=url, connect_timeout=5.0)


def test_book_topics_and_trades_on_one_connection_and_a_gap_resubscribes_once() -> None:
    with FakeBybit() as fake:
        fake.set_book("BTCUSDT", BIDS, ASKS, u=1_000)
        sink = BookSink(["BTCUSDT"])
        stream = BybitDepthStream(sink, ["BTC/USDT:USDT"], _settings(fake.url)).start()
        try:
            assert fake.wait_for_subscription(book_topic("BTCUSDT"))
            assert fake.wait_for_subscription("publicTrade.BTCUSDT")
            assert _until(lambda: sink.state("BTCUSDT") == ("synced", 0, 1_000))
            fake.book_delta("BTCUSDT", bids=[(100_000.0, 9.0)], asks=[(100_001.0, 0.0)])
            assert _until(lambda: sink.state("BTCUSDT") == ("synced", 0, 1_001))
            fake.skip_update("BTCUSDT", bids=[(99_999.0, 0.0)])  # never sent: the next delta shows the gap
            fake.book_delta("BTCUSDT", asks=[(100_050.0, 4.0)])
            assert _until(lambda: sink.state("BTCUSDT") == ("synced", 1, 1_003))
            assert (fake.unsubscribes, fake.snapshots_sent, fake.total_connections) == (1, 2, 1)
            assert sink.levels("BTCUSDT") == fake.book_levels("BTCUSDT")
            sent = [m for m in fake.connections()[0].messages_received if isinstance(m, dict)]
            ops = [(m["op"], m["args"]) for m in sent if m.get("op") != "ping"]
            assert ops[-2:] == [("unsubscribe", [book_topic("BTCUSDT")]), ("subscribe", [book_topic("BTCUSDT")])]
            assert fake.publish_trade("BTCUSDT", 100_001.0, 0.5, 1_786_310_818_000) == 1
            assert _until(lambda: len(sink.trades) == 1)
            assert sink.trades == [("BTCUSDT", 100_001.0, 0.5, 1_786_310_818_000)]
            fake.send_raw(orjson.dumps({"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1,
                                        "data": [{"T": 1_786_310_818_000, "s": "BTCUSDT", "v": "1", "p": "NaN"}]}))
            assert _until(lambda: stream.status().rejected.get("bad_price") == 1)
            status = stream.status()
            assert status.venue == "bybit" and status.connected and status.url == fake.url
            assert not sink.rejects
        finally:
            stream.stop(timeout=1.0)


class _Router:
    def __init__(self) -> None:
        self.payloads: list[Any] = []

    def on_payload(self, payload: Any) -> None:
        self.payloads.append(payload)

    def on_reject(self, reason: str, raw: bytes) -> None:
        del reason, raw


def _book(kind: str, u: int) -> dict[str, Any]:
    return {"topic": "orderbook.200.BTCUSDT", "type": kind, "ts": 1_786_310_817_680,
            "data": {"s": "BTCUSDT", "b": [["100000", "1"]], "a": [["100001", "1"]], "u": u, "seq": u}}


def test_the_session_resubscribes_once_per_episode_and_a_refused_resubscribe_ends_the_connection() -> None:
    wanted = {"BTCUSDT": False}
    clock = [100.0]
    session = BybitDepthSession("0.1", ("orderbook.200.BTCUSDT", "publicTrade.BTCUSDT"), _Router(),
                                SubscriptionBook(), batch=10, first_id=1, needs_snapshot=wanted.__getitem__,
                                monotonic=lambda: clock[0])
    first = orjson.loads(session.next_request() or "")
    assert first["op"] == "subscribe" and session.on_message({"success": True, "op": "subscribe", "req_id": "1"})
    wanted["BTCUSDT"] = True  # no snapshot yet on this connection: waiting for it, no re-subscribe
    session.on_message(_book("delta", 5))
    assert not session.has_requests()
    session.on_message(_book("snapshot", 10))  # a snapshot came and the book still wants one (crossed, say)
    assert session.resubscribes == 1
    unsubscribe, subscribe = (orjson.loads(session.next_request() or "") for _ in range(2))
    assert (unsubscribe["op"], subscribe["op"]) == ("unsubscribe", "subscribe")
    session.on_message(_book("delta", 11))  # in flight: not asked again
    assert session.resubscribes == 1 and not session.has_requests()
    assert session.on_message({"success": True, "op": "unsubscribe", "req_id": unsubscribe["req_id"]})
    assert session.failure is None
    session.on_message(_book("snapshot", 20))  # the fresh snapshot came crossed again: not within the gap
    assert session.resubscribes == 1 and not session.has_requests()
    clock[0] += RESUBSCRIBE_GAP_S
    session.on_message(_book("delta", 21))  # a later message, the gap passed: once more
    assert session.resubscribes == 2
    unsubscribe, subscribe = (orjson.loads(session.next_request() or "") for _ in range(2))
    session.on_message({"success": False, "ret_msg": "error:already subscribed", "op": "subscribe",
                        "req_id": subscribe["req_id"]})
    assert session.failure is not None and "resync" in session.failure and session.book.errors == 1


def test_the_router_hands_books_whole_and_rejects_other_topics() -> None:
    sink = BookSink(["BTCUSDT"])
    stats = StreamStats()
    router = BybitDepthRouter(sink, frozenset({"BTCUSDT"}), stats, wall_ms=lambda: 5)
    router.on_payload(_book("snapshot", 1))
    router.on_payload({"topic": "allLiquidation.BTCUSDT", "data": []})
    router.on_payload({"topic": "publicTrade.ETHUSDT", "type": "snapshot", "ts": 1,
                       "data": [{"T": 1_786_310_818_000, "s": "ETHUSDT", "v": "1", "p": "2"}]})
    router.on_payload([1])
    assert sink.state("BTCUSDT") == ("synced", 0, 1)
    assert dict(stats.rejected) == {"unknown_topic": 1, "unknown_symbol": 1, "unknown_message": 1}
    assert stats.events == 1 and stats.last_event_wall_ms == 5
