"""The hub: runs the registered rules, applies the cooldown, queues what passes into the outbox (one row per
channel) and wakes the sender. Only SQLite inserts here: a job that runs the hub never waits on a network call.

The cooldown is per (rule, symbol, the alert's ``cooldown_key``: a cluster id...), ``cooldown_s`` (300 s)
long: a repeat inside it is not queued. A restarted bot reads the cooldowns of the alerts it queued within the
last ``cooldown_s`` back from the outbox, so a restart does not repeat them either. A rule that fails is logged
and counted (``rule_failures``); the other rules still run.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence

import structlog

from liquidation_hunter.alerts.model import Alert
from liquidation_hunter.alerts.rules import Rule
from liquidation_hunter.trading.books import OUTBOX_CAP, Books, NewAlert
from live_heatmap.common.errors import describe

__all__ = ["AlertHub"]

log = structlog.get_logger("liquidation_hunter.alerts")

CooldownKey = tuple[str, str | None, str]


class AlertHub:
    """``rules`` (a list: a later layer appends its own) -> cooldown -> ``books``' outbox for ``channels``."""

    def __init__(self, books: Books, channels: Sequence[str], rules: Sequence[Rule], *, cooldown_s: float = 300.0,
                 cap: int = OUTBOX_CAP, on_queued: Callable[[], None] | None = None) -> None:
        self.books = books
        self.channels = tuple(channels)
        self.rules: list[Rule] = list(rules)
        self.cooldown_ms = int(cooldown_s * 1000)
        self.cap = cap
        self.on_queued = on_queued
        self._last: dict[CooldownKey, int] = {}
        self.counts: Counter[str] = Counter()
        """``raised``, ``queued``, ``cooled`` (inside the cooldown), ``dropped`` (the outbox was full)."""
        self.rule_failures: Counter[str] = Counter()
        self.last_error: str | None = None
        self._lock = threading.Lock()

    def restore_cooldowns(self, now_ms: int) -> int:
        """The cooldowns of the alerts queued within the last ``cooldown_s`` (a restart); returns how many."""
        for row in self.books.outbox(limit=self.cap):
            key = row.data.get("cooldown_key")
            if isinstance(key, str) and now_ms - row.at < self.cooldown_ms:
                cooled = (row.rule, row.symbol, key)
                self._last[cooled] = max(self._last.get(cooled, 0), row.at)
        return len(self._last)

    def run(self, now_ms: int, rules: Sequence[Rule] | None = None) -> int:
        """Every rule once (``rules``: only those), what passes the cooldown queued in one transaction; returns how
        many were queued. Safe from several threads (the jobs, the bot's events)."""
        with self._lock:
            return self._run(now_ms, self.rules if rules is None else rules)

    def _run(self, now_ms: int, rules: Sequence[Rule]) -> int:
        passed: list[Alert] = []
        for rule in rules:
            try:
                alerts = rule.evaluate(now_ms)
            except Exception as exc:  # one rule's failure must not silence the others
                self.rule_failures[rule.name] += 1
                self.last_error = f"{rule.name}: {describe(exc)}"
                log.error("alert_rule_failed", rule=rule.name, error=self.last_error,
                          failures=self.rule_failures[rule.name], exc_info=True)
                continue
            passed.extend(a for a in alerts if self._passes(a, now_ms))
        if len(self._last) > 10_000:  # forget cooldowns long over
            self._last = {k: at for k, at in self._last.items() if now_ms - at < self.cooldown_ms}
        return self._queue(passed)

    def submit(self, alert: Alert, now_ms: int) -> bool:
        """Queue ``alert`` unless its (rule, symbol, key) alerted within the cooldown; True when queued."""
        with self._lock:
            return self._passes(alert, now_ms) and self._queue([alert]) == 1

    def _passes(self, alert: Alert, now_ms: int) -> bool:
        """Not inside its cooldown (and then the cooldown starts now)."""
        self.counts["raised"] += 1
        key = (alert.rule, alert.symbol, alert.cooldown_key)
        last = self._last.get(key)
        if last is not None and now_ms - last < self.cooldown_ms:
            self.counts["cooled"] += 1
            return False
        self._last[key] = now_ms
        return True

    def _queue(self, alerts: list[Alert]) -> int:
        if not alerts:
            return 0
        added = self.books.enqueue_alerts(
            [NewAlert(a.id, a.rule, a.kind, a.symbol, a.time, a.text, {**a.data, "cooldown_key": a.cooldown_key})
             for a in alerts], self.channels, cap=self.cap)
        queued = 0
        for alert, rows in zip(alerts, added, strict=True):
            self.counts["dropped"] += len(self.channels) - rows
            if rows:
                queued += 1
                log.info("alert", rule=alert.rule, kind=alert.kind, symbol=alert.symbol, text=alert.text)
        self.counts["queued"] += queued
        if queued and self.on_queued is not None:
            self.on_queued()
        return queued
