"""The hub: runs the registered rules, applies the cooldown, queues what passes into the outbox (one row per
channel) and wakes the sender. Only SQLite inserts here: a job that runs the hub never waits on a network call.

The cooldown is per (rule, symbol, the alert's ``cooldown_key``: a cluster id...), ``cooldown_s`` (300 s)
long: a repeat inside it is not queued. A restarted bot reads the cooldowns of the alerts it queued within the
last ``cooldown_s`` back from the outbox, so a restart does not repeat them either. A rule that fails is logged
and counted (``rule_failures``); the other rules still run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import structlog

from liquidation_hunter.alerts.model import Alert
from liquidation_hunter.alerts.rules import Rule
from liquidation_hunter.trading.books import OUTBOX_CAP, Books

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

    def restore_cooldowns(self, now_ms: int) -> int:
        """The cooldowns of the alerts queued within the last ``cooldown_s`` (a restart); returns how many."""
        for row in self.books.outbox(limit=self.cap):
            key = row.data.get("cooldown_key")
            if isinstance(key, str) and now_ms - row.at < self.cooldown_ms:
                cooled = (row.rule, row.symbol, key)
                self._last[cooled] = max(self._last.get(cooled, 0), row.at)
        return len(self._last)

    def run(self, now_ms: int) -> int:
        """Every rule once; returns how many alerts were queued."""
        queued = 0
        for rule in self.rules:
            try:
                alerts = rule.evaluate(now_ms)
            except Exception as exc:
                self.rule_failures[rule.name] += 1
                self.last_error = f"{rule.name}: {type(exc).__name__}: {exc}"
                log.error("alert_rule_failed", rule=rule.name, error=self.last_error,
                          failures=self.rule_failures[rule.name], exc_info=True)
                continue
            queued += sum(self.submit(alert, now_ms) for alert in alerts)
        if len(self._last) > 10_000:  # forget cooldowns long over
            self._last = {k: at for k, at in self._last.items() if now_ms - at < self.cooldown_ms}
        return queued

    def submit(self, alert: Alert, now_ms: int) -> bool:
        """Queue ``alert`` unless its (rule, symbol, key) alerted within the cooldown; True when queued."""
        self.counts["raised"] += 1
        key = (alert.rule, alert.symbol, alert.cooldown_key)
        last = self._last.get(key)
        if last is not None and now_ms - last < self.cooldown_ms:
            self.counts["cooled"] += 1
            return False
        self._last[key] = now_ms
        added = self.books.enqueue_alert(
            alert_id=alert.id, channels=self.channels, rule=alert.rule, kind=alert.kind, symbol=alert.symbol,
            at=alert.time, text=alert.text, data={**alert.data, "cooldown_key": alert.cooldown_key}, cap=self.cap)
        if added < len(self.channels):
            self.counts["dropped"] += len(self.channels) - added
        if not added:
            return False
        self.counts["queued"] += 1
        log.info("alert", rule=alert.rule, kind=alert.kind, symbol=alert.symbol, text=alert.text)
        if self.on_queued is not None:
            self.on_queued()
        return True
