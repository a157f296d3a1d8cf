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
from liquidation_hunter.cli.main import main
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.data.depth_replay import DepthReplay, StoredDepthReplay, open_depth_replay, replay_depth
from live_heatmap import LiquidationEvent, parse_force_order
from live_heatmap.orderbook.layer import LiquidityLayer
from live_heatmap.store.depth_runs import write_depth_runs
from live_heatmap.store.recorder import EventStore

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


def _recorded_store(recording: Path, store: Path, *, record_ms: int = 60_000) -> Path:
    """What a bot with ``orderbook.record_seconds`` writes: the recording's books sampled every second into a layer
    that also samples for recording every ``record_ms``, its runs appended to the event store (the bot's path:
    ``LiquidityLayer.take_recorded`` then ``write_depth_runs``)."""
    replay = DepthReplay([recording], layer=LiquidityLayer(record_interval_ms=record_ms))
    replay.finish()
    assert replay.last_ms is not None
    for symbol, runs in replay.layer.take_recorded(replay.last_ms, close=True).items():
        write_depth_runs(store, symbol, runs, replay.layer.bin_width)
    return store


def test_the_depth_a_bot_recorded_to_its_event_store_backtests_the_wall_option(
        tmp_path: Path, events: list[LiquidationEvent], prices: PriceSeries, baseline: BacktestResult) -> None:
    mid = float(prices.window(START_MS, END_MS).prices("BTCUSDT")[0])
    wanted = levels(baseline)
    walled = write_depth_recording(tmp_path / "walls.jsonl", "BTCUSDT", mid, wanted,
                                   start_ms=START_MS - 120_000, end_ms=END_MS)
    store = _recorded_store(walled, tmp_path / "events.sqlite")
    live = replay_depth([walled]).layer.walls("BTCUSDT")
    stored = StoredDepthReplay(store, ["BTCUSDT"])
    stored.advance()
    assert stored.interval_ms == 60_000 and stored.samples > 0
    tracker = stored.layer.walls("BTCUSDT")
    assert live is not None and tracker is not None
    bins = {(w.side, w.price_low) for w in live.active()}
    assert bins and {(w.side, w.price_low) for w in tracker.active()} == bins  # the same walls, the same bins
    result = run_backtest(config(wall="require"), events, prices, start_ms=START_MS, end_ms=END_MS,
                          symbols=["BTCUSDT"], depth=[store])
    assert result.trades
    walls = [w.price for w in tracker.active()]
    for side, level in levels(result):
        assert any(abs(w - level) / level * 100 <= 0.3 + 0.05 for w in walls), (side, level, walls)
    flat = _recorded_store(write_depth_recording(tmp_path / "flat.jsonl", "BTCUSDT", mid, [],
                                                 start_ms=START_MS - 120_000, end_ms=END_MS),
                           tmp_path / "flat.sqlite")
    none = run_backtest(config(wall="require"), events, prices, start_ms=START_MS, end_ms=END_MS,
                        symbols=["BTCUSDT"], depth=[flat])
    assert list(none.trades) == []


def test_a_store_without_depth_or_mixed_with_recordings_is_one_clear_error(tmp_path: Path) -> None:
    store = tmp_path / "events.sqlite"
    EventStore.open(store).close()
    with pytest.raises(ValueError, match=r"events.sqlite: no recorded depth of BTCUSDT at a 0.0500% bin width"):
        open_depth_replay([store], ["BTCUSDT"])
    recording = write_depth_recording(tmp_path / "r.jsonl", "BTCUSDT", 100.0, [], start_ms=0, end_ms=1_000)
    with pytest.raises(ValueError, match=r"an event store's recorded depth replays alone"):
        open_depth_replay([store, recording], ["BTCUSDT"])


def test_backtest_command_on_a_bot_s_recorded_depth(tmp_path: Path, prices: PriceSeries,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """``backtest --depth STORE``: the hunter's wall option over the depth a bot recorded; a store with no depth
    of the symbol is one line, exit 2."""
    mid = float(prices.window(START_MS, END_MS).prices("BTCUSDT")[0])
    store = _recorded_store(write_depth_recording(tmp_path / "flat.jsonl", "BTCUSDT", mid, [],
                                                  start_ms=START_MS - 120_000, end_ms=END_MS),
                            tmp_path / "events.sqlite")
    bot = tmp_path / "bot.yaml"
    data = json.loads(json.dumps(SETTINGS))
    data["hunter"]["wall"] = "require"
    bot.write_text(json.dumps(data), encoding="utf-8")
    common = ["backtest", "--config", str(bot), "--events", str(WIRE), "--prices", str(DATA / "aggtrades_large.csv"),
              "--symbol", "BTCUSDT", "--from", "2025-01-27T16:50:00Z", "--to", "2025-01-27T17:20:00Z",
              "--no-sensitivity"]
    assert main([*common, "--depth", str(store)]) == 0
    out = capsys.readouterr().out
    assert "replayed 31 liquidations" in out and "trades 0" in out  # no wall in the recorded book: none traded
    empty = tmp_path / "empty.sqlite"
    EventStore.open(empty).close()
    assert main([*common, "--depth", str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no recorded depth of BTCUSDT" in err and err.count("\n") == 1
