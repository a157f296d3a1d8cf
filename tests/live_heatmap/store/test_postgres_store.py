"""The event store in PostgreSQL (a real PostgreSQL 15 started by the tests): the same reads as SQLite, several
writers on one database, an unreachable server in one line (its password never shown), and a recorder that
outlives a server restart with nothing lost."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import WIRE
from helpers import NOW, event, wait_until
from postgres_server import PostgresServer, PostgresUnavailable, fresh_database, running_postgres

from live_heatmap import LiquidationEvent, LiveLiquidationHeatmap, parse_force_order
from live_heatmap.store.history import event_order, load_events
from live_heatmap.store.postgres import PostgresEventStore
from live_heatmap.store.recorder import EventStore, EventStoreError, Recorder
from live_heatmap.store.stores import open_event_store
from live_heatmap.store.target import is_postgres_url, mask_url, password_in
from live_heatmap.venue import PriceKind, Venue


@pytest.fixture(scope="module")
def real_events() -> list[LiquidationEvent]:
    return sorted((parse_force_order(line) for line in WIRE.read_bytes().splitlines()), key=event_order)


@pytest.fixture
def database(postgres_server: PostgresServer) -> str:
    return fresh_database(postgres_server)


def test_the_factory_picks_the_store_by_its_target(database: str, tmp_path: Path) -> None:
    assert is_postgres_url(database) and is_postgres_url("POSTGRES://u@h/db") and not is_postgres_url("x.sqlite")
    with open_event_store(database) as pg, open_event_store(tmp_path / "e.sqlite") as lite:
        assert isinstance(pg, PostgresEventStore) and isinstance(lite, EventStore)
    with pytest.raises(EventStoreError, match="no event store here"):
        open_event_store(fresh_database_of(database), readonly=True)


def fresh_database_of(url: str) -> str:
    """Another new database on the server of ``url``."""
    import psycopg

    name = f"other_{random.randrange(1 << 30)}"
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


def test_reads_equal_the_sqlite_store_s(database: str, tmp_path: Path, real_events: list[LiquidationEvent]) -> None:
    """The same events appended in another order to each store read back identically: every filter, the order of
    ties, every field's type (the comparison is with SQLite's answers, not with a list written here)."""
    venues = [e._replace(exchange=venue, price_kind=PriceKind.BANKRUPTCY, venue_symbol=e.symbol)
              for venue, step in ((Venue.BYBIT, 1), (Venue.OKX, 3)) for e in real_events[::step]]
    shuffled = real_events + venues
    random.Random(3).shuffle(shuffled)
    with open_event_store(database) as pg, open_event_store(tmp_path / "e.sqlite") as lite:
        for start in range(0, len(shuffled), 1500):  # in batches, some overlapping (duplicates)
            batch = shuffled[max(0, start - 100):start + 1500]
            assert pg.append(batch) == lite.append(batch)
        since, until = real_events[100].trade_time, real_events[4000].trade_time
        for symbols, exchanges in ((None, None), (["BTCUSDT"], None), (["BTC/USDT:USDT", "ethusdt"], ["binance"]),
                                   (None, ["bybit"]), ([], None), (["NOPEUSDT"], None)):
            for lo, hi in ((None, None), (since, until), (since, None)):
                a = list(pg.events(symbols, lo, hi, exchanges=exchanges))
                assert a == list(lite.events(symbols, lo, hi, exchanges=exchanges)), (symbols, exchanges, lo, hi)
                assert pg.count(symbols, lo, hi, exchanges=exchanges) == len(a)
                assert [tuple(type(v) for v in e) for e in a[:50]] == [tuple(type(v) for v in e) for e in
                                                                      lite.events(symbols, lo, hi,
                                                                                  exchanges=exchanges)][:50]
        assert pg.count() == len(real_events) + len(venues) > 8192  # more than one page of a read
        assert pg.symbols() == lite.symbols() and pg.span() == lite.span()
        assert pg.integrity_check() == "ok"
        assert pg.prune(since, chunk=40, max_chunks=3) == 120 == lite.prune(since, chunk=40, max_chunks=3)
        assert pg.prune(since) == lite.prune(since) > 0
        assert list(pg.events()) == list(lite.events())
    assert load_events(database, symbols=["SOLUSDT"]) == load_events(tmp_path / "e.sqlite", symbols=["SOLUSDT"])


def test_writers_on_one_database_store_each_event_once(database: str, real_events: list[LiquidationEvent]) -> None:
    """Three recorders' stores (three connections, as three processes would have) append overlapping batches at
    the same time: every event stored once, and the new-row counts add up to the total."""
    with open_event_store(database):
        pass  # the tables, made once
    inserted: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def write(seed: int) -> None:
        mine = real_events[:]
        random.Random(seed).shuffle(mine)  # each in its own order: overlapping rows at the same time
        try:
            with open_event_store(database) as store:
                for start in range(0, len(mine), 500):
                    n = store.append(mine[start:start + 500])
                    with lock:
                        inserted.append(n)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(seed,)) for seed in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []  # no deadlock: rows go in in the key's order
    with open_event_store(database, readonly=True) as store:
        assert list(store.events()) == real_events
    assert sum(inserted) == len(real_events) and len(inserted) == 3 * len(range(0, len(real_events), 500))


def test_two_stores_creating_the_tables_at_once_do_it_once(database: str) -> None:
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            open_event_store(database).close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []


def test_an_unreachable_server_is_one_line_with_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "s3cret-from-env")
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://bob@127.0.0.1:{port}/liq"
    for readonly in (False, True):
        with pytest.raises(EventStoreError) as caught:
            open_event_store(url, readonly=readonly)
        message = str(caught.value)
        assert message.startswith(f"{url}: cannot connect to PostgreSQL (") and "\n" not in message
        assert "s3cret" not in message
    with pytest.raises(EventStoreError) as caught:
        open_event_store(f"postgresql://bob:hunter22@127.0.0.1:{port}/liq")
    assert "hunter22" not in str(caught.value) and "bob:***@" in str(caught.value)


def test_urls_are_masked_and_passwords_found() -> None:
    assert mask_url("postgresql://u:pw@h:5432/db?sslmode=require") == "postgresql://u:***@h:5432/db?sslmode=require"
    assert mask_url("postgres://u@h/db?password=pw") == "postgres://u@h/db?password=***"
    assert mask_url("var/liquidations.sqlite") == "var/liquidations.sqlite"
    assert password_in("postgresql://u:pw@h/db") and password_in("postgresql://u@h/db?PASSWORD=x")
    assert not password_in("postgresql://u@h:5432/db?sslmode=require")


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    """A server of the test's own, to stop and start again."""
    try:
        with running_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))


