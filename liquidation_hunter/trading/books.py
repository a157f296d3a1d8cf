"""The books: one SQLite file (WAL) holding everything a bot did, for both brokers.

Tables: ``ledger`` (every money movement: deposit, fee, realised PnL, funding; the wallet is their sum),
``orders`` (by client order id), ``fills``, ``positions`` (open and closed), ``funding``, ``signals``,
``snapshots`` (equity over time), ``control`` (halt switch, stream health, peak equity), ``control_requests``
(``close`` and ``flatten`` asked for by hand, :meth:`Books.request_control`) and ``meta``.

Every change a broker makes is **one transaction**: an entry writes its order, fill, position and fee
together, an exit its order, fill, position update, PnL and fee together. A process killed at any
instant (``kill -9``) leaves either all of it or none, so the books balance after a restart
(:meth:`Books.audit`). ``orders.client_id`` is unique, so an entry recorded once can never be recorded
again: the same signal cannot open two positions, even across restarts. At most one position per symbol
is open (a partial unique index).

Writers take the write lock up front (``BEGIN IMMEDIATE``); readers in other processes (``status``) see
the last committed state. Several threads of one process share one connection behind a lock.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

from liquidation_hunter.trading.model import AccountState, ClosedTrade, EntryOrder, ExitReason, Position

__all__ = ["Books", "BooksError", "ControlRequest", "OrderRecord", "SignalRecord", "Transfer"]

SCHEMA_VERSION = 1
MEMORY = ":memory:"
TRANSFER_MIN = 0.01
"""Wallet differences below this (USDT) are rounding, not a deposit or a withdrawal."""
_EPS = 1e-6
"""Tolerance of the audit, in USDT: sums of floats may differ in the last bits."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL
        CHECK (kind IN ('deposit', 'fee', 'pnl', 'funding', 'adjustment')),
    amount REAL NOT NULL, position_id INTEGER, note TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS orders (
    client_id TEXT PRIMARY KEY, exchange_id TEXT, symbol TEXT NOT NULL, side TEXT NOT NULL,
    type TEXT NOT NULL, purpose TEXT NOT NULL, position_id INTEGER, quantity REAL NOT NULL,
    price REAL, reduce_only INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, error TEXT);
CREATE TABLE IF NOT EXISTS fills (
    id INTEGER PRIMARY KEY, client_id TEXT NOT NULL REFERENCES orders(client_id), position_id INTEGER NOT NULL,
    symbol TEXT NOT NULL, side TEXT NOT NULL, quantity REAL NOT NULL, price REAL NOT NULL, fee REAL NOT NULL,
    maker INTEGER NOT NULL DEFAULT 0, realized_pnl REAL NOT NULL DEFAULT 0, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    id INTEGER PRIMARY KEY, client_id TEXT NOT NULL UNIQUE, symbol TEXT NOT NULL, direction INTEGER NOT NULL
        CHECK (direction IN (-1, 1)),
    quantity REAL NOT NULL CHECK (quantity > 0), entry_price REAL NOT NULL, leverage INTEGER NOT NULL,
    margin REAL NOT NULL, stop_loss REAL NOT NULL, take_profit REAL NOT NULL, liquidation_price REAL NOT NULL,
    opened_at INTEGER NOT NULL, entry_fee REAL NOT NULL, funding REAL NOT NULL DEFAULT 0,
    strategy TEXT NOT NULL DEFAULT '', status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    closed_at INTEGER, exit_price REAL, exit_reason TEXT, exit_fee REAL, gross_pnl REAL);
CREATE UNIQUE INDEX IF NOT EXISTS one_open_position_per_symbol ON positions(symbol) WHERE status = 'open';
CREATE TABLE IF NOT EXISTS funding (
    position_id INTEGER NOT NULL, at INTEGER NOT NULL, rate REAL NOT NULL, amount REAL NOT NULL,
    PRIMARY KEY (position_id, at));
