"""The alerts' outbox (issue 16): one row per alert and channel, ``pending`` until the sender thread delivered it
(``delivered``) or gave up (``failed``). The jobs only insert here, so the trading loop never waits on a network
call; the sender (:mod:`liquidation_hunter.alerts.sender`) reads what is due and writes back what came of it.

The outbox is capped: at most ``cap`` rows pending; an alert arriving when it is full is dropped and counted
(``alerts_dropped`` in the ``control`` table, shown by ``status``). Rows done with are pruned to the newest
``cap``. Rows survive a crash (``kill -9``): a restarted bot's sender goes on with what was pending, keyed by the
same alert id (the webhook's ``Idempotency-Key``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from liquidation_hunter.trading.books.file import BooksFile

__all__ = ["OUTBOX_CAP", "NewAlert", "Outbox", "OutboxCounts", "OutboxRow"]

OUTBOX_CAP = 1000
"""Pending rows at most (the issue's cap); also how many rows done with are kept."""
_DROPPED = "alerts_dropped"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One alert for one channel. ``data`` is the alert's JSON object; ``next_at``: not tried again before."""

    seq: int
    alert_id: str
    channel: str
    rule: str
    kind: str
    symbol: str | None
    at: int
    text: str
    data: Mapping[str, Any]
    state: str
    attempts: int
    next_at: int
    last_error: str
    done_at: int | None


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert to queue (:meth:`Outbox.enqueue_alerts`): its id (the same for every channel and attempt), the
    rule that raised it, its kind, symbol, time (epoch ms), text and JSON-ready ``data``."""

    alert_id: str
    rule: str
    kind: str
    symbol: str | None
    at: int
    text: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    """Rows by state, and the alerts dropped because the outbox was full."""

    pending: int = 0
    delivered: int = 0
    failed: int = 0
    dropped: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"pending": self.pending, "delivered": self.delivered, "failed": self.failed, "dropped": self.dropped}


def _row(r: Any) -> OutboxRow:
    values = dict(r)
    values["data"] = json.loads(values["data"])
    return OutboxRow(**values)


class Outbox(BooksFile):
    """The ``alert_outbox`` table (module docstring)."""

    def enqueue_alert(self, *, alert_id: str, channels: Sequence[str], rule: str, kind: str, symbol: str | None,
                      at: int, text: str, data: Mapping[str, Any], cap: int = OUTBOX_CAP) -> int:
        """One pending row per channel for the alert, due at once; returns the rows added. A row of the same
        alert and channel is not added twice; rows beyond ``cap`` pending are dropped and counted."""
        return self.enqueue_alerts([NewAlert(alert_id, rule, kind, symbol, at, text, data)], channels, cap=cap)[0]

    def enqueue_alerts(self, alerts: Sequence[NewAlert], channels: Sequence[str], *,
                       cap: int = OUTBOX_CAP) -> list[int]:
        """:meth:`enqueue_alert` for several alerts in one transaction (one job's run); the rows added by alert."""
        if not alerts:
            return []
        added: list[int] = []
        with self._write() as db:
            pending = int(db.execute("SELECT COUNT(*) FROM alert_outbox WHERE state = 'pending'").fetchone()[0])
            dropped = 0
            for alert in alerts:
                body = json.dumps(dict(alert.data), sort_keys=True, separators=(",", ":"), default=str)
                rows = 0
                for channel in channels:
                    if pending >= cap:
                        dropped += 1
                        continue
                    cursor = db.execute(
                        "INSERT OR IGNORE INTO alert_outbox(alert_id, channel, rule, kind, symbol, at, text, data, "
                        "state, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                        (alert.alert_id, channel, alert.rule, alert.kind, alert.symbol, alert.at, alert.text, body,
                         alert.at))
                    rows += cursor.rowcount
                    pending += cursor.rowcount
                added.append(rows)
            if dropped:
                db.execute("INSERT INTO control(key, value, at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                           "value = CAST(value AS INTEGER) + excluded.value, at = excluded.at",
                           (_DROPPED, str(dropped), alerts[-1].at))
        return added

    def due_alerts(self, now_ms: int, *, limit: int = 50) -> list[OutboxRow]:
        """Pending rows whose ``next_at`` has come, oldest first."""
        rows = self._rows("SELECT * FROM alert_outbox WHERE state = 'pending' AND next_at <= ? ORDER BY seq LIMIT ?",
                          (now_ms, limit))
        return [_row(r) for r in rows]

    def next_alert_at(self) -> int | None:
        """The earliest ``next_at`` of the pending rows (None: nothing pending)."""
        rows = self._rows("SELECT MIN(next_at) AS at FROM alert_outbox WHERE state = 'pending'")
        value = rows[0]["at"] if rows else None
        return None if value is None else int(value)

    def alert_delivered(self, seq: int, now_ms: int) -> None:
        with self._write() as db:
            db.execute("UPDATE alert_outbox SET state = 'delivered', attempts = attempts + 1, done_at = ?, "
                       "last_error = '' WHERE seq = ? AND state = 'pending'", (now_ms, seq))
            self._prune(db)

    def alert_retry(self, seq: int, error: str, next_at: int) -> None:
        """An attempt failed in a way worth trying again: not before ``next_at``."""
        with self._write() as db:
            db.execute("UPDATE alert_outbox SET attempts = attempts + 1, last_error = ?, next_at = ? "
                       "WHERE seq = ? AND state = 'pending'", (error[:500], next_at, seq))

    def alert_failed(self, seq: int, error: str, now_ms: int) -> None:
        """Given up on: a refusal that a retry cannot change, or the last attempt."""
        with self._write() as db:
            db.execute("UPDATE alert_outbox SET state = 'failed', attempts = attempts + 1, last_error = ?, "
                       "done_at = ? WHERE seq = ? AND state = 'pending'", (error[:500], now_ms, seq))
            self._prune(db)

    def outbox(self, *, limit: int = 50, state: str | None = None) -> list[OutboxRow]:
        """Rows newest first (``state``: only those)."""
        if state is None:
            rows = self._rows_if_table("SELECT * FROM alert_outbox ORDER BY seq DESC LIMIT ?", (limit,))
        else:
            rows = self._rows_if_table("SELECT * FROM alert_outbox WHERE state = ? ORDER BY seq DESC LIMIT ?",
                                       (state, limit))
        return [_row(r) for r in rows]

    def outbox_counts(self) -> OutboxCounts:
        """Rows by state and the alerts dropped (zeros for books that predate the outbox, opened read-only)."""
        counts = {str(r["state"]): int(r["n"]) for r in self._rows_if_table(
            "SELECT state, COUNT(*) AS n FROM alert_outbox GROUP BY state")}
        dropped = self._value("control", _DROPPED)
        return OutboxCounts(pending=counts.get("pending", 0), delivered=counts.get("delivered", 0),
                            failed=counts.get("failed", 0), dropped=int(dropped) if dropped else 0)

    @staticmethod
    def _prune(db: Any, keep: int = OUTBOX_CAP) -> None:
        db.execute("DELETE FROM alert_outbox WHERE state != 'pending' AND seq NOT IN (SELECT seq FROM alert_outbox "
                   "WHERE state != 'pending' ORDER BY seq DESC LIMIT ?)", (keep,))
