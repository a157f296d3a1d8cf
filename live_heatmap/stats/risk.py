"""Risk levels: a cluster's z-score against its symbol's own history, named ``extreme``, ``high``, ``moderate``
or ``low`` by configurable thresholds (defaults 3 / 2 / 1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULT_THRESHOLDS", "RISK_LEVELS", "RiskLevel", "RiskThresholds", "at_least", "risk_level"]

RiskLevel = Literal["extreme", "high", "moderate", "low"]
RISK_LEVELS: tuple[RiskLevel, ...] = ("low", "moderate", "high", "extreme")
"""The levels from the lowest to the highest: ``RISK_LEVELS.index(level)`` orders them."""


@dataclass(frozen=True, slots=True)
class RiskThresholds:
    """The z-scores at or above which a cluster is ``extreme``, ``high`` or ``moderate`` (else ``low``)."""

    extreme: float = 3.0
    high: float = 2.0
    moderate: float = 1.0

    def __post_init__(self) -> None:
        if not (self.extreme >= self.high >= self.moderate):
            raise ValueError(f"risk thresholds: expected extreme >= high >= moderate, got {self.extreme}, "
                             f"{self.high}, {self.moderate}")


DEFAULT_THRESHOLDS = RiskThresholds()
"""3 / 2 / 1, the issue's defaults."""


def risk_level(z: float | None, thresholds: RiskThresholds = DEFAULT_THRESHOLDS) -> RiskLevel | None:
    """The level of a z-score; ``None`` for no z-score (a symbol without enough history)."""
    if z is None:
        return None
    if z >= thresholds.extreme:
        return "extreme"
    if z >= thresholds.high:
        return "high"
    if z >= thresholds.moderate:
        return "moderate"
    return "low"


def at_least(level: RiskLevel | None, floor: RiskLevel) -> bool:
    """True when ``level`` is ``floor`` or above (``None``, no z-score, is never at least anything)."""
    return level is not None and RISK_LEVELS.index(level) >= RISK_LEVELS.index(floor)
