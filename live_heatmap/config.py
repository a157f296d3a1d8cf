"""Heatmap parameters: one frozen, checked value (docs/INTERNALS.md, "How clusters are built")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from msgspec import Meta

from live_heatmap.common.structs import ConfigError, Settings, convert

__all__ = ["ConfigError", "HeatmapConfig"]


class HeatmapConfig(Settings, frozen=True):
    """Clustering and window parameters; bad values raise :class:`ConfigError` naming the key."""

    cluster_window_pct: Annotated[float, Meta(gt=0, lt=1)] = 0.02
    """Widest a cluster may be, as a fraction of its lowest price (0.02 = 2 %)."""
    min_cluster_size: Annotated[int, Meta(ge=1)] = 5
    """Fewest events (inside ``max_age_minutes``) a reported cluster holds."""
    time_decay_minutes: Annotated[float, Meta(gt=0)] = 60.0
    """``tau`` in ``exp(-age_minutes / tau)``."""
    update_interval: Annotated[float, Meta(gt=0)] = 5.0
    """Seconds a built set of clusters stays fresh before a read rebuilds it."""
    max_events: Annotated[int, Meta(ge=1)] = 10_000
    """Events kept per symbol (oldest arrivals dropped first)."""
    max_age_minutes: Annotated[float, Meta(gt=0)] | None = None
    """Events older than this are ignored and pruned; default ``3 * time_decay_minutes``."""
    reference_multiple: Annotated[float, Meta(gt=0)] = 10.0
    """``k`` in the strength reference ``max(floor, k * median event notional)``."""
    min_reference_notional: Annotated[float, Meta(gt=0)] = 10_000.0
    """The floor of the strength reference, in quote currency."""
    count_weight: Annotated[float, Meta(ge=0, le=1)] = 0.25
    """Share of the event count in strength (the rest is weighted notional)."""

    @property
    def horizon_minutes(self) -> float:
        """How far back events count: ``max_age_minutes`` or ``3 * time_decay_minutes``."""
        return self.max_age_minutes if self.max_age_minutes is not None else 3.0 * self.time_decay_minutes

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None, where: str | None = "heatmap") -> HeatmapConfig:
        """From a YAML section; unknown keys and bad values raise :class:`ConfigError` naming the key."""
        return convert(cls, values, where)
