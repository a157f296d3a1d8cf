"""The liquidity layer's live inputs (issue 15) against the local fake Binance REST server: a book synchronised
from buffered diffs and a ``GET /fapi/v1/depth`` snapshot, a ``pu`` gap -> exactly one resync and a book equal to
the venue's again, snapshots rate-limited, exchange errors counted while the job goes on, the cheap REST mode,
a crossed book never served, and the recorded depth written to the event store's file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from fakes.binance import FakeBinanceRest

from liquidation_hunter.bot.liquidity import SNAPSHOT_GAP_MS, LiquidityInputs, make_layer
from liquidation_hunter.bot.runner import build_bot
from liquidation_hunter.config.model import BotConfig
from live_heatmap.orderbook.book import OrderBook
from live_heatmap.store.depth_runs import load_depth_history
from live_heatmap.stream.depth_budget import depth_budget

T0 = 1_767_225_600_000
BIDS = [(100_000.0 - i, 1.0 + i % 3) for i in range(50)]
ASKS = [(100_001.0 + i, 2.0 + i % 2) for i in range(50)]
CONFIG = BotConfig.from_mapping({"symbols": ["BTCUSDT"], "orderbook": {"enabled": True}})


def _inputs(rest: FakeBinanceRest, **kwargs: Any) -> LiquidityInputs:
    return LiquidityInputs(make_layer(CONFIG), rest.client(), ["BTCUSDT"], **kwargs)


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
            "hunter": {"wall": "prefer"}, "storage": {"path": "bot.sqlite", "events": None}},
            source=tmp_path / "bot.yaml")
        bot = build_bot(config, clock=lambda: T0)
        try:
            assert bot.liquidity is not None
            assert bot.strategy.hunter.liquidity is bot.liquidity.layer  # type: ignore[attr-defined]
        finally:
            bot.books.close()
