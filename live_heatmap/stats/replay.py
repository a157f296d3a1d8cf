"""The history a baseline starts with: recorded events replayed through a heatmap of the same settings, the
clusters sampled at each slot as the live rebuilds sample them (:meth:`SymbolStatistics.sample`).

The bot calls it at start with the recorder's event store (``EventStore.events(since_ms=...)`` over the
statistics' retention, bounded by the recorder's); from then on the live rebuilds add the next slots.
"""

from __future__ import annotations

from collections.abc import Iterable

from live_heatmap.config import HeatmapConfig
from live_heatmap.heatmap import LiveLiquidationHeatmap
from live_heatmap.stats.baseline import ClusterBaseline
from live_heatmap.wire.events import LiquidationEvent

__all__ = ["replay_history"]


def replay_history(baseline: ClusterBaseline, events: Iterable[LiquidationEvent], config: HeatmapConfig, *,
                   until_ms: int) -> int:
    """Sample the clusters of ``events`` (sorted by trade time, as the store and ``load_events`` give them) into
    ``baseline`` at every sample slot from the first event to ``until_ms`` (excluded: the live sampling takes it
    from there). Returns the number of (symbol, slot) samples taken."""
    step = baseline.sample_ms
    clock_ms = 0
    heatmap = LiveLiquidationHeatmap(config=config, clock=lambda: clock_ms)
    pending: list[LiquidationEvent] = []
    taken = 0
    slot_end: int | None = None
    active: set[str] = set()
    horizon_ms = int(config.horizon_minutes * 60_000)
    last_seen: dict[str, int] = {}

    def sample_until(limit: int) -> None:
        nonlocal slot_end, clock_ms, taken
        while slot_end is not None and slot_end <= limit and slot_end < until_ms:
            clock_ms = slot_end
            heatmap.ingest_many(pending, notify=False)
            pending.clear()
            for symbol in list(active):
                if last_seen[symbol] < slot_end - horizon_ms:  # nothing left inside the horizon
                    active.discard(symbol)
                clusters = heatmap.get_clusters(symbol, now_ms=slot_end)
                taken += baseline.add(symbol, slot_end, (c.weighted_notional for c in clusters))
            slot_end += step

    for event in events:
        t = event.trade_time
        if t >= until_ms:
            break
        if slot_end is None:
            slot_end = (t // step + 1) * step
        sample_until(t - 1)
        pending.append(event)
        active.add(event.symbol)
        last_seen[event.symbol] = t
    sample_until(until_ms - 1)
    return taken
