"""The feed against a real ``redis-server`` started here (issue 17; tests/support/redis_server.py): three consumer
processes store all 50,000 events in order; a consumer killed -9 resumes with none lost and none counted twice;
Redis killed -9 and restarted (AOF everysec) loses at most its documented second and the consumers count what
they missed; a stream trimmed past a bot's cursor is a gap, counted and filled from the history store."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_server import RedisServer, redis_server

from liquidation_hunter.feed.client import connect
from liquidation_hunter.feed.codec import decode
from liquidation_hunter.feed.consumer import FeedConsumer
from liquidation_hunter.feed.publisher import FeedPublisher
from liquidation_hunter.trading.books import Books
from live_heatmap import LiquidationEvent, Side, system_clock_ms
from live_heatmap.store.recorder import EventStore
from live_heatmap.store.stores import open_event_store
from live_heatmap.venue import PriceKind, Venue

WORKER = Path(__file__).resolve().parents[2] / "support" / "feed_worker.py"
ROOT = Path(__file__).resolve().parents[3]
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT")
AOF_EVERYSEC_BOUND_MS = 1_000
"""Redis's documented bound for ``appendfsync everysec``: "fsync every second ... you may lose 1 second of data"
(redis.conf; the persistence page of redis.io)."""
QUEUE_SLACK_MS = 500
"""At most this long between an event's submit (its trade time here) and Redis's acknowledgement of it: the
publisher's queue, kept short in this test (it publishes far below the publisher's rate)."""


def make_events(n: int, base_ms: int, *, exchanges: tuple[Venue, ...] = (Venue.BINANCE, Venue.BYBIT)
                ) -> list[LiquidationEvent]:
    """``n`` distinct events, one ms apart from ``base_ms``; ``event_time`` holds the index + 1."""
    out = []
    for i in range(n):
        venue = exchanges[i % len(exchanges)]
        kind = PriceKind.FILL_AVG if venue is Venue.BINANCE else PriceKind.BANKRUPTCY
        out.append(LiquidationEvent(SYMBOLS[i % len(SYMBOLS)], Side.LONG if i % 2 else Side.SHORT,
                                    100.0 + (i % 97) * 0.5, 0.001 * (1 + i % 13), i + 1, base_ms + i, "FILLED",
                                    False, venue, kind))
    return out


def read_to_the_end(server: RedisServer, books: Books, got: list[LiquidationEvent], fill_from: str) -> FeedConsumer:
    """A consumer of ``liq:binance`` with its cursor in ``books``, polled until a read comes back empty."""
    consumer = FeedConsumer(connect(server.url), ("binance",), got.extend, books, start_ms=0, block_ms=50,
                            fill_from=fill_from)
    while consumer.poll():
        pass
    return consumer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis") as started:
        yield started


def start_worker(server: RedisServer, folder: Path, expected: int, fill_from: Path | None = None
                 ) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests" / "support")]),
           "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, str(WORKER), server.url, str(folder / "books.sqlite"), str(folder / "events.sqlite"),
            str(expected), *([str(fill_from)] if fill_from else [])]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)


def result_of(worker: subprocess.Popen[str]) -> dict[str, object]:
    out, _ = worker.communicate(timeout=150)
    assert worker.returncode == 0, out
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def stored_rows(path: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT exchange, symbol, trade_time FROM events ORDER BY rowid").fetchall()


def publish_all(publisher: FeedPublisher, events: list[LiquidationEvent], *, chunk: int = 1_000,
                pause: float = 0.0) -> None:
    for i in range(0, len(events), chunk):
        publisher.submit(events[i:i + chunk])
        time.sleep(pause)


def stored_count(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_three_consumer_processes_each_store_all_50000_events_in_order(server: RedisServer,
                                                                        tmp_path: Path) -> None:
    n = 50_000
    events = make_events(n, system_clock_ms() - 3_600_000)
    folders = [tmp_path / f"bot{i}" for i in range(3)]
    for folder in folders:
        folder.mkdir()
    workers = [start_worker(server, folder, n) for folder in folders]
    publisher = FeedPublisher(connect(server.url), maxlen=1_000_000).start()
    publish_all(publisher, events, pause=0.01)
    publisher.stop(timeout=30)
    assert (publisher.published, publisher.dropped) == (n, 0)
    for worker, folder in zip(workers, folders, strict=True):
        result = result_of(worker)
        assert (result["stored"], result["heatmap"]) == (n, n)
        rows = stored_rows(folder / "events.sqlite")
        for venue in (Venue.BINANCE, Venue.BYBIT):
            for symbol in SYMBOLS:
                published = [e.trade_time for e in events if e.exchange is venue and e.symbol == symbol]
                assert [t for x, s, t in rows if x == venue.value and s == symbol] == published


def test_a_consumer_killed_mid_stream_resumes_with_none_lost_and_none_twice(server: RedisServer,
                                                                             tmp_path: Path) -> None:
    n = 20_000
    events = make_events(n, system_clock_ms() - 3_600_000)
    folder = tmp_path / "bot"
    folder.mkdir()
    worker = start_worker(server, folder, n)
    publisher = FeedPublisher(connect(server.url)).start()
    feeding = threading.Thread(target=publish_all, args=(publisher, events), kwargs={"chunk": 200, "pause": 0.02})
    feeding.start()
    deadline = time.monotonic() + 60
    while stored_count(folder / "events.sqlite") < 2_000 and time.monotonic() < deadline:
        time.sleep(0.02)
    killed_at = stored_count(folder / "events.sqlite")
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    assert 0 < killed_at < n  # killed mid-stream
    feeding.join()
    publisher.stop(timeout=30)
    result = result_of(start_worker(server, folder, n))
    assert result["stored"] == n  # none lost
    assert result["heatmap"] == n  # warm start + resume: none counted twice
    rows = stored_rows(folder / "events.sqlite")
    assert len(rows) == len(set(rows)) == n
    assert result["feed"]["gaps"] == 0  # type: ignore[index]


def test_redis_killed_and_restarted_loses_at_most_its_second_and_the_consumer_counts_it(server: RedisServer,
                                                                                        tmp_path: Path) -> None:
    books = Books.open(tmp_path / "books.sqlite", starting_wallet=1000.0)
    got: list[LiquidationEvent] = []
    consumer = FeedConsumer(connect(server.url), ("binance",), got.extend, books, start_ms=0, block_ms=100).start()
    publisher = FeedPublisher(connect(server.url, timeout_s=1.0)).start()
    index = 0
    kill_ms = 0

    def submit_for(seconds: float) -> None:
        nonlocal index
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            now = system_clock_ms()
            batch = [LiquidationEvent("BTCUSDT", Side.LONG, 100.0, 0.001, index + k + 1, now, "FILLED")
                     for k in range(50)]
            index += len(batch)
            publisher.submit(batch)
            time.sleep(0.01)

    submit_for(1.5)
    kill_ms = system_clock_ms()
    server.kill9()
    submit_for(0.5)  # Redis down: the publisher keeps them
    server.start()
    submit_for(1.0)
    publisher.stop(timeout=30)
    assert (publisher.pending, publisher.dropped) == (0, 0)
    kept = {decode(fields).seq for _, fields in server.client().xrange("liq:binance")}
    lost = set(range(1, index + 1)) - kept
    deadline = time.monotonic() + 30
    while len({e.event_time for e in got} | lost) < index and time.monotonic() < deadline:
        time.sleep(0.05)
    consumer.stop()
    sent_at = {e.event_time: e.trade_time for e in got}
    assert all(kill_ms - AOF_EVERYSEC_BOUND_MS - QUEUE_SLACK_MS <= sent_at.get(seq, kill_ms) <= kill_ms
               for seq in lost)  # only the last second before the kill, at most
    seen = {e.event_time for e in got}
    assert seen | lost == set(range(1, index + 1))  # nothing else missing
    status = consumer.feed_status()
    assert status["missed"] == len(lost - seen)  # what it missed is counted, not skipped silently
    assert (status["gaps"] > 0) == bool(lost - seen)


def test_a_stream_trimmed_past_the_cursor_is_a_gap_counted_and_filled_from_the_store(server: RedisServer,
                                                                                     tmp_path: Path,
                                                                                     store_target: str) -> None:
    """The publisher's store is a SQLite file or a shared PostgreSQL database (``feed.fill_from`` takes both)."""
    events = make_events(3_100, system_clock_ms() - 3_600_000, exchanges=(Venue.BINANCE,))
    history = store_target
    with open_event_store(history) as store:  # the publisher's own event store
        store.append(events)
    publisher = FeedPublisher(connect(server.url))
    publisher.submit(events[:100])
    while publisher.pending:
        publisher.send()
    books = Books.open(tmp_path / "books.sqlite", starting_wallet=1000.0)
    got: list[LiquidationEvent] = []
    read_to_the_end(server, books, got, str(history))
    publisher.submit(events[100:])
    while publisher.pending:
        publisher.send()
    server.client().xtrim("liq:binance", maxlen=1_000, approximate=False)  # 101 .. 2100 trimmed away
    resumed = read_to_the_end(server, Books.open(tmp_path / "books.sqlite"), got, str(history))
    status = resumed.feed_status()
    assert (status["gaps"], status["missed"]) == (1, 2_000)
    gap = status["recent_gaps"][0]
    assert gap["kind"] == "trimmed"
    assert gap["filled"] == 2_002  # the gap's time range read back, its two ends included
    assert set(got) == set(events)


