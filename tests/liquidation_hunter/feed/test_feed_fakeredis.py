"""The feed's parts against fakeredis (issue 17): numbering, copies, gaps and their filling, the cursor, the
publisher's bounded buffer while Redis is down. The real server's tests: test_feed_redis.py."""

from __future__ import annotations

import time
from pathlib import Path

import fakeredis
import pytest

from liquidation_hunter.feed.codec import decode, encode, stream_name
from liquidation_hunter.feed.consumer import FeedConsumer
from liquidation_hunter.feed.publisher import FeedPublisher
from liquidation_hunter.trading.books import Books
from live_heatmap import LiquidationEvent, Side
from live_heatmap.store.recorder import EventStore
from live_heatmap.venue import PriceKind, Venue

BASE_MS = 1_700_000_000_000


def events(n: int, *, start: int = 0, exchange: Venue = Venue.BINANCE) -> list[LiquidationEvent]:
    kind = PriceKind.FILL_AVG if exchange is Venue.BINANCE else PriceKind.BANKRUPTCY
    return [LiquidationEvent(("BTCUSDT", "ETHUSDT")[i % 2], Side.LONG if i % 3 else Side.SHORT, 100.0 + i * 0.25,
                             0.001 * (i + 1), BASE_MS + i * 10, BASE_MS + i * 10, "FILLED", False, exchange, kind)
            for i in range(start, start + n)]


class Sink:
    def __init__(self) -> None:
        self.got: list[LiquidationEvent] = []

    def __call__(self, batch: object) -> None:
        self.got.extend(batch)  # type: ignore[call-overload]


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


def client(server: fakeredis.FakeServer) -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(server=server)


def consumer(server: fakeredis.FakeServer, books: Books, sink: Sink, **kw: object) -> FeedConsumer:
    return FeedConsumer(client(server), ("binance", "bybit"), sink, books, start_ms=0, block_ms=10, **kw)  # type: ignore[arg-type]


def publish(publisher: FeedPublisher, batch: list[LiquidationEvent]) -> None:
    publisher.submit(batch)
    while publisher.pending:
        publisher.send()


def test_an_entry_reads_back_as_the_event_it_was(server: fakeredis.FakeServer) -> None:
    event = events(1, exchange=Venue.OKX)[0]._replace(venue_symbol="BTC-USDT-SWAP", fallback=True)
    redis = client(server)
    redis.xadd("liq:okx", encode(event, 7, 3, 99))
    [(_, raw)] = redis.xrange("liq:okx")  # as Redis gives it back: bytes
    entry = decode(raw)
    assert (entry.event, entry.epoch, entry.seq, entry.sent_ms) == (event, 7, 3, 99)
    assert stream_name("okx") == "liq:okx"


def test_every_event_reaches_the_consumer_in_order_and_the_cursor_resumes(server: fakeredis.FakeServer,
                                                                          tmp_path: Path) -> None:
    publisher = FeedPublisher(client(server), maxlen=10_000, clock=lambda: BASE_MS)
    sent = events(300) + events(50, exchange=Venue.BYBIT)
    publish(publisher, sent)
    books = Books.open(tmp_path / "books.sqlite", starting_wallet=1000.0)
    sink = Sink()
    feed = consumer(server, books, sink)
    while feed.poll():
        pass
    assert [e for e in sink.got if e.exchange is Venue.BINANCE] == sent[:300]
    assert [e for e in sink.got if e.exchange is Venue.BYBIT] == sent[300:]
    cursors = books.feed_cursors()
    assert (cursors["liq:binance"].seq, cursors["liq:bybit"].seq) == (300, 50)
    # a restart resumes after the committed entries: only what came since
    publish(publisher, events(20, start=300))
    again = Sink()
    resumed = consumer(server, Books.open(tmp_path / "books.sqlite"), again)
    while resumed.poll():
        pass
    assert again.got == events(20, start=300)
    assert resumed.feed_status()["gaps"] == 0


def test_a_batch_sent_twice_is_dropped_by_its_numbers(server: fakeredis.FakeServer, tmp_path: Path) -> None:
    redis = client(server)
    batch = events(5)
    for seq, event in enumerate(batch, 1):  # the publisher's retry of a batch Redis had half-taken
        redis.xadd("liq:binance", encode(event, 11, seq, BASE_MS))
    for seq, event in enumerate(batch[2:], 3):
        redis.xadd("liq:binance", encode(event, 11, seq, BASE_MS))
    sink = Sink()
    feed = consumer(server, Books.open(tmp_path / "b.sqlite", starting_wallet=1.0), sink)
    feed.poll()
    assert sink.got == batch
    assert feed.duplicates == 3


