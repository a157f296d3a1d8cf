"""A bot on a feed (``feed.source``): its liquidations read from Redis Streams instead of the venues.

One thread reads every ``liq:<exchange>`` stream of ``feed.exchanges`` with ``XREAD BLOCK`` (plain reads: every
bot gets every entry) from its last id, hands the events to the heatmap (``handler``: what a venue's stream feeds;
the recorder listening to the heatmap stores them), and then commits the last id per stream in the bot's books
(``feed_cursors``; at most every ``COMMIT_EVERY_S`` while entries keep coming). With a recorder, the commit
waits until it has written them (``durable``): after a kill -9 the bot resumes from the last committed id, so
nothing is lost, and what it reads twice is dropped by the heatmap (its dedupe keys, filled by the warm start) and
by the event store (its unique key).

Without a cursor (a bot's first start on a feed), it reads from ``start_ms`` (the heatmap's horizon back: Redis
ids are times). Entries are checked by their publisher's epoch and sequence number (:mod:`.codec`): a number
seen already is a copy (a publisher's retried batch) and dropped; a jump is a gap (:mod:`.gaps`). Redis down: one
log line, counted, tried again after a backoff (0.2 s doubling to 5 s); ``status`` shows it disconnected.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import structlog

from liquidation_hunter.feed.codec import decode, stream_name
from liquidation_hunter.feed.gaps import Gap, fill_gap, gap_kind
from liquidation_hunter.trading.books import FeedCursor
from live_heatmap import LiquidationEvent, system_clock_ms
from live_heatmap.common.errors import describe
from live_heatmap.stream.status import StreamStatus

__all__ = ["CursorBook", "FeedConsumer"]

log = structlog.get_logger("liquidation_hunter.feed")

COUNT = 1_000
"""Entries one XREAD returns at most per stream."""
COMMIT_EVERY_S = 0.25
"""While entries keep coming, the cursors are committed at most this often (and at once when a read comes back
empty, and at the stop): a crash reads again at most this much, which the heatmap and the store drop."""
RECENT_GAPS = 10
"""Gaps ``status`` lists (the counters hold them all)."""


class CursorBook(Protocol):
    """Where the cursors are kept (:class:`~liquidation_hunter.trading.books.Books`)."""

    def feed_cursors(self) -> dict[str, FeedCursor]: ...

    def save_feed_cursors(self, cursors: Sequence[FeedCursor]) -> None: ...


class FeedConsumer:
    """Reads the feed into ``handler`` (module docstring)."""

    def __init__(self, client: Any, exchanges: Sequence[str], handler: Callable[[Sequence[LiquidationEvent]], object],
                 books: CursorBook, *, start_ms: int, url: str = "", block_ms: int = 1_000,
                 fill_from: str | None = None, clock: Callable[[], int] = system_clock_ms) -> None:
        self.client = client
        self.exchanges = tuple(exchanges)
        self.handler = handler
        self.books = books
        self.url = url
        self.block_ms = block_ms
        self.fill_from = fill_from
        self.clock = clock
        self.durable: Callable[[], bool] | None = None
        """Called before a commit: True when what was handed on is stored (the recorder flushed); None: always."""
        self.cursors: dict[str, FeedCursor] = books.feed_cursors()
        self._read_from = {stream_name(x): self.cursors[stream_name(x)].last_id if stream_name(x) in self.cursors
                           else f"{max(0, start_ms)}-0" for x in self.exchanges}
        self._dirty = False
        self._committed_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = False
        self.events = 0
        self.duplicates = 0
        self.rejected = 0
        self.errors = 0
        self.reconnects = 0
        self.last_error: str | None = None
        self.last_event_ms: int | None = None
        self._last_read_at: float | None = None
        self.gaps: deque[Gap] = deque(maxlen=RECENT_GAPS)

    # ------------------------------------------------------------------ the service

    def start(self) -> FeedConsumer:
        self._stop.clear()
        # logged before the thread starts: once it reads, ``_read_from`` moves past where this start resumed
        log.info("feed_consumer_started", source=self.url, streams=list(self._read_from),
                 resume_from=dict(self._read_from))
        self._thread = threading.Thread(target=self._run, name="feed-consumer", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 1.5) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(max(timeout, self.block_ms / 1000 + 0.5))
            self._thread = None
        self.commit()

    def _run(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception as exc:  # noqa: BLE001 - Redis down or a bad answer: the bot goes on, tries again
                self.errors += 1
                self.last_error = describe(exc)
                if self.connected or self.errors == 1:
                    log.error("feed_read_failed", source=self.url, error=self.last_error, errors=self.errors,
                              consequence=f"no liquidations until Redis answers; tried again in {backoff:g} s")
                self.connected = False
                if self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.2

    # ------------------------------------------------------------------ one read

    def poll(self) -> int:
        """One ``XREAD BLOCK``; the events handed on and the cursors committed. Returns the entries read."""
        answer = self.client.xread(dict(self._read_from), count=COUNT, block=self.block_ms)
        if not self.connected:
            if self.errors:
                self.reconnects += 1
                log.info("feed_read_recovered", source=self.url, errors=self.errors)
            self.connected = True
        self._last_read_at = time.monotonic()
        read = 0
        for raw_stream, entries in answer or ():
            stream = raw_stream.decode() if isinstance(raw_stream, bytes) else str(raw_stream)
            read += len(entries)
            self._take(stream, entries)
        if read == 0 or time.monotonic() - self._committed_at >= COMMIT_EVERY_S:
            self.commit()
        return read

    def _take(self, stream: str, entries: Sequence[tuple[Any, Any]]) -> None:
        batch: list[LiquidationEvent] = []
        cursor = self.cursors.get(stream)
        now = self.clock()  # the read's time, on every cursor it makes
        for raw_id, fields in entries:
            entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            self._read_from[stream] = entry_id
            try:
                entry = decode(fields)
            except (KeyError, ValueError, TypeError) as exc:
                self.rejected += 1
                log.warning("feed_entry_rejected", stream=stream, id=entry_id, error=describe(exc))
                continue
            missed = 0
            if cursor is not None and entry.epoch == cursor.epoch:
                if entry.seq <= cursor.seq:
                    self.duplicates += 1  # a publisher's batch sent again
                    continue
                missed = entry.seq - cursor.seq - 1
            elif cursor is not None:  # a new publisher: its numbers start at 1
                missed = entry.seq - 1
            gaps = cursor.gaps if cursor else 0
            lost = cursor.missed if cursor else 0
            filled = cursor.filled if cursor else 0
            if missed and cursor is not None:
                self.handler(batch)  # what came before the gap first, in order
                batch = []
                gap = fill_gap(Gap(stream, gap_kind(self.client, stream, cursor.last_id), missed, cursor.last_id,
                                   cursor.last_ms, entry.event.trade_time), self.fill_from,
                               stream.partition(":")[2], self.handler)
                self.gaps.append(gap)
                gaps, lost, filled = gaps + 1, lost + missed, filled + (gap.filled or 0)
            batch.append(entry.event)
            self.events += 1
            self.last_event_ms = entry.event.trade_time
            cursor = FeedCursor(stream, entry_id, entry.epoch, entry.seq, entry.event.trade_time, now, gaps, lost,
                                filled)
        if batch:
            self.handler(batch)
        if cursor is not None and cursor is not self.cursors.get(stream):
            self.cursors[stream] = cursor
            self._dirty = True

    def commit(self) -> bool:
        """The cursors written to the books once what was handed on is stored (``durable``); False: not yet."""
        if not self._dirty:
            return True
        if self.durable is not None and not self.durable():
            return False
        self.books.save_feed_cursors(list(self.cursors.values()))
        self._dirty = False
        self._committed_at = time.monotonic()
        return True

    # ------------------------------------------------------------------ health

    def status(self) -> StreamStatus:
        """The feed as the bot's stream (``status``'s stream line): connected, events, copies dropped."""
        since = None if self.last_event_ms is None else max(0.0, (self.clock() - self.last_event_ms) / 1000)
        silence = None if self._last_read_at is None else time.monotonic() - self._last_read_at
        return StreamStatus(connected=self.connected, url=self.url, events_received=self.events,
                            events_filtered=self.duplicates, mark_prices=0, last_event_ms=self.last_event_ms,
                            since_last_event_s=since, since_last_message_s=silence, reconnects=self.reconnects,
                            rotations=0, shards=(), venue="feed", connections=int(self.connected),
                            rejected={"feed_entry": self.rejected} if self.rejected else {})

    def feed_status(self) -> dict[str, Any]:
        """The feed's part of the health record (``status``): per stream its cursor and gaps, the recent gaps."""
        return {
            "source": self.url, "connected": self.connected, "events": self.events, "duplicates": self.duplicates,
            "rejected": self.rejected, "errors": self.errors, "last_error": self.last_error,
            "fill_from": self.fill_from,
            "gaps": sum(c.gaps for c in self.cursors.values()),
            "missed": sum(c.missed for c in self.cursors.values()),
            "filled": sum(c.filled for c in self.cursors.values()),
            "streams": {s: {"last_id": self._read_from[s], "handed_on_id": c.last_id if (c := self.cursors.get(s))
                            else None, "epoch": c.epoch if c else None, "seq": c.seq if c else None,
                            "gaps": c.gaps if c else 0, "missed": c.missed if c else 0}
                        for s in self._read_from},
            "recent_gaps": [g.to_dict() for g in self.gaps],
        }
