"""What the risk rules and ``status`` read back: equity snapshots, the peak equity, the equity at the start
of the day, the halt switch and the running bot's heartbeat (the ``snapshots`` and ``control`` tables)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from liquidation_hunter.trading.books.file import BooksFile
from liquidation_hunter.trading.model import AccountState

__all__ = ["RiskState"]


class RiskState(BooksFile):
    """Equity over time, the peak and the day's start, the halt, the heartbeat."""

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
