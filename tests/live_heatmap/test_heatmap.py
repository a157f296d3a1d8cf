"""The heatmap as a component: windows, eviction, rebuild throttling, threads, symbol forms."""

from __future__ import annotations

import threading
import time

import pytest
from helpers import MINUTE, NOW, event, heatmap_with

from live_heatmap import ConfigError, HeatmapConfig, LiquidationEvent, LiveLiquidationHeatmap, parse_force_order
from live_heatmap.window import EventColumns


def test_symbols_are_accepted_in_either_form() -> None:
    heatmap = heatmap_with([event(100.0 + i * 0.01, 10, symbol="1000PEPEUSDT") for i in range(5)])
    heatmap.update_price("1000PEPE/USDT:USDT", 101.0)
    assert heatmap.get_price("1000PEPEUSDT") == 101.0
    by_id = heatmap.get_clusters("1000PEPEUSDT")
    assert by_id == heatmap.get_clusters("1000PEPE/USDT:USDT") == heatmap.get_clusters("1000pepeusdt")
    assert len(by_id) == 1 and by_id[0].distance_from_price is not None


def test_unknown_symbol_has_no_clusters() -> None:
    heatmap = LiveLiquidationHeatmap()
    assert heatmap.get_clusters("ETHUSDT") == [] and heatmap.get_best_cluster("ETH/USDT:USDT") is None


def test_filters_min_strength_max_distance_and_side() -> None:
    near = [event(100.0 + i * 0.01, 100) for i in range(8)]
    far = [event(80.0 + i * 0.01, 100, side="short") for i in range(8)]
    weak = [event(90.0 + i * 0.01, 0.01) for i in range(5)]
    heatmap = heatmap_with(near + far + weak)
    assert len(heatmap.get_clusters("BTCUSDT")) == 3  # without a price no distance filter applies
    heatmap.update_price("BTCUSDT", 101.0)
    assert [c.price_low for c in heatmap.get_clusters("BTCUSDT", max_distance=5.0)] == [100.0]
    assert all(c.strength >= 0.5 for c in heatmap.get_clusters("BTCUSDT", min_strength=0.5))
    assert [c.side for c in heatmap.get_clusters("BTCUSDT", side="short")] == ["short"]
    best = heatmap.get_best_cluster("BTCUSDT", min_strength=0.0)
    assert best is not None and best.strength == max(c.strength for c in heatmap.get_clusters("BTCUSDT"))
    assert heatmap.get_best_cluster("BTCUSDT", min_strength=1.01) is None


def test_price_updates_move_distances_without_a_rebuild() -> None:
    heatmap = heatmap_with([event(100.0 + i * 0.01, 100) for i in range(5)])
    heatmap.update_price("BTCUSDT", 110.0)
    first = heatmap.get_clusters("BTCUSDT")[0]
    rebuilds = heatmap.rebuilds
    heatmap.update_price("BTCUSDT", 120.0)
    second = heatmap.get_clusters("BTCUSDT")[0]
    assert heatmap.rebuilds == rebuilds
    assert second.distance_from_price == pytest.approx(abs(second.price_level - 120) / 120 * 100)
    assert second.distance_from_price > first.distance_from_price  # type: ignore[operator]
    with pytest.raises(ValueError, match="positive finite"):
        heatmap.update_price("BTCUSDT", float("nan"))


def test_clusters_rebuild_at_most_every_update_interval_never_per_event() -> None:
    now = [NOW]
    heatmap = LiveLiquidationHeatmap(update_interval=5.0, clock=lambda: now[0])
    for i in range(5):
        heatmap.ingest(event(100.0 + i * 0.01, 10))
    assert heatmap.rebuilds == 0  # ingesting builds nothing
    assert heatmap.get_clusters("BTCUSDT")[0].liquidation_count == 5
    for i in range(50):  # many events and reads inside one interval: no rebuild
        heatmap.ingest(event(100.1 + i * 0.001, 10))
        heatmap.get_clusters("BTCUSDT")
    assert heatmap.rebuilds == 1
    assert heatmap.get_clusters("BTCUSDT")[0].liquidation_count == 5  # still the built set
    now[0] += 5_000
    assert heatmap.get_clusters("BTCUSDT")[0].liquidation_count == 55  # stale: rebuilt on demand
    assert heatmap.rebuilds == 2
    heatmap.rebuild("BTCUSDT")  # the scheduler may force one
    assert heatmap.rebuilds == 3


