"""A bot on a feed (issue 17): per Redis stream, the last entry handed on to the heatmap and the recorder, and the
gaps met; the consumer resumes from it after a restart (:mod:`liquidation_hunter.feed.consumer`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from liquidation_hunter.trading.books.file import BooksFile

__all__ = ["FeedCursor", "FeedCursors"]


@dataclass(frozen=True, slots=True)
class FeedCursor:
    """A row of ``feed_cursors``: ``last_id`` (the Redis entry id), the publisher's ``epoch`` and ``seq`` of that
    entry, its event's trade time ``last_ms``, when it was committed (``at``), and the gaps so far: how many,
    the entries they missed (when known) and the events filled from the history store."""

    stream: str
    last_id: str
    epoch: int
    seq: int
    last_ms: int
    at: int
    gaps: int = 0
    missed: int = 0
    filled: int = 0


class FeedCursors(BooksFile):
    """The ``feed_cursors`` table."""

    def feed_cursors(self) -> dict[str, FeedCursor]:
        """Every stream's cursor (none for books older than the table opened read-only)."""
        return {r["stream"]: FeedCursor(**dict(r)) for r in self._rows_if_table("SELECT * FROM feed_cursors")}

    def save_feed_cursors(self, cursors: Iterable[FeedCursor]) -> None:
        """Write the cursors in one transaction (a stream's row replaced)."""
        rows = [(c.stream, c.last_id, c.epoch, c.seq, c.last_ms, c.at, c.gaps, c.missed, c.filled) for c in cursors]
        if not rows:
            return
        with self._write() as db:
            db.executemany("INSERT OR REPLACE INTO feed_cursors(stream, last_id, epoch, seq, last_ms, at, gaps, "
                           "missed, filled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
