"""The hunter: a golden table for the default rule, data sources, and the peer's defects."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import WIRE
from helpers import NOW, cluster, event, heatmap_with

from liquidation_hunter import Attached, HunterConfig, LiquidationHunter, Signal, magnet_rule, register_source
from live_heatmap import ConfigError, LiquidationCluster, LiveLiquidationHeatmap, parse_force_order
from live_heatmap.store.history import export_events, load_events

# (clusters, price, expected signal, expected cluster level)
GOLDEN = [
    ([], 100.0, 0, None),
    ([cluster("long", 98.0, 0.9)], 100.0, -1, 98.0),  # longs below: short toward them
    ([cluster("short", 102.0, 0.9)], 100.0, 1, 102.0),  # shorts above: long toward them
    ([cluster("long", 102.0, 0.9)], 100.0, 0, None),  # longs above: already traded through
    ([cluster("short", 98.0, 0.9)], 100.0, 0, None),  # shorts below: already traded through
    ([cluster("long", 98.0, 0.59)], 100.0, 0, None),  # below min_strength 0.6
    ([cluster("long", 99.9, 0.9)], 100.0, 0, None),  # 0.1 % away: inside min_distance_pct 0.2
    ([cluster("long", 94.0, 0.9)], 100.0, 0, None),  # 6 % away: beyond max_distance_pct 5
    ([cluster("long", 98.5, 0.8), cluster("short", 104.5, 0.85)], 100.0, -1, 98.5),  # proximity: 1.5 % beats 4.5 %
    ([cluster("long", 98.5, 0.7), cluster("short", 101.5, 0.9)], 100.0, 1, 101.5),  # same distance: strength wins
    ([cluster("long", 98.5, 0.9, notional=1e4), cluster("long", 101.5, 0.9)], 100.0, -1, 98.5),
]


@pytest.mark.parametrize(("clusters", "price", "signal", "level"), GOLDEN)
def test_magnet_rule_golden_table(clusters: list[LiquidationCluster], price: float, signal: int,
                                  level: float | None) -> None:
    direction, chosen, reason = magnet_rule(clusters, price, HunterConfig())
    assert direction == signal
    assert (chosen.price_level if chosen else None) == level
    assert reason


def test_side_switches_disable_a_direction() -> None:
    clusters = [cluster("short", 102.0, 0.9)]
    assert magnet_rule(clusters, 100.0, HunterConfig(allow_long=False))[0] == 0


def _hunter_with_long_cluster_below(price_level: float = 98.0) -> LiquidationHunter:
    events = [event(price_level + i * 0.01, 200) for i in range(10)]
    return LiquidationHunter(heatmap=heatmap_with(events))


def test_generate_signal_returns_the_guides_tuple() -> None:
    hunter = _hunter_with_long_cluster_below()
    signal, strength, found = hunter.generate_signal("BTC/USDT:USDT", 100.0)
    assert signal == -1 and found is not None and strength == found.strength >= 0.6
    assert found.side == "long" and found.price_level < 100.0


def test_evaluate_places_take_profit_short_of_the_cluster_and_stop_on_the_other_side() -> None:
    hunter = _hunter_with_long_cluster_below()
    sig = hunter.evaluate("BTCUSDT", 100.0)
    assert isinstance(sig, Signal) and sig.symbol == "BTC/USDT:USDT" and sig.side == "sell"
    assert sig.cluster is not None and sig.take_profit is not None and sig.stop_loss is not None
    level = sig.cluster.price_level
    assert level < sig.take_profit < 100.0 < sig.stop_loss
    assert sig.take_profit == pytest.approx(100.0 + (level - 100.0) * 0.8)
    assert (sig.stop_loss - 100.0) == pytest.approx((100.0 - sig.take_profit) / 2.0)
    nothing = hunter.evaluate("ETH/USDT:USDT", 3000.0)
    assert (nothing.direction, nothing.cluster, nothing.entry) == (0, None, None)


def test_evaluate_leaves_the_heatmap_alone() -> None:
    """Evaluation reads: the price it is given is not written into the shared heatmap (the API and the bot
    read the same heatmap), for a symbol with a price and one without. (Reading clusters may rebuild the
    heatmap's cluster cache, as any reader does.)"""
    hunter = _hunter_with_long_cluster_below()
    heatmap = hunter.heatmap
    heatmap.update_price("BTCUSDT", 99.0, NOW - 60_000)
    before = (heatmap.get_price_at("BTCUSDT"), heatmap.event_count("BTCUSDT"), heatmap.symbols())
    assert hunter.evaluate("BTCUSDT", 100.0, now_ms=NOW).direction == -1
    hunter.evaluate("ETH/USDT:USDT", 3000.0, now_ms=NOW)
    assert (heatmap.get_price_at("BTCUSDT"), heatmap.event_count("BTCUSDT"), heatmap.symbols()) == before
    assert heatmap.get_price("ETHUSDT") is None


def test_hunter_uses_the_heatmaps_clusters_as_they_are() -> None:
    """Peer defect 5: clusters expanded into synthetic points and re-clustered, losing the decay."""
    events = [event(98.0 + i * 0.001, 200, age_min=i * 3) for i in range(20)]
    heatmap = heatmap_with(events)
    hunter = LiquidationHunter(heatmap=heatmap)
    _, strength, found = hunter.generate_signal("BTC/USDT:USDT", 100.0)
    assert found in heatmap.get_clusters("BTCUSDT")
    expected = sum(e.notional * math.exp(-(NOW - e.trade_time) / 3_600_000) for e in events)
    assert found is not None and found.weighted_notional == pytest.approx(expected)
    assert found.liquidation_count == 20 and strength == found.strength


def test_wrong_side_data_gives_the_opposite_trade() -> None:
    """Peer defect 1 end to end: the same prices as short liquidations give no short signal."""
    events = [event(98.0 + i * 0.01, 200, side="short") for i in range(10)]
    hunter = LiquidationHunter(heatmap=heatmap_with(events))
    assert hunter.generate_signal("BTC/USDT:USDT", 100.0)[0] == 0


def test_config_from_mapping_and_errors() -> None:
    hunter = LiquidationHunter({"min_strength": 0.8, "max_distance_pct": 3.0})
    assert hunter.config.min_strength == 0.8
    with pytest.raises(ConfigError, match=r"hunter\.min_strenght: unknown key"):
        LiquidationHunter({"min_strenght": 0.8})
    with pytest.raises(ConfigError, match="preferred_distance_pct"):
        HunterConfig(preferred_distance_pct=9.0)
    with pytest.raises(ConfigError, match="min_strength"):
        HunterConfig(min_strength=1.5)


def test_bad_price_is_refused() -> None:
    with pytest.raises(ValueError, match="current_price"):
        LiquidationHunter().generate_signal("BTC/USDT:USDT", 0.0)


def test_replay_source_with_symbol_filter() -> None:
    at = 1738000000000
    hunter = LiquidationHunter(heatmap=LiveLiquidationHeatmap(clock=lambda: at))
    heatmap = hunter.set_data_source("replay", symbols=["ETH/USDT:USDT", "SOLUSDT"], path=WIRE)
    assert heatmap.symbols() == ["ETHUSDT", "SOLUSDT"]
    assert hunter.symbols == ["ETH/USDT:USDT", "SOL/USDT:USDT"]
    last_eth = max((parse_force_order(line) for line in WIRE.read_bytes().splitlines()
                    if b'"ETHUSDT"' in line and parse_force_order(line).trade_time <= at),
                   key=lambda e: e.trade_time)
    signal = hunter.evaluate("ETH/USDT:USDT", last_eth.price)
    assert signal.direction == -1 and signal.cluster is not None and signal.cluster.side == "long"


def test_replay_source_reads_any_recording_and_counts_rejects(tmp_path: Path) -> None:
    lines = WIRE.read_bytes().splitlines()[:50]
    frames = tmp_path / "frames.jsonl"
    frames.write_bytes(b"\n".join([*lines, b'{"e":"forceOrder","o":{}}', b"not json"]) + b"\n")
    heatmap = LiquidationHunter().set_data_source("replay", path=frames)
    assert sum(heatmap.rejected.values()) == 2 and heatmap.stats()["accepted"] == 50
    exported = tmp_path / "events.csv"
    export_events(load_events(frames), "csv", exported)
    from_csv = LiquidationHunter().set_data_source("replay", path=exported)
    assert from_csv.symbols() == heatmap.symbols()
    assert [from_csv.event_count(s) for s in from_csv.symbols()] == [heatmap.event_count(s) for s in heatmap.symbols()]


def test_existing_heatmap_source_and_unknown_sources() -> None:
    hunter = LiquidationHunter()
    mine = LiveLiquidationHeatmap()
    assert hunter.set_data_source("heatmap", heatmap=mine) is mine and hunter.heatmap is mine
    with pytest.raises(ValueError, match="unknown data source 'bybit'"):
        hunter.set_data_source("bybit", symbols=["BTCUSDT"])
    with pytest.raises(TypeError, match="needs heatmap"):
        hunter.set_data_source("heatmap")


def test_custom_sources_plug_in_the_same_way() -> None:
    seen: list[list[str]] = []

    def from_list(heatmap: LiveLiquidationHeatmap, symbols: list[str], options: dict[str, object]) -> \
            LiveLiquidationHeatmap:
        seen.append(list(symbols))
        for e in options["events"]:  # type: ignore[attr-defined]
            heatmap.ingest(e)
        return heatmap

    register_source("list", from_list)  # type: ignore[arg-type]
    hunter = LiquidationHunter(heatmap=LiveLiquidationHeatmap(clock=lambda: NOW))
    hunter.set_data_source("list", symbols=["BTC/USDT:USDT"], events=[event(98 + i * 0.01, 200) for i in range(9)])
    assert seen == [["BTCUSDT"]]
    assert hunter.generate_signal("BTC/USDT:USDT", 100.0)[0] == -1


class FakeStream:
    """A source's running stream, as far as the hunter deals with it."""

    def __init__(self) -> None:
        self.stopped: list[float] = []

    def stop(self, timeout: float = 1.5) -> None:
        self.stopped.append(timeout)


def test_a_source_that_runs_a_stream_is_stopped_by_the_hunter() -> None:
    streams: list[FakeStream] = []

    def streaming(heatmap: LiveLiquidationHeatmap, symbols: list[str], options: dict[str, object]) -> Attached:
        streams.append(FakeStream())
        return Attached(heatmap, streams[-1])  # type: ignore[arg-type]

    register_source("streaming", streaming)  # type: ignore[arg-type]
    hunter = LiquidationHunter()
    assert hunter.set_data_source("streaming", symbols=["BTCUSDT"]) is hunter.heatmap
    assert hunter.stream is streams[0]
    hunter.set_data_source("streaming")  # a new source: the previous stream is stopped first
    assert streams[0].stopped == [1.5] and hunter.stream is streams[1] and not streams[1].stopped
    hunter.stop(timeout=0.5)
    hunter.stop()  # nothing left to stop
    assert streams[1].stopped == [0.5] and hunter.stream is None


def test_shipped_default_config_matches_the_code_defaults() -> None:
    import yaml
    from conftest import DATA

    from live_heatmap import HeatmapConfig

    loaded = yaml.safe_load((DATA.parent.parent / "config" / "default.yaml").read_text())
    assert HeatmapConfig.from_mapping(loaded["heatmap"]) == HeatmapConfig()
    assert HunterConfig.from_mapping(loaded["hunter"]) == HunterConfig()
