"""One SQLite file of books: open it (creating it, or checking its mode and schema version), close it, and the
transactions every kind of record is written and read in.

Writers take the write lock up front (``BEGIN IMMEDIATE``); readers in other processes (``status``) see
the last committed state. Several threads of one process share one connection behind a lock.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from liquidation_hunter.trading.books.schema import (
    ALERT_OUTBOX_SCHEMA,
    CONTROL_REQUESTS_SCHEMA,
    FEED_CURSORS_SCHEMA,
    SCHEMA,
    SCHEMA_VERSION,
    TRANSFERS_SCHEMA,
)

__all__ = ["BooksError", "BooksFile", "finite"]

MEMORY = ":memory:"


class BooksError(RuntimeError):
    """The books cannot be used as asked (another mode's file, a newer schema, a broken invariant)."""


def finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise BooksError(f"{name}: expected a finite number, got {value!r}")
    return value


class BooksFile:
    """The file under the books: opened with :meth:`open`, closed with :meth:`close` (or ``with``). The kinds of
    record (:mod:`.ledger`, :mod:`.signals`, ...) build on it; :class:`~.Books` is all of them."""

    def __init__(self, connection: sqlite3.Connection, path: str) -> None:
        self._db = connection
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self.path = path

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, mode: str = "paper", starting_wallet: float | None = None,
             now_ms: int = 0) -> Self:
        """Open (creating when missing) the books at ``path`` for a bot in ``mode``.

        A new file gets ``starting_wallet`` as its first deposit (required then). An existing file
        keeps its wallet; opening a paper file for live trading (or the reverse) is refused.
        """
        where = str(path)
        if where != MEMORY:
            Path(where).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(where, timeout=10.0, isolation_level=None, check_same_thread=False)
        try:
            if where != MEMORY:
                db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            books = cls(db, where)
            books._init(mode, starting_wallet, now_ms)
        except BaseException:
            db.close()
            raise
        return books

    @classmethod
    def open_readonly(cls, path: str | os.PathLike[str]) -> Self:
        """Open existing books for reading (``status``); raises :class:`BooksError` when there are none."""
        where = str(path)
        if not Path(where).is_file():
            raise BooksError(f"{where}: no books yet (the bot has not run with this storage.path)")
        db = sqlite3.connect(f"file:{Path(where).resolve()}?mode=ro", uri=True, timeout=10.0,
                             isolation_level=None, check_same_thread=False)
        return cls(db, where)

    def _init(self, mode: str, starting_wallet: float | None, now_ms: int) -> None:
        with self._lock:
            self._db.executescript(SCHEMA)  # idempotent (IF NOT EXISTS); executescript commits by itself
            self._db.executescript(TRANSFERS_SCHEMA)
            self._db.executescript(CONTROL_REQUESTS_SCHEMA)  # added after schema 1: books of older versions get it
            self._db.executescript(ALERT_OUTBOX_SCHEMA)  # issue 16, the same way
            self._db.executescript(FEED_CURSORS_SCHEMA)  # issue 17, the same way
        with self._write() as db:
            meta = {r["key"]: r["value"] for r in db.execute("SELECT key, value FROM meta")}
            if not meta:
                if starting_wallet is None or not starting_wallet > 0:
                    raise BooksError(f"{self.path}: new books need a starting wallet > 0, got {starting_wallet!r}")
                db.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", [
                    ("schema_version", str(SCHEMA_VERSION)), ("mode", mode), ("created_at", str(now_ms)),
                    ("starting_wallet", repr(float(starting_wallet)))])
                db.execute("INSERT INTO ledger(at, kind, amount, note) VALUES (?, 'deposit', ?, 'starting wallet')",
                           (now_ms, float(starting_wallet)))
                return
            if int(meta.get("schema_version", "0")) > SCHEMA_VERSION:
                raise BooksError(f"{self.path}: written by a newer version (schema {meta['schema_version']})")
            if meta.get("mode") != mode:
                raise BooksError(f"{self.path}: these books belong to a {meta.get('mode')} bot, not {mode}; "
                                 "use another storage.path")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock from its start; rolled back on any exception."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """Several reads that must agree: one read transaction, so they all see the same commit even while
        another connection (the bot, for a ``status`` reader) commits between them."""
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _rows_if_table(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """:meth:`_rows` of a table added after schema 1: none when the file predates it (books of an older
        version opened read-only, which :meth:`_init` could not add it to). Other errors are raised."""
        try:
            return self._rows(sql, params)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise

    # ------------------------------------------------------------------ meta

    @property
    def mode(self) -> str:
        return str(self._value("meta", "mode") or "")

    @property
    def starting_wallet(self) -> float:
        return float(self._value("meta", "starting_wallet") or 0.0)

    def _value(self, table: str, key: str) -> str | None:
        """The ``value`` of ``key`` in ``meta`` or ``control``; None when there is none."""
        rows = self._rows(f"SELECT value FROM {table} WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else None
