"""The ``orderbook`` section (issue 15): off by default, every bad value named by key, one URL for the depth and
the liquidation connections refused, the depth snapshots' REST weight computed and refused beyond the share."""

from __future__ import annotations

from typing import Any

import pytest

from liquidation_hunter.config.model import BotConfig
from live_heatmap import ConfigError
from live_heatmap.stream.depth_budget import depth_budget, depth_weight

BASE: dict[str, Any] = {"symbols": ["BTCUSDT", "ETHUSDT"]}


def config(orderbook: dict[str, Any], **top: Any) -> BotConfig:
    return BotConfig.from_mapping({**BASE, **top, "orderbook": {"enabled": True, **orderbook}})


def test_off_by_default_with_public_and_market_apart() -> None:
    default = BotConfig.from_mapping(BASE)
    assert default.orderbook.enabled is False and default.depth_budget() is None
    on = config({}).orderbook
    assert on.public_url.endswith("/public") and default.exchange.ws_url.endswith("/market")
    assert (on.mode, on.snapshot_limit, on.sample_seconds, on.bin_pct, on.wall_k) == ("stream", 1000, 1.0, 0.05, 5.0)


@pytest.mark.parametrize(("orderbook", "top", "key"), [
    ({"mode": "websocket"}, {}, "orderbook.mode"),
    ({"snapshot_limit": 2000}, {}, "orderbook.snapshot_limit"),
    ({"snapshot_limit": 300}, {}, "orderbook.snapshot_limit"),
    ({"sample_seconds": 0}, {}, "orderbook.sample_seconds"),
    ({"bin_pct": -0.05}, {}, "orderbook.bin_pct"),
    ({"wall_k": 1}, {}, "orderbook.wall_k"),
    ({"wall_floor": 0}, {}, "orderbook.wall_floor"),
    ({"public_url": "fstream.binance.com/public"}, {}, "orderbook.public_url"),
    ({"venue": "kraken"}, {}, "orderbook.venue"),
    ({"venues": ["bybit"]}, {}, "orderbook.venues"),  # the old list: an unknown key now
    ({"venue": "bybit"}, {}, "orderbook.venue"),  # bybit not in exchanges
    ({"venue": "bybit", "mode": "rest"}, {"exchanges": ["binance", "bybit"]}, "orderbook.mode"),
    ({"rest_interval_seconds": 0.5}, {}, "orderbook.rest_interval_seconds"),
    ({"enable": True}, {}, "orderbook.enable"),
    ({}, {"symbols": "all"}, "orderbook.enabled"),
])
def test_a_bad_value_names_its_key(orderbook: dict[str, Any], top: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(orderbook, **top)
    assert caught.value.key == key


def test_depth_and_liquidations_on_one_connection_are_refused() -> None:
    market = "wss://fstream.binance.com/market"
    with pytest.raises(ConfigError) as caught:
        config({"public_url": market + "/"})
    assert caught.value.key == "orderbook.public_url"
    assert "separate connection" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        config({"public_url": "ws://127.0.0.1:9/x"}, exchange={"ws_url": "ws://127.0.0.1:9/x"})
    assert caught.value.key == "orderbook.public_url"
    assert config({"mode": "rest", "public_url": market}).orderbook.mode == "rest"  # no stream: nothing shared


def test_binances_weight_table_for_depth() -> None:
    assert [depth_weight(n) for n in (5, 10, 20, 50, 100, 500, 1000)] == [2, 2, 2, 2, 5, 10, 20]
    with pytest.raises(ValueError, match="one of"):
        depth_weight(200)


def test_the_cheap_modes_weight_is_computed_and_refused_beyond_half_of_binances() -> None:
    ten = [f"S{i}USDT" for i in range(10)]
    budget = depth_budget(10, mode="rest", limit=1000, interval_seconds=10)
    assert budget.per_minute == pytest.approx(10 * 20 * 6)  # 10 symbols x 20 weight x 6 a minute
    assert budget.ok and config({"mode": "rest"}, symbols=ten).depth_budget() == budget
    tight = depth_budget(10, mode="rest", limit=1000, interval_seconds=2)
    assert not tight.ok
    with pytest.raises(ConfigError) as caught:
        config({"mode": "rest", "rest_interval_seconds": 2}, symbols=ten)
    assert caught.value.key == "orderbook.rest_interval_seconds"
    assert tight.line() in str(caught.value) and "\n" not in str(caught.value)
    assert config({"mode": "rest", "rest_interval_seconds": 2, "snapshot_limit": 50}, symbols=ten).orderbook


def test_the_stream_modes_weight_counts_the_start_and_resyncs() -> None:
    budget = depth_budget(30, mode="stream", limit=1000)
    assert budget.first_minute == pytest.approx(30 * 20 * 2) and budget.ok
    many = [f"S{i}USDT" for i in range(40)]
    with pytest.raises(ConfigError) as caught:
        config({}, symbols=many)
    assert caught.value.key == "orderbook.snapshot_limit"
    assert config({"snapshot_limit": 500}, symbols=many).orderbook.enabled


def test_bybits_books_need_its_stream_and_cost_no_rest_weight() -> None:
    many = [f"S{i}USDT" for i in range(40)]  # beyond Binance's share at 1000 levels: Bybit's books cost nothing
    on = config({"venue": "bybit"}, symbols=many, exchanges=["binance", "bybit"])
    assert on.orderbook.venue == "bybit" and on.orderbook.mode == "stream"
    budget = on.depth_budget()
    assert budget is not None and budget.ok and (budget.per_minute, budget.first_minute) == (0.0, 0.0)
    assert "0 weight" in budget.line() and "orderbook.200" in budget.line()
    assert budget.to_dict()["venue"] == "bybit" and budget.to_dict()["weight_per_request"] == 0
    # the Binance public URL is not Bybit's connection: the same URL as exchange.ws_url is not refused
    assert config({"venue": "bybit", "public_url": "ws://127.0.0.1:9/x"}, exchanges=["binance", "bybit"],
                  exchange={"ws_url": "ws://127.0.0.1:9/x"}).orderbook.venue == "bybit"
    with pytest.raises(ConfigError) as caught:
        config({"venue": "bybit"})
    assert "exchanges" in str(caught.value) and "\n" not in str(caught.value)
    assert BotConfig.from_mapping(BASE).orderbook.venue == "binance"
