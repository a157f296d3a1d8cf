"""The event store across venues: every event's venue stored and read back, the exchange in the unique key,
reads filtered by exchange, warm start per venue, and the migration of a file written before the venue was
stored (``fixtures/events_schema1.sqlite``, made by the code of that time; see fixtures/README.md)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import NOW, event
from structlog.testing import capture_logs

from live_heatmap import LiquidationEvent, LiveLiquidationHeatmap
from live_heatmap.side import Side
from live_heatmap.store.history import event_order, load_events
from live_heatmap.store.interface import REFUSED, EventStorage
from live_heatmap.store.recorder import EventStore, EventStoreError, Recorder, warm_start
from live_heatmap.store.schema import SCHEMA_VERSION
from live_heatmap.store.stores import open_event_store
from live_heatmap.venue import PriceKind, Venue

SCHEMA_1 = Path(__file__).resolve().parent / "fixtures" / "events_schema1.sqlite"
MINUTE = 60_000


def on(venue: Venue, e: LiquidationEvent, venue_symbol: str = "") -> LiquidationEvent:
    """``e`` as published by ``venue`` (its kind of price)."""
    kind = PriceKind.FILL_AVG if venue is Venue.BINANCE else PriceKind.BANKRUPTCY
    return e._replace(exchange=venue, price_kind=kind, venue_symbol=venue_symbol)


@pytest.fixture
def store(store_target: str) -> Iterator[EventStorage]:
    """A new store: every test taking it runs against SQLite and against PostgreSQL."""
    with open_event_store(store_target) as s:
        yield s


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    """A copy of the schema 1 fixture (the fixture itself is never opened for writing)."""
    path = tmp_path / "old.sqlite"
    shutil.copyfile(SCHEMA_1, path)
    return path


def raw(path: Path, sql: str) -> list[tuple[object, ...]]:
    """``sql`` on the file with plain sqlite3, as another program would see it."""
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def table_layout(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The events table's columns (name, type, not null, default) and its indexes with their columns."""
    columns = [row[1:5] for row in raw(path, "PRAGMA table_info(events)")]
    indexes = [(name, unique, tuple(c[2] for c in raw(path, f"PRAGMA index_info({name})")))
               for _, name, unique, *_ in raw(path, "PRAGMA index_list(events)") if not name.startswith("sqlite_")]
    return columns, sorted(indexes)


# ------------------------------------------------------------------ venues in the store

def test_the_same_tuple_from_two_venues_is_stored_twice_and_a_replay_once(store: EventStorage) -> None:
    e = event(100.0)
    binance, bybit = on(Venue.BINANCE, e), on(Venue.BYBIT, e)
    assert store.append([binance, bybit]) == 2
    assert store.append([bybit]) == 0  # a replayed Bybit frame
    assert store.append([bybit._replace(event_time=NOW + 5, status="NEW"), binance]) == 0  # still the same two
    okx = on(Venue.OKX, e, "BTC-USDT-SWAP")
    assert store.append([okx, okx]) == 1
    assert store.count() == 3
    assert list(store.events()) == [binance, bybit, okx]  # ties in exchange order


def test_events_come_back_with_all_eleven_fields(store: EventStorage) -> None:
    events = [
        on(Venue.BINANCE, LiquidationEvent("BTCUSDT", Side.SHORT, 0.1 + 0.2, 1e-8, NOW + 3, NOW, "PARTIALLY_FILLED",
                                           True)),
        on(Venue.BYBIT, LiquidationEvent("BTCUSDT", Side.LONG, 82396.9, 0.004, NOW + 2, NOW + 1, "FILLED", False)),
        on(Venue.OKX, LiquidationEvent("BTCUSDT", Side.LONG, 82655.7, 0.0855, NOW + 4, NOW + 1, "FILLED", False),
           "BTC-USDT-SWAP"),
        on(Venue.OKX, LiquidationEvent("BTC/USD:BTC", Side.SHORT, 50000.0, 2.0, NOW, NOW, "FILLED", False),
           "BTC-USD-SWAP"),
        on(Venue.BYBIT, LiquidationEvent("ETHUSDT", Side.SHORT, 3000.5, 1.5, NOW + 9, NOW + 9, "EXPIRED", False)),
    ]
    assert store.append(events) == len(events)
    expected = sorted(events, key=event_order)
    for back in (list(store.events()), load_events(store.path)):
        assert back == expected
        assert [tuple(e) for e in back] == [tuple(e) for e in expected]  # field by field, all 11
        assert all(type(e.exchange) is Venue and type(e.price_kind) is PriceKind and type(e.side) is Side
                   for e in back)
    btc = [e for e in expected if e.symbol == "BTCUSDT"]
    assert list(store.events(["BTC/USDT:USDT"])) == btc  # the one-symbol read builds them the same way
    assert [e.venue_id for e in store.events(["BTCUSDT"], exchanges=["okx"])] == ["BTC-USDT-SWAP"]


