"""The running bot's recent mark prices, downsampled: what the page of a running bot draws as its price line.

One point per symbol per ``step_ms`` (5 s by default) in a ring buffer per symbol holding ``keep_ms`` (2 hours
by default, 1,440 points, about 23 kB a symbol: ``symbols: all`` with 500 symbols stays near 12 MB). A point
closer than ``step_ms`` to the previous one is dropped, so the memory is bounded whatever the rate of updates.
The bot records the prices its ``positions`` job reads (the stream's mark prices, or the REST polls); the API
reads :meth:`PriceHistory.points` (``/api/v1/grid``'s ``price_source: marks``). Thread-safe.
"""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt

__all__ = ["PriceHistory"]

STEP_MS = 5_000
KEEP_MS = 2 * 3_600_000


class _Ring:
    """One symbol's points, oldest overwritten first."""

    __slots__ = ("count", "prices", "start", "times")

    def __init__(self, size: int) -> None:
        self.times = np.zeros(size, dtype=np.int64)
        self.prices = np.zeros(size, dtype=np.float64)
        self.start = 0
        self.count = 0

    def last_time(self) -> int | None:
        if not self.count:
            return None
        return int(self.times[(self.start + self.count - 1) % self.times.size])

    def add(self, at: int, price: float) -> None:
        size = self.times.size
        i = (self.start + self.count) % size
        self.times[i], self.prices[i] = at, price
        if self.count < size:
            self.count += 1
        else:
            self.start = (self.start + 1) % size

    def ordered(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        idx = (self.start + np.arange(self.count)) % self.times.size
        return self.times[idx], self.prices[idx]


class PriceHistory:
    """Mark prices by exchange id (``BTCUSDT``), at most one point per ``step_ms``, the last ``keep_ms`` kept."""

    def __init__(self, *, step_ms: int = STEP_MS, keep_ms: int = KEEP_MS) -> None:
        if step_ms <= 0 or keep_ms < step_ms:
            raise ValueError(f"need 0 < step_ms <= keep_ms, got {step_ms} and {keep_ms}")
        self.step_ms = step_ms
        self.keep_ms = keep_ms
        self._size = keep_ms // step_ms + 1
        self._rings: dict[str, _Ring] = {}
        self._lock = threading.Lock()

    def record(self, symbol: str, price: float, at: int) -> bool:
        """Add ``price`` at ``at`` (epoch ms) unless the last point is less than ``step_ms`` older (or newer: a
        point out of order is dropped); True when added."""
        if not (price > 0.0 and np.isfinite(price)):
            return False
        with self._lock:
            ring = self._rings.get(symbol)
            if ring is None:
                ring = self._rings[symbol] = _Ring(self._size)
            last = ring.last_time()
            if last is not None and at - last < self.step_ms:
                return False
            ring.add(at, float(price))
            return True

    def __contains__(self, symbol: object) -> bool:
        with self._lock:
            return symbol in self._rings

    def points(self, symbol: str, start_ms: int, end_ms: int) -> tuple[npt.NDArray[np.int64],
                                                                       npt.NDArray[np.float64]] | None:
        """The points of ``symbol`` with ``start_ms <= time <= end_ms``, oldest first; None when there are none."""
        with self._lock:
            ring = self._rings.get(symbol)
            if ring is None:
                return None
            times, prices = ring.ordered()
        keep = (times >= start_ms) & (times <= end_ms)
        if not keep.any():
            return None
        return times[keep], prices[keep]
