"""The clusters job's sweep (``heatmap.rebuild()``) regroups only the symbols whose window changed or whose live
events did (one left the horizon, a future one came in); every symbol's clusters are then its groups decayed
to the sweep's time. Whatever the order of sweeps, reads and ingests, a read gives, to the last bit, what a
heatmap that builds every symbol from scratch at every sweep gives (the engine before the sweep regrouped
only what changed)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from helpers import MINUTE, NOW

from live_heatmap import LiquidationCluster, LiquidationEvent, LiveLiquidationHeatmap
from live_heatmap.clustering import FUTURE_TOLERANCE_MS, build_clusters, sort_by_side
from live_heatmap.config import HeatmapConfig

SYMBOLS = ("BTCUSDT", "ETHUSDT", "XRPUSDT", "QUIETUSDT")


def _reference(events: list[LiquidationEvent], symbol: str, now: int, config: HeatmapConfig,
               price: float | None) -> list[LiquidationCluster]:
    """Every event of ``symbol`` ingested so far, clustered from scratch at ``now``."""
    mine = [e for e in events if e.symbol == symbol]
    by_side = sort_by_side(np.array([e.price for e in mine], dtype=np.float64),
                           np.array([e.quantity for e in mine], dtype=np.float64),
                           np.array([e.trade_time for e in mine], dtype=np.int64),
                           np.array([0 if e.side == "long" else 1 for e in mine], dtype=np.int8))
    return list(build_clusters(symbol, by_side, now_ms=now, config=config, current_price=price))


@pytest.mark.parametrize("seed", range(12))
def test_a_sweep_gives_what_a_build_from_scratch_gives(seed: int) -> None:
    rng = random.Random(seed)
    config = HeatmapConfig(min_cluster_size=3, time_decay_minutes=5.0, update_interval=5.0)  # horizon 15 min
    clock = [NOW]
    heatmap = LiveLiquidationHeatmap(config=config, clock=lambda: clock[0])
    heatmap.track(["QUIETUSDT"])
    ingested: list[LiquidationEvent] = []
    # The engine before: a sweep builds every symbol with a window at its time; a read within update_interval
    # of a symbol's last build gives that build, else builds at its own time. (time, events ingested by then)
    built: dict[str, tuple[int, int]] = {}
    interval = config.update_interval * 1000
    now = latest = NOW
    for step in range(150):
        now = max(now + rng.choice((0, 1_000, 5_000, 17_000, 2 * MINUTE, 9 * MINUTE)), latest)
        for _ in range(rng.choice((0, 0, 1, 3, 8))):
            symbol = rng.choice(SYMBOLS[:3])
            age = rng.choice((0, 30_000, 4 * MINUTE, 14 * MINUTE, -FUTURE_TOLERANCE_MS - 2_000, -30_000))
            e = LiquidationEvent(symbol, rng.choice(("long", "short")), round(100.0 * rng.uniform(0.97, 1.03), 2),
                                 rng.uniform(0.1, 50.0), now, now - age + step)
            heatmap.ingest(e)
            ingested.append(e)
        if rng.random() < 0.3:
            heatmap.update_price(rng.choice(SYMBOLS), rng.uniform(95.0, 105.0), now)
        if rng.random() < 0.7:
            heatmap.rebuild(now_ms=now)
            built.update({symbol: (now, len(ingested)) for symbol in heatmap.symbols()})
        for symbol in rng.sample(SYMBOLS, len(SYMBOLS)):
            # never before an earlier read: a build prunes what is older than its horizon, for good
            read = latest = max(latest, now + rng.choice((0, 0, 1_000, 4_999, 6_000)))
            got = heatmap.get_clusters(symbol, now_ms=read)
            at, n = built.get(symbol, (None, 0))
            if at is None or not 0 <= read - at < interval:
                at, n = read, len(ingested)
                if symbol in heatmap.symbols():
                    built[symbol] = (at, n)
            assert got == _reference(ingested[:n], symbol, at, config, heatmap.get_price(symbol)), (seed, step)


def test_the_sweep_regroups_only_what_changed() -> None:
    config = HeatmapConfig(min_cluster_size=2, time_decay_minutes=1.0)  # horizon 3 min
    heatmap = LiveLiquidationHeatmap(config=config, clock=lambda: NOW)
    for i in range(3):
        heatmap.ingest(LiquidationEvent("BTCUSDT", "long", 100.0 + i * 0.01, 1.0, NOW, NOW - i))
    heatmap.track([f"S{i}USDT" for i in range(50)])
    assert heatmap.rebuild(now_ms=NOW) == 51  # the first sweep: every symbol
    assert heatmap.rebuild(now_ms=NOW + 1_000) == 0  # nothing changed
    heatmap.ingest(LiquidationEvent("S7USDT", "short", 5.0, 1.0, NOW, NOW))
    assert heatmap.rebuild(now_ms=NOW + 2_000) == 1
    assert heatmap.get_clusters("BTCUSDT", now_ms=NOW + 2_000)[0].built_at == NOW + 2_000
    assert heatmap.rebuild(now_ms=NOW + 3 * MINUTE - 1) == 1  # BTCUSDT's oldest event left the horizon
    assert heatmap.get_clusters("BTCUSDT", now_ms=NOW + 3 * MINUTE - 1)[0].liquidation_count == 2


def test_an_event_stamped_ahead_of_now_comes_in_when_now_reaches_it() -> None:
    config = HeatmapConfig(min_cluster_size=2)
    heatmap = LiveLiquidationHeatmap(config=config, clock=lambda: NOW)
    ahead = NOW + FUTURE_TOLERANCE_MS + 1_000  # live from NOW + 1_000 on (the exchange's clock runs ahead)
    for i in range(2):
        heatmap.ingest(LiquidationEvent("BTCUSDT", "short", 100.0 + i * 0.01, 1.0, ahead, ahead - i))
    heatmap.rebuild(now_ms=NOW)
    assert heatmap.get_clusters("BTCUSDT", now_ms=NOW) == []
    assert heatmap.rebuild(now_ms=NOW + 999) == 1  # the earlier one comes in
    assert heatmap.get_clusters("BTCUSDT", now_ms=NOW + 999) == []
    assert heatmap.rebuild(now_ms=NOW + 1_000) == 1  # and the later one
    assert heatmap.get_clusters("BTCUSDT", now_ms=NOW + 1_000)[0].liquidation_count == 2