def test_reads_filter_by_exchange(store: EventStorage) -> None:
    events = [on(Venue.BINANCE, event(100.0)), on(Venue.BYBIT, event(100.0)), on(Venue.BYBIT, event(101.0)),
              on(Venue.OKX, event(102.0, symbol="ETHUSDT"), "ETH-USDT-SWAP")]
    store.append(events)
    assert store.count(exchanges=["bybit"]) == 2
    assert list(store.events(exchanges=[Venue.BYBIT])) == [events[1], events[2]]
    assert store.count(exchanges=["binance", "okx"]) == 2
    assert store.count(["ETHUSDT"], exchanges=["bybit"]) == 0
    assert store.count(exchanges=list(Venue)) == store.count() == 4
    assert store.count(exchanges=[]) == 0 and list(store.events(exchanges=[])) == []
    assert store.count(since_ms=NOW, exchanges="OKX") == 1  # one name, any case
    with pytest.raises(ValueError, match="unknown exchange 'kraken'"):
        store.count(exchanges=["kraken"])


def test_a_row_of_no_known_venue_is_refused(store: EventStorage, tmp_path: Path) -> None:
    bad = event(100.0)._replace(exchange="kraken")
    with pytest.raises(REFUSED):
        store.append([bad])
    with pytest.raises(REFUSED):
        store.append([on(Venue.BYBIT, event(100.0))._replace(price_kind="mark")])
    recorder = Recorder(store)  # the recorder drops (and counts) it alone, the rest of the batch is stored
    recorder.submit([on(Venue.BYBIT, event(101.0)), bad])
    assert recorder.flush() == 1
    assert recorder.stats()["dropped"] == 1
    assert [e.exchange for e in store.events()] == [Venue.BYBIT]


def test_warm_start_loads_the_configured_venues(store: EventStorage) -> None:
    events = [on(Venue.BINANCE, event(100.0, age_min=5)), on(Venue.BYBIT, event(101.0, age_min=4)),
              on(Venue.BYBIT, event(102.0, age_min=3)), on(Venue.OKX, event(103.0, age_min=2), "BTC-USDT-SWAP"),
              on(Venue.BYBIT, event(99.0, age_min=60 * 24))]  # older than the horizon
    store.append(events)
    only_bybit = LiveLiquidationHeatmap(clock=lambda: NOW)
    assert warm_start(only_bybit, store, NOW, exchanges=["bybit"]) == 2
    assert sorted(e.price for e in only_bybit.events("BTCUSDT")) == [101.0, 102.0]
    two = LiveLiquidationHeatmap(clock=lambda: NOW)
    assert warm_start(two, store, NOW, exchanges=["binance", "okx"]) == 2
    assert sorted(e.price for e in two.events("BTCUSDT")) == [100.0, 103.0]
    every = LiveLiquidationHeatmap(clock=lambda: NOW)
    assert warm_start(every, store, NOW) == 4
    assert warm_start(LiveLiquidationHeatmap(clock=lambda: NOW), store, NOW, exchanges=[]) == 0


# ------------------------------------------------------------------ schema 1 files

def fixture_events() -> list[LiquidationEvent]:
    """What the schema 1 fixture holds, read with plain sqlite3: its rows as Binance events."""
    rows = raw(SCHEMA_1, "SELECT symbol, side, price, quantity, event_time, trade_time, status, fallback FROM events")
    return sorted((LiquidationEvent(s, Side(d), p, q, e, t, x, bool(f)) for s, d, p, q, e, t, x, f in rows),
                  key=event_order)


