"""``GET /api/v1/unified/{symbol}`` and ``GET /api/v1/depth/{symbol}`` (issue 15) over the real server on 127.0.0.1:
a real liquidity layer fed synthetic books with walls (one standing, one pulled, one filled), a heatmap with a
long cluster under a wall, and the estimated layer; the layers missing are null and named in the warnings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import NOW, Client, event, heatmap_with
from liquidity_books import WallPlan, fed_layer

from liquidation_hunter.api import ApiServer, ApiSource
from live_heatmap.estimated.bars import Bar
from live_heatmap.estimated.layer import EstimatedLayer
from live_heatmap.orderbook.layer import LiquidityLayer

PRICE = 100.0
WALLS = [WallPlan("bid", 99.0, NOW - 120_000), WallPlan("ask", 101.4, NOW - 120_000, NOW - 40_000),
         WallPlan("bid", 99.6, NOW - 120_000, NOW - 40_000, filled=True)]


def estimated_layer() -> EstimatedLayer:
    layer = EstimatedLayer()
    t0 = NOW - 48 * 300_000
    for i in range(48):
        layer.update("BTCUSDT", Bar(t0 + i * 300_000, t0 + (i + 1) * 300_000 - 1, PRICE + 0.5, PRICE - 0.5, PRICE,
                                    50.0, 50.0 * PRICE, 30.0, 30.0 * PRICE, 1000.0 + 10.0 * i))
    return layer


def heatmap() -> object:
    small = [event(90.0 + 0.01 * i, 1.0, age_min=1) for i in range(12)]  # the strength's reference
    found = heatmap_with(small + [event(99.05, 400.0, age_min=m) for m in range(1, 9)])
    found.update_price("BTCUSDT", PRICE, timestamp_ms=NOW)
    return found


@pytest.fixture(scope="module")
def layer() -> LiquidityLayer:
    return fed_layer("BTCUSDT", PRICE, WALLS, NOW - 120_000, NOW)


def serve(source: ApiSource) -> Iterator[Client]:
    with ApiServer(source, host="127.0.0.1", port=0) as server:
        c = Client(server.port)
        yield c
        c.close()


@pytest.fixture(scope="module")
def client(layer: LiquidityLayer) -> Iterator[Client]:
    yield from serve(ApiSource(heatmap(), clock=lambda: NOW, liquidity=layer, estimated=estimated_layer()))


@pytest.fixture(scope="module")
def bare() -> Iterator[Client]:
    yield from serve(ApiSource(heatmap(), clock=lambda: NOW))


def test_unified_joins_the_layers_with_walls_in_their_states(client: Client) -> None:
    body = client.json("/api/v1/unified/BTCUSDT")
    assert body["symbol"] == "BTCUSDT" and body["price"] == PRICE and body["at"] == NOW
    liquidity = body["liquidity"]
    assert liquidity["layer"] == "liquidity" and liquidity["book"]["book_state"] == "synced"
    assert liquidity["summary"]["mid"] == pytest.approx(PRICE)
    assert liquidity["summary"]["depth"]["1"]["bid"] > 0 and liquidity["summary"]["depth"]["1"]["ask"] > 0
    states = {(w["side"], round(w["price"], 1)): w["state"] for w in liquidity["walls"]}
    assert states == {("bid", 99.0): "active", ("ask", 101.4): "pulled", ("bid", 99.6): "filled"}
    clusters = body["liquidation"]["observed"]["clusters"]
    assert body["liquidation"]["observed"]["layer"] == "observed" and clusters
    estimated = body["liquidation"]["estimated"]
    assert estimated["layer"] == "estimated" and "not validated" in estimated["label"] and estimated["zones"]


def test_insights_find_the_wall_under_the_cluster_and_say_what_is_doubtful(client: Client) -> None:
    insights = client.json("/api/v1/unified/BTCUSDT")["insights"]
    walled = [k for k in insights["key_levels"] if k["wall"] is not None]
    assert walled and walled[0]["wall"]["side"] == "bid" and "observed" in walled[0]["layers"]
    assert abs(walled[0]["price"] - 99.0) / 99.0 * 100 <= insights["rules"]["near_pct"]
    assert insights["risk"]["level"] in ("medium", "high")  # a strong long cluster 1 % under the price
    assert insights["risk"]["inputs"]["depth_against"] > 0  # the bids within 1 %, from the layer
    assert [w["code"] for w in insights["warnings"]] == ["estimated_not_validated"]


def test_without_layers_they_are_null_and_warned(bare: Client) -> None:
    body = bare.json("/api/v1/unified/BTCUSDT")
    assert body["liquidity"] is None and body["liquidation"]["estimated"] is None
    assert [w["code"] for w in body["insights"]["warnings"]] == ["no_liquidity_layer"]
    assert body["insights"]["risk"]["level"] == "medium" and body["insights"]["risk"]["inputs"]["depth_against"] is None
    error = bare.json("/api/v1/depth/BTCUSDT", status=404)
    assert error["error"] == "no liquidity layer" and "orderbook.enabled" in error["detail"]
    assert bare.json("/api/v1/unified/NOPEUSDT", status=404)["error"] == "unknown symbol"


def test_a_resyncing_book_is_warned() -> None:
    layer = fed_layer("BTCUSDT", PRICE, [], NOW - 10_000, NOW - 1000)
    layer.sample("BTCUSDT", None, NOW, book_state="resyncing", resyncs=1)
    for c in serve(ApiSource(heatmap(), clock=lambda: NOW, liquidity=layer)):
        body = c.json("/api/v1/unified/BTCUSDT")
        assert [w["code"] for w in body["insights"]["warnings"]] == ["book_not_synced"]
        assert body["liquidity"]["book"]["resyncs"] == 1


def test_depth_grid_holds_the_walls_heat(client: Client) -> None:
    body = client.json("/api/v1/depth/BTCUSDT?window=5m&step=5s")
    assert body["step_ms"] == 5000 and body["end_ms"] == NOW and body["start_ms"] == NOW - 300_000
    times, prices = body["times"], body["prices"]
    assert len(body["bid"]) == len(body["ask"]) == len(times) and len(body["bid"][-1]) == len(prices)
    assert prices == sorted(prices) and prices[0] < 99.0 and prices[-1] > 101.4
    last = body["bid"][-1]
    wall_row = max(range(len(prices)), key=lambda j: last[j])
    assert abs(prices[wall_row] - 99.0) / 99.0 < 0.001  # the heaviest bid bin now is the standing wall's
    assert sum(body["ask"][0]) == 0  # before the first sample: nothing
    assert {w["state"] for w in body["walls"]} == {"active", "pulled", "filled"}


@pytest.mark.parametrize(("query", "name"), [("window=forever", "window"), ("step=0s", "step"),
                                             ("window=7d&step=1s", "step")])
def test_depth_bad_parameters_are_400_naming_them(client: Client, query: str, name: str) -> None:
    body = client.json(f"/api/v1/depth/BTCUSDT?{query}", status=400)
    assert body["detail"].startswith(f"{name}:")
