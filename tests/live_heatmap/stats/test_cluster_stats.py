"""SymbolStatistics over a heatmap of real events: clusters with z-scores, the summary (issue 16)."""

from __future__ import annotations

import math

from live_heatmap.heatmap import LiveLiquidationHeatmap
from live_heatmap.stats import ClusterBaseline, RiskThresholds, SymbolStatistics, replay_history
from live_heatmap.store.history import load_events
from tests.conftest import DATA


def _statistics(min_history: int) -> tuple[SymbolStatistics, int]:
    events = load_events(DATA / "liquidations_normalized.csv", symbols=["RAREUSDT"])
    now = events[-1].trade_time + 1
    heatmap = LiveLiquidationHeatmap()
    baseline = ClusterBaseline(min_history=min_history, retention_days=3650, max_samples=100_000)
    replay_history(baseline, events, heatmap.config, until_ms=now)
    heatmap.ingest_many(events, notify=False)
    return SymbolStatistics(heatmap, baseline, thresholds=RiskThresholds(2.0, 1.0, 0.5)), now


def test_clusters_carry_z_scores_against_the_symbol_history() -> None:
    statistics, now = _statistics(min_history=10)
    stats = statistics.clusters("RAREUSDT", now)
    assert stats and [s.cluster for s in stats] == statistics.heatmap.get_clusters("RAREUSDT", now_ms=now)
    centre, scale = statistics.baseline.statistics("RAREUSDT") or (math.nan, math.nan)
    for s in stats:
        assert s.history_events == statistics.baseline.history_events("RAREUSDT") >= 10
        assert s.z_score == (math.log(s.cluster.weighted_notional) - centre) / scale
        row = s.to_dict()
        assert row["z_score"] == s.z_score and row["risk_level"] == s.risk_level
        assert row["cluster_id"] == s.cluster.cluster_id
    summary = statistics.summary("RAREUSDT", now)
    assert summary["clusters"] == len(stats)
    assert summary["total_notional"] == sum(s.cluster.weighted_notional for s in stats)
    side = max(("long", "short"), key=lambda x: summary[f"{x}_notional"])
    assert summary["dominant_side"] == side
    assert summary["high_risk_clusters"] == sum(s.risk_level in ("high", "extreme") for s in stats)


def test_without_enough_history_the_z_score_is_null() -> None:
    statistics, now = _statistics(min_history=100_000)
    stats = statistics.clusters("RAREUSDT", now)
    assert stats and all(s.z_score is None and s.risk_level is None for s in stats)
    summary = statistics.summary("RAREUSDT", now)
    assert summary["high_risk_clusters"] == 0 and summary["max_z_score"] is None
    assert statistics.summary("NOSUCHUSDT", now)["dominant_side"] is None


def test_sampling_is_once_a_slot_and_reading_changes_nothing() -> None:
    statistics, now = _statistics(min_history=10)
    baseline = statistics.baseline
    before = baseline.history_events("RAREUSDT")
    statistics.clusters("RAREUSDT", now)
    statistics.summary("RAREUSDT", now)
    assert baseline.history_events("RAREUSDT") == before
    assert statistics.sample(now) == 0  # the replay sampled this slot already
    later = now + baseline.sample_ms
    clusters = len(statistics.heatmap.get_clusters("RAREUSDT", now_ms=later))
    assert clusters > 0
    assert statistics.sample(later) == 1
    assert baseline.history_events("RAREUSDT") == before + clusters
    assert statistics.sample(later + 1) == 0  # the same slot
    assert baseline.history_events("RAREUSDT") == before + clusters


def test_kept_clusters_are_every_symbol_s_clusters_with_stats() -> None:
    statistics, now = _statistics(min_history=10)
    statistics.heatmap.ingest_many(load_events(DATA / "liquidations_normalized.csv", symbols=["SYNUSDT"]),
                                   notify=False)
    statistics.sample(now)
    kept = statistics.kept_clusters()
    assert {s.cluster.symbol for s in kept} == {"RAREUSDT", "SYNUSDT"}
    assert kept == [s for symbol in statistics.heatmap.symbols() for s in statistics.clusters(symbol, now)]


def test_kept_clusters_are_the_last_sample_ones() -> None:
    statistics, now = _statistics(min_history=10)
    assert statistics.kept_clusters(now) == [] and statistics.latest_at is None
    statistics.sample(now)
    assert statistics.latest_at == now
    assert statistics.kept_clusters() == statistics.clusters("RAREUSDT", now) != []
    assert statistics.latest_summaries() == [statistics.summary("RAREUSDT", now)]
