"""The API across venues: ``exchanges=`` on clusters, signal, grid and events (checked, one clear 400), each
cluster's and event's venue, accepted events per venue in the status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import Client
from venue_events import AT, three_venues

from liquidation_hunter import LiquidationHunter
from liquidation_hunter.api import ApiServer, ApiSource
from live_heatmap import LiveLiquidationHeatmap

HEATMAP = LiveLiquidationHeatmap(clock=lambda: AT)
HEATMAP.ingest_many(three_venues())


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with ApiServer(ApiSource(HEATMAP, clock=lambda: AT), host="127.0.0.1", port=0) as server:
        c = Client(server.port)
        yield c
        c.close()


def venues_of(clusters: list[dict[str, object]]) -> list[set[str]]:
    return [set(c["notional_by_venue"]) for c in clusters]  # type: ignore[call-overload]


def test_clusters_of_every_venue_and_of_some(client: Client) -> None:
    every = client.json("/api/v1/clusters/BTCUSDT")["clusters"]
    assert sorted(map(sorted, venues_of(every))) == [["binance", "bybit"], ["bybit"], ["okx"]]
    mixed = next(c for c in every if len(c["notional_by_venue"]) == 2)
    assert sum(mixed["notional_by_venue"].values()) == pytest.approx(mixed["total_notional"], rel=1e-12)
    assert client.json("/api/v1/clusters/BTCUSDT?exchanges=binance,bybit,okx")["clusters"] == every
    assert venues_of(client.json("/api/v1/clusters/BTCUSDT?exchanges=bybit")["clusters"]) == [{"bybit"}]
    some = client.json("/api/v1/clusters/BTCUSDT?exchanges=OKX,%20bybit&side=long")["clusters"]
    assert venues_of(some) == [{"okx"}]  # Bybit's three longs alone make no cluster
    assert client.json("/api/v1/clusters/BTCUSDT?exchanges=binance")["clusters"] == []


@pytest.mark.parametrize("query", ["exchanges=kraken", "exchanges=bybit,", "exchanges=", "exchanges=binance;okx"])
@pytest.mark.parametrize("route", ["clusters", "signal", "grid", "events"])
def test_a_wrong_exchanges_parameter_is_one_clear_400(client: Client, route: str, query: str) -> None:
    body = client.json(f"/api/v1/{route}/BTCUSDT?{query}", 400)
    assert body["error"] == "bad parameter"
    assert body["detail"].startswith("exchanges: expected a comma list of binance, bybit, okx") or (
        query == "exchanges=" and body["detail"].startswith("exchanges: expected a value")), body


def test_events_say_their_venue_and_filter(client: Client) -> None:
    events = client.json("/api/v1/events/BTCUSDT?limit=1000")["events"]
    assert len(events) == 17
    assert {e["exchange"] for e in events} == {"binance", "bybit", "okx"}
    okx = client.json("/api/v1/events/BTCUSDT?exchanges=okx")["events"]
    assert okx == [e for e in events if e["exchange"] == "okx"]


def test_grid_and_signal_of_some_venues(client: Client) -> None:
    grid = client.json("/api/v1/grid/BTCUSDT?window=30m&exchanges=bybit")
    assert grid["events_by_venue"] == {"bybit": 9} and grid["exchanges"] == ["bybit"]
    assert venues_of(grid["clusters"]) == [{"bybit"}]
    every = client.json("/api/v1/grid/BTCUSDT?window=30m")
    assert every["events_by_venue"] == {"binance": 3, "bybit": 9, "okx": 5} and every["exchanges"] is None
    for venues in ("okx", "bybit", "binance,bybit"):
        answer = client.json(f"/api/v1/signal/BTCUSDT?exchanges={venues}&min_strength=0")
        hunter = LiquidationHunter({"min_strength": 0.0}, HEATMAP, exchanges=venues.split(","))
        expected = hunter.evaluate("BTCUSDT", answer["price"], now_ms=AT)
        assert (answer["signal"]["direction"], answer["signal"]["reason"]) == (expected.direction, expected.reason)
        assert answer["best_cluster"] == (expected.cluster.to_dict() if expected.cluster else None)


def test_status_counts_accepted_events_per_venue(client: Client) -> None:
    heatmap = client.json("/api/v1/status")["heatmap"]
    assert heatmap["accepted_by_venue"] == {"binance": 3, "bybit": 9, "okx": 5} and heatmap["accepted"] == 17
