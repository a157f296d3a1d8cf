"""Recording and warm start: accepted events appended to SQLite, and a heatmap rebuilt from them.

* :class:`EventStore` is one SQLite file (WAL) with one table of events, each with its venue (``exchange``,
  ``price_kind``, ``venue_symbol``). The dedupe key ``(symbol, trade_time, side, quantity, price, exchange)``
  is a unique index, so appending the same liquidation twice (a reconnect overlap, a re-import, a replay
  after a crash) stores it once, while the same tuple from two venues is two liquidations, stored twice.
  That index is also the ``(symbol, trade_time)`` index of per-symbol reads; a second index,
  ``(trade_time, symbol, side, quantity, price, exchange)``, serves time-range reads over every symbol and
  pruning. Both hold the whole tie order, so reads come sorted straight from an index. One process writes,
  any number read (:meth:`EventStore.open_readonly`; WAL readers never wait for the writer). A file of
  schema 1 (written before the venue was stored: Binance's events only) is migrated in place by the first
  writable open, in one transaction; a read-only open reads it as it is.
* :class:`Recorder` is the writer: a heatmap listener puts every accepted event on a queue, and one
  thread appends the queue to the store every ``flush_interval`` seconds, in one transaction
  (``synchronous=FULL``: a committed batch survives ``kill -9`` and power loss). At most the events of
  the last interval are lost in a crash, and the file stays intact. Once an hour it deletes events older
  than ``retention_days``, a few thousand rows per transaction.
* :func:`warm_start` loads the heatmap's horizon (of the configured venues) from the store, so a restart does
  not empty it.
  Those events are ingested with ``notify=False``: the recorder does not see them again.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from live_heatmap.common.errors import describe
from live_heatmap.common.symbols import symbol_key
from live_heatmap.heatmap import system_clock_ms
from live_heatmap.side import SIDES_BY_CODE, Side
from live_heatmap.store.interface import REFUSED, EventStorage
from live_heatmap.store.schema import (
    COLUMNS,
    META,
    SCHEMA_VERSION,
    EventStoreError,
    check_is_sqlite,
    create,
    has_events_table,
    migrate_from_1,
    schema_version,
)
from live_heatmap.venue import PriceKind, Venue, chosen_venues
from live_heatmap.wire.events import LiquidationEvent

if TYPE_CHECKING:
    from live_heatmap.heatmap import LiveLiquidationHeatmap

__all__ = ["SCHEMA_VERSION", "EventStore", "EventStoreError", "Recorder", "warm_start"]

DAY_MS = 86_400_000
MEMORY = ":memory:"
# A duplicate (the unique index) is skipped; unlike INSERT OR IGNORE, a row breaking a CHECK or NOT NULL
# rule is an error, not silently dropped and counted as a duplicate.
_INSERT = f"INSERT INTO events ({COLUMNS}) VALUES ({', '.join('?' * 11)}) ON CONFLICT DO NOTHING"
# What a read selects: side and status as small values that map to shared strings (most rows are
# FILLED), so a read creates fewer Python objects per row; the venue as one value, NULL for Binance's
# (exchange, price_kind, venue_symbol), else the three joined by commas (the first two cannot hold one).
_READ = ("side = 'short', price, quantity, event_time, trade_time, "
         "CASE status WHEN 'FILLED' THEN NULL ELSE status END, fallback, ")
_READ_VENUE = (f"CASE WHEN exchange = '{Venue.BINANCE}' AND price_kind = '{PriceKind.FILL_AVG}' AND venue_symbol = '' "
               "THEN NULL ELSE exchange || ',' || price_kind || ',' || venue_symbol END")
_BINANCE = (Venue.BINANCE, PriceKind.FILL_AVG, "")
_FETCH = 8192
_SIDES = SIDES_BY_CODE
_BOOLS = (False, True)
_tuple_new = tuple.__new__
# An event's str enums bind as their values, as they would anyway, but straight from the adapter table: without
# an entry sqlite3 looks for __adapt__ and __conform__ on every one of them, every row (15 % of an append).
for _kind in (Side, Venue, PriceKind):
    sqlite3.register_adapter(_kind, str)


def _venue_of(joined: str) -> tuple[Venue, PriceKind, str]:
    exchange, price_kind, venue_symbol = joined.split(",", 2)
    return Venue(exchange), PriceKind(price_kind), venue_symbol


class EventStore:
    """Liquidation events in one SQLite file. Open with :meth:`open` (read-write) or :meth:`open_readonly`.

    Times are UTC epoch ms; ranges are ``since_ms <= trade_time < until_ms``. Thread-safe: calls on one
    store are serialised by a lock (an iterator from :meth:`events` takes it per chunk of rows).
    """

    def __init__(self, connection: sqlite3.Connection, path: str, *, readonly: bool) -> None:
        self._db = connection
        self._lock = threading.RLock()
        self.path = path
        self.readonly = readonly
        self.schema_version = SCHEMA_VERSION
        """The file's schema: :data:`SCHEMA_VERSION`, or 1 for an older file opened read-only (read as Binance's
        events, which is what it holds; a writable open migrates it)."""

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> EventStore:
        """Open the store at ``path`` for writing, creating the file (and its folder) when missing. A file of
        an older schema is migrated in place, in one transaction (:mod:`live_heatmap.store.schema`)."""
        where = os.fspath(path)
        if where != MEMORY:
            Path(where).parent.mkdir(parents=True, exist_ok=True)
            check_is_sqlite(where)
        db = sqlite3.connect(where, timeout=10.0, isolation_level=None, check_same_thread=False)
        try:
            if where != MEMORY:
                db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # one fsync per batch (about one a second): cheap
            db.execute("PRAGMA journal_size_limit=67108864")  # the WAL shrinks back after a big import
            store = cls(db, where, readonly=False)
            store._init()
        except sqlite3.DatabaseError as exc:
            db.close()
            raise EventStoreError(f"{where}: not a usable event store ({exc})") from None
        except BaseException:
            db.close()
            raise
        return store

    @classmethod
    def open_readonly(cls, path: str | os.PathLike[str]) -> EventStore:
        """Open an existing store for reading; :class:`EventStoreError` if there is none at ``path``. A file of
        schema 1 (before the venue was stored) is read as it is, every event Binance's; it is not migrated."""
        where = os.fspath(path)
        if not Path(where).is_file():
            raise EventStoreError(f"{where}: no event store here (nothing has been recorded to this file)")
        check_is_sqlite(where)
        db = sqlite3.connect(f"file:{Path(where).resolve()}?mode=ro", uri=True, timeout=10.0,
                             isolation_level=None, check_same_thread=False)
        store = cls(db, where, readonly=True)
        try:
            version = schema_version(db)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise EventStoreError(f"{where}: not an event store ({exc})") from None
        if version is None or version > SCHEMA_VERSION:
            db.close()
            raise EventStoreError(f"{where}: not an event store of this version (schema {version})")
        store.schema_version = version
        return store

    def _init(self) -> None:
        """Create the tables of a new store, or migrate an older one; in one transaction that holds the write
        lock from its start, so two processes opening the same file do it once."""
        with self._lock:
            self._db.execute(META)
            with self._write() as db:
                version = schema_version(db)
                if version is None and not has_events_table(db):
                    create(db)
                elif version is None or version == 1:  # schema 1 created its table before writing its version
                    rows = migrate_from_1(db, self.path)
                    _log().info("event_store.migrated", path=self.path, from_schema=1, to_schema=SCHEMA_VERSION,
                                rows=rows)
                elif version > SCHEMA_VERSION:
                    raise EventStoreError(f"{self.path}: written by a newer version (schema {version})")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    def append(self, events: Iterable[LiquidationEvent]) -> int:
        """Store ``events`` in one transaction; returns how many were new (duplicates are ignored).

        All or nothing: on an error nothing of the batch is stored and the error is raised.
        """
        rows = events if isinstance(events, list | tuple) else list(events)
        if not rows:
            return 0
        with self._write() as db:
            before = db.total_changes
            db.executemany(_INSERT, rows)
            return db.total_changes - before

    def prune(self, older_than_ms: int, *, chunk: int = 5_000, max_chunks: int | None = None) -> int:
        """Delete events traded before ``older_than_ms``, ``chunk`` rows per transaction (so the write lock is
        held a few milliseconds at a time); at most ``max_chunks`` transactions. Returns how many went."""
        deleted = done = 0
        while max_chunks is None or done < max_chunks:
            with self._write() as db:
                n = db.execute("DELETE FROM events WHERE rowid IN (SELECT rowid FROM events "
                               "WHERE trade_time < ? ORDER BY trade_time LIMIT ?)", (older_than_ms, chunk)).rowcount
            deleted += n
            done += 1
            if n < chunk:
                break
        return deleted

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock from its start; rolled back on any error (a failed
        COMMIT included), so the connection is always ready for the next one."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLite may already have rolled back (disk full, I/O error)
                    db.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------------ reading

    def events(self, symbols: Iterable[str] | None = None, since_ms: int | None = None,
               until_ms: int | None = None, *, exchanges: Iterable[str] | None = None) -> Iterator[LiquidationEvent]:
        """Stored events with ``since_ms <= trade_time < until_ms`` (either bound optional), of ``symbols``
        (either form; None: all) and ``exchanges`` (venue names; None: all), oldest trade first; ties (the same
        millisecond) by symbol, side, quantity, price and exchange, so the order depends on the events only, not
        on when or how they were stored. Each event comes back with all its fields (venue included)."""
        keys = None if symbols is None else sorted({symbol_key(s) for s in symbols})
        venue, tail = (_READ_VENUE, ", exchange") if self.schema_version >= 2 else ("NULL", "")
        if keys is not None and len(keys) == 1:  # one symbol: straight from its index, no symbol column
            sql, params = self._select(f"SELECT {_READ}{venue} FROM events", keys, since_ms, until_ms, exchanges)
            return self._iterate(sql + f" ORDER BY trade_time, side, quantity, price{tail}", params, keys[0])
        sql, params = self._select(f"SELECT symbol, {_READ}{venue} FROM events", keys, since_ms, until_ms, exchanges)
        return self._iterate(sql + f" ORDER BY trade_time, symbol, side, quantity, price{tail}", params, None)

    def _iterate(self, sql: str, params: list[Any], symbol: str | None) -> Iterator[LiquidationEvent]:
        new, event, sides, bools = _tuple_new, LiquidationEvent, _SIDES, _BOOLS
        venues: dict[str | None, tuple[Venue, PriceKind, str]] = {None: _BINANCE}  # one tuple per venue and id
        known = venues.get

        def venue(joined: str) -> tuple[Venue, PriceKind, str]:
            return venues.setdefault(joined, _venue_of(joined))

        with self._lock:
            cursor = self._db.execute(sql, params)
        try:
            while True:
                with self._lock:
                    rows = cursor.fetchmany(_FETCH)
                if not rows:
                    return
                if symbol is not None:
                    yield from [new(event, (symbol, sides[d], p, q, e, t, x or "FILLED", bools[f],
                                            *(known(v) or venue(v))))
                                for d, p, q, e, t, x, f, v in rows]
                else:
                    names: dict[str, str] = {}  # one string object per symbol, not per row
                    yield from [new(event, (names.setdefault(s, s), sides[d], p, q, e, t, x or "FILLED", bools[f],
                                            *(known(v) or venue(v))))
                                for s, d, p, q, e, t, x, f, v in rows]
        finally:
            cursor.close()

    def count(self, symbols: Iterable[str] | None = None, since_ms: int | None = None,
              until_ms: int | None = None, *, exchanges: Iterable[str] | None = None) -> int:
        """How many events :meth:`events` would give."""
        sql, params = self._select("SELECT count(*) FROM events", symbols, since_ms, until_ms, exchanges)
        with self._lock:
            return int(self._db.execute(sql, params).fetchone()[0])

    def symbols(self) -> list[str]:
        """The exchange ids that have events, sorted."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT DISTINCT symbol FROM events ORDER BY symbol")]

    def span(self) -> tuple[int, int] | None:
        """``(first, last)`` trade time stored, or None when empty."""
        with self._lock:
            first, last = self._db.execute("SELECT min(trade_time), max(trade_time) FROM events").fetchone()
        return None if first is None else (int(first), int(last))

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: ``"ok"`` for an intact file."""
        with self._lock:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    def _select(self, head: str, symbols: Iterable[str] | None, since_ms: int | None, until_ms: int | None,
                exchanges: Iterable[str] | None) -> tuple[str, list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if symbols is not None:
            keys = sorted({symbol_key(s) for s in symbols})
            where.append(("symbol = ?" if len(keys) == 1 else f"symbol IN ({', '.join('?' * len(keys))})")
                         if keys else "0")
            params += keys
        chosen = chosen_venues(exchanges)
        if chosen is not None and chosen != set(Venue):
            if self.schema_version < 2:  # an older file read as it is: every event is Binance's
                if Venue.BINANCE not in chosen:
                    where.append("0")
            else:
                where.append(f"exchange IN ({', '.join('?' * len(chosen))})" if chosen else "0")
                params += sorted(chosen)
        if since_ms is not None:
            where.append("trade_time >= ?")
            params.append(int(since_ms))
        if until_ms is not None:
            where.append("trade_time < ?")
            params.append(int(until_ms))
        return (head + (" WHERE " + " AND ".join(where) if where else "")), params


class Recorder:
    """Appends every event a heatmap accepts to an event store (SQLite or PostgreSQL: :class:`EventStorage`), from
    one writer thread.

    ``recorder.attach(heatmap).start()``; ``recorder.stop()`` flushes what is queued and joins. Events are
    queued by the listener (a deque append, on the ingesting thread) and written every ``flush_interval``
    seconds in one transaction. A failed write is logged, counted and retried at the next flush with the
    events that came since; the thread never dies of it (past ``max_pending`` queued events the oldest are
    dropped and counted). Events older than ``retention_days`` are deleted every ``prune_every`` seconds
    (first shortly after start), ``prune_chunk`` rows per transaction between flushes.
    """

    def __init__(self, store: EventStorage, *, flush_interval: float = 1.0, retention_days: float = 30.0,
                 clock: Callable[[], int] | None = None, prune_every: float = 3600.0, prune_chunk: int = 5_000,
                 max_pending: int = 2_000_000) -> None:
        if not (flush_interval > 0 and math.isfinite(flush_interval)):
            raise ValueError(f"flush_interval: expected a positive number of seconds, got {flush_interval!r}")
        if not (0 < retention_days <= 3650):
            raise ValueError(f"retention_days: expected a number in (0, 3650], got {retention_days!r}")

        self.store = store
        self.flush_interval = float(flush_interval)
        self.retention_days = float(retention_days)
        self.clock = clock or system_clock_ms
        self.prune_every = prune_every
        self.prune_chunk = prune_chunk
        self.max_pending = max_pending
        self._queue: deque[LiquidationEvent] = deque()
        self._retry: list[LiquidationEvent] = []
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._heatmaps: list[LiveLiquidationHeatmap] = []
        self._prune_cutoff: int | None = None
        self.written = 0
        self.duplicates = 0
        self.errors = 0
        self.dropped = 0
        self.flushes = 0
        self.pruned = 0
        self.last_flush_ms: int | None = None
        self.last_error: str | None = None

    # ------------------------------------------------------------------ feeding

    def submit(self, events: Sequence[LiquidationEvent]) -> None:
        """Queue events for the next flush (the heatmap listener; thread-safe, never blocks)."""
        self._queue.extend(events)

    def attach(self, heatmap: LiveLiquidationHeatmap) -> Recorder:
        """Record every event ``heatmap`` accepts from now on. Returns self."""
        heatmap.add_listener(self.submit)
        self._heatmaps.append(heatmap)
        return self

    def detach(self, heatmap: LiveLiquidationHeatmap) -> None:
        heatmap.remove_listener(self.submit)
        if heatmap in self._heatmaps:
            self._heatmaps.remove(heatmap)

    # ------------------------------------------------------------------ the writer thread

    def start(self) -> Recorder:
        """Start the writer thread. Returns self."""
        if self._thread is not None:
            raise RuntimeError("the recorder is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="event-recorder", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Detach from the heatmaps, flush what is queued, and join the thread (idempotent)."""
        for heatmap in list(self._heatmaps):
            self.detach(heatmap)
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(timeout)
            if thread.is_alive():
                _log().error("recorder.stop_timeout", timeout=timeout, pending=self.pending)
                return
        self.flush()  # the thread's last flush, or the only one if it never ran

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def pending(self) -> int:
        """Events queued or waiting for a retry: what a crash now would lose."""
        return len(self._queue) + len(self._retry)

    def flushed(self) -> bool:
        """Write what is queued now (:meth:`flush`); True when nothing is left pending, so everything handed to the
        heatmap before the call is stored (what a feed's cursor waits for before it is committed)."""
        self.flush()
        return self.pending == 0

    def flush(self) -> int:
        """Write what is queued now, in one transaction; returns how many were new. Never raises: a failure
        is logged and counted, and the events are kept for the next flush."""
        with self._flush_lock:
            batch = self._retry
            queue = self._queue
            pop = queue.popleft
            batch += [pop() for _ in range(len(queue))]  # only what is there now: the listener keeps adding
            if not batch:
                return 0
            refused = 0
            try:
                try:
                    inserted = self.store.append(batch)
                except REFUSED:  # a row the table refuses would fail every retry: drop it alone
                    inserted, refused = self._append_one_by_one(batch)
            except Exception as exc:  # noqa: BLE001 - a failed write is retried, never fatal
                self.errors += 1
                self.last_error = describe(exc)
                if len(batch) > self.max_pending:
                    self.dropped += len(batch) - self.max_pending
                    del batch[: len(batch) - self.max_pending]
                self._retry = batch
                _log().error("recorder.write_failed", error=self.last_error, pending=len(batch), errors=self.errors,
                             dropped=self.dropped, path=self.store.path)
                return 0
            self._retry = []
            self.written += inserted
            self.duplicates += len(batch) - inserted - refused
            self.flushes += 1
            self.last_flush_ms = self.clock()
            return inserted

    def _append_one_by_one(self, batch: list[LiquidationEvent]) -> tuple[int, int]:
        """Append each event in its own transaction, dropping (and counting) those the table refuses (a side
        other than long/short, a missing value); returns (inserted, refused)."""
        inserted = refused = 0
        for event in batch:
            try:
                inserted += self.store.append([event])
            except REFUSED as exc:
                refused += 1
                self.dropped += 1
                self.errors += 1
                self.last_error = describe(exc)
                _log().error("recorder.event_refused", liquidation=repr(event)[:200], error=self.last_error)
        return inserted, refused

    def _run(self) -> None:
        interval = self.flush_interval
        next_flush = time.monotonic() + interval
        next_prune = time.monotonic() + min(interval, self.prune_every)
        while True:
            now = time.monotonic()
            wait = 0.0 if self._prune_cutoff is not None else max(0.0, min(next_flush, next_prune) - now)
            stopping = self._stop.wait(wait)
            now = time.monotonic()
            if stopping or now >= next_flush:
                self.flush()
                next_flush = max(next_flush + interval, time.monotonic())  # no burst of catch-up flushes
            if stopping:
                return
            try:
                self._prune_step(now >= next_prune)
            except Exception as exc:  # noqa: BLE001 - pruning is retried at the next period
                self._prune_cutoff = None
                self.errors += 1
                self.last_error = describe(exc)
                _log().error("recorder.prune_failed", error=self.last_error, path=self.store.path)
            if now >= next_prune:
                next_prune = now + self.prune_every

    def _prune_step(self, due: bool) -> None:
        """One chunk of the retention prune, so flushes keep their pace while a long backlog goes."""
        if self._prune_cutoff is None:
            if not due:
                return
            self._prune_cutoff = self.clock() - int(self.retention_days * DAY_MS)
        with self._flush_lock:
            deleted = self.store.prune(self._prune_cutoff, chunk=self.prune_chunk, max_chunks=1)
        self.pruned += deleted
        if deleted < self.prune_chunk:
            if self.pruned:
                _log().info("recorder.pruned", older_than_ms=self._prune_cutoff, total_pruned=self.pruned)
            self._prune_cutoff = None

    def stats(self) -> dict[str, Any]:
        """Counters since start: written (new rows), duplicates, errors, dropped, flushes, pruned, pending."""
        return {
            "written": self.written, "duplicates": self.duplicates, "errors": self.errors,
            "dropped": self.dropped, "flushes": self.flushes, "pruned": self.pruned, "pending": self.pending,
            "last_flush_ms": self.last_flush_ms, "last_error": self.last_error, "running": self.running,
        }


def warm_start(heatmap: LiveLiquidationHeatmap, store: EventStorage, now_ms: int, *,
               symbols: Iterable[str] | None = None, exchanges: Iterable[str] | None = None) -> int:
    """Load the stored events of the heatmap's horizon before ``now_ms`` (``max_age_minutes``, default
    ``3 * time_decay_minutes``) of ``symbols`` and ``exchanges`` (the configured venues; None: all) into
    ``heatmap``; returns how many it accepted.

    Later events (up to the stream's present) are loaded too. They go in with ``notify=False``, so an
    attached :class:`Recorder` does not write them again. Events already in the heatmap are duplicates
    and change nothing; so warm-starting twice is harmless.
    """
    since = now_ms - int(heatmap.config.horizon_minutes * 60_000)
    return heatmap.ingest_many(store.events(symbols, since_ms=since, exchanges=exchanges), notify=False).accepted


def _log() -> Any:
    return structlog.get_logger("live_heatmap.store.recorder")
