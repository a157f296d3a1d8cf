"""The sender: one thread that delivers the outbox (:mod:`liquidation_hunter.trading.books.outbox`).

Delivery, as issue 16 asks:

* only network errors, 5xx and 429 are tried again; any other answer is ``failed`` at once;
* backoff 1, 2, 4 ... 60 s after the 1st, 2nd, 3rd ... failed attempt; a receiver's ``Retry-After`` (or Telegram's
  and Discord's ``retry_after``) is honoured: never sooner than it says (the longer of it and the backoff); a 429
  holds the whole channel back that long, not only that alert;
* ``max_attempts`` (8) attempts, then ``failed``;
* per-channel rate limits: two requests to one channel start at least ``min_interval_s`` apart (Telegram: 1 s);
* each alert keeps its id on every attempt (the webhook's ``Idempotency-Key``) and across restarts: the outbox
  is in the books, so alerts pending at a crash are delivered by the next run, once each. The one window of a
  double delivery is a crash after a receiver answered and before the books recorded it; the key is the
  receiver's protection against it.

:meth:`Sender.step` does the work due at a moment and says when the next is due: the thread calls it in a loop
(woken early by :meth:`Sender.wake` when an alert is queued); tests may drive it with their own clock.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping

import structlog

from liquidation_hunter.alerts.channels import Channel
from liquidation_hunter.trading.books import Books
from live_heatmap.common.errors import describe

__all__ = ["BACKOFF_CAP_S", "Sender", "backoff_s"]

log = structlog.get_logger("liquidation_hunter.alerts")

BACKOFF_CAP_S = 60.0
IDLE_WAIT_S = 1.0
"""The thread looks at the outbox at least this often (an alert queued by another process, a clock change)."""


def backoff_s(failed_attempts: int) -> float:
    """The wait after ``failed_attempts`` (1, 2, 3 ...) failures: 1, 2, 4 ... capped at 60 s."""
    return min(BACKOFF_CAP_S, 2.0 ** max(0, failed_attempts - 1))


def _wall_ms() -> int:
    return int(time.time() * 1000)


class Sender:
    """Delivers ``books``' outbox through ``channels`` (by name). ``clock`` gives epoch ms (the outbox's times
    survive restarts, so they are wall-clock times)."""

    def __init__(self, books: Books, channels: Mapping[str, Channel], *, max_attempts: int = 8,
                 timeout_s: float = 10.0, clock: Callable[[], int] = _wall_ms) -> None:
        self.books = books
        self.channels = dict(channels)
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self.clock = clock
        self._free_at: dict[str, int] = {}
        """Channel -> the earliest time of its next request (rate limit, a 429's wait)."""
        self.counts: Counter[str] = Counter()
        """``sent`` (requests), ``delivered``, ``retried``, ``failed``, ``errors`` (the loop's own failures)."""
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ the work

    def step(self, now_ms: int) -> int:
        """Send what is due at ``now_ms`` and whose channel is free; returns the ms until the next thing is due
        (at most :data:`IDLE_WAIT_S`)."""
        wake_in = int(IDLE_WAIT_S * 1000)
        for row in self.books.due_alerts(now_ms):
            channel = self.channels.get(row.channel)
            if channel is None:
                self.books.alert_failed(row.seq, f"channel {row.channel} is not configured", now_ms)
                self.counts["failed"] += 1
                continue
            free_at = self._free_at.get(row.channel, 0)
            if now_ms < free_at:
                wake_in = min(wake_in, free_at - now_ms)
                continue
            if self._stop.is_set():
                break
            outcome = channel.send(row, self.timeout_s)
            self.counts["sent"] += 1
            done_ms = self.clock()
            self._free_at[row.channel] = done_ms + int(channel.min_interval_s * 1000)
            attempt = row.attempts + 1
            if outcome.delivered:
                self.books.alert_delivered(row.seq, done_ms)
                self.counts["delivered"] += 1
                log.debug("alert_delivered", channel=row.channel, alert=row.alert_id, attempts=attempt)
            elif outcome.retry and attempt < self.max_attempts:
                wait_s = max(backoff_s(attempt), outcome.wait_s or 0.0)
                next_at = done_ms + int(wait_s * 1000)
                if outcome.status == 429:  # the channel said: too many; nothing goes to it before then
                    self._free_at[row.channel] = max(self._free_at[row.channel], next_at)
                self.books.alert_retry(row.seq, outcome.detail, next_at)
                self.counts["retried"] += 1
                log.info("alert_retry", channel=row.channel, alert=row.alert_id, attempt=attempt,
                         error=outcome.detail, wait_s=wait_s)
            else:
                why = outcome.detail if not outcome.retry else f"gave up after {attempt} attempts: {outcome.detail}"
                self.books.alert_failed(row.seq, why, done_ms)
                self.counts["failed"] += 1
                log.warning("alert_failed", channel=row.channel, alert=row.alert_id, attempts=attempt, error=why)
            now_ms = self.clock()
            wake_in = min(wake_in, max(0, self._free_at[row.channel] - now_ms))
        earliest = self.books.next_alert_at()
        if earliest is not None and earliest > now_ms:  # those due already wait for their channel (above)
            wake_in = min(wake_in, earliest - now_ms)
        return max(10, wake_in)

    # ------------------------------------------------------------------ the thread

    def wake(self) -> None:
        """Look at the outbox now (an alert was queued)."""
        self._wake.set()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="alerts-sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop after the request in flight (a daemon thread: a request hanging past ``timeout`` cannot hold the
        process; its alert stays pending for the next run)."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                wait_ms = self.step(self.clock())
            except Exception as exc:
                self.counts["errors"] += 1
                self.last_error = describe(exc)
                log.error("alert_sender_failed", error=self.last_error, exc_info=True)
                wait_ms = int(IDLE_WAIT_S * 1000)
            self._wake.wait(wait_ms / 1000)
            self._wake.clear()
