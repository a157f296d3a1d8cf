"""The liquidity layer's live inputs (issue 15) against the local fake Binance REST server: a book synchronised
from buffered diffs and a ``GET /fapi/v1/depth`` snapshot, a ``pu`` gap -> exactly one resync and a book equal to
the venue's again, snapshots rate-limited, exchange errors counted while the job goes on, the cheap REST mode,
a crossed book never served, and the recorded depth written to the event store's file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes.binance import FakeBinanceRest

from liquidation_hunter.bot.liquidity import SNAPSHOT_GAP_MS, LiquidityInputs, make_layer
from liquidation_hunter.bot.runner import build_bot
from liquidation_hunter.config.model import BotConfig
from live_heatmap.orderbook.book import OrderBook
from live_heatmap.store.depth_runs import load_depth_history
from live_heatmap.stream.bybit_depth import BybitDepthStream
from live_heatmap.stream.depth import DepthStream
from live_heatmap.stream.depth_budget import depth_budget
from live_heatmap.stream.stream import StreamSettings
from live_heatmap.venue import Venue

T0 = 1_767_225_600_000
BIDS = [(100_000.0 - i, 1.0 + i % 3) for i in range(50)]
ASKS = [(100_001.0 + i, 2.0 + i % 2) for i in range(50)]
CONFIG = BotConfig.from_mapping({"symbols": ["BTCUSDT"], "orderbook": {"enabled": True}})


def _inputs(rest: FakeBinanceRest, **kwargs: Any) -> LiquidityInputs:
    return LiquidityInputs(make_layer(CONFIG), rest.client(), ["BTCUSDT"], **kwargs)


def _inputs_for(rest: FakeBinanceRest, symbols: list[str], **kwargs: Any) -> LiquidityInputs:
    return LiquidityInputs(make_layer(CONFIG), rest.client(), symbols, **kwargs)


def _levels(book: OrderBook) -> tuple[list[list[float]], list[list[float]]]:
    bids, asks = (np.column_stack(book.levels(side)).tolist() for side in ("bid", "ask"))
    return bids, asks


def _venue(rest: FakeBinanceRest) -> tuple[list[list[float]], list[list[float]]]:
    bids, asks = rest.depth.levels("BTCUSDT")
    return [list(level) for level in bids], [list(level) for level in asks]


def test_buffered_diffs_and_a_snapshot_sync_the_book_and_a_gap_resyncs_it_once() -> None:
    with FakeBinanceRest(clock=lambda: T0) as rest:
        rest.depth.set_book("BTCUSDT", BIDS, ASKS, last_update_id=5_000)
        inputs = _inputs(rest)
        inputs.on_depth(rest.depth.update("BTCUSDT", bids=[(100_000.0, 7.0)]))  # buffered: no book yet
        assert inputs.status()["symbols"]["BTCUSDT"]["state"] == "waiting_snapshot"
        assert inputs.poll(T0) == 1  # the snapshot fetched, the buffered diff bridged, the book sampled
        row = inputs.status()["symbols"]["BTCUSDT"]
        assert (row["state"], row["resyncs"], row["snapshots"], row["samples"]) == ("synced", 0, 1, 1)
        with inputs.lock:
            book = inputs.book("BTCUSDT")
            assert book is not None and _levels(book) == _venue(rest)
        for i in range(20):
            inputs.on_depth(rest.depth.update("BTCUSDT", asks=[(100_001.0 + i, 0.0)], bids=[(99_990.0, 1.0 + i)]))
        rest.depth.update("BTCUSDT", bids=[(99_999.0, 0.0)])  # never delivered: the next diff's pu shows the gap
        inputs.on_depth(rest.depth.update("BTCUSDT", asks=[(100_030.0, 9.0)]))
        row = inputs.status()["symbols"]["BTCUSDT"]
        assert (row["state"], row["resyncs"], row["rejects"].get("gap")) == ("waiting_snapshot", 1, 1)
        assert inputs.poll(T0 + 1_000) == 0  # within SNAPSHOT_GAP_MS of the last snapshot: none fetched yet
        assert inputs.status()["symbols"]["BTCUSDT"]["snapshots"] == 1
        assert inputs.poll(T0 + SNAPSHOT_GAP_MS) == 1
        row = inputs.status()["symbols"]["BTCUSDT"]
        assert (row["state"], row["resyncs"], row["snapshots"]) == ("synced", 1, 2)
        assert rest.depth.snapshots_served == 2  # the two the book needed, no more
        with inputs.lock:
            book = inputs.book("BTCUSDT")
            assert book is not None and not book.crossed() and _levels(book) == _venue(rest)


def test_bad_frames_are_rejected_by_reason_and_exchange_errors_counted_while_the_job_goes_on() -> None:
    with FakeBinanceRest(clock=lambda: T0) as rest:
        rest.depth.set_book("BTCUSDT", BIDS, ASKS)
        inputs = _inputs(rest)
        good = rest.depth.update("BTCUSDT", bids=[(100_000.0, 3.0)])
        inputs.on_depth({**good, "b": [["100000", "NaN"]]})
        inputs.on_depth({**good, "s": "SOLUSDT"})
        inputs.on_depth({**good, "U": "x"})
        assert sum(inputs.status()["rejects"].values()) == 3
        assert inputs.syncs["BTCUSDT"].buffered == 0  # none of them reached the book
        rest.fail_next("/fapi/v1/depth", code=-1121, msg="Invalid symbol.")
        assert inputs.poll(T0) == 0
        status = inputs.status()
        assert status["symbols"]["BTCUSDT"]["snapshot_errors"] == 1 and "Invalid symbol" in status["last_error"]
        inputs.on_depth(good)
        assert inputs.poll(T0 + SNAPSHOT_GAP_MS) == 1
        assert inputs.status()["symbols"]["BTCUSDT"]["state"] == "synced"


def test_the_cheap_mode_reads_a_snapshot_every_interval_and_never_serves_a_crossed_book() -> None:
    with FakeBinanceRest(clock=lambda: T0) as rest:
        rest.depth.set_book("BTCUSDT", BIDS, ASKS)
        inputs = _inputs(rest, mode="rest", rest_interval_seconds=10.0, limit=100)
        assert inputs.budget == depth_budget(1, mode="rest", limit=100, interval_seconds=10.0)
        assert inputs.poll(T0) == 1
        assert inputs.poll(T0 + 5_000) == 1  # sampled again, the snapshot not read again
        assert inputs.status()["symbols"]["BTCUSDT"]["snapshots"] == 1
        rest.depth.set_book("BTCUSDT", [(100_010.0, 1.0)], [(100_001.0, 1.0)])  # crossed
        assert inputs.poll(T0 + 10_000) == 0
        status = inputs.status()
        assert status["rejects"] == {"crossed_snapshot": 1}
        assert status["symbols"]["BTCUSDT"]["state"] == "waiting_snapshot"
        with inputs.lock:
            assert inputs.book("BTCUSDT") is None


def test_no_book_is_served_while_the_depth_connection_is_down_and_it_comes_back_after() -> None:
    with FakeBinanceRest(clock=lambda: T0) as rest:
        rest.depth.set_book("BTCUSDT", BIDS, ASKS, last_update_id=5_000)
        inputs = _inputs(rest)
        inputs.on_depth(rest.depth.update("BTCUSDT", bids=[(100_000.0, 7.0)]))
        assert inputs.poll(T0) == 1
        down = DepthStream(inputs, ["BTCUSDT"], StreamSettings(ws_url="ws://127.0.0.1:9/public"))
        inputs.depth_stream = down  # built, never opened: its connection is down
        inputs.on_depth(rest.depth.update("BTCUSDT", bids=[(100_000.0, 8.0)]))  # buffered before the break
        assert inputs.poll(T0 + 1_000) == 0
        row = inputs.status()["symbols"]["BTCUSDT"]
        assert (row["state"], row["resyncs"], row["rejects"].get("disconnected")) == ("waiting_snapshot", 1, 1)
        assert inputs.syncs["BTCUSDT"].buffered == 0
        assert inputs.poll(T0 + 2_000) == 0 and inputs.status()["symbols"]["BTCUSDT"]["resyncs"] == 1  # once
        layer = inputs.layer.summary("BTCUSDT", T0 + 2_000)
        assert layer["mid"] is None  # the layer saw the book go
        inputs.depth_stream = None  # connected again: a diff, then the snapshot it needs
        inputs.on_depth(rest.depth.update("BTCUSDT", bids=[(100_000.0, 9.0)]))
        assert inputs.poll(T0 + 2_000 + SNAPSHOT_GAP_MS) == 1
        with inputs.lock:
            book = inputs.book("BTCUSDT")
            assert book is not None and _levels(book) == _venue(rest)


def test_the_cheap_mode_stops_serving_a_snapshot_the_failing_fetches_leave_stale() -> None:
    with FakeBinanceRest(clock=lambda: T0) as rest:
        rest.depth.set_book("BTCUSDT", BIDS, ASKS)
        inputs = _inputs(rest, mode="rest", rest_interval_seconds=10.0, limit=100)
        assert inputs.poll(T0) == 1
        for i in range(1, 4):
            rest.fail_next("/fapi/v1/depth", status=503, code=-1001, msg="Internal error; unable to process.")
            served = inputs.poll(T0 + i * 10_000)
            assert served == (1 if i < 3 else 0), i  # three intervals old at most
        status = inputs.status()
        assert status["rejects"] == {"stale_snapshot": 1} and status["symbols"]["BTCUSDT"]["snapshot_errors"] == 3
        assert status["symbols"]["BTCUSDT"]["state"] == "waiting_snapshot"


def test_recorded_depth_goes_to_the_event_stores_file_and_a_failed_write_is_counted(tmp_path: Path) -> None:
    with FakeBinanceRest(clock=lambda: T0) as rest:
        rest.depth.set_book("BTCUSDT", BIDS, ASKS)
        inputs = _inputs(rest, mode="rest", record_path=str(tmp_path / "events.sqlite"))
        for i in range(5):
            inputs.poll(T0 + i * 60_000)
        assert inputs.record(T0 + 300_000, close=True) > 0
        history = load_depth_history(tmp_path / "events.sqlite", "BTCUSDT", T0, T0 + 300_000)
        assert history.runs == inputs.recorded_runs
        (tmp_path / "dir.sqlite").mkdir()
        broken = _inputs(rest, mode="rest", record_path=str(tmp_path / "dir.sqlite"))
        broken.poll(T0)
        broken.poll(T0 + 60_000)
        assert broken.record(T0 + 120_000, close=True) == 0
        status = broken.status()
        assert status["record_errors"] == 1 and "recording" in status["last_error"]
        assert broken.poll(T0 + 180_000) == 1  # the layer goes on


def test_the_bot_s_hunter_reads_the_layer_the_bot_keeps(tmp_path: Path) -> None:
    """build_bot hands the liquidity layer it feeds to the hunter (hunter.wall) and, through the bot, to the API."""
    with FakeBinanceRest() as rest:
        config = BotConfig.from_mapping({
            "symbols": ["BTCUSDT"], "exchange": {"rest_url": rest.base_url, "ws_url": "ws://127.0.0.1:9/market"},
            "orderbook": {"enabled": True, "public_url": "ws://127.0.0.1:9/public"},
            "hunter": {"wall": "prefer"}, "storage": {"path": "bot.sqlite", "events": None},
            "alerts": {"channels": {"webhook": {"enabled": True, "url": "http://127.0.0.1:9/hook"}}}},
            source=tmp_path / "bot.yaml")
        bot = build_bot(config, clock=lambda: T0)
        try:
            assert bot.liquidity is not None
            assert bot.strategy.hunter.liquidity is bot.liquidity.layer  # type: ignore[attr-defined]
            assert bot.alerts is not None and "wall_pulled" in bot.alerts.status()["rules"]  # the layer's rule
        finally:
            bot.books.close()


BYBIT_FIXTURE = (Path(__file__).resolve().parents[3] / "data" / "orderbook"
                 / "bybit_v5_linear_DOGEUSDT_2026-08-09.excerpt.jsonl")


def _bybit_messages() -> list[dict[str, Any]]:
    return [json.loads(json.loads(line)["data"]) for line in BYBIT_FIXTURE.read_text().splitlines()]


def _plain_replay(messages: list[dict[str, Any]]) -> tuple[list[list[float]], list[list[float]]]:
    """Bybit's book written as plainly as possible: dicts from the raw JSON, no shared code."""
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    for m in messages:
        if m["type"] == "snapshot":
            bids.clear()
            asks.clear()
        for side, key in ((bids, "b"), (asks, "a")):
            for p, q in m["data"][key]:
                if float(q) == 0.0:
                    side.pop(float(p), None)
                else:
                    side[float(p)] = float(q)
    return ([[p, q] for p, q in sorted(bids.items(), reverse=True)],
            [[p, q] for p, q in sorted(asks.items())])


