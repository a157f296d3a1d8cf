"""The books' tables: the SQL that creates them, and the schema version a file records.

Every statement is ``CREATE ... IF NOT EXISTS``, so opening books of any age adds the tables that came after
them (``transfers``, ``control_requests``) and leaves the rest as it is.
"""

from __future__ import annotations

__all__ = ["ALERT_OUTBOX_SCHEMA", "CONTROL_REQUESTS_SCHEMA", "FEED_CURSORS_SCHEMA", "SCHEMA", "SCHEMA_VERSION",
           "TRANSFERS_SCHEMA"]

SCHEMA_VERSION = 1

SCHEMA = """
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

TRANSFERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS transfers (
    id INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('deposit', 'withdrawal')),
    amount REAL NOT NULL, exchange_wallet REAL NOT NULL, books_wallet REAL NOT NULL, note TEXT NOT NULL DEFAULT '');
"""
"""Live books: differences between the exchange's wallet and the books'
(:meth:`.ExchangeMoney.record_transfer`). Added to files of any age by ``CREATE ... IF NOT EXISTS`` (the ledger
holds the money; this table says what it was)."""

CONTROL_REQUESTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS control_requests (
    id INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('close', 'flatten')),
    symbol TEXT, status TEXT NOT NULL CHECK (status IN ('pending', 'done')), attempts INTEGER NOT NULL DEFAULT 0,
    done_at INTEGER, result TEXT NOT NULL DEFAULT '');
"""
"""Added after schema 1: books of older versions get it when opened."""

ALERT_OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_outbox (
    seq INTEGER PRIMARY KEY, alert_id TEXT NOT NULL, channel TEXT NOT NULL, rule TEXT NOT NULL,
    kind TEXT NOT NULL, symbol TEXT, at INTEGER NOT NULL, text TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')), attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL, last_error TEXT NOT NULL DEFAULT '', done_at INTEGER, UNIQUE (alert_id, channel));
CREATE INDEX IF NOT EXISTS alert_outbox_pending ON alert_outbox(state, next_at);
"""
"""Issue 16: the alerts waiting for, or done with, their channels (one row per alert and channel; the
sender thread delivers them, :mod:`liquidation_hunter.alerts.sender`). Added after schema 1 like
``control_requests``: books of older versions get it when opened."""

FEED_CURSORS_SCHEMA = """
CREATE TABLE IF NOT EXISTS feed_cursors (
    stream TEXT PRIMARY KEY, last_id TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL,
    last_ms INTEGER NOT NULL, at INTEGER NOT NULL, gaps INTEGER NOT NULL DEFAULT 0,
    missed INTEGER NOT NULL DEFAULT 0, filled INTEGER NOT NULL DEFAULT 0);
"""
"""Issue 17: a bot on a feed (``feed.source``): per Redis stream the last entry handed on (its id, the publisher's
epoch and sequence number, the event's trade time) and the gaps met so far; the consumer resumes from ``last_id``
(:mod:`liquidation_hunter.feed.consumer`). Added after schema 1 like ``control_requests``."""
