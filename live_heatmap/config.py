"""Heatmap parameters: one frozen, validated object."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

__all__ = ["ConfigError", "HeatmapConfig", "section_from_mapping"]

_T = TypeVar("_T")


class ConfigError(ValueError):
    """A parameter is unknown, of the wrong type or out of range. The message names the key."""


def _check(cond: bool, key: str, expected: str, value: object) -> None:
    if not cond:
        raise ConfigError(f"{key}: expected {expected}, got {value!r}")


@dataclass(frozen=True, slots=True)
class HeatmapConfig:
    """Clustering and window parameters (README, "How clusters are built")."""

    cluster_window_pct: float = 0.02
    """Widest a cluster may be, as a fraction of its lowest price (0.02 = 2 %)."""
    min_cluster_size: int = 5
    """Fewest events (inside ``max_age_minutes``) a reported cluster holds."""
    time_decay_minutes: float = 60.0
    """``tau`` in ``exp(-age_minutes / tau)``."""
    update_interval: float = 5.0
    """Seconds a built set of clusters stays fresh before a read rebuilds it."""
    max_events: int = 10_000
    """Events kept per symbol (oldest arrivals dropped first)."""
    max_age_minutes: float | None = None
    """Events older than this are ignored and pruned; default ``3 * time_decay_minutes``."""
    reference_multiple: float = 10.0
    """``k`` in the strength reference ``max(floor, k * median event notional)``."""
    min_reference_notional: float = 10_000.0
    """The floor of the strength reference, in quote currency."""
    count_weight: float = 0.25
    """Share of the event count in strength (the rest is weighted notional)."""

    def __post_init__(self) -> None:
        w = self.cluster_window_pct
        _check(isinstance(w, int | float) and 0.0 < w < 1.0, "cluster_window_pct", "a fraction in (0, 1)", w)
        m = self.min_cluster_size
        _check(isinstance(m, int) and not isinstance(m, bool) and m >= 1, "min_cluster_size", "an integer >= 1", m)
        for key in ("time_decay_minutes", "update_interval", "reference_multiple"):
            v = getattr(self, key)
            _check(isinstance(v, int | float) and math.isfinite(v) and v > 0, key, "a positive number", v)
        me = self.max_events
        _check(isinstance(me, int) and not isinstance(me, bool) and me >= 1, "max_events", "an integer >= 1", me)
        ma = self.max_age_minutes
        _check(ma is None or (isinstance(ma, int | float) and math.isfinite(ma) and ma > 0),
               "max_age_minutes", "a positive number or null", ma)
        f = self.min_reference_notional
        _check(isinstance(f, int | float) and math.isfinite(f) and f > 0, "min_reference_notional",
               "a positive number", f)
        cw = self.count_weight
        _check(isinstance(cw, int | float) and 0.0 <= cw <= 1.0, "count_weight", "a number in [0, 1]", cw)

    @property
    def horizon_minutes(self) -> float:
        """How far back events count: ``max_age_minutes`` or ``3 * time_decay_minutes``."""
        return self.max_age_minutes if self.max_age_minutes is not None else 3.0 * self.time_decay_minutes

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = "heatmap") -> HeatmapConfig:
        """Build from a YAML section; unknown keys are rejected with their path."""
        return section_from_mapping(cls, values, where)


def section_from_mapping(cls: type[_T], values: Mapping[str, Any], where: str) -> _T:
    """``cls(**values)`` for a config dataclass, errors prefixed with ``where``; unknown keys refused."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a mapping of keys to values, got {values!r}")
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
    try:
        return cls(**dict(values))
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc}") from None