def test_bybits_real_books_through_the_live_path_equal_a_plain_replay_and_cost_no_rest(tmp_path: Path) -> None:
    """The recorded DOGEUSDT orderbook.200 (one snapshot, 379 deltas) through on_depth (parse_bybit_depth, then
    BybitBookSync): the book equals a plain replay, no REST snapshot is fetched, the budget is 0 weight."""
    messages = _bybit_messages()
    with FakeBinanceRest(clock=lambda: T0) as rest:
        inputs = _inputs_for(rest, ["DOGEUSDT"], venue="bybit")
        assert inputs.needs_snapshot("DOGEUSDT")
        for message in messages:
            inputs.on_depth(message)
        assert not inputs.needs_snapshot("DOGEUSDT")
        assert inputs.poll(T0) == 1 and rest.depth.snapshots_served == 0  # sampled; the job fetched nothing
        status = inputs.status()
        row = status["symbols"]["DOGEUSDT"]
        assert (status["venue"], row["state"], row["resyncs"], row["rejects"], status["rejects"]) == (
            "bybit", "synced", 0, {}, {})
        assert row["last_update_id"] == messages[-1]["data"]["u"] and row["snapshots"] == 0
        assert status["budget"]["first_minute_weight"] == 0 and "0 weight" in status["budget"]["line"]
        with inputs.lock:
            book = inputs.book("DOGEUSDT")
            assert book is not None and not book.crossed()
            assert _levels(book) == _plain_replay(messages)


