"""The backtest on recorded depth (issue 15): ``run_backtest(..., depth=[FILE])`` replays a depth recording into the
hunter's liquidity layer in time order with the events, so ``hunter.wall`` trades as it would live. Over the real
2025-01-27 16:50-17:20 UTC session with synthetic Binance depth recordings (the recorded fixture's format)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, WIRE
from depth_recording import write_depth_recording

from liquidation_hunter.backtest import BacktestResult, PriceSeries, load_prices, run_backtest
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.data.depth_replay import replay_depth
from live_heatmap import LiquidationEvent, parse_force_order

START_MS = 1_737_996_600_000  # 2025-01-27T16:50:00Z
END_MS = 1_737_998_400_000  # 2025-01-27T17:20:00Z
SETTINGS: dict[str, Any] = {
    "symbols": ["BTCUSDT"], "heatmap": {"min_cluster_size": 3},
    "hunter": {"min_strength": 0.3, "min_distance_pct": 0.3, "max_distance_pct": 3.0, "preferred_distance_pct": 0.8},
    "risk": {"leverage": 5, "max_open_positions": 4, "cooldown_minutes": 0, "daily_loss_limit_pct": None,
             "max_drawdown_pct": None},
}


def config(**hunter: Any) -> BotConfig:
    data = json.loads(json.dumps(SETTINGS))
    data["hunter"].update(hunter)
    return BotConfig.from_mapping(data)


@pytest.fixture(scope="module")
def events() -> list[LiquidationEvent]:
    return [parse_force_order(line) for line in WIRE.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def prices() -> PriceSeries:
    return load_prices(DATA / "aggtrades_large.csv").only(["BTCUSDT"])


@pytest.fixture(scope="module")
def baseline(events: list[LiquidationEvent], prices: PriceSeries) -> BacktestResult:
    return run_backtest(config(), events, prices, start_ms=START_MS, end_ms=END_MS, symbols=["BTCUSDT"])


def levels(result: BacktestResult) -> list[tuple[str, float]]:
    """The book side and price of the wall that would meet each trade's move: the target level from the take-profit
    (0.8 of the way from the entry), bids under a short's target, asks over a long's."""
    return [("bid" if t.side == "short" else "ask", t.entry_price + (t.take_profit - t.entry_price) / 0.8)
            for t in result.trades]


def test_require_without_walls_in_the_recording_trades_nothing(tmp_path: Path, events: list[LiquidationEvent],
                                                                prices: PriceSeries, baseline: BacktestResult
                                                                ) -> None:
    assert baseline.trades, "the session trades without the wall option"
    mid = float(prices.window(START_MS, END_MS).prices("BTCUSDT")[0])
    flat = write_depth_recording(tmp_path / "flat.jsonl", "BTCUSDT", mid, [], start_ms=START_MS - 60_000,
                                 end_ms=END_MS)
    result = run_backtest(config(wall="require"), events, prices, start_ms=START_MS, end_ms=END_MS,
                          symbols=["BTCUSDT"], depth=[flat])
    assert result.trades == () or list(result.trades) == []
    off = run_backtest(config(), events, prices, start_ms=START_MS, end_ms=END_MS, symbols=["BTCUSDT"],
                       depth=[flat])
    assert [t.client_id for t in off.trades] == [t.client_id for t in baseline.trades]  # off: depth changes nothing


def test_require_trades_the_targets_a_recorded_wall_meets(tmp_path: Path, events: list[LiquidationEvent],
                                                         prices: PriceSeries, baseline: BacktestResult) -> None:
    mid = float(prices.window(START_MS, END_MS).prices("BTCUSDT")[0])
    wanted = levels(baseline)
    walled = write_depth_recording(tmp_path / "walls.jsonl", "BTCUSDT", mid, wanted,
                                   start_ms=START_MS - 60_000, end_ms=END_MS)
    replay = replay_depth([walled])
    tracker = replay.layer.walls("BTCUSDT")
    assert tracker is not None and replay.resyncs() == 0
    assert {w.side for w in tracker.active()} == {side for side, _ in wanted}  # the recording holds the walls
    result = run_backtest(config(wall="require"), events, prices, start_ms=START_MS, end_ms=END_MS,
                          symbols=["BTCUSDT"], depth=[walled])
    assert result.trades
    walls = [w.price for w in tracker.active()]
    for side, level in levels(result):
        assert any(abs(w - level) / level * 100 <= 0.3 + 0.05 for w in walls), (side, level, walls)
