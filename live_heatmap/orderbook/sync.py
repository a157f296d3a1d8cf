"""Keeping one symbol's :class:`OrderBook` in step with a venue's depth stream; never a wrong book.

:class:`BinanceBookSync` follows Binance's documented procedure for USD-M futures:

1. Buffer the stream's diffs (``needs_snapshot`` is True: the caller fetches ``GET /fapi/v1/depth``).
2. On the snapshot, drop buffered diffs with ``u < lastUpdateId``; the first diff applied must have
   ``U <= lastUpdateId <= u`` (a snapshot older than every buffered diff is refused: ``stale_snapshot``, and a
   new one is asked for).
3. Every later diff's ``pu`` must equal the previous diff's ``u``; otherwise the book is dropped and the sync
   starts again from 1 (a *resync*). A quantity of 0 removes the level.
4. A book crossed after a diff (best bid >= best ask) is dropped the same way, counted as ``crossed``: it is
   never served.

:class:`BybitBookSync` does the same for Bybit's ``orderbook.<depth>.<symbol>``: the snapshot comes in the
stream (a new snapshot replaces the book), deltas follow with ``u`` + 1 each; a delta before a snapshot or a gap
in ``u`` drops the book and asks for a snapshot (the caller re-subscribes).

Both are pure (no network, no clock: ``now_ms`` is passed in) and single-threaded; a reader on another thread
takes ``book.copy()`` under the caller's lock. ``rejects`` counts, by name, every update that was not used.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

from live_heatmap.orderbook.book import OrderBook
from live_heatmap.wire.depth import DepthDiff, DepthSnapshot

__all__ = ["DEFAULT_BUFFER_CAP", "BinanceBookSync", "BookSync", "BybitBookSync"]

DEFAULT_BUFFER_CAP = 10_000
"""Diffs kept while waiting for a snapshot: about 17 minutes of a 100 ms stream. When full, the oldest is dropped
(counted as ``buffer_full``): a stream that never gets its snapshot does not grow memory without bound."""

WAITING = "waiting_snapshot"
"""No book: buffering diffs until a snapshot arrives (``needs_snapshot``)."""
BRIDGING = "bridging"
"""A snapshot is loaded; waiting for the first diff with ``U <= lastUpdateId <= u`` (Binance only)."""
SYNCED = "synced"
"""The book is current and served."""


class BookSync:
    """What both venues' syncs share: the book, the state, the counters and :meth:`status`."""

    def __init__(self, symbol: str, buffer_cap: int = DEFAULT_BUFFER_CAP) -> None:
        if buffer_cap < 1:
            raise ValueError(f"buffer_cap must be >= 1, not {buffer_cap}")
        self.symbol = symbol.upper()
        self.buffer_cap = buffer_cap
        self._book = OrderBook(self.symbol)
        self._buffer: deque[DepthDiff] = deque()
        self.state = WAITING
        self.resyncs = 0
        """How many times a loaded book was dropped (a gap, a crossed book, a refused snapshot)."""
        self.rejects: Counter[str] = Counter()
        """Updates not used, by reason: ``older_than_snapshot`` (expected around a snapshot), ``unknown_symbol``,
        ``stale_diff``, ``out_of_order``, ``buffer_full``,
        ``gap``, ``crossed``, ``stale_snapshot``, ``crossed_snapshot``, ``unneeded_snapshot``,
        ``delta_before_snapshot``."""
        self.received_ms = 0
        """``now_ms`` of the last update handed in (diff or snapshot)."""

    @property
    def needs_snapshot(self) -> bool:
        """True while there is no book: the caller fetches (Binance) or re-subscribes for (Bybit) a snapshot."""
        return self.state == WAITING

    @property
    def book(self) -> OrderBook | None:
        """The live book when synced and not crossed, else ``None``. The object is updated in place: copy it to
        keep it."""
        return self._book if self.state == SYNCED else None

    @property
    def buffered(self) -> int:
        """Diffs held while waiting for a snapshot."""
        return len(self._buffer)

    def status(self) -> dict[str, Any]:
        """A plain dict for the status endpoint: state, resyncs, rejects, buffered, last_update_id, updated_ms."""
        synced = self.state == SYNCED
        return {
            "state": self.state,
            "resyncs": self.resyncs,
            "rejects": dict(self.rejects),
            "buffered": len(self._buffer),
            "last_update_id": self._book.last_update_id if synced else None,
            "updated_ms": self._book.updated_ms if synced else None,
            "received_ms": self.received_ms,
        }

    def drop(self, reason: str) -> None:
        """The updates stopped coming (the connection went): a served book is dropped as a resync counted under
        ``reason``, and diffs buffered before the break are forgotten (they cannot bridge a later snapshot)."""
        if self.state == SYNCED:
            self._resync(reason)
        else:
            self._buffer.clear()

    def _wrong_symbol(self, symbol: str) -> bool:
        if symbol != self.symbol:
            self.rejects["unknown_symbol"] += 1
            return True
        return False

    def _resync(self, reason: str, keep: DepthDiff | None = None) -> None:
        """Drop the book and wait for a snapshot; ``keep`` (the diff that showed the gap) starts the buffer."""
        self.rejects[reason] += 1
        self.resyncs += 1
        self._book.clear()
        self._buffer.clear()
        if keep is not None:
            self._buffer.append(keep)
        self.state = WAITING

    def _buffer_diff(self, diff: DepthDiff) -> None:
        buffer = self._buffer
        if buffer and diff.last_id <= buffer[-1].last_id:
            self.rejects["out_of_order"] += 1
            return
        if len(buffer) >= self.buffer_cap:
            buffer.popleft()
            self.rejects["buffer_full"] += 1
        buffer.append(diff)

    def _apply(self, diff: DepthDiff) -> bool:
        """Apply ``diff``; False (after a resync) when it left the book crossed."""
        book = self._book
        book.apply(diff.bids, diff.asks, diff.last_id, diff.event_ms)
        if book.crossed():
            self._resync("crossed")
            return False
        return True

    def _load(self, snapshot: DepthSnapshot) -> bool:
        book = self._book
        book.load(snapshot.bids, snapshot.asks, snapshot.last_update_id, snapshot.event_ms)
        if book.crossed():
            self._resync("crossed_snapshot")
            return False
        return True