def aof_tail(server: RedisServer) -> Path:
    """The AOF file Redis appends to now (Redis 7's multi-part AOF: the highest-numbered ``*.incr.aof``)."""
    parts = sorted((server.folder / "appendonlydir").glob("*.incr.aof"), key=lambda p: int(p.name.split(".")[-3]))
    assert parts, "no AOF file: is appendonly on?"
    return parts[-1]


def test_a_redis_crash_losing_its_unsynced_second_is_a_gap_the_lagging_consumer_counts_and_fills(
        server: RedisServer, tmp_path: Path) -> None:
    """The worst ``everysec`` allows, made to happen: a kill -9 alone loses nothing (the kernel still holds what
    Redis wrote), so the machine's crash is played by cutting the AOF back to the size it had 1 s before the kill
    (what the last fsync kept at worst), then restarting Redis on it. A consumer whose cursor is before that second
    finds the entries gone: it must count every missing one, say the kind (``lost``), and fill them from the
    publisher's event store."""
    history = tmp_path / "history.sqlite"  # the publisher's own store: the recorder beside it writes every event
    publisher = FeedPublisher(connect(server.url, timeout_s=1.0))
    index = 0
    published: list[LiquidationEvent] = []

    def publish(count: int) -> None:
        nonlocal index
        batch = [LiquidationEvent("BTCUSDT", Side.LONG, 100.0 + (index + k) % 50, 0.001, index + k + 1,
                                  system_clock_ms(), "FILLED") for k in range(count)]
        index += count
        published.extend(batch)
        with EventStore.open(history) as store:
            store.append(batch)
        publisher.submit(batch)
        while publisher.pending:
            publisher.send()

    publish(500)
    books = Books.open(tmp_path / "books.sqlite", starting_wallet=1000.0)
    got: list[LiquidationEvent] = []
    first = read_to_the_end(server, books, got, str(history))
    first.commit()  # the lagging consumer: its cursor stays at entry 500 from here on
    sizes: list[tuple[int, int]] = []  # (ms acknowledged, AOF bytes then)
    end = time.monotonic() + 2.5
    while time.monotonic() < end:
        publish(20)
        sizes.append((system_clock_ms(), aof_tail(server).stat().st_size))
        time.sleep(0.02)
    kill_ms = system_clock_ms()
    server.kill9()
    synced = max(size for at, size in sizes if at <= kill_ms - AOF_EVERYSEC_BOUND_MS)
    with open(aof_tail(server), "r+b") as fh:
        fh.truncate(synced)
    server.start()
    publish(100)  # the publisher goes on: numbers 1 past the last it sent before the crash
    kept = {decode(fields).seq for _, fields in server.client().xrange("liq:binance")}
    lost = set(range(1, index + 1)) - kept
    assert lost, "cutting the AOF back lost nothing: the test would prove nothing"
    sent_at = {e.event_time: e.trade_time for e in published}
    assert all(sent_at[seq] >= kill_ms - AOF_EVERYSEC_BOUND_MS - QUEUE_SLACK_MS for seq in lost)

    resumed = read_to_the_end(server, Books.open(tmp_path / "books.sqlite"), got, str(history))
    status = resumed.feed_status()
    assert (status["gaps"], status["missed"]) == (1, len(lost))
    assert status["recent_gaps"][0]["kind"] == "lost"
    assert set(got) == set(published)  # the gap filled from the store: every event there, none skipped
