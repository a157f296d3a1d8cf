"""Rate limits as values: at most ``count`` acquisitions in any ``per`` seconds, on an injected clock.

One :class:`RateLimiter` is shared by a venue's shards for its connection limit (Bybit: 500 new connections
per 5 minutes per IP; OKX: 3 connection requests a second); another, per connection, keeps OKX's
subscribe budget (480 requests an hour). Thread-safe; nothing here sleeps.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """A sliding window: :meth:`reserve` grants a slot now (returns 0.0) or says how long to wait (> 0)."""

    def __init__(self, count: int, per: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if count < 1 or not per > 0:
            raise ValueError(f"rate limit: need count >= 1 and per > 0, got {count} per {per}")
        self.count = count
        self.per = per
        self._clock = clock
        self._granted: deque[float] = deque()
        self._lock = threading.Lock()
        self.waits = 0
        """How many reservations were told to wait (status)."""

    def reserve(self) -> float:
        """Take a slot and return 0.0, or take none and return the seconds until one frees."""
        with self._lock:
            now = self._clock()
            while self._granted and now - self._granted[0] >= self.per:
                self._granted.popleft()
            if len(self._granted) < self.count:
                self._granted.append(now)
                return 0.0
            self.waits += 1
            return self._granted[0] + self.per - now

    def in_window(self) -> int:
        """Slots taken in the last ``per`` seconds."""
        with self._lock:
            now = self._clock()
            return sum(1 for t in self._granted if now - t < self.per)

    def wait(self, stop: threading.Event) -> bool:
        """Block until a slot is taken (True) or ``stop`` is set (False)."""
        while not stop.is_set():
            delay = self.reserve()
            if delay <= 0.0:
                return True
            stop.wait(delay)
        return False