CREATE TABLE IF NOT EXISTS signals (
    id INTEGER PRIMARY KEY, at INTEGER NOT NULL, symbol TEXT NOT NULL, direction INTEGER NOT NULL,
    strength REAL NOT NULL, entry REAL, stop_loss REAL, take_profit REAL, level REAL,
    strategy TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '', action TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS signals_at ON signals(at);
CREATE TABLE IF NOT EXISTS snapshots (
    at INTEGER PRIMARY KEY, wallet REAL NOT NULL, margin REAL NOT NULL, unrealized REAL NOT NULL,
    equity REAL NOT NULL, positions INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS control (key TEXT PRIMARY KEY, value TEXT NOT NULL, at INTEGER NOT NULL);
"""

_TRANSFERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS transfers (
    id INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('deposit', 'withdrawal')),
    amount REAL NOT NULL, exchange_wallet REAL NOT NULL, books_wallet REAL NOT NULL, note TEXT NOT NULL DEFAULT '');
"""
"""Live books: differences between the exchange's wallet and the books' (:meth:`Books.record_transfer`). Added
to files of any age by ``CREATE ... IF NOT EXISTS`` (the ledger holds the money; this table says what it was)."""
_CONTROL_REQUESTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS control_requests (
    id INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('close', 'flatten')),
    symbol TEXT, status TEXT NOT NULL CHECK (status IN ('pending', 'done')), attempts INTEGER NOT NULL DEFAULT 0,
    done_at INTEGER, result TEXT NOT NULL DEFAULT '');
"""

_POSITION_COLUMNS = ("id, client_id, symbol, direction, quantity, entry_price, leverage, margin, stop_loss, "
                     "take_profit, liquidation_price, opened_at, entry_fee, funding, strategy")


class BooksError(RuntimeError):
    """The books cannot be used as asked (another mode's file, a newer schema, a broken invariant)."""


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """A row of ``orders``."""

    client_id: str
    exchange_id: str | None
    symbol: str
    side: str
    type: str
    purpose: str
    position_id: int | None
    quantity: float
    price: float | None
    reduce_only: bool
    status: str
    created_at: int
    updated_at: int
    error: str | None


@dataclass(frozen=True, slots=True)
class Transfer:
    """A row of ``transfers``: money the exchange's wallet gained (``deposit``) or lost (``withdrawal``) outside
    the trades the books know, found by comparing the two wallets (live trading)."""

    at: int
    kind: str
    amount: float
    """Signed: + deposit, - withdrawal."""
    exchange_wallet: float
    books_wallet: float
    """The books' wallet before the transfer was recorded."""
    note: str


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """A row of ``control_requests``: a ``close`` of one symbol or a ``flatten`` (every position), asked for by
    hand (``liquidation-hunter close`` / ``flatten``), ``pending`` until the bot (or the command) carried it out.
    ``result`` says what was done, or while pending why the last attempt did not finish."""

    id: int
    at: int
    kind: str
    symbol: str | None
    status: str
    attempts: int
    done_at: int | None
    result: str


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """A row of ``signals``: what the strategy said and what the bot did with it."""

    at: int
    symbol: str
    direction: int
    strength: float
    entry: float | None
    stop_loss: float | None
    take_profit: float | None
    level: float | None
    strategy: str
    reason: str
    action: str


_SIGNAL_FIELDS = [f.name for f in fields(SignalRecord)]
_SIGNAL_COLUMNS = ", ".join(_SIGNAL_FIELDS)


def _position(row: sqlite3.Row) -> Position:
    return Position(**{name: row[name] for name in _POSITION_COLUMNS.split(", ")})


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise BooksError(f"{name}: expected a finite number, got {value!r}")
    return value


class Books:
    """The bot's books in SQLite. Open with :meth:`open`; close with :meth:`close` (or ``with``)."""

    def __init__(self, connection: sqlite3.Connection, path: str) -> None:
        self._db = connection
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self.path = path

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, mode: str = "paper", starting_wallet: float | None = None,
             now_ms: int = 0) -> Books:
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
    def open_readonly(cls, path: str | os.PathLike[str]) -> Books:
        """Open existing books for reading (``status``); raises :class:`BooksError` when there are none."""
        where = str(path)
        if not Path(where).is_file():
            raise BooksError(f"{where}: no books yet (the bot has not run with this storage.path)")
        db = sqlite3.connect(f"file:{Path(where).resolve()}?mode=ro", uri=True, timeout=10.0,
                             isolation_level=None, check_same_thread=False)
        return cls(db, where)

    def _init(self, mode: str, starting_wallet: float | None, now_ms: int) -> None:
        with self._lock:
            self._db.executescript(_SCHEMA)  # idempotent (IF NOT EXISTS); executescript commits by itself
            self._db.executescript(_TRANSFERS_SCHEMA)
            self._db.executescript(_CONTROL_REQUESTS_SCHEMA)  # added after schema 1: books of older versions get it
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

    def __enter__(self) -> Books:
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

    # ------------------------------------------------------------------ orders

    def record_order(self, *, client_id: str, symbol: str, side: str, type: str, purpose: str, quantity: float,
                     now_ms: int, price: float | None = None, position_id: int | None = None,
                     reduce_only: bool = False, status: str = "new") -> bool:
        """Note an order before (or as) it is sent. False when ``client_id`` is already recorded."""
        try:
            with self._write() as db:
                db.execute("INSERT INTO orders(client_id, symbol, side, type, purpose, position_id, quantity, price, "
                           "reduce_only, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (client_id, symbol, side, type, purpose, position_id, quantity, price, int(reduce_only),
                            status, now_ms, now_ms))
        except sqlite3.IntegrityError:
            return False
        return True

    def update_order(self, client_id: str, *, status: str, now_ms: int, exchange_id: str | None = None,
                     error: str | None = None) -> None:
        with self._write() as db:
            db.execute("UPDATE orders SET status = ?, updated_at = ?, exchange_id = COALESCE(?, exchange_id), "
                       "error = COALESCE(?, error) WHERE client_id = ?",
                       (status, now_ms, exchange_id, error, client_id))

    def order(self, client_id: str) -> OrderRecord | None:
        rows = self._rows("SELECT * FROM orders WHERE client_id = ?", (client_id,))
        return self._order(rows[0]) if rows else None

    def orders(self, *, status: str | None = None, purpose: str | None = None) -> list[OrderRecord]:
        """The orders with ``status`` and ``purpose`` (None: any), oldest first."""
        return [self._order(r) for r in self._rows(
            "SELECT * FROM orders WHERE status = COALESCE(?, status) AND purpose = COALESCE(?, purpose) "
            "ORDER BY created_at, client_id", (status, purpose))]

    @staticmethod
    def _order(row: sqlite3.Row) -> OrderRecord:
        return OrderRecord(**{**dict(row), "reduce_only": bool(row["reduce_only"])})

    # ------------------------------------------------------------------ positions

    def record_entry(self, order: EntryOrder, *, quantity: float, fill_price: float, fee: float,
                     liquidation_price: float, now_ms: int, maker: bool = False,
                     exchange_id: str | None = None, stop_loss: float | None = None,
                     take_profit: float | None = None) -> Position | None:
        """An entry filled: its order (filled), fill, open position and fee, in one transaction.

        None (and nothing written) when the ``client_id`` already has a position, or the symbol
        already has an open one. ``stop_loss``/``take_profit`` override the order's (rounded levels).
        """
        for name, value in (("quantity", quantity), ("fill_price", fill_price), ("fee", fee)):
            _finite(name, value)
        if quantity <= 0 or fill_price <= 0:
            raise BooksError(f"entry {order.client_id}: quantity and price must be > 0")
        margin = quantity * fill_price / order.leverage
        sl = order.stop_loss if stop_loss is None else stop_loss
        tp = order.take_profit if take_profit is None else take_profit
        try:
            with self._write() as db:
                if db.execute("SELECT 1 FROM positions WHERE client_id = ?", (order.client_id,)).fetchone():
                    return None
                cur = db.execute(
                    "INSERT INTO positions(client_id, symbol, direction, quantity, entry_price, leverage, margin, "
                    "stop_loss, take_profit, liquidation_price, opened_at, entry_fee, strategy, status) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open')",
                    (order.client_id, order.symbol, order.direction, quantity, fill_price, order.leverage, margin,
                     sl, tp, liquidation_price, now_ms, fee, order.strategy))
                position_id = int(cur.lastrowid or 0)
                db.execute(
                    "INSERT INTO orders(client_id, exchange_id, symbol, side, type, purpose, position_id, quantity, "
                    "price, reduce_only, status, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, 'market', 'entry', ?, ?, ?, 0, 'filled', ?, ?) "
                    "ON CONFLICT(client_id) DO UPDATE SET status = 'filled', position_id = excluded.position_id, "
                    "exchange_id = COALESCE(excluded.exchange_id, exchange_id), updated_at = excluded.updated_at",
                    (order.client_id, exchange_id, order.symbol, order.side, position_id, quantity,
                     order.reference_price, order.created_at, now_ms))
                self._fill(db, client_id=order.client_id, position_id=position_id, symbol=order.symbol,
                           side=order.side, quantity=quantity, price=fill_price, fee=fee, maker=maker, realized=0.0,
                           now_ms=now_ms)
                if fee:
                    db.execute("INSERT INTO ledger(at, kind, amount, position_id, note) VALUES (?, 'fee', ?, ?, ?)",
                               (now_ms, -fee, position_id, f"entry {order.client_id}"))
                row = db.execute(f"SELECT {_POSITION_COLUMNS} FROM positions WHERE id = ?", (position_id,)).fetchone()
                return _position(row)
        except sqlite3.IntegrityError:
            return None

    def record_exit(self, position_id: int, *, client_id: str, exit_price: float, fee: float, reason: ExitReason,
                    now_ms: int, maker: bool = False, exchange_id: str | None = None,
                    order_type: str = "market") -> ClosedTrade | None:
        """A position closed: its exit order and fill, PnL and fee, in one transaction.

        None (nothing written) when the position is not open (already closed: no double exit).
        A liquidation loses at most the position's margin (isolated).
        """
        _finite("exit_price", exit_price)
        _finite("fee", fee)
        with self._write() as db:
            row = db.execute(f"SELECT {_POSITION_COLUMNS} FROM positions WHERE id = ? AND status = 'open'",
                             (position_id,)).fetchone()
            if row is None:
                return None
            pos = _position(row)
            gross = pos.unrealized(exit_price)
            if reason == "liquidation":
                gross = max(gross, -pos.margin)
            side = "sell" if pos.direction > 0 else "buy"
            db.execute(
                "INSERT INTO orders(client_id, exchange_id, symbol, side, type, purpose, position_id, quantity, "
                "price, reduce_only, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 'filled', "
                "?, ?) ON CONFLICT(client_id) DO UPDATE SET status = 'filled', updated_at = excluded.updated_at, "
                "exchange_id = COALESCE(excluded.exchange_id, exchange_id)",
                (client_id, exchange_id, pos.symbol, side, order_type, reason, pos.id, pos.quantity, exit_price,
                 now_ms, now_ms))
            self._fill(db, client_id=client_id, position_id=pos.id, symbol=pos.symbol, side=side, quantity=pos.quantity,
                       price=exit_price, fee=fee, maker=maker, realized=gross, now_ms=now_ms)
            db.execute("INSERT INTO ledger(at, kind, amount, position_id, note) VALUES (?, 'pnl', ?, ?, ?)",
                       (now_ms, gross, pos.id, f"{reason} {client_id}"))
            if fee:
                db.execute("INSERT INTO ledger(at, kind, amount, position_id, note) VALUES (?, 'fee', ?, ?, ?)",
                           (now_ms, -fee, pos.id, f"exit {client_id}"))
            db.execute("UPDATE positions SET status = 'closed', closed_at = ?, exit_price = ?, exit_reason = ?, "
                       "exit_fee = ?, gross_pnl = ? WHERE id = ?", (now_ms, exit_price, reason, fee, gross, pos.id))
            return ClosedTrade(position=pos, exit_price=exit_price, reason=reason, closed_at=now_ms, exit_fee=fee,
                               gross_pnl=gross)

    @staticmethod
    def _fill(db: sqlite3.Connection, *, client_id: str, position_id: int, symbol: str, side: str, quantity: float,
              price: float, fee: float, maker: bool, realized: float, now_ms: int) -> None:
        db.execute("INSERT INTO fills(client_id, position_id, symbol, side, quantity, price, fee, maker, "
                   "realized_pnl, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (client_id, position_id, symbol, side, quantity, price, fee, int(maker), realized, now_ms))

    def record_funding(self, position_id: int, *, rate: float, amount: float, at: int) -> bool:
        """Funding paid (negative) or received at funding time ``at``; once per position and time."""
        _finite("amount", amount)
        try:
            with self._write() as db:
                if db.execute("SELECT 1 FROM positions WHERE id = ? AND status = 'open'",
                              (position_id,)).fetchone() is None:
                    return False
                db.execute("INSERT INTO funding(position_id, at, rate, amount) VALUES (?, ?, ?, ?)",
                           (position_id, at, rate, amount))
                db.execute("UPDATE positions SET funding = funding + ? WHERE id = ?", (amount, position_id))
                db.execute("INSERT INTO ledger(at, kind, amount, position_id, note) VALUES (?, 'funding', ?, ?, ?)",
                           (at, amount, position_id, f"rate {rate!r}"))
        except sqlite3.IntegrityError:
            return False
        return True

    def record_adjustment(self, amount: float, *, now_ms: int, note: str) -> None:
        """A wallet correction from outside the books (live: reconciling with the exchange's wallet)."""
        with self._write() as db:
            db.execute("INSERT INTO ledger(at, kind, amount, note) VALUES (?, 'adjustment', ?, ?)",
                       (now_ms, _finite("amount", amount), note))

    # ------------------------------------------------------------------ live: the exchange's wallet and funding

    def record_transfer(self, exchange_wallet: float, *, now_ms: int, note: str = "") -> Transfer | None:
        """Make the books' wallet the exchange's: the difference is a deposit (+) or a withdrawal (-), in the
        ledger (kind ``deposit``, so it is neither profit nor loss) and in ``transfers``, in one transaction.
        The recorded peak equity and today's starting equity move by the same amount, so money moved in or out
        is not taken for a gain or a loss by the drawdown halt and the daily loss limit. None when the wallets
        agree to within 0.01 USDT (rounding)."""
        _finite("exchange_wallet", exchange_wallet)
        with self._write() as db:
            books_wallet = float(db.execute("SELECT COALESCE(SUM(amount), 0) FROM ledger").fetchone()[0])
            amount = exchange_wallet - books_wallet
            if abs(amount) < TRANSFER_MIN:
                return None
            kind = "deposit" if amount > 0 else "withdrawal"
            db.execute("INSERT INTO ledger(at, kind, amount, note) VALUES (?, 'deposit', ?, ?)",
                       (now_ms, amount, f"{kind}: {note}" if note else kind))
            db.execute("INSERT INTO transfers(at, kind, amount, exchange_wallet, books_wallet, note) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (now_ms, kind, amount, exchange_wallet, books_wallet, note))
            for row in db.execute("SELECT key, value FROM control WHERE key = 'peak_equity' OR key LIKE 'day_start:%'"
                                  ).fetchall():
                db.execute("UPDATE control SET value = ? WHERE key = ?", (repr(float(row["value"]) + amount),
                                                                          row["key"]))
            return Transfer(at=now_ms, kind=kind, amount=amount, exchange_wallet=exchange_wallet,
                            books_wallet=books_wallet, note=note)

    def transfers(self, limit: int | None = None) -> list[Transfer]:
        """Deposits and withdrawals (:meth:`record_transfer`), newest first; none in books written before
        there were any (read-only: the table is missing)."""
        try:
            rows = self._rows("SELECT * FROM transfers ORDER BY at DESC, id DESC LIMIT COALESCE(?, -1)", (limit,))
        except sqlite3.OperationalError:  # an older file opened read-only: no transfers table yet
            return []
        return [Transfer(at=r["at"], kind=r["kind"], amount=r["amount"], exchange_wallet=r["exchange_wallet"],
                         books_wallet=r["books_wallet"], note=r["note"]) for r in rows]

    def record_exchange_funding(self, symbol: str, *, amount: float, at: int) -> bool:
        """Funding the exchange paid or charged (its income history) at funding time ``at`` on ``symbol``: booked
        to the position open on the symbol then (open or closed since), once per position and time, so a
        restart or a second look books nothing twice. False when no position of the books was open then, or
        it is booked already. The ``rate`` column gets ``amount / notional at entry`` (the history gives none)."""
        _finite("amount", amount)
        try:
            with self._write() as db:
                row = db.execute("SELECT id, quantity, entry_price, direction FROM positions WHERE symbol = ? AND "
                                 "opened_at <= ? AND (closed_at IS NULL OR closed_at >= ?) ORDER BY id DESC LIMIT 1",
                                 (symbol, at, at)).fetchone()
                if row is None:
                    return False
                rate = -row["direction"] * amount / (row["quantity"] * row["entry_price"])
                db.execute("INSERT INTO funding(position_id, at, rate, amount) VALUES (?, ?, ?, ?)",
                           (row["id"], at, rate, amount))
                db.execute("UPDATE positions SET funding = funding + ? WHERE id = ?", (amount, row["id"]))
                db.execute("INSERT INTO ledger(at, kind, amount, position_id, note) VALUES (?, 'funding', ?, ?, ?)",
                           (at, amount, row["id"], "exchange income history"))
        except sqlite3.IntegrityError:
            return False
        return True

    def funding_window(self, now_ms: int, lookback_ms: int) -> tuple[int, list[str]] | None:
        """Where to look for funding in the exchange's income history: from the oldest opening among the
        positions open now or closed within ``lookback_ms``, on their symbols; None when there are none."""
        rows = self._rows("SELECT MIN(opened_at) AS since, GROUP_CONCAT(DISTINCT symbol) AS symbols FROM positions "
                          "WHERE status = 'open' OR closed_at >= ?", (now_ms - lookback_ms,))
        if not rows or rows[0]["since"] is None:
            return None
        return int(rows[0]["since"]), sorted(str(rows[0]["symbols"]).split(","))

    def open_positions(self) -> list[Position]:
        return [_position(r) for r in self._rows(
            f"SELECT {_POSITION_COLUMNS} FROM positions WHERE status = 'open' ORDER BY id")]

    def position_by_client_id(self, client_id: str) -> Position | None:
        rows = self._rows(f"SELECT {_POSITION_COLUMNS} FROM positions WHERE client_id = ?", (client_id,))
        return _position(rows[0]) if rows else None

    def closed_trades(self, *, since_ms: int | None = None, limit: int | None = None) -> list[ClosedTrade]:
        """Closed positions, newest first."""
        sql = (f"SELECT {_POSITION_COLUMNS}, closed_at, exit_price, exit_reason, exit_fee, gross_pnl FROM positions "
               "WHERE status = 'closed' AND closed_at >= COALESCE(?, closed_at) "
               "ORDER BY closed_at DESC, id DESC LIMIT COALESCE(?, -1)")
        return [ClosedTrade(position=_position(r), exit_price=r["exit_price"], reason=r["exit_reason"],
                            closed_at=r["closed_at"], exit_fee=r["exit_fee"], gross_pnl=r["gross_pnl"])
                for r in self._rows(sql, (since_ms, limit))]

    def last_exit_at(self, symbol: str) -> int | None:
        rows = self._rows("SELECT MAX(closed_at) AS at FROM positions WHERE symbol = ? AND status = 'closed'",
                          (symbol,))
        return None if rows[0]["at"] is None else int(rows[0]["at"])

    # ------------------------------------------------------------------ money

    def wallet(self) -> float:
        """The wallet balance: the sum of the ledger (margin is part of it)."""
        return float(self._rows("SELECT COALESCE(SUM(amount), 0) AS w FROM ledger")[0]["w"])

    def realized_since(self, since_ms: int) -> float:
        """Realised PnL after fees and funding since a moment."""
        rows = self._rows("SELECT COALESCE(SUM(amount), 0) AS s FROM ledger WHERE kind != 'deposit' AND at >= ?",
                          (since_ms,))
        return float(rows[0]["s"])

    def account(self, prices: Mapping[str, float], now_ms: int) -> AccountState:
        """The books valued at ``prices`` (a position without a price is valued at its entry)."""
        with self._snapshot():
            wallet = self.wallet()
            positions = self.open_positions()
        margin = sum(p.margin for p in positions)
        unrealized = sum(p.unrealized(prices.get(p.symbol, p.entry_price)) for p in positions)
        return AccountState(wallet=wallet, margin=margin, unrealized=unrealized, positions=len(positions), at=now_ms)

    # ------------------------------------------------------------------ signals, snapshots, control

    def record_signal(self, record: SignalRecord) -> None:
        with self._write() as db:
            db.execute(f"INSERT INTO signals({_SIGNAL_COLUMNS}) VALUES ({', '.join('?' * len(_SIGNAL_FIELDS))})",
                       astuple(record))

    def recent_signals(self, limit: int = 10) -> list[SignalRecord]:
        return [SignalRecord(*r) for r in self._rows(
            f"SELECT {_SIGNAL_COLUMNS} FROM signals ORDER BY at DESC, id DESC LIMIT ?", (limit,))]

    def snapshot(self, state: AccountState) -> None:
        """Store an equity snapshot and raise the recorded peak equity when exceeded."""
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO snapshots(at, wallet, margin, unrealized, equity, positions) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (state.at, state.wallet, state.margin, state.unrealized,
                                                     state.equity, state.positions))
            self._raise_peak(db, state.equity, state.at)

    def snapshots(self, *, since_ms: int | None = None) -> list[AccountState]:
        rows = self._rows("SELECT * FROM snapshots WHERE at >= ? ORDER BY at", (since_ms or 0,))
        return [AccountState(wallet=r["wallet"], margin=r["margin"], unrealized=r["unrealized"],
                             positions=r["positions"], at=r["at"]) for r in rows]

    def _raise_peak(self, db: sqlite3.Connection, equity: float, at: int) -> None:
        row = db.execute("SELECT value FROM control WHERE key = 'peak_equity'").fetchone()
        if row is None or equity > float(row["value"]):
            db.execute("INSERT OR REPLACE INTO control(key, value, at) VALUES ('peak_equity', ?, ?)",
                       (repr(equity), at))

    def reset_peak(self, equity: float, now_ms: int) -> None:
        """Make ``equity`` the peak (``resume`` after a drawdown halt starts the count afresh)."""
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO control(key, value, at) VALUES ('peak_equity', ?, ?)",
                       (repr(equity), now_ms))

    def peak_equity(self) -> float | None:
        value = self._value("control", "peak_equity")
        return None if value is None else float(value)

    def day_start_equity(self, day: str, equity_now: float, now_ms: int) -> float:
        """The equity at the start of UTC ``day`` (``YYYY-MM-DD``): the first value asked for that day."""
        with self._write() as db:
            key = f"day_start:{day}"
            row = db.execute("SELECT value FROM control WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return float(row["value"])
            db.execute("DELETE FROM control WHERE key LIKE 'day_start:%'")
            db.execute("INSERT INTO control(key, value, at) VALUES (?, ?, ?)", (key, repr(equity_now), now_ms))
            return equity_now

    def set_halt(self, reason: str | None, now_ms: int) -> None:
        """Halt new entries (with the reason shown by ``status``), or lift the halt (None)."""
        with self._write() as db:
            if reason is None:
                db.execute("DELETE FROM control WHERE key = 'halt'")
            else:
                db.execute("INSERT OR REPLACE INTO control(key, value, at) VALUES ('halt', ?, ?)", (reason, now_ms))

    def halt_reason(self) -> str | None:
        return self._value("control", "halt")

    def set_health(self, health: Mapping[str, Any], now_ms: int) -> None:
        """The running bot's latest heartbeat (stream status, counters), for ``status``."""
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO control(key, value, at) VALUES ('health', ?, ?)",
                       (json.dumps(health, default=str), now_ms))

    def health(self) -> tuple[dict[str, Any], int] | None:
        rows = self._rows("SELECT value, at FROM control WHERE key = 'health'")
        return (json.loads(rows[0]["value"]), int(rows[0]["at"])) if rows else None

    # ------------------------------------------------------------------ control requests (close, flatten)

    def request_control(self, kind: str, symbol: str | None, now_ms: int) -> tuple[ControlRequest, bool]:
        """Queue a ``close`` of ``symbol`` or a ``flatten`` (``symbol`` None) for the bot; a request of the same
        kind and symbol still pending is returned instead of a second one. Returns (the request, True if new)."""
        with self._write() as db:
            row = db.execute("SELECT * FROM control_requests WHERE status = 'pending' AND kind = ? "
                             "AND symbol IS ? ORDER BY id LIMIT 1", (kind, symbol)).fetchone()
            if row is not None:
                return ControlRequest(**dict(row)), False
            cursor = db.execute("INSERT INTO control_requests(at, kind, symbol, status) VALUES (?, ?, ?, 'pending')",
                                (now_ms, kind, symbol))
            row = db.execute("SELECT * FROM control_requests WHERE id = ?", (cursor.lastrowid,)).fetchone()
            return ControlRequest(**dict(row)), True

    def control_requests(self, *, pending: bool = False, limit: int = 10) -> list[ControlRequest]:
        """Control requests, newest first (``pending``: only those not carried out yet, oldest first).
        Empty for books written before control requests existed and opened read-only."""
        sql = ("SELECT * FROM control_requests WHERE status = 'pending' ORDER BY id LIMIT ?" if pending else
               "SELECT * FROM control_requests ORDER BY id DESC LIMIT ?")
        try:
            return [ControlRequest(**dict(r)) for r in self._rows(sql, (limit,))]
        except sqlite3.OperationalError as exc:  # an older file opened read-only: the table is not there
            if "no such table" in str(exc):
                return []
            raise

    def control_request(self, request_id: int) -> ControlRequest | None:
        rows = self._rows("SELECT * FROM control_requests WHERE id = ?", (request_id,))
        return ControlRequest(**dict(rows[0])) if rows else None

    def finish_control(self, request_id: int, result: str, now_ms: int) -> None:
        """The request was carried out (``result`` says how)."""
        with self._write() as db:
            db.execute("UPDATE control_requests SET status = 'done', done_at = ?, result = ?, "
                       "attempts = attempts + 1 WHERE id = ? AND status = 'pending'", (now_ms, result, request_id))

    def retry_control(self, request_id: int, why: str) -> None:
        """An attempt did not finish the request (no price yet, the exchange refused...): it stays pending."""
        with self._write() as db:
            db.execute("UPDATE control_requests SET attempts = attempts + 1, result = ? WHERE id = ? "
                       "AND status = 'pending'", (why, request_id))

    # ------------------------------------------------------------------ audit

    def audit(self) -> list[str]:
        """Check the books balance; a list of problems, empty when everything adds up.

        * the wallet (ledger sum) equals the starting wallet + realised PnL of the fills - fees + funding
          + adjustments;
        * every position has its entry fill; every closed one its exit fill with the PnL it records;
        * no client order id opened two positions; at most one open position per symbol.
        """
        problems: list[str] = []
        with self._snapshot():
            q = self._db.execute
            start = float(q("SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE kind = 'deposit'").fetchone()[0])
            fees = float(q("SELECT COALESCE(SUM(fee), 0) FROM fills").fetchone()[0])
            pnl = float(q("SELECT COALESCE(SUM(realized_pnl), 0) FROM fills").fetchone()[0])
            funding = float(q("SELECT COALESCE(SUM(amount), 0) FROM funding").fetchone()[0])
            adjust = float(q("SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE kind = 'adjustment'").fetchone()[0])
            wallet = self.wallet()
            expected = start + pnl - fees + funding + adjust
            if abs(wallet - expected) > _EPS * max(1.0, abs(expected)):
                problems.append(f"wallet {wallet!r} != start {start} + pnl {pnl} - fees {fees} + funding {funding}"
                                f" + adjustments {adjust} = {expected!r}")
            for row in q("SELECT p.id, p.status, COUNT(f.id) AS n, COALESCE(SUM(f.realized_pnl), 0) AS r, "
                         "p.gross_pnl FROM positions p LEFT JOIN fills f ON f.position_id = p.id GROUP BY p.id"):
                want = 1 if row["status"] == "open" else 2
                if row["n"] != want:
                    problems.append(f"position {row['id']} ({row['status']}) has {row['n']} fills, expected {want}")
                elif row["status"] == "closed" and abs(row["r"] - row["gross_pnl"]) > _EPS:
                    problems.append(f"position {row['id']}: fills realise {row['r']}, position says "
                                    f"{row['gross_pnl']}")
            per_position_funding = q("SELECT p.id FROM positions p LEFT JOIN funding f ON f.position_id = p.id "
                                     "GROUP BY p.id HAVING ABS(p.funding - COALESCE(SUM(f.amount), 0)) > ?",
                                     (_EPS,)).fetchall()
            problems += [f"position {r['id']}: funding total differs from its funding rows"
                         for r in per_position_funding]
            doubled = q("SELECT client_id FROM orders WHERE purpose = 'entry' AND status = 'filled' AND client_id IN "
                        "(SELECT client_id FROM positions GROUP BY client_id HAVING COUNT(*) > 1)").fetchall()
            problems += [f"entry {r['client_id']} opened more than one position" for r in doubled]
        return problems