def test_a_missing_entry_is_a_gap_counted_and_filled_from_the_store(server: fakeredis.FakeServer,
                                                                     tmp_path: Path) -> None:
    publisher = FeedPublisher(client(server), clock=lambda: BASE_MS)
    sent = events(10)
    store_path = tmp_path / "history.sqlite"
    with EventStore.open(store_path) as store:
        store.append(sent)
    publish(publisher, sent[:4])
    books = Books.open(tmp_path / "books.sqlite", starting_wallet=1000.0)
    sink = Sink()
    feed = consumer(server, books, sink, fill_from=str(store_path))
    feed.poll()
    publish(publisher, sent[4:])
    redis = client(server)
    lost = [entry_id for entry_id, fields in redis.xrange("liq:binance") if decode(fields).seq in (5, 6, 7)]
    redis.xdel("liq:binance", *lost)  # what a Redis restart loses
    feed.poll()
    status = feed.feed_status()
    assert (status["gaps"], status["missed"]) == (1, 3)
    gap = status["recent_gaps"][0]
    assert (gap["missed"], gap["from_ms"], gap["until_ms"]) == (3, sent[3].trade_time, sent[7].trade_time)
    assert gap["filled"] == 5  # [sent[3], sent[7]] read back: the heatmap and the store drop the two they hold
    assert set(sink.got) == set(sent)
    feed.poll()  # nothing new: the cursor is committed
    assert books.feed_cursors()["liq:binance"].missed == 3


def test_without_a_store_the_gap_is_counted_only(server: fakeredis.FakeServer, tmp_path: Path) -> None:
    redis = client(server)
    for seq in (3, 4, 7):  # a first start reads from the stream's first entry: 1 and 2 are no gap of this bot
        redis.xadd("liq:binance", encode(events(1, start=seq)[0], 3, seq, BASE_MS))
    feed = consumer(server, Books.open(tmp_path / "b.sqlite", starting_wallet=1.0), Sink())
    feed.poll()
    assert [g["missed"] for g in feed.feed_status()["recent_gaps"]] == [2]  # 5, 6
    redis.xadd("liq:binance", encode(events(1, start=10)[0], 3, 10, BASE_MS))
    feed.poll()
    assert feed.feed_status()["missed"] == 4  # and 8, 9
    assert feed.feed_status()["recent_gaps"][-1]["filled"] is None


def test_the_cursor_waits_for_the_store(server: fakeredis.FakeServer, tmp_path: Path) -> None:
    publish(FeedPublisher(client(server), clock=lambda: BASE_MS), events(3))
    books = Books.open(tmp_path / "b.sqlite", starting_wallet=1.0)
    feed = consumer(server, books, Sink())
    stored = [False]
    feed.durable = lambda: stored[0]
    feed.poll()
    assert books.feed_cursors() == {}  # handed on, not stored yet: a crash now reads them again
    stored[0] = True
    assert feed.commit()
    assert books.feed_cursors()["liq:binance"].seq == 3


def test_the_publisher_keeps_a_bounded_buffer_while_redis_is_down(server: fakeredis.FakeServer) -> None:
    publisher = FeedPublisher(client(server), buffer=1_000, clock=lambda: BASE_MS)
    server.connected = False
    publisher.submit(events(1_500))
    assert (publisher.pending, publisher.dropped) == (1_000, 500)
    with pytest.raises(Exception, match="onnect"):
        publisher.send()
    assert publisher.pending == 1_000  # nothing lost by the failed send
    server.connected = True
    while publisher.pending:
        publisher.send()
    seqs = [decode(fields).seq for _, fields in client(server).xrange("liq:binance")]
    assert seqs == list(range(501, 1_501))  # the oldest 500 dropped: a consumer sees their numbers missing


def test_the_publisher_thread_sends_after_redis_comes_back(server: fakeredis.FakeServer) -> None:
    publisher = FeedPublisher(client(server), clock=lambda: BASE_MS)
    server.connected = False
    publisher.start()
    publisher.submit(events(10))
    deadline = time.monotonic() + 5
    while publisher.errors == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert publisher.errors >= 1 and publisher.pending == 10
    server.connected = True
    publisher.stop(timeout=5)
    assert publisher.published == 10 and publisher.pending == 0
    assert client(server).xlen("liq:binance") == 10


@pytest.mark.parametrize("fields", [{"x": b"1"}, {"e": b"not json"}, {"e": b"[1, 2]"}, {"e": b"7"},
                                    {"e": b'["BTCUSDT", "sideways", 1, 1, 1, 1, "FILLED", false, "binance", '
                                          b'"fill_avg", "", 1, 1, 1]'}])
def test_an_entry_that_is_not_a_liquidation_is_counted_and_skipped(server: fakeredis.FakeServer, tmp_path: Path,
                                                                   fields: dict[str, bytes]) -> None:
    """Another writer's entry in the stream, or a damaged one: counted as rejected, the events around it go on."""
    publisher = FeedPublisher(client(server), clock=lambda: BASE_MS)
    publish(publisher, events(2))
    client(server).xadd("liq:binance", fields)
    publish(publisher, events(2, start=2))
    sink = Sink()
    reader = consumer(server, Books.open(tmp_path / "books.sqlite", starting_wallet=1000.0), sink)
    while reader.poll():
        pass
    assert sink.got == events(4)
    assert reader.feed_status()["rejected"] == 1
    assert reader.feed_status()["gaps"] == 0