def test_the_fixture_is_a_schema_1_file() -> None:
    assert raw(SCHEMA_1, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]
    columns, _ = table_layout(SCHEMA_1)
    assert [c[0] for c in columns] == list(LiquidationEvent._fields[:8])
    events = fixture_events()
    assert len(events) == 11 and {e.symbol for e in events} == {"BTCUSDT", "ETHUSDT"}
    assert any(e.fallback and e.status == "EXPIRED" for e in events)


def test_a_read_only_open_reads_a_schema_1_file_as_it_is(old_file: Path) -> None:
    before = hashlib.sha256(old_file.read_bytes()).hexdigest()
    with EventStore.open_readonly(old_file) as store:
        assert store.schema_version == 1
        events = list(store.events())
        assert events == fixture_events()
        assert all(e.exchange is Venue.BINANCE and e.price_kind is PriceKind.FILL_AVG and e.venue_symbol == ""
                   for e in events)
        assert list(store.events(["ETHUSDT"])) == [e for e in events if e.symbol == "ETHUSDT"]
        assert store.count(exchanges=["binance"]) == 11 and store.count(exchanges=["bybit", "okx"]) == 0
        assert list(store.events(["BTCUSDT"], exchanges=["bybit"])) == []
    assert load_events(old_file, exchanges=["binance"]) == events  # history reads it the same way
    assert hashlib.sha256(old_file.read_bytes()).hexdigest() == before  # not migrated, not touched
    assert raw(old_file, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]


def test_a_writable_open_migrates_a_schema_1_file_in_place(old_file: Path, tmp_path: Path) -> None:
    with capture_logs() as logs, EventStore.open(old_file) as store:
        assert store.schema_version == SCHEMA_VERSION == 2
        migrated = list(store.events())
        assert store.integrity_check() == "ok"
    assert [entry["event"] for entry in logs] == ["event_store.migrated"]
    assert logs[0]["rows"] == 11 and logs[0]["from_schema"] == 1
    expected = fixture_events()
    assert migrated == expected  # every row: Binance, fill_avg, no venue symbol
    assert raw(old_file, "SELECT DISTINCT exchange, price_kind, venue_symbol FROM events") == [("binance", "fill_avg",
                                                                                               "")]
    assert raw(old_file, "SELECT value FROM meta WHERE key = 'schema_version'") == [("2",)]
    with EventStore.open(tmp_path / "new.sqlite"):
        pass
    assert table_layout(old_file) == table_layout(tmp_path / "new.sqlite")  # the same table as a new file
    _, indexes = table_layout(old_file)
    assert ("events_key", 1, ("symbol", "trade_time", "side", "quantity", "price", "exchange")) in indexes

    with capture_logs() as logs, EventStore.open(old_file) as store:  # again: nothing to do
        assert list(store.events()) == expected
        # the migrated file keeps the new rules: the same tuple from Bybit is a second liquidation
        first = expected[0]
        assert store.append([first, on(Venue.BYBIT, first)]) == 1
        assert store.count(exchanges=["bybit"]) == 1
    assert logs == []
    with EventStore.open_readonly(old_file) as store:
        assert store.schema_version == 2 and store.count() == 12


def test_a_failed_migration_leaves_the_file_as_it_was(old_file: Path) -> None:
    db = sqlite3.connect(old_file)
    db.execute("CREATE INDEX events_key ON meta(value)")  # the name the migration needs is taken
    db.commit()
    db.close()
    columns, indexes = table_layout(old_file)
    with pytest.raises(EventStoreError, match="not a usable event store"):
        EventStore.open(old_file)
    assert table_layout(old_file) == (columns, indexes)  # no column added, no index dropped
    assert raw(old_file, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]
    with EventStore.open_readonly(old_file) as store:  # still readable as it was
        assert list(store.events()) == fixture_events()


def test_a_newer_schema_is_refused(old_file: Path) -> None:
    db = sqlite3.connect(old_file)
    db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(EventStoreError, match="newer version"):
        EventStore.open(old_file)
    with pytest.raises(EventStoreError, match="schema 3"):
        EventStore.open_readonly(old_file)


def test_a_sqlite_file_without_an_events_table_is_not_migrated(tmp_path: Path) -> None:
    other = tmp_path / "books.sqlite"  # another SQLite file with a schema_version of 1 (the bot's books)
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.commit()
    db.close()
    with pytest.raises(EventStoreError, match="no events table"):
        EventStore.open(other)
    assert raw(other, "SELECT name FROM sqlite_master WHERE type = 'table'") == [("meta",)]
