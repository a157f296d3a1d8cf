"""``record --publish``: every event the recorder stores, appended to ``liq:<exchange>`` (``XADD ... MAXLEN ~``).

The heatmap's listener (:meth:`FeedPublisher.submit`, on the stream's thread) only numbers the events and queues
them: it never waits on Redis. One thread sends what is queued in pipelined batches; while Redis cannot be
reached the queue holds up to ``buffer`` events (past it the oldest are dropped and counted: a consumer sees
their numbers missing), the failure is one log line, and the batch is sent again after a backoff (0.1 s doubling
to 2 s). A batch that failed half-way is sent again whole: the consumers drop the copies by their numbers.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from liquidation_hunter.feed.codec import encode, stream_name
from live_heatmap import LiquidationEvent, LiveLiquidationHeatmap, system_clock_ms
from live_heatmap.common.errors import describe

__all__ = ["FeedPublisher"]

log = structlog.get_logger("liquidation_hunter.feed")

BATCH = 1_000
"""Entries per pipeline."""


class FeedPublisher:
    """Publishes events to Redis Streams (module docstring). ``client``: a redis-py client
    (:func:`~liquidation_hunter.feed.client.connect`, or fakeredis in tests)."""

    def __init__(self, client: Any, *, maxlen: int = 1_000_000, buffer: int = 200_000,
                 clock: Callable[[], int] = system_clock_ms) -> None:
        self.client = client
        self.maxlen = maxlen
        self.buffer = buffer
        self.clock = clock
        self.epoch = clock()
        """This publisher's epoch: its start in ms (a consumer seeing a new one starts counting again)."""
        self._seq: dict[str, int] = {}
        self._queue: deque[tuple[str, int, LiquidationEvent]] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._deadline = float("inf")
        self._heatmaps: list[LiveLiquidationHeatmap] = []
        self.published = 0
        self.dropped = 0
        self.errors = 0
        self.last_error: str | None = None

    def submit(self, events: Sequence[LiquidationEvent]) -> None:
        """Number and queue ``events`` (the heatmap's listener: never blocks on Redis)."""
        with self._lock:
            for event in events:
                stream = stream_name(event.exchange.value)
                seq = self._seq.get(stream, 0) + 1
                self._seq[stream] = seq
                self._queue.append((stream, seq, event))
            over = len(self._queue) - self.buffer
            if over > 0:
                for _ in range(over):
                    self._queue.popleft()
                self.dropped += over
        self._wake.set()

    def attach(self, heatmap: LiveLiquidationHeatmap) -> FeedPublisher:
        """Publish every event ``heatmap`` accepts (what a recorder beside it stores). Returns self."""
        heatmap.add_listener(self.submit)
        self._heatmaps.append(heatmap)
        return self

    @property
    def pending(self) -> int:
        return len(self._queue)

    def start(self) -> FeedPublisher:
        self._thread = threading.Thread(target=self._run, name="feed-publisher", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Detach, send what is queued (for up to ``timeout`` seconds), join."""
        for heatmap in self._heatmaps:
            heatmap.remove_listener(self.submit)
        self._heatmaps.clear()
        self._deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.pending:
            log.warning("feed_publisher_stopped_with_pending", pending=self.pending,
                        consequence="these events were stored but not published")

    def stats(self) -> dict[str, Any]:
        return {"published": self.published, "pending": self.pending, "dropped": self.dropped,
                "errors": self.errors, "last_error": self.last_error, "epoch": self.epoch}

    def send(self) -> int:
        """Send one batch of what is queued; returns how many were sent (raises on Redis errors)."""
        with self._lock:
            batch = [self._queue[i] for i in range(min(BATCH, len(self._queue)))]
        if not batch:
            return 0
        pipe = self.client.pipeline(transaction=False)
        now = self.clock()
        for stream, seq, event in batch:
            pipe.xadd(stream, encode(event, self.epoch, seq, now), maxlen=self.maxlen, approximate=True)
        pipe.execute()
        sent = {id(item) for item in batch}
        with self._lock:  # the batch is still at the head unless submit() dropped some of it meanwhile
            while self._queue and id(self._queue[0]) in sent:
                self._queue.popleft()
        return len(batch)

    def _run(self) -> None:
        backoff = 0.1
        failing = False
        while True:
            if not self._queue:
                if self._stop.is_set():
                    return
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            try:
                sent = self.send()
            except Exception as exc:  # noqa: BLE001 - Redis down or refusing: keep the events, retry
                self.errors += 1
                self.last_error = describe(exc)
                if not failing:
                    log.error("feed_publish_failed", error=self.last_error, pending=self.pending,
                              consequence=f"kept (up to feed.buffer {self.buffer} events) and sent again")
                failing = True
                if self._stop.is_set() and time.monotonic() + backoff > self._deadline:
                    return  # stopping: what is left is counted by stop()
                time.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            if failing:
                log.info("feed_publish_recovered", pending=self.pending, errors=self.errors, dropped=self.dropped)
            failing, backoff = False, 0.1
            self.published += sent
