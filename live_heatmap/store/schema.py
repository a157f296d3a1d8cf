"""The event store's file layout: its schema version, the ``events`` table and its indexes, and the migration of
an older file (schema 1 -> 2) in place.

:class:`~live_heatmap.store.recorder.EventStore` opens the file and calls these inside its own transaction; nothing
here opens, locks or commits. A file of schema 1 (written before the venue was stored: Binance's events only) gains
the venue's columns with the defaults every one of its rows had, and its two indexes are rebuilt with the exchange
in the key, so a migrated file and a new one hold the same table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING

from live_heatmap.venue import PriceKind, Venue

if TYPE_CHECKING:
    from live_heatmap.wire.events import LiquidationEvent

__all__ = ["READ_ORDER", "SCHEMA_VERSION", "EventStoreError", "event_order"]

SCHEMA_VERSION = 2
"""The event store's layout. 2: every row carries its venue (``exchange``, ``price_kind``, ``venue_symbol``) and
the unique key includes the exchange; 1 (up to issue 13): Binance only, migrated to 2 by a writable open."""
SQLITE_MAGIC = b"SQLite format 3\x00"
"""The first bytes of every SQLite file."""


class EventStoreError(ValueError):
    """The file is not an event store this version can use."""


def _one_of(column: str, values: Iterable[str]) -> str:
    """``column = 'a' OR column = 'b' ...``: the CHECK of a column of names (``IN (...)`` costs a fifth of the
    append rate: SQLite evaluates it per row)."""
    return " OR ".join(f"{column} = '{v}'" for v in values)


META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
# The venue's columns, added by the migration from schema 1 with the same definitions (so a migrated file and a
# new one hold the same table); the defaults are what every schema 1 row was.
_VENUE_COLUMNS = (
    f"exchange TEXT NOT NULL DEFAULT '{Venue.BINANCE}' CHECK ({_one_of('exchange', Venue)})",
    f"price_kind TEXT NOT NULL DEFAULT '{PriceKind.FILL_AVG}' CHECK ({_one_of('price_kind', PriceKind)})",
    "venue_symbol TEXT NOT NULL DEFAULT ''",
)
_TABLE = """CREATE TABLE events (
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('long', 'short')),
    price REAL NOT NULL,
    quantity REAL NOT NULL,
    event_time INTEGER NOT NULL,
    trade_time INTEGER NOT NULL,
    status TEXT NOT NULL,
    fallback INTEGER NOT NULL,
    """ + ",\n    ".join(_VENUE_COLUMNS) + ")"
# The unique key is LiquidationEvent.dedupe_key (the same tuple on two venues is two rows); it is also the
# index of per-symbol reads, and the second one serves time-range reads over every symbol and pruning. Both
# hold the whole read order, the exchange last, so reads come sorted straight from an index.
KEY = "symbol, trade_time, side, quantity, price, exchange"
"""The unique key's columns, in the index's order."""
READ_ORDER = "trade_time, symbol, side, quantity, price, exchange"
"""The order of every read (the stores', the Parquet dataset's, :func:`event_order`): trade time, then symbol,
side, quantity, price, exchange, so the order depends on the events only."""
INDEXES = (f"CREATE UNIQUE INDEX events_key ON events({KEY})",
           f"CREATE INDEX events_time ON events({READ_ORDER})")
"""The two indexes, the same statements in SQLite and in PostgreSQL (:mod:`live_heatmap.store.postgres`)."""
_INDEXES_1 = ("events_symbol_time", "events_time")  # schema 1's, without the exchange
COLUMNS = ("symbol, side, price, quantity, event_time, trade_time, status, fallback, exchange, price_kind, "
           "venue_symbol")
"""The columns in LiquidationEvent's field order, so an event binds as is."""


def event_order(event: LiquidationEvent) -> tuple[int, str, str, float, float, str]:
    """The sort key of every read (:data:`READ_ORDER`): trade time, then symbol, side, quantity, price, exchange.
    A row read in :data:`COLUMNS`' order (LiquidationEvent's fields) gives the same key."""
    return event[5], event[0], event[1], event[3], event[2], event[8]


def schema_version(db: sqlite3.Connection) -> int | None:
    """The file's schema version, None when it has none written (a new file, or one of schema 1's first ones)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else None


def has_events_table(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone() is not None


def create(db: sqlite3.Connection) -> None:
    """The table and indexes of a new store, and its version, inside the caller's transaction."""
    db.execute(_TABLE)
    for sql in INDEXES:
        db.execute(sql)
    db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def migrate_from_1(db: sqlite3.Connection, path: str) -> int:
    """Schema 1 -> 2, inside the caller's transaction: the venue's columns are added (every existing row is a
    Binance ``fill_avg`` event: their defaults), the two indexes rebuilt with the exchange in the key. Returns how
    many rows the file holds."""
    if not has_events_table(db):
        raise EventStoreError(f"{path}: not an event store (no events table)")
    for column in _VENUE_COLUMNS:
        db.execute(f"ALTER TABLE events ADD COLUMN {column}")
    for name in _INDEXES_1:
        db.execute(f"DROP INDEX IF EXISTS {name}")
    for sql in INDEXES:
        db.execute(sql)
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    return int(db.execute("SELECT count(*) FROM events").fetchone()[0])


def check_is_sqlite(path: str) -> None:
    """Refuse to touch a file that exists and is not SQLite (a CSV given by mistake, say)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return
    if head and head != SQLITE_MAGIC:
        raise EventStoreError(f"{path}: not a SQLite file")
