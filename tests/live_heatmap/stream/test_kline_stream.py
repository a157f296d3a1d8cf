"""Kline streams for the estimated layer (issue 14): subscribed per symbol beside the liquidation and mark-price
streams, routed to the kline sink, bad frames counted by reason."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from live_heatmap.stream.router import Router, StreamStats
from live_heatmap.stream.subscriptions import plan_subscriptions
from live_heatmap.wire.kline import Kline

T0 = 1_767_225_600_000
FRAME: dict[str, Any] = {"e": "kline", "E": T0 + 300_000, "s": "BTCUSDT", "k": {
    "t": T0, "T": T0 + 299_999, "s": "BTCUSDT", "i": "5m", "o": "100", "c": "101", "h": "102", "l": "99", "v": "3",
    "q": "303", "V": "1", "Q": "101", "x": True}}


class Collect:
    def __init__(self) -> None:
        self.klines: list[Kline] = []
        self.rejects: list[str] = []

    def on_kline(self, kline: Kline) -> None:
        self.klines.append(kline)

    def ingest(self, frame: Any) -> bool:
        return True

    def record_reject(self, reason: str) -> None:
        self.rejects.append(reason)

    def update_price(self, symbol: str, price: float, timestamp_ms: int | None = None) -> None:
        pass

    def track(self, symbols: Iterable[str]) -> None:
        pass


def test_each_listed_symbol_gets_its_kline_stream() -> None:
    plan = plan_subscriptions(["BTCUSDT", "ETH/USDT:USDT"], mark_price=True, klines=True)
    assert plan.shards == (("btcusdt@forceOrder", "btcusdt@markPrice@1s", "btcusdt@kline_5m",
                            "ethusdt@forceOrder", "ethusdt@markPrice@1s", "ethusdt@kline_5m"),)
    assert "btcusdt@kline_5m" not in plan_subscriptions(["BTCUSDT"], mark_price=True).shards[0]


def test_above_the_per_symbol_limit_the_klines_stay_per_symbol_beside_the_all_market_streams() -> None:
    plan = plan_subscriptions(["BTCUSDT", "ETHUSDT"], mark_price=True, klines=True, per_symbol_limit=1)
    assert plan.shards == (("!forceOrder@arr", "!markPrice@arr@1s", "btcusdt@kline_5m", "ethusdt@kline_5m"),)


def test_kline_frames_reach_the_sink_and_bad_ones_are_counted() -> None:
    sink, stats = Collect(), StreamStats()
    router = Router(sink, frozenset({"BTCUSDT"}), stats)
    router.on_payload(FRAME)
    assert sink.rejects == ["unknown_event_type"]  # no kline sink given: not the stream's business
    router.klines = sink
    router.on_payload(FRAME)
    bad = copy.deepcopy(FRAME)
    bad["k"]["h"] = "50"
    router.on_payload(bad)
    other = copy.deepcopy(FRAME)
    other["s"] = other["k"]["s"] = "SOLUSDT"
    router.on_payload(other)
    assert [k.open_time for k in sink.klines] == [T0]
    assert stats.klines == 1
    assert stats.rejected["kline_bad_price"] == 1