def test_the_recorder_keeps_its_events_through_a_server_restart(own_server: PostgresServer) -> None:
    """The server goes away under a recording (``pg_ctl stop -m immediate``): the writes fail, are counted and
    logged, the events wait in the recorder; the server comes back on the same folder and port, the store opens a
    new connection, and every event is stored once."""
    url = fresh_database(own_server)
    heatmap = LiveLiquidationHeatmap(clock=lambda: NOW)
    with open_event_store(url) as store:
        recorder = Recorder(store, flush_interval=0.05, clock=lambda: NOW).attach(heatmap).start()
        heatmap.ingest(event(100.0))
        assert wait_until(lambda: recorder.written == 1, 5)
        own_server.stop()
        heatmap.ingest_many([event(101.0 + i, age_min=i + 1) for i in range(10)])
        assert wait_until(lambda: recorder.errors >= 2, 10)
        assert recorder.running and recorder.pending == 10 and recorder.written == 1
        assert recorder.last_error is not None and "\n" not in recorder.last_error  # one line
        own_server.start()
        assert wait_until(lambda: recorder.pending == 0, 15), recorder.stats()
        recorder.stop()
        assert recorder.written == 11 and recorder.dropped == 0
        assert store.count() == 11
    with open_event_store(url, readonly=True) as store:
        assert [e.price for e in store.events()] == [110.0 - i for i in range(10)] + [100.0]