class BinanceBookSync(BookSync):
    """One Binance USD-M symbol's book from ``<symbol>@depth@100ms`` diffs and ``/fapi/v1/depth`` snapshots."""

    def on_diff(self, diff: DepthDiff, now_ms: int) -> None:
        """Hand in one parsed diff (in stream order)."""
        self.received_ms = now_ms
        if self._wrong_symbol(diff.symbol):
            return
        if self.state == WAITING:
            self._buffer_diff(diff)
            return
        last_id = self._book.last_update_id
        if self.state == BRIDGING:
            if diff.last_id < last_id:  # older than the snapshot (expected: it was in flight meanwhile)
                self.rejects["older_than_snapshot"] += 1
                return
            if diff.first_id > last_id:  # diffs between the snapshot and this one are missing
                self._resync("gap", keep=diff)
                return
        elif diff.last_id <= last_id:  # already in the book: a repeat or an old diff
            self.rejects["stale_diff"] += 1
            return
        elif diff.prev_last_id != last_id:
            self._resync("gap", keep=diff)
            return
        if self._apply(diff):
            self.state = SYNCED

    def on_snapshot(self, snapshot: DepthSnapshot, now_ms: int) -> None:
        """Hand in the REST snapshot the caller fetched because :attr:`needs_snapshot` was True."""
        self.received_ms = now_ms
        if self._wrong_symbol(snapshot.symbol):
            return
        if self.state != WAITING:
            self.rejects["unneeded_snapshot"] += 1
            return
        last_id = snapshot.last_update_id
        pending = [d for d in self._buffer if d.last_id >= last_id]
        if len(pending) < len(self._buffer):
            self.rejects["older_than_snapshot"] += len(self._buffer) - len(pending)
        if pending and pending[0].first_id > last_id:
            # Every buffered diff is newer than the snapshot, with a hole between: ask for a newer snapshot,
            # keep the diffs (they may bridge the next one).
            self.rejects["stale_snapshot"] += 1
            self.resyncs += 1
            self._buffer = deque(pending)
            return
        self._buffer.clear()
        if not self._load(snapshot):
            return
        self.state = BRIDGING
        for i, diff in enumerate(pending):
            self.on_diff(diff, now_ms)
            if self.state == WAITING:  # a gap inside the buffer or a crossed book: resynced; the rest waits
                for later in pending[i + 1:]:
                    self._buffer_diff(later)
                return


class BybitBookSync(BookSync):
    """One Bybit symbol's book from ``orderbook.<depth>.<symbol>`` snapshots and deltas (``u`` + 1 each)."""

    def on_diff(self, diff: DepthDiff, now_ms: int) -> None:
        """Hand in one parsed delta."""
        self.received_ms = now_ms
        if self._wrong_symbol(diff.symbol):
            return
        if self.state == WAITING:
            self.rejects["delta_before_snapshot"] += 1
            return
        book = self._book
        if diff.last_id <= book.last_update_id:
            self.rejects["stale_diff"] += 1
            return
        if diff.prev_last_id != book.last_update_id:
            self._resync("gap")
            return
        self._apply(diff)

    def on_snapshot(self, snapshot: DepthSnapshot, now_ms: int) -> None:
        """Hand in a snapshot message: it replaces the book, whatever the state."""
        self.received_ms = now_ms
        if self._wrong_symbol(snapshot.symbol):
            return
        self._buffer.clear()
        if self._load(snapshot):
            self.state = SYNCED
