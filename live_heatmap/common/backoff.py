"""Reconnect delays as a value: capped, jittered exponential backoff that resets after a healthy period."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass(slots=True)
class Backoff:
    """``next_delay()`` grows ``initial * factor**n`` up to ``maximum``, each drawn from
    ``[(1 - jitter) * base, base]`` so that many clients do not reconnect in step.
    ``succeeded(uptime)`` after a connection ends: if it stayed up ``reset_after``
    seconds or more, the next delay starts from ``initial`` again.
    """

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    reset_after: float = 60.0
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0

    def __post_init__(self) -> None:
        if not (0 < self.initial <= self.maximum) or self.factor < 1 or not 0 <= self.jitter <= 1:
            raise ValueError(f"backoff: need 0 < initial <= maximum, factor >= 1, 0 <= jitter <= 1: {self!r}")

    def next_delay(self) -> float:
        base = min(self.maximum, self.initial * self.factor ** min(self.attempts, 64))
        self.attempts += 1
        return base * (1.0 - self.jitter * self.rng.random())

    def succeeded(self, uptime: float) -> None:
        if uptime >= self.reset_after:
            self.attempts = 0