def test_bybit_a_gap_asks_for_a_snapshot_a_restart_snapshot_replaces_the_book_and_bad_frames_are_rejects() -> None:
    snapshot, *deltas = _bybit_messages()
    with FakeBinanceRest(clock=lambda: T0) as rest:
        inputs = _inputs_for(rest, ["DOGEUSDT"], venue="bybit")
        inputs.on_depth(deltas[0])  # a delta before any snapshot: not used
        inputs.on_depth(snapshot)
        inputs.on_depth(deltas[0])
        inputs.on_depth(deltas[2])  # deltas[1] lost: a gap
        row = inputs.status()["symbols"]["DOGEUSDT"]
        assert (row["state"], row["resyncs"], row["rejects"]) == (
            "waiting_snapshot", 1, {"delta_before_snapshot": 1, "gap": 1})
        assert inputs.needs_snapshot("DOGEUSDT") and inputs.poll(T0) == 0  # nothing served, nothing fetched
        restart = {**snapshot, "data": {**snapshot["data"], "u": 1}}  # Bybit's service restarted: u starts at 1
        inputs.on_depth(restart)
        inputs.on_depth({**deltas[0], "data": {**deltas[0]["data"], "u": 2}})
        row = inputs.status()["symbols"]["DOGEUSDT"]
        assert (row["state"], row["last_update_id"]) == ("synced", 2)
        inputs.on_depth({**deltas[1], "data": {**deltas[1]["data"], "b": [["0.07", "NaN"]]}})
        inputs.on_depth({**deltas[1], "topic": "orderbook.200.BTCUSDT", "data": {**deltas[1]["data"], "s": "BTCUSDT"}})
        inputs.on_depth({"success": True, "op": "subscribe"})
        assert inputs.status()["rejects"] == {"bad_quantity": 1, "unknown_symbol": 1, "not_data": 1}
        assert inputs.status()["symbols"]["DOGEUSDT"]["last_update_id"] == 2  # none of them reached the book
        inputs.on_trade("DOGEUSDT", 0.0705, 1_000.0, T0)
        inputs.on_trade("BTCUSDT", 100_000.0, 1.0, T0)  # not followed
        assert inputs.status()["trades"] == 1
        with pytest.raises(ValueError, match="stream mode"):
            _inputs_for(rest, ["DOGEUSDT"], venue="bybit", mode="rest")


