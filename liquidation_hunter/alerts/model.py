"""An alert: what a rule raises and a channel sends (``{id, kind, symbol, time, text, data}`` on the webhook)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Alert", "alert_id"]


def alert_id(rule: str, key: str, at_ms: int) -> str:
    """A stable id for the alert ``rule`` raised about ``key`` at ``at_ms``: the same inputs give the same id, so
    a rule evaluated twice over the same moment (a restart) cannot queue a second copy, and the receiver's
    ``Idempotency-Key`` is the same on every attempt."""
    return hashlib.sha256(f"{rule}|{key}|{at_ms}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Alert:
    """One notification.

    ``rule``: the rule's name (``cluster``, ``cascade``, ``bot_events``, ``stream_down``, or a later layer's);
    ``kind``: what happened (``cluster_risk``, ``cascade``, ``entry``, ``exit``, ``halt``...); ``symbol``: the
    exchange id it is about (None: the bot as a whole); ``time``: epoch ms; ``text``: one or two lines for a
    person (plain text; the Telegram channel escapes it for HTML); ``data``: JSON-ready details; ``cooldown_key``:
    what the cooldown is per, beside the rule and the symbol (a cluster id; "" when the rule has nothing finer)."""

    rule: str
    kind: str
    symbol: str | None
    time: int
    text: str
    data: Mapping[str, Any] = field(default_factory=dict)
    cooldown_key: str = ""

    @property
    def id(self) -> str:
        return alert_id(self.rule, f"{self.kind}|{self.symbol}|{self.cooldown_key}", self.time)

    def to_dict(self) -> dict[str, Any]:
        """The webhook's body."""
        return {"id": self.id, "kind": self.kind, "symbol": self.symbol, "time": self.time, "text": self.text,
                "data": dict(self.data)}
