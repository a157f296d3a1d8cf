"""Depth runs recorded beside the events: the ``depth_runs`` table of the event store's file, and the reader
that rebuilds a :class:`~live_heatmap.orderbook.depth_history.DepthHistory` for a replay or a backtest.

* :func:`write_depth_runs` -- one batch of a symbol's CLOSED runs (``DepthHistory.runs_between`` of the last
  interval; a history sampled at the recording interval, coarser than the live one, keeps the file small), in
  one transaction (a ``postgresql://`` URL: the database's ``depth_runs`` table, made with the store's). The file is
  opened as an event store first (created or migrated as
  :class:`~live_heatmap.store.recorder.EventStore` does), so the depth runs never make a file of their own kind.
* :func:`load_depth_history` -- the runs of a symbol that overlap ``[start_ms, end_ms]``, as a history.

The table is an addition (``CREATE TABLE IF NOT EXISTS``): the events table, its schema version and every reader
of events are unchanged, so no version bump. One row a run: symbol, side (``bid`` / ``ask``), the bin's lower
price edge and width, start and end (epoch ms, the run holds ``start_ms <= t < end_ms``), size (quote notional).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from live_heatmap.common.symbols import symbol_key
from live_heatmap.orderbook.depth_history import DepthHistory, DepthRuns, bin_of, bin_price
from live_heatmap.store.postgres import PostgresEventStore
from live_heatmap.store.recorder import EventStore
from live_heatmap.store.schema import EventStoreError, check_is_sqlite
from live_heatmap.store.target import is_postgres_url

__all__ = ["load_depth_history", "write_depth_runs"]

_TABLE = """CREATE TABLE IF NOT EXISTS depth_runs (
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side = 'bid' OR side = 'ask'),
    price REAL NOT NULL,
    bin_width REAL NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL CHECK (end_ms >= start_ms),
    size REAL NOT NULL)"""
_INDEX = "CREATE INDEX IF NOT EXISTS depth_runs_time ON depth_runs(symbol, start_ms)"
_SIDE_NAMES = ("bid", "ask")


def write_depth_runs(path: str | os.PathLike[str], symbol: str, runs: DepthRuns, bin_width: float) -> int:
    """Append ``runs`` (closed ones; open runs are refused: their end is not known yet) of ``symbol`` to the
    store at ``path``; returns how many were written."""
    if runs.open.any():
        raise ValueError("write_depth_runs: open runs have no end yet (record runs_between's closed runs)")
    prices = bin_price(runs.bins, bin_width)
    rows = [(symbol_key(symbol), _SIDE_NAMES[int(side)], float(price), bin_width, int(start), int(end), float(size))
            for side, price, start, end, size in zip(runs.side, prices, runs.start_ms, runs.end_ms, runs.size,
                                                     strict=True)]
    if is_postgres_url(path):  # the database's depth_runs table (created with the store's tables)
        with PostgresEventStore.open(os.fspath(path)) as store:
            return store.append_depth_runs(rows)
    EventStore.open(path).close()
    db = sqlite3.connect(os.fspath(path), timeout=10.0, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(_TABLE)
            db.execute(_INDEX)
            db.executemany("INSERT INTO depth_runs VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    finally:
        db.close()
    return len(rows)


def load_depth_history(path: str | os.PathLike[str], symbol: str, start_ms: int, end_ms: int, *,
                       bin_width: float = 0.0005) -> DepthHistory:
    """The recorded runs of ``symbol`` at ``bin_width`` overlapping ``[start_ms, end_ms]`` as a history (empty
    when none were recorded); :class:`EventStoreError` when ``path`` holds no event store."""
    where = os.fspath(path)
    if is_postgres_url(where):
        with PostgresEventStore.open_readonly(where) as store:
            return _history(symbol, store.depth_runs(symbol, start_ms, end_ms, bin_width), bin_width)
    if not Path(where).is_file():
        raise EventStoreError(f"{where}: no event store here (nothing has been recorded to this file)")
    check_is_sqlite(where)
    db = sqlite3.connect(f"file:{Path(where).resolve()}?mode=ro", uri=True, timeout=10.0)
    try:
        has_table = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'depth_runs'").fetchone()
        rows = db.execute(
            "SELECT side = 'ask', price, start_ms, end_ms, size FROM depth_runs WHERE symbol = ? AND start_ms <= ? "
            "AND end_ms > ? AND abs(bin_width - ?) < 1e-12 ORDER BY start_ms",
            (symbol_key(symbol), end_ms, start_ms, bin_width)).fetchall() if has_table else []
    except sqlite3.DatabaseError as exc:
        raise EventStoreError(f"{where}: not a usable event store ({exc})") from None
    finally:
        db.close()
    return _history(symbol, rows, bin_width)


def _history(symbol: str, rows: list[Any], bin_width: float) -> DepthHistory:
    table = np.array(rows, dtype=np.float64).reshape(-1, 5)
    # The bin from its lower edge: nudged inside the bin so rounding in exp/log cannot drop it to the one below.
    bins = bin_of(table[:, 1] * (1 + bin_width / 2), bin_width).astype(np.int32)
    runs = DepthRuns(bins, table[:, 0].astype(np.int8), table[:, 2].astype(np.int64), table[:, 3].astype(np.int64),
                     table[:, 4].astype(np.float32), np.zeros(len(rows), dtype=bool))
    return DepthHistory.from_runs(symbol_key(symbol), runs, bin_width)
