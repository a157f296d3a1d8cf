"""Control requests: a ``close`` of one symbol or a ``flatten`` of every position, asked for by hand and
carried out by the bot (or the command)."""

from __future__ import annotations

from dataclasses import dataclass

from liquidation_hunter.trading.books.file import BooksFile

__all__ = ["ControlRequest", "ControlRequests"]


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


class ControlRequests(BooksFile):
    """The ``control_requests`` table."""

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
        return [ControlRequest(**dict(r)) for r in self._rows_if_table(sql, (limit,))]

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
