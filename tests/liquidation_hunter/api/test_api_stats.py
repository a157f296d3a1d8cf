"""/api/v1/density and /api/v1/stats, and the z-scores on the clusters, over the real recorded session (issue 16)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
from conftest import WIRE
from helpers import Client

from liquidation_hunter.api import ApiServer, ApiSource, source_from_recording
from liquidation_hunter.config.sections import StatsConfig
from live_heatmap.stats import density_profile

AT = 1_737_998_400_000  # 2025-01-27T17:20:00Z
STATS = StatsConfig(min_history=5, sample_minutes=1)


@pytest.fixture(scope="module")
def source() -> ApiSource:
    return source_from_recording(WIRE, at_ms=AT, stats=STATS)


@pytest.fixture(scope="module")
def client(source: ApiSource) -> Iterator[Client]:
    with ApiServer(source, host="127.0.0.1", port=0) as server:
        c = Client(server.port)
        yield c
        c.close()


def test_density_is_the_profile_of_the_heatmap_events(client: Client, source: ApiSource) -> None:
    body = client.json("/api/v1/density/BTCUSDT?bandwidth=0.002")
    cols = source.heatmap.events_since("BTCUSDT", AT - int(source.heatmap.config.horizon_minutes * 60_000))
    upto = cols.trade_time <= AT
    want = density_profile(cols.price[upto], cols.notional[upto], cols.trade_time[upto], cols.is_long[upto],
                           now_ms=AT, time_decay_minutes=60.0, bandwidth=0.002)
    assert body["events"] == want.events == int(upto.sum()) > 10
    assert body["bandwidth"] == 0.002 and body["long_notional"] == pytest.approx(want.long_notional)
    assert len(body["prices"]) <= 600 and body["prices"] == sorted(body["prices"])
    peak = int(np.argmax(body["long"]))
    assert body["long"][peak] == pytest.approx(float(np.max(want.long)), rel=0.05)
    default = client.json("/api/v1/density/BTCUSDT")
    assert default["bandwidth"] == STATS.bandwidth


@pytest.mark.parametrize("query", ["?bandwidth=0", "?bandwidth=1", "?bandwidth=x", "?band=1"])
def test_a_bad_bandwidth_is_a_400_naming_it(client: Client, query: str) -> None:
    body = client.json(f"/api/v1/density/BTCUSDT{query}", status=400)
    assert "band" in body["detail"]


def test_stats_summarise_the_clusters_with_their_z_scores(client: Client, source: ApiSource) -> None:
    body = client.json("/api/v1/stats/BTCUSDT")
    clusters = client.json("/api/v1/clusters/BTCUSDT")["clusters"]
    assert body["clusters"] == len(clusters) >= 1
    assert body["total_notional"] == pytest.approx(sum(c["weighted_notional"] for c in clusters))
    assert body["history_events"] >= STATS.min_history  # the recording's clusters, minute by minute
    stats = source.statistics_of().baseline.statistics("BTCUSDT")
    assert stats is not None
    for c in clusters:
        assert c["history_events"] == body["history_events"]
        assert c["z_score"] == pytest.approx((math.log(c["weighted_notional"]) - stats[0]) / stats[1])
    assert body["high_risk_clusters"] == sum(c["risk_level"] in ("high", "extreme") for c in clusters)
    longs = sum(c["weighted_notional"] for c in clusters if c["side"] == "long")
    assert body["dominant_side"] == ("long" if longs > body["total_notional"] / 2 else "short")
    assert client.json("/api/v1/stats/NOPEUSDT", status=404)["error"] == "unknown symbol"
