"""The depth stream (issue 15): ``<symbol>@depth@100ms`` on the ``/public`` connection, separate from ``/market``;
``<symbol>@aggTrade`` on ``/market``; an event on the wrong connection rejected by reason and counted; one URL for
both refused."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import pytest

from live_heatmap.stream.depth import DepthRouter, DepthStream
from live_heatmap.stream.router import WRONG_CONNECTION, Router, StreamStats
from live_heatmap.stream.settings import StreamSettings
from live_heatmap.stream.stream import LiquidationStream
from live_heatmap.stream.subscriptions import plan_depth, plan_subscriptions, same_connection
from tests.fakes.binance import FakeBinance
from tests.fakes.binance.depth import FakeDepth

T0 = 1_767_225_600_000
FORCE_ORDER = {"e": "forceOrder", "E": T0, "o": {"s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.1",
                                                  "p": "99000", "ap": "99100", "X": "FILLED", "l": "0.1", "z": "0.1",
                                                  "T": T0}}


class Depths:
    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []

    def on_depth(self, payload: dict[str, Any]) -> None:
        self.payloads.append(payload)


class Market:
    """A liquidation sink and trade sink."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.rejects: list[str] = []
        self.trades: list[tuple[str, float, float, int]] = []

    def ingest(self, frame: Any) -> bool:
        self.events.append(frame)
        return True

    def record_reject(self, reason: str) -> None:
        self.rejects.append(reason)

    def update_price(self, symbol: str, price: float, timestamp_ms: int | None = None) -> None:
        pass

    def track(self, symbols: Iterable[str]) -> None:
        pass

    def on_trade(self, symbol: str, price: float, quantity: float, at_ms: int) -> None:
        self.trades.append((symbol, price, quantity, at_ms))


def _wait(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


def test_depth_is_planned_per_symbol_and_trades_beside_the_liquidations() -> None:
    assert plan_depth(["BTC/USDT:USDT", "ethusdt"]).shards == (("btcusdt@depth@100ms", "ethusdt@depth@100ms"),)
    plan = plan_subscriptions(["BTCUSDT"], mark_price=True, agg_trades=True)
    assert plan.shards == (("btcusdt@forceOrder", "btcusdt@markPrice@1s", "btcusdt@aggTrade"),)
    assert not any("depth" in s for shard in plan.shards for s in shard)  # never on /market
    with pytest.raises(ValueError, match="list of symbols"):
        plan_depth([])


def test_one_url_for_both_connections_is_refused() -> None:
    assert same_connection("wss://fstream.binance.com/market/", "WSS://fstream.binance.com/market")
    assert not same_connection("wss://fstream.binance.com/public", "wss://fstream.binance.com/market")
    with pytest.raises(ValueError, match="separate connection"):
        DepthStream(Depths(), ["BTCUSDT"], StreamSettings(ws_url="wss://x/market"), market_url="wss://x/market")


def test_routers_reject_each_others_events_by_reason() -> None:
    depths, market, public_stats, market_stats = Depths(), Market(), StreamStats(), StreamStats()
    public = DepthRouter(depths, frozenset({"BTCUSDT"}), public_stats)
    router = Router(market, frozenset({"BTCUSDT"}), market_stats)
    router.trades = market
    update = FakeDepth(lambda: T0)
    update.set_book("BTCUSDT", [(100.0, 1.0)], [(101.0, 1.0)])
    diff = update.update("BTCUSDT", bids=[(100.0, 2.0)])
    trade = {"e": "aggTrade", "E": T0, "s": "BTCUSDT", "p": "100.5", "q": "0.3", "T": T0, "m": False}
    for payload in (diff, FORCE_ORDER, trade):
        public.on_payload(payload)
        router.on_payload(payload)
    assert depths.payloads == [diff]
    assert public_stats.rejected == {WRONG_CONNECTION: 2}
    assert market_stats.rejected == {WRONG_CONNECTION: 1}
    assert market.rejects == [WRONG_CONNECTION]
    assert len(market.events) == 1 and market.trades == [("BTCUSDT", 100.5, 0.3, T0)]
    other = {**diff, "s": "SOLUSDT"}
    public.on_payload(other)
    assert public_stats.rejected["unknown_symbol"] == 1 and depths.payloads == [diff]


def test_depth_goes_to_public_and_liquidations_to_market_over_real_connections() -> None:
    depths, market = Depths(), Market()
    book = FakeDepth(lambda: T0)
    book.set_book("BTCUSDT", [(100.0, 1.0)], [(101.0, 1.0)])
    with FakeBinance(ping_interval=None) as fake:
        liquidations = LiquidationStream(market, ["BTCUSDT"], StreamSettings(ws_url=fake.market_url, agg_trades=True),
                                         trades=market)
        depth = DepthStream(depths, ["BTCUSDT"], StreamSettings(ws_url=fake.public_url), market_url=fake.market_url)
        liquidations.start()
        depth.start()
        try:
            assert fake.wait_for_subscription("btcusdt@depth@100ms")
            assert fake.wait_for_subscription("btcusdt@aggTrade")
            paths = {c.path.split("/stream")[0]: c.subscriptions for c in fake.open_connections()}
            assert paths == {"/market": frozenset({"btcusdt@forceOrder", "btcusdt@aggTrade"}),
                             "/public": frozenset({"btcusdt@depth@100ms"})}
            diff = book.update("BTCUSDT", asks=[(101.0, 0.0), (102.0, 3.0)])
            assert fake.publish_depth(diff) == 1  # only the /public connection
            assert fake.publish_agg_trade("BTCUSDT", 100.5, 0.2, T0) == 1  # only /market
            fake.publish_force_order(FORCE_ORDER)
            assert _wait(lambda: len(depths.payloads) == 1 and len(market.events) == 1 and len(market.trades) == 1)
            # a server that sends each kind on the other connection: rejected by reason, counted, never applied
            fake.send_raw(orjson.dumps(book.update("BTCUSDT", bids=[(99.0, 1.0)])))
            fake.send_raw(orjson.dumps(FORCE_ORDER))
            assert _wait(lambda: depth.status().rejected.get(WRONG_CONNECTION) == 1
                         and liquidations.status().rejected.get(WRONG_CONNECTION) == 1
                         and len(depths.payloads) == 2 and len(market.events) == 2)  # each taken where it belongs
            assert depth.status().rejected.get(WRONG_CONNECTION) == 1  # and the other kind not also taken
            assert liquidations.status().rejected.get(WRONG_CONNECTION) == 1
            assert len(depths.payloads) == 2 and len(market.events) == 2
            status = depth.status()
            assert status.connected and status.url == fake.public_url and status.events_received == 2
        finally:
            depth.stop()
            liquidations.stop()
    assert not LiquidationStream.threads_alive()
