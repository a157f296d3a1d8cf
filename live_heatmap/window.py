"""One symbol's bounded event window: a FIFO of at most ``max_events`` events.

It is the deque of the design, stored column-wise: new events are appended to
a short Python list (cheap on the stream thread) and moved into fixed numpy
ring buffers when clusters are built, so a rebuild reads contiguous arrays and
memory stays under 100 bytes an event. Duplicates (same trade time, side,
quantity and price) are dropped on arrival.
"""

from __future__ import annotations

import sys
import threading

import numpy as np
import numpy.typing as npt

from .clustering import SIDE_LONG, SIDE_NAMES, SIDE_SHORT
from .events import LiquidationEvent

__all__ = ["EventWindow", "WindowArrays"]

_SIDE_CODE = {"long": SIDE_LONG, "short": SIDE_SHORT}
_FLUSH_AT = 4096

WindowArrays = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64],
                     npt.NDArray[np.int8]]


def _key(event: LiquidationEvent) -> int:
    """Dedupe key within a symbol: a 64-bit hash of (trade time, side, quantity, price)."""
    return hash((event.trade_time, event.side, event.quantity, event.price))


class EventWindow:
    """Events of one symbol. Thread-safe: writers and readers may be different threads.

    Eviction is by arrival: once ``capacity`` events are held, each new one
    replaces the oldest arrival. :meth:`snapshot` also prunes events older than
    a given trade time.
    """

    __slots__ = ("_event_time", "_fallback", "_head", "_keys", "_lock", "_pending", "_pending_keys", "_price",
                 "_quantity", "_seen", "_side", "_size", "_status", "_trade_time", "capacity", "symbol",
                 "version")

    def __init__(self, symbol: str, capacity: int) -> None:
        self.symbol = symbol
        self.capacity = capacity
        self._price = np.zeros(capacity, dtype=np.float64)
        self._quantity = np.zeros(capacity, dtype=np.float64)
        self._trade_time = np.zeros(capacity, dtype=np.int64)
        self._event_time = np.zeros(capacity, dtype=np.int64)
        self._side = np.zeros(capacity, dtype=np.int8)
        self._fallback = np.zeros(capacity, dtype=np.bool_)
        self._status = np.zeros(capacity, dtype=np.int16)
        self._keys = np.zeros(capacity, dtype=np.int64)
        # Invariant: the live events occupy slots [head - size, head) while size < capacity,
        # and the whole ring (oldest at head) once size == capacity.
        self._head = 0
        self._size = 0
        self._seen: set[int] = set()
        self._pending: list[LiquidationEvent] = []
        self._pending_keys: list[int] = []
        self._lock = threading.Lock()
        self.version = 0
        """Changes whenever the set of events changes: a cheap staleness check."""

    def __len__(self) -> int:
        return self._size + len(self._pending)

    def add(self, event: LiquidationEvent) -> bool:
        """Append ``event``; False (and nothing stored) if it duplicates one in the window."""
        key = _key(event)
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            self._pending.append(event)
            self._pending_keys.append(key)
            self.version += 1
            if len(self._pending) >= _FLUSH_AT:
                self._flush()
        return True

    def snapshot(self, min_trade_time: int | None = None) -> WindowArrays:
        """Copies of (price, quantity, trade_time, side) of the window, oldest arrival first.

        With ``min_trade_time``, events traded before it are pruned first.
        """
        with self._lock:
            self._flush()
            if min_trade_time is not None:
                self._prune(min_trade_time)
            idx = self._order()  # a slice gives views: copy, the ring is reused after the lock
            return (self._price[idx].copy(), self._quantity[idx].copy(), self._trade_time[idx].copy(),
                    self._side[idx].copy())

    def events(self) -> list[LiquidationEvent]:
        """The window as events, oldest arrival first."""
        with self._lock:
            self._flush()
            idx = self._order()
            cols = (self._price[idx].tolist(), self._quantity[idx].tolist(), self._event_time[idx].tolist(),
                    self._trade_time[idx].tolist(), self._side[idx].tolist(), self._status[idx].tolist(),
                    self._fallback[idx].tolist())
        names = _status_names
        return [LiquidationEvent(self.symbol, SIDE_NAMES[s], p, q, e, t, names[x], f)
                for p, q, e, t, s, x, f in zip(*cols, strict=True)]

    def nbytes(self) -> int:
        """Bytes held by the ring buffers and the dedupe set (an estimate for the set)."""
        arrays = (self._price, self._quantity, self._trade_time, self._event_time, self._side, self._fallback,
                  self._status, self._keys)
        seen = sys.getsizeof(self._seen) + 32 * len(self._seen)  # set table + one int object per key
        return sum(a.nbytes for a in arrays) + seen

    # -- internals, called with the lock held --------------------------------------------------

    def _order(self) -> npt.NDArray[np.int64] | slice:
        if self._size < self.capacity:
            return slice(self._head - self._size, self._head)
        wrapped: npt.NDArray[np.int64] = np.r_[self._head:self.capacity, 0:self._head]
        return wrapped

    def _flush(self) -> None:
        pending, keys = self._pending, self._pending_keys
        if not pending:
            return
        self._pending, self._pending_keys = [], []
        if len(pending) > self.capacity:  # the oldest of a huge batch never make it into the ring
            self._seen.difference_update(keys[: -self.capacity])
            pending, keys = pending[-self.capacity:], keys[-self.capacity:]
        n = len(pending)
        slots = (self._head + np.arange(n)) % self.capacity
        if self._size + n > self.capacity:  # evict what the new events overwrite
            n_evicted = self._size + n - self.capacity
            evicted = (self._head - self._size + np.arange(n_evicted)) % self.capacity
            self._seen.difference_update(self._keys[evicted].tolist())
        _, sides, prices, qtys, etimes, ttimes, statuses, fallbacks = zip(*pending, strict=True)
        self._price[slots] = prices
        self._quantity[slots] = qtys
        self._event_time[slots] = etimes
        self._trade_time[slots] = ttimes
        self._fallback[slots] = fallbacks
        self._side[slots] = [_SIDE_CODE[s] for s in sides]
        self._status[slots] = [_status_code(s) for s in statuses]
        self._keys[slots] = keys
        self._head = int((self._head + n) % self.capacity)
        self._size = min(self.capacity, self._size + n)

    def _prune(self, min_trade_time: int) -> None:
        idx = self._order()
        keep = self._trade_time[idx] >= min_trade_time
        if keep.all():
            return
        slots = np.arange(self.capacity)[idx]
        self._seen.difference_update(self._keys[slots[~keep]].tolist())
        kept = slots[keep]
        n = kept.size
        for column in (self._price, self._quantity, self._trade_time, self._event_time, self._side,
                       self._fallback, self._status, self._keys):
            column[:n] = column[kept]
        self._head, self._size = n, n
        self.version += 1



_status_names: list[str] = ["FILLED", "PARTIALLY_FILLED", "NEW", "EXPIRED", "CANCELED", "UNKNOWN"]
_status_codes: dict[str, int] = {name: code for code, name in enumerate(_status_names)}
_status_lock = threading.Lock()


def _status_code(status: str) -> int:
    """A small integer for an order status, interned process-wide."""
    code = _status_codes.get(status)
    if code is None:
        with _status_lock:
            code = _status_codes.setdefault(status, len(_status_names))
            if code == len(_status_names):
                _status_names.append(status)
    return code