def test_max_events_keeps_the_newest_and_forgets_their_dedupe_keys() -> None:
    heatmap = LiveLiquidationHeatmap(max_events=10, clock=lambda: NOW)
    events = [event(100.0 + i, 1, age_min=30 - i) for i in range(25)]
    for e in events:
        assert heatmap.ingest(e)
    assert heatmap.event_count("BTCUSDT") == 25  # pending, not yet folded into the window
    held = heatmap.events("BTCUSDT")
    assert held == events[-10:]
    assert heatmap.event_count("BTCUSDT") == 10
    assert heatmap.ingest(events[0])  # evicted, so no longer a duplicate
    assert not heatmap.ingest(events[-1])


def test_old_events_are_pruned_at_rebuild() -> None:
    now = [NOW]
    heatmap = LiveLiquidationHeatmap(time_decay_minutes=10, clock=lambda: now[0])  # horizon 30 min
    for i in range(5):
        heatmap.ingest(event(100.0 + i * 0.01, 10))
    now[0] += 31 * MINUTE
    assert heatmap.get_clusters("BTCUSDT") == []
    assert heatmap.event_count("BTCUSDT") == 0
    assert heatmap.ingest(event(100.0, 10))  # its old twin is gone from the dedupe set too


def _since(events: list[LiquidationEvent], since_ms: int) -> list[tuple[int, bool, float, float]]:
    """The specification of events_since, from the whole window: filter, then a stable sort by trade time."""
    kept = sorted((e for e in events if e.trade_time >= since_ms), key=lambda e: e.trade_time)
    return [(e.trade_time, e.side == "long", e.price, e.quantity) for e in kept]


def _rows(columns: EventColumns) -> list[tuple[int, bool, float, float]]:
    return list(zip(columns.trade_time.tolist(), columns.is_long.tolist(), columns.price.tolist(),
                    columns.quantity.tolist(), strict=True))