def test_build_bot_wires_bybits_book_connection_and_leaves_binances_trades_off(tmp_path: Path) -> None:
    with FakeBinanceRest() as rest:
        config = BotConfig.from_mapping({
            "symbols": ["BTCUSDT"], "exchanges": ["binance", "bybit"],
            "exchange": {"rest_url": rest.base_url, "ws_url": "ws://127.0.0.1:9/market"},
            "venues": {"bybit": {"ws_url": "ws://127.0.0.1:9/v5/public/linear", "rest_url": "http://127.0.0.1:9"},
                       "markets_dir": str(tmp_path / "markets")},
            "orderbook": {"enabled": True, "venue": "bybit"}, "storage": {"path": "bot.sqlite", "events": None}},
            source=tmp_path / "bot.yaml")
        bot = build_bot(config, clock=lambda: T0)
        try:
            assert bot.liquidity is not None and bot.liquidity.venue == "bybit"
            depth = bot.liquidity.depth_stream
            assert isinstance(depth, BybitDepthStream) and depth.settings.ws_url == "ws://127.0.0.1:9/v5/public/linear"
            assert depth.plan.shards == (("orderbook.200.BTCUSDT", "publicTrade.BTCUSDT"),)
            binance = bot.stream.feed(Venue.BINANCE)  # type: ignore[union-attr]
            assert binance is not None and binance.stream is not None
            assert not binance.stream.settings.agg_trades  # Bybit's books: Bybit's trades, not Binance's
        finally:
            bot.books.close()
