"""The history a baseline starts with: recorded events replayed through a heatmap of the same settings, each symbol's
clusters sampled at the start of each of its slots, as the live rebuilds sample them (:meth:`SymbolStatistics.sample`).

The bot calls it at start with the recorder's event store (``EventStore.events(since_ms=...)`` over
``stats.retention_days``, bounded by what the recorder keeps); from then on the live rebuilds add the next slots.
Events stream through: memory is the heatmap's window, not the history's length.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from live_heatmap.config import HeatmapConfig
from live_heatmap.heatmap import LiveLiquidationHeatmap
from live_heatmap.stats.baseline import ClusterBaseline
from live_heatmap.wire.events import LiquidationEvent

__all__ = ["replay_history"]


def replay_history(baseline: ClusterBaseline, events: Iterable[LiquidationEvent], config: HeatmapConfig, *,
                   until_ms: int) -> int:
    """Sample the clusters of ``events`` (sorted by trade time, as the store and ``load_events`` give them) into
    ``baseline``: each symbol at the start of each of its slots (:meth:`ClusterBaseline.next_sample_ms`) from its
    first event while it has events inside the heatmap's horizon, before ``until_ms`` (excluded: the live sampling
    takes it from there). A sample at ``t`` sees the events traded at or before ``t``. Returns the number of
    (symbol, slot) samples taken."""
    heatmap = LiveLiquidationHeatmap(config=config, clock=lambda: until_ms)
    horizon_ms = int(config.horizon_minutes * 60_000)
    due: list[tuple[int, str]] = []  # (sample time, symbol), one entry a scheduled symbol
    scheduled: set[str] = set()
    last_seen: dict[str, int] = {}
    taken = 0

    def sample_until(limit: int) -> None:
        nonlocal taken
        while due and due[0][0] <= limit:
            at, symbol = heapq.heappop(due)
            clusters = heatmap.get_clusters(symbol, now_ms=at)
            taken += baseline.add(symbol, at, (c.weighted_notional for c in clusters))
            if last_seen[symbol] >= at - horizon_ms:  # still events inside the horizon: its next slot
                heapq.heappush(due, (at + baseline.sample_ms, symbol))
            else:
                scheduled.discard(symbol)

    for event in events:
        t = event.trade_time
        if t >= until_ms:
            break
        sample_until(t - 1)
        heatmap.ingest(event)
        symbol = event.symbol
        last_seen[symbol] = t
        if symbol not in scheduled:
            scheduled.add(symbol)
            heapq.heappush(due, (baseline.next_sample_ms(symbol, t - 1), symbol))
    sample_until(until_ms - 1)
    return taken
