"""ClusterBaseline: robust z-scores against a symbol's own history (issue 16, "z-scores")."""

from __future__ import annotations

import math

import pytest

from live_heatmap.config import HeatmapConfig
from live_heatmap.heatmap import LiveLiquidationHeatmap
from live_heatmap.stats import ClusterBaseline, RiskThresholds, at_least, replay_history, risk_level
from live_heatmap.store.history import load_events
from tests.conftest import DATA

MINUTE = 60_000


def _known(baseline: ClusterBaseline, symbol: str, centre: float) -> None:
    """Logs ``ln(centre) + k`` for k in -2..2, ten of each, one slot per value: median ln(centre), MAD 1."""
    at = 0
    for k in (-2, -1, 0, 1, 2) * 10:
        baseline.add(symbol, at, [centre * math.exp(k)])
        at += baseline.sample_ms


def test_a_known_history_gives_known_z_scores() -> None:
    baseline = ClusterBaseline(min_history=50, sample_minutes=1, retention_days=365)
    _known(baseline, "BTCUSDT", 5_000_000.0)
    _known(baseline, "TINYUSDT", 500.0)
    scale = 1.4826  # MAD 1 on the log scale
    assert baseline.history_events("BTCUSDT") == 50
    assert baseline.z_score("BTCUSDT", 5_000_000.0) == pytest.approx(0.0, abs=1e-12)
    assert baseline.z_score("BTCUSDT", 5_000_000.0 * math.exp(2 * scale)) == pytest.approx(2.0)
    assert baseline.z_score("BTCUSDT", 5_000_000.0 * math.exp(-scale)) == pytest.approx(-1.0)
    # The same 50k cluster: ordinary (below the median) on the big coin, extreme on the small one.
    big, small = baseline.z_score("BTCUSDT", 50_000.0), baseline.z_score("TINYUSDT", 50_000.0)
    assert big is not None and small is not None
    assert big == pytest.approx(math.log(0.01) / scale) and risk_level(big) == "low"
    assert small == pytest.approx(math.log(100.0) / scale) and risk_level(small) == "extreme"
    assert baseline.z_scores("TINYUSDT", [500.0, 0.0, 50_000.0]) == [pytest.approx(0.0, abs=1e-12), None,
                                                                         pytest.approx(small)]


def test_a_short_history_gives_null_not_an_invented_score() -> None:
    baseline = ClusterBaseline(min_history=50, sample_minutes=1)
    for i in range(49):
        baseline.add("NEWUSDT", i * MINUTE, [1_000.0 * (i + 1)])
    assert baseline.history_events("NEWUSDT") == 49
    assert baseline.z_score("NEWUSDT", 1e9) is None
    assert baseline.z_score("NEVERSEEN", 1e9) is None and baseline.history_events("NEVERSEEN") == 0
    baseline.add("NEWUSDT", 49 * MINUTE, [50_000.0])
    assert baseline.z_score("NEWUSDT", 1e9) is not None


def test_no_spread_gives_null() -> None:
    baseline = ClusterBaseline(min_history=2, sample_minutes=1)
    for i in range(10):
        baseline.add("FLATUSDT", i * MINUTE, [1_000.0])
    assert baseline.z_score("FLATUSDT", 2_000.0) is None


def test_a_slot_is_sampled_once_and_the_retention_drops_old_samples() -> None:
    baseline = ClusterBaseline(min_history=2, sample_minutes=15, retention_days=1)
    start = baseline.phase_ms("X")  # where X's slots start
    assert 0 <= start < 15 * MINUTE and baseline.phase_ms("Y") != start  # symbols fall due apart
    assert baseline.next_sample_ms("X", start - 1) == start
    assert baseline.next_sample_ms("X", start) == start + 15 * MINUTE
    assert baseline.add("X", start, [1.0, 2.0])
    assert not baseline.add("X", start + 14 * MINUTE, [3.0])  # the same slot
    assert not baseline.due("X", start + 14 * MINUTE) and baseline.due("X", start + 15 * MINUTE)
    assert baseline.history_events("X") == 2
    assert baseline.add("X", start + 15 * MINUTE, [3.0, -1.0, math.nan])  # non-positive and NaN left out
    assert baseline.history_events("X") == 3
    assert baseline.add("X", start + 24 * 60 * MINUTE + 1, [])  # a day later: the first slot's samples leave
    assert baseline.history_events("X") == 1


def test_the_sample_cap_keeps_the_newest() -> None:
    baseline = ClusterBaseline(min_history=2, sample_minutes=1, max_samples=5)
    for i in range(8):
        baseline.add("X", i * MINUTE, [float(i + 1)])
    assert baseline.history_events("X") == 5
    # 4..8 kept: median ln 6, MAD ln(6/5)
    assert baseline.statistics("X") == (pytest.approx(math.log(6.0)), pytest.approx(1.4826 * math.log(6 / 5)))


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="min_history"):
        ClusterBaseline(min_history=1)
    with pytest.raises(ValueError, match="retention_days"):
        ClusterBaseline(retention_days=0)
    with pytest.raises(ValueError, match="thresholds"):
        RiskThresholds(extreme=1.0, high=2.0, moderate=0.5)


def test_risk_levels_follow_the_thresholds() -> None:
    assert [risk_level(z) for z in (None, -5.0, 0.99, 1.0, 2.0, 3.0)] == [None, "low", "low", "moderate", "high",
                                                                         "extreme"]
    loose = RiskThresholds(extreme=2.5, high=1.5, moderate=0.5)
    assert risk_level(2.5, loose) == "extreme" and risk_level(0.5, loose) == "moderate"
    assert at_least("extreme", "high") and at_least("high", "high") and not at_least("moderate", "high")
    assert not at_least(None, "low")


def test_replayed_history_samples_the_recorded_clusters_slot_by_slot() -> None:
    """The history at start (the recorder's events replayed) holds, for each slot, exactly the clusters a heatmap
    fed those real events up to that slot reports then."""
    events = load_events(DATA / "liquidations_normalized.csv", symbols=["RAREUSDT"])
    config = HeatmapConfig()
    baseline = ClusterBaseline(min_history=10, sample_minutes=15, retention_days=3650, max_samples=100_000)
    until = events[-1].trade_time + 1
    taken = replay_history(baseline, events, config, until_ms=until)
    step = baseline.sample_ms
    expected = 0
    slots = 0
    heatmap = LiveLiquidationHeatmap(config=config)
    i = 0
    horizon = int(config.horizon_minutes * MINUTE)
    at = baseline.next_sample_ms("RAREUSDT", events[0].trade_time - 1)
    while at < until:  # every slot of the symbol while it has events inside the horizon
        while i < len(events) and events[i].trade_time <= at:
            heatmap.ingest(events[i])
            i += 1
        expected += len(heatmap.get_clusters("RAREUSDT", now_ms=at))
        slots += 1
        if events[i - 1].trade_time < at - horizon and i < len(events):  # quiet: next slot after its next event
            at = baseline.next_sample_ms("RAREUSDT", events[i].trade_time - 1)
        elif events[i - 1].trade_time < at - horizon:
            break
        else:
            at += step
    assert expected > 20  # real clusters, not an empty comparison
    assert baseline.history_events("RAREUSDT") == expected
    assert taken == slots
    assert baseline.z_score("RAREUSDT", 1e9) is not None  # enough history