@pytest.mark.parametrize("max_events", [10_000, 25])  # 25: the rings have wrapped, the oldest arrivals are gone
def test_events_since_is_the_window_filtered_by_trade_time(wire_lines: list[bytes], max_events: int) -> None:
    heatmap = LiveLiquidationHeatmap(max_events=max_events, clock=lambda: NOW)
    shuffled = wire_lines[::2] + wire_lines[1::2]  # arrivals out of trade-time order
    for line in shuffled[:-50]:
        heatmap.ingest(line)
    heatmap.events("BTCUSDT")  # fold into the ring; the last 50 frames stay pending
    for line in shuffled[-50:]:
        heatmap.ingest(line)
    for symbol in ("BTCUSDT", "ETHUSDT", "1000PEPEUSDT"):
        held = heatmap.events(symbol)
        assert len(held) == 25 if max_events == 25 else len(held) > 50  # each has more than 50 in the recording
        times = sorted(e.trade_time for e in held)
        for since in (0, times[0], times[len(times) // 2], times[-1], times[-1] + 1):
            got = heatmap.events_since(symbol, since)
            assert _rows(got) == _since(held, since), (symbol, since)
            assert got.notional.tolist() == [e.price * e.quantity for e in sorted(
                (e for e in held if e.trade_time >= since), key=lambda e: e.trade_time)]
    recent = heatmap.events_since("BTC/USDT:USDT", 0)
    assert _rows(recent) == _rows(heatmap.events_since("btcusdt", 0))
    unknown = heatmap.events_since("XYZUSDT", 0)
    assert unknown.trade_time.size == 0 and unknown.notional.size == 0


def test_events_since_copies_only_the_recent_events_and_prunes_nothing() -> None:
    heatmap = heatmap_with([event(100.0 + i, 1, age_min=100 - i) for i in range(100)])
    recent = heatmap.events_since("BTCUSDT", NOW - 5 * MINUTE)
    assert recent.price.tolist() == [195.0, 196.0, 197.0, 198.0, 199.0]
    recent.price[:] = 0.0  # a copy: the window is untouched
    assert heatmap.events_since("BTCUSDT", NOW - 5 * MINUTE).price.tolist() == [195.0, 196.0, 197.0, 198.0, 199.0]
    assert heatmap.event_count("BTCUSDT") == 100


def test_memory_per_symbol_is_bounded(wire_lines: list[bytes]) -> None:
    heatmap = LiveLiquidationHeatmap(clock=lambda: NOW)
    for i in range(10_000):
        heatmap.ingest(event(90_000 + (i % 997), 0.01 + i * 1e-6, age_min=(i % 170)))
    heatmap.rebuild("BTCUSDT")
    assert heatmap.event_count("BTCUSDT") == 10_000
    assert heatmap.memory_bytes("BTCUSDT") < 1_500_000


def test_readers_never_see_a_half_built_state() -> None:
    """A writer thread streams events while readers query: every read is a complete, sorted set."""
    heatmap = LiveLiquidationHeatmap(update_interval=0.001, max_events=2000, clock=lambda: NOW)
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:  # like the stream thread: bursts of frames, then waiting on the socket
        i = 0
        while not stop.is_set():
            for _ in range(50):
                heatmap.ingest(event(100.0 + (i % 400) * 0.01, 1 + i % 7, age_min=(i % 100) / 10,
                                     side="long" if i % 3 else "short"))
                i += 1
            time.sleep(0.0005)

    def read() -> None:
        try:
            for _ in range(100):
                clusters = heatmap.get_clusters("BTCUSDT", now_ms=NOW)
                strengths = [c.strength for c in clusters]
                assert strengths == sorted(strengths, reverse=True)
                for c in clusters:
                    assert c.liquidation_count >= 5 and c.price_low <= c.price_level <= c.price_high
                heatmap.rebuild("BTCUSDT", now_ms=NOW)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    writer = threading.Thread(target=write)
    readers = [threading.Thread(target=read) for _ in range(3)]
    writer.start()
    for r in readers:
        r.start()
    for r in readers:
        r.join()
    stop.set()
    writer.join()
    assert not errors, errors[0]
    assert heatmap.stats()["accepted"] > 0


def test_replayed_recording_gives_the_same_clusters_in_any_order(wire_lines: list[bytes]) -> None:
    now = 1738000000000
    forward = LiveLiquidationHeatmap(clock=lambda: now)
    backward = LiveLiquidationHeatmap(clock=lambda: now)
    forward.ingest_many(wire_lines)
    backward.ingest_many(reversed(wire_lines))
    for symbol in forward.symbols():
        a, b = forward.get_clusters(symbol), backward.get_clusters(symbol)
        assert [(c.cluster_id, c.liquidation_count, c.price_low, c.price_high) for c in a] == \
               [(c.cluster_id, c.liquidation_count, c.price_low, c.price_high) for c in b]
        for x, y in zip(a, b, strict=True):  # sums in another order differ in the last bits only
            assert (y.price_level, y.strength) == pytest.approx((x.price_level, x.strength), rel=1e-12)
    assert sum(len(forward.get_clusters(s)) for s in forward.symbols()) > 10


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="cluster_window_pct"):
        LiveLiquidationHeatmap(cluster_window_pct=2.0)
    with pytest.raises(ConfigError, match="min_cluster_size"):
        LiveLiquidationHeatmap(min_cluster_size=0)
    with pytest.raises(ConfigError, match=r"heatmap\.window: unknown key"):
        HeatmapConfig.from_mapping({"window": 1})
    with pytest.raises(ConfigError, match=r"heatmap\.time_decay_minutes"):
        HeatmapConfig.from_mapping({"time_decay_minutes": -1})


def test_guide_compatible_construction() -> None:
    heatmap = LiveLiquidationHeatmap(cluster_window_pct=0.02, min_cluster_size=5, time_decay_minutes=60,
                                     update_interval=5.0)
    assert (heatmap.cluster_window_pct, heatmap.min_cluster_size, heatmap.time_decay_minutes,
            heatmap.update_interval) == (0.02, 5, 60, 5.0)
    assert heatmap.ingest(parse_force_order(
        b'{"e":"forceOrder","E":1718901133106,"o":{"s":"BTCUSDT","S":"SELL","q":"1","p":"1","ap":"1",'
        b'"X":"FILLED","z":"1","T":1718901133106}}'))
