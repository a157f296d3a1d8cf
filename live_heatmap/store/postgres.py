"""The event store in PostgreSQL (psycopg 3): the SQLite store's table, key and read order in a database any
number of recorders and bots share (docs/STORAGE.md).

* The same columns (``double precision`` for the reals, ``bigint`` for the times, ``boolean`` for ``fallback``),
  the same unique key ``(symbol, trade_time, side, quantity, price, exchange)`` and the same time index; the text
  columns of the key compare byte by byte (``COLLATE "C"``, SQLite's order), so reads come back in the same
  order from either store. The ``depth_runs`` table of the order-book layer sits beside it.
* :meth:`PostgresEventStore.append`: one batch is ``COPY``-ed into a temporary table, then ``INSERT ... ON
  CONFLICT DO NOTHING`` into ``events``, in one transaction: duplicates (within the batch too) are skipped, a row
  the table refuses fails the batch (:class:`~live_heatmap.store.interface.RowRefusedError`). Rows are inserted in
  the key's order, so several writers appending the same events at once wait for each other, never deadlock. COPY
  was measured against multi-row inserts (``benchmarks/bench_postgres.py``) and kept.
* Reads go page by page along the index (keyset: ``(trade_time, symbol, ...) > last row``), each page a short
  query under the store's lock, so a long read holds no transaction open and a writer on the same connection
  never waits for a reader that is slow to iterate.
* A lost connection is opened again on the next call; the recorder meanwhile keeps its events, counts the
  failure and retries (as it does for a locked SQLite file).

Passwords never come from the URL (the config refuses one): libpq reads ``PGPASSWORD`` / ``PGPASSFILE``.
:attr:`PostgresEventStore.path` is the URL with any password masked, fit for logs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Self

import structlog

from live_heatmap.common.errors import first_line
from live_heatmap.common.symbols import symbol_key
from live_heatmap.side import Side
from live_heatmap.store.interface import RowRefusedError
from live_heatmap.store.schema import (
    COLUMNS,
    INDEXES,
    KEY,
    READ_ORDER,
    SCHEMA_VERSION,
    EventStoreError,
    event_order,
)
from live_heatmap.store.target import mask_url
from live_heatmap.venue import PriceKind, Venue, chosen_venues
from live_heatmap.wire.events import LiquidationEvent

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresEventStore"]

_C = 'COLLATE "C"'
_TABLE = f"""CREATE TABLE events (
    symbol text {_C} NOT NULL,
    side text {_C} NOT NULL CHECK (side IN ('long', 'short')),
    price double precision NOT NULL,
    quantity double precision NOT NULL,
    event_time bigint NOT NULL,
    trade_time bigint NOT NULL,
    status text NOT NULL,
    fallback boolean NOT NULL,
    exchange text {_C} NOT NULL DEFAULT '{Venue.BINANCE}' CHECK (exchange IN ({", ".join(f"'{v}'" for v in Venue)})),
    price_kind text NOT NULL DEFAULT '{PriceKind.FILL_AVG}' CHECK (price_kind IN ({
        ", ".join(f"'{k}'" for k in PriceKind)})),
    venue_symbol text NOT NULL DEFAULT '')"""
_DEPTH = """CREATE TABLE IF NOT EXISTS depth_runs (
    symbol text NOT NULL,
    side text NOT NULL CHECK (side = 'bid' OR side = 'ask'),
    price double precision NOT NULL,
    bin_width double precision NOT NULL,
    start_ms bigint NOT NULL,
    end_ms bigint NOT NULL CHECK (end_ms >= start_ms),
    size double precision NOT NULL)"""
_DEPTH_INDEX = "CREATE INDEX IF NOT EXISTS depth_runs_time ON depth_runs(symbol, start_ms)"
_META = "CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL)"
_INCOMING = "CREATE TEMP TABLE IF NOT EXISTS incoming (LIKE events) ON COMMIT DELETE ROWS"
_LOCK_KEY = 0x6C68_6576  # one advisory lock: two processes creating the tables at once do it once
_PAGE = 8192
_SIDES = {"long": Side.LONG, "short": Side.SHORT}


def _connect(url: str, *, readonly: bool) -> psycopg.Connection[Any]:
    import psycopg  # noqa: PLC0415 - lazy: the driver is an extra (postgres), loaded only for a postgresql:// store

    try:
        db = psycopg.connect(url, autocommit=True, connect_timeout=10,
                             options="-c default_transaction_read_only=on" if readonly else None)
    except psycopg.Error as exc:
        raise EventStoreError(f"{mask_url(url)}: cannot connect to PostgreSQL ({first_line(exc)})") from None
    return db


class PostgresEventStore:
    """Liquidation events in a PostgreSQL database; open with :meth:`open` or :meth:`open_readonly`."""

    def __init__(self, url: str, db: psycopg.Connection[Any], *, readonly: bool) -> None:
        self._url = url
        self._db = db
        self._lock = threading.RLock()
        self.path = mask_url(url)
        self.readonly = readonly
        self.schema_version = SCHEMA_VERSION

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, url: str) -> PostgresEventStore:
        """Connect for writing, creating the tables when missing; :class:`EventStoreError` (one line, the URL
        masked) when the server cannot be reached or holds a newer schema."""
        store = cls(url, _connect(url, readonly=False), readonly=False)
        try:
            store._init()
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open_readonly(cls, url: str) -> PostgresEventStore:
        """Connect for reading an existing store (a read-only session); :class:`EventStoreError` when there is
        none in that database."""
        store = cls(url, _connect(url, readonly=True), readonly=True)
        try:
            version = store._version()
        except BaseException:
            store.close()
            raise
        if version is None or version > SCHEMA_VERSION:
            store.close()
            what = "no event store here (nothing has been recorded to this database)" if version is None else \
                f"not an event store of this version (schema {version})"
            raise EventStoreError(f"{store.path}: {what}")
        return store

    def _version(self) -> int | None:
        with self._using() as db:
            if db.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone() != (True,):
                return None
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else None

    def _init(self) -> None:
        with self._lock, self._db.transaction():
            db = self._db
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            db.execute(_META)
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                db.execute(_TABLE)
                for sql in INDEXES:
                    db.execute(sql)
                db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', %s)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise EventStoreError(f"{self.path}: written by a newer version (schema {row[0]})")
            db.execute(_DEPTH)
            db.execute(_DEPTH_INDEX)

    def _connection(self) -> psycopg.Connection[Any]:
        """The connection, opened again when the last one was lost (a server restart, a network cut)."""
        if self._db.closed or self._db.broken:
            self._db.close()
            self._db = _connect(self._url, readonly=self.readonly)
            _log().info("event_store.reconnected", path=self.path)
        return self._db

    @contextmanager
    def _using(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection under the store's lock; a lost or failing server is one line (:class:`ConnectionError`,
        the URL masked), for the caller to count and retry, and the next call connects again."""
        import psycopg  # noqa: PLC0415 - lazy: the driver is an extra (postgres)

        with self._lock:
            try:
                yield self._connection()
            except psycopg.OperationalError as exc:
                raise ConnectionError(f"{self.path}: {first_line(exc)}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    def append(self, events: Iterable[LiquidationEvent]) -> int:
        """Store ``events`` in one transaction; returns how many were new (duplicates are skipped). All or
        nothing: a row the table refuses raises :class:`RowRefusedError` and nothing of the batch is stored."""
        import psycopg  # noqa: PLC0415 - lazy: the driver is an extra (postgres)

        rows = events if isinstance(events, list | tuple) else list(events)
        if not rows:
            return 0
        with self._using() as db:
            try:
                with db.transaction(), db.cursor() as cur:
                    cur.execute(_INCOMING)
                    with cur.copy(f"COPY incoming ({COLUMNS}) FROM STDIN") as copy:
                        write = copy.write_row
                        for row in rows:
                            write(row)
                    # in the unique key's order: writers appending overlapping batches at once take their row
                    # locks in one order and wait for each other instead of deadlocking
                    cur.execute(f"INSERT INTO events ({COLUMNS}) SELECT {COLUMNS} FROM incoming "
                                f"ORDER BY {KEY} ON CONFLICT DO NOTHING")
                    return cur.rowcount
            except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as exc:
                raise RowRefusedError(first_line(exc)) from None

    def prune(self, older_than_ms: int, *, chunk: int = 5_000, max_chunks: int | None = None) -> int:
        """Delete events traded before ``older_than_ms``, ``chunk`` rows per transaction along the time index;
        at most ``max_chunks`` transactions. Returns how many went."""
        deleted = done = 0
        while max_chunks is None or done < max_chunks:
            with self._using() as db:
                n = db.execute(
                    "DELETE FROM events WHERE ctid = ANY(ARRAY(SELECT ctid FROM events WHERE trade_time < %s "
                    "ORDER BY trade_time LIMIT %s))", (older_than_ms, chunk)).rowcount
            deleted += n
            done += 1
            if n < chunk:
                break
        return deleted

    def append_depth_runs(self, rows: Sequence[tuple[str, str, float, float, int, int, float]]) -> int:
        """Rows of ``depth_runs`` (symbol, side, price, bin width, start, end, size) in one transaction."""
        with self._using() as db, db.transaction(), db.cursor() as cur:
            cur.executemany("INSERT INTO depth_runs VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
        return len(rows)

    def depth_runs(self, symbol: str, start_ms: int, end_ms: int, bin_width: float) -> list[tuple[Any, ...]]:
        """``(side == 'ask', price, start, end, size)`` of the runs of ``symbol`` at ``bin_width`` overlapping
        ``[start_ms, end_ms]``, by start."""
        with self._using() as db:
            return list(db.execute(
                "SELECT (side = 'ask')::int, price, start_ms, end_ms, size FROM depth_runs WHERE symbol = %s AND "
                "start_ms <= %s AND end_ms > %s AND abs(bin_width - %s) < 1e-12 ORDER BY start_ms",
                (symbol_key(symbol), end_ms, start_ms, bin_width)).fetchall())

    # ------------------------------------------------------------------ reading

    def events(self, symbols: Iterable[str] | None = None, since_ms: int | None = None,
               until_ms: int | None = None, *, exchanges: Iterable[str] | None = None) -> Iterator[LiquidationEvent]:
        """Stored events, in the SQLite store's order: trade time, then symbol, side, quantity, price, exchange."""
        where, params = self._where(symbols, since_ms, until_ms, exchanges)
        return self._pages(where, params)

    def _pages(self, where: list[str], params: list[Any]) -> Iterator[LiquidationEvent]:
        head = f"SELECT {COLUMNS} FROM events"
        venues: dict[tuple[str, str, str], tuple[Venue, PriceKind, str]] = {}
        names: dict[str, str] = {}
        new, event, sides = tuple.__new__, LiquidationEvent, _SIDES
        after: tuple[Any, ...] | None = None
        while True:
            clauses = where if after is None else [*where, f"({READ_ORDER}) > (%s, %s, %s, %s, %s, %s)"]
            sql = (head + (" WHERE " + " AND ".join(clauses) if clauses else "")
                   + f" ORDER BY {READ_ORDER} LIMIT {_PAGE}")
            with self._using() as db:
                rows = db.execute(sql, params if after is None else [*params, *after]).fetchall()
            out = []
            for s, d, p, q, e, t, x, f, ex, pk, vs in rows:
                venue = venues.get((ex, pk, vs))
                if venue is None:
                    venue = venues.setdefault((ex, pk, vs), (Venue(ex), PriceKind(pk), vs))
                out.append(new(event, (names.setdefault(s, s), sides[d], p, q, e, t, x, f, *venue)))
            yield from out
            if len(rows) < _PAGE:
                return
            after = event_order(rows[-1])  # a row is in COLUMNS' order: the event's fields

    def count(self, symbols: Iterable[str] | None = None, since_ms: int | None = None,
              until_ms: int | None = None, *, exchanges: Iterable[str] | None = None) -> int:
        """How many events :meth:`events` would give."""
        where, params = self._where(symbols, since_ms, until_ms, exchanges)
        with self._using() as db:
            row = db.execute("SELECT count(*) FROM events" + (" WHERE " + " AND ".join(where) if where else ""),
                             params).fetchone()
        return int(row[0]) if row else 0

    def symbols(self) -> list[str]:
        """The exchange ids that have events, sorted (byte order, as SQLite's)."""
        with self._using() as db:
            return [r[0] for r in db.execute("SELECT DISTINCT symbol FROM events ORDER BY symbol")]

    def span(self) -> tuple[int, int] | None:
        """``(first, last)`` trade time stored, or None when empty."""
        with self._using() as db:
            row = db.execute("SELECT min(trade_time), max(trade_time) FROM events").fetchone()
        return None if row is None or row[0] is None else (int(row[0]), int(row[1]))

    def integrity_check(self) -> str:
        """``"ok"`` when the table reads through and both its indexes are valid, else which index is not."""
        with self._using() as db:
            db.execute("SELECT count(*) FROM events").fetchone()
            bad = [r[0] for r in db.execute(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = 'events'::regclass AND NOT (i.indisvalid AND i.indisready) ORDER BY 1")]
        return "ok" if not bad else f"invalid indexes: {', '.join(bad)}"

    @staticmethod
    def _where(symbols: Iterable[str] | None, since_ms: int | None, until_ms: int | None,
               exchanges: Iterable[str] | None) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if symbols is not None:
            keys = sorted({symbol_key(s) for s in symbols})
            if len(keys) == 1:  # one symbol: an equality, so the planner reads its index in key order
                where.append("symbol = %s")
                params.append(keys[0])
            else:
                where.append("symbol = ANY(%s)" if keys else "false")
                params += [keys] if keys else []
        chosen = chosen_venues(exchanges)
        if chosen is not None and chosen != set(Venue):
            where.append("exchange = ANY(%s)" if chosen else "false")
            if chosen:
                params.append(sorted(str(v) for v in chosen))
        if since_ms is not None:
            where.append("trade_time >= %s")
            params.append(int(since_ms))
        if until_ms is not None:
            where.append("trade_time < %s")
            params.append(int(until_ms))
        return where, params


def _log() -> Any:
    return structlog.get_logger("live_heatmap.store.postgres")
