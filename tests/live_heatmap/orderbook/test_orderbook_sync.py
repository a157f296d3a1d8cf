"""The local book on real recorded depth (data/orderbook/): Binance's four 1000-level snapshots with their 764
diffs, Bybit's DOGEUSDT orderbook.200; and every way a stream can go wrong -> a resync or a named reject,
counted, never a wrong or crossed book served."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from live_heatmap.orderbook import BinanceBookSync, BybitBookSync, OrderBook
from live_heatmap.orderbook.recording import load_depth_recording, merge_depth_recordings
from live_heatmap.wire.depth import DepthDiff, DepthSnapshot

DATA = Path(__file__).resolve().parents[3] / "data" / "orderbook"
DIFFS = DATA / "binance_usdm_depth100ms_2021-07-22.jsonl"
REST = DATA / "binance_usdm_rest_depth_2021-07-22.txt"
BYBIT = DATA / "bybit_v5_linear_DOGEUSDT_2026-08-09.excerpt.jsonl"
SYMBOLS = ("SUSHIUSDT", "AKROUSDT", "KEEPUSDT", "CTKUSDT")


def _raw_snapshots() -> dict[str, dict[str, object]]:
    """The REST answers, read plainly (not through the reader under test)."""
    out = {}
    for line in filter(None, REST.read_text().splitlines()):
        url, _, rest = line.partition(" -> ")
        body = rest.partition(": ")[2]
        out[url.split("symbol=")[1].split("&")[0]] = json.loads(body)
    return out


def _raw_diffs(symbol: str) -> list[dict[str, object]]:
    return [d["data"] for d in map(json.loads, DIFFS.read_text().splitlines()) if d["data"]["s"] == symbol]


def _reference_book(symbol: str) -> tuple[dict[float, float], dict[float, float], int]:
    """Binance's procedure written as plainly as possible: dicts, the raw JSON, no shared code."""
    snap = _raw_snapshots()[symbol]
    bids = {float(p): float(q) for p, q in snap["bids"]}
    asks = {float(p): float(q) for p, q in snap["asks"]}
    last = snap["lastUpdateId"]
    started = False
    for d in _raw_diffs(symbol):
        if d["u"] < snap["lastUpdateId"]:
            continue
        if not started:
            assert d["U"] <= snap["lastUpdateId"] <= d["u"]
            started = True
        else:
            assert d["pu"] == last
        for side, key in ((bids, "b"), (asks, "a")):
            for p, q in d[key]:
                if float(q) == 0.0:
                    side.pop(float(p), None)
                else:
                    side[float(p)] = float(q)
        last = d["u"]
    return bids, asks, last


def _feed(sync: BinanceBookSync | BybitBookSync, update: DepthDiff | DepthSnapshot, now_ms: int) -> None:
    if isinstance(update, DepthSnapshot):
        sync.on_snapshot(update, now_ms)
    else:
        sync.on_diff(update, now_ms)


def _as_dict(book: OrderBook, side: str) -> dict[float, float]:
    prices, sizes = book.levels(side)
    return dict(zip(prices.tolist(), sizes.tolist(), strict=True))


def _diffs(symbol: str) -> list[DepthDiff]:
    return [u for _, u in load_depth_recording(DIFFS) if u.symbol == symbol and isinstance(u, DepthDiff)]


def _snapshot(symbol: str) -> DepthSnapshot:
    return next(u for _, u in load_depth_recording(REST) if u.symbol == symbol and isinstance(u, DepthSnapshot))


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_each_snapshot_syncs_and_the_book_equals_a_plain_replay(symbol: str) -> None:
    sync = BinanceBookSync(symbol)
    assert sync.needs_snapshot and sync.book is None
    served = 0
    for recv_ms, update in merge_depth_recordings(DIFFS, REST):
        if update.symbol != symbol:
            continue
        _feed(sync, update, recv_ms)
        book = sync.book
        if book is not None:  # checked after every diff: never crossed, every level positive
            served += 1
            assert book.is_valid()
            assert book.best_bid() == max(_as_dict(book, "bid"))
            assert book.best_ask() == min(_as_dict(book, "ask"))
    assert served > 50
    assert sync.state == "synced" and sync.resyncs == 0
    assert set(sync.rejects) <= {"older_than_snapshot"}
    bids, asks, last = _reference_book(symbol)
    book = sync.book
    assert book is not None
    assert _as_dict(book, "bid") == bids and _as_dict(book, "ask") == asks
    assert book.last_update_id == last == _raw_diffs(symbol)[-1]["u"]
    assert sync.status()["last_update_id"] == last and sync.status()["buffered"] == 0


def test_a_pu_gap_gives_exactly_one_resync_and_keeps_the_later_diffs() -> None:
    diffs, snap = _diffs("SUSHIUSDT"), _snapshot("SUSHIUSDT")
    sync = BinanceBookSync("SUSHIUSDT")
    start = next(i for i, d in enumerate(diffs) if d.first_id <= snap.last_update_id <= d.last_id)
    sync.on_snapshot(snap, 0)
    for d in diffs[start:start + 20]:
        sync.on_diff(d, 0)
    assert sync.book is not None
    # drop one diff: the next one's pu no longer matches
    for d in diffs[start + 21:]:
        sync.on_diff(d, 0)
    assert sync.resyncs == 1 and sync.rejects["gap"] == 1
    assert sync.book is None and sync.needs_snapshot
    assert sync.buffered == len(diffs) - (start + 21)
    assert sync.status()["state"] == "waiting_snapshot" and sync.status()["last_update_id"] is None


def test_a_snapshot_older_than_the_buffered_diffs_is_refused_and_counted() -> None:
    diffs, snap = _diffs("AKROUSDT"), _snapshot("AKROUSDT")
    sync = BinanceBookSync("AKROUSDT")
    newer = [d for d in diffs if d.first_id > snap.last_update_id]
    for d in newer[:5]:
        sync.on_diff(d, 0)
    sync.on_snapshot(snap, 0)
    assert sync.book is None and sync.needs_snapshot
    assert sync.rejects["stale_snapshot"] == 1 and sync.resyncs == 1
    assert sync.buffered == 5  # the diffs are kept for the next snapshot


def test_out_of_order_and_repeated_diffs_are_counted_not_applied() -> None:
    diffs, snap = _diffs("KEEPUSDT"), _snapshot("KEEPUSDT")
    sync = BinanceBookSync("KEEPUSDT")
    sync.on_diff(diffs[3], 0)
    sync.on_diff(diffs[1], 0)  # older than what is buffered
    assert sync.rejects["out_of_order"] == 1 and sync.buffered == 1
    sync = BinanceBookSync("KEEPUSDT")
    for d in diffs:
        sync.on_diff(d, 0)
    sync.on_snapshot(snap, 0)
    assert sync.book is not None
    before = sync.book.copy()
    sync.on_diff(diffs[-1], 0)  # a repeat
    assert sync.rejects["stale_diff"] == 1 and sync.resyncs == 0
    assert _as_dict(sync.book, "bid") == _as_dict(before, "bid")


def test_a_diff_for_another_symbol_is_rejected_by_name() -> None:
    sync = BinanceBookSync("SUSHIUSDT")
    sync.on_diff(_diffs("AKROUSDT")[0], 0)
    sync.on_snapshot(_snapshot("AKROUSDT"), 0)
    assert sync.rejects["unknown_symbol"] == 2 and sync.buffered == 0 and sync.needs_snapshot


def test_a_diff_that_crosses_the_book_drops_it_and_resyncs() -> None:
    diffs, snap = _diffs("CTKUSDT"), _snapshot("CTKUSDT")
    sync = BinanceBookSync("CTKUSDT")
    for d in diffs:
        sync.on_diff(d, 0)
    sync.on_snapshot(snap, 0)
    book = sync.book
    assert book is not None
    ask = book.best_ask()
    assert ask is not None
    last = book.last_update_id
    bad = DepthDiff("CTKUSDT", last + 1, last + 5, last, 1, np.array([[ask * 1.01, 5.0]]), np.empty((0, 2)))
    sync.on_diff(bad, 0)
    assert sync.book is None and sync.rejects["crossed"] == 1 and sync.resyncs == 1 and sync.needs_snapshot


def test_a_crossed_snapshot_is_never_served() -> None:
    sync = BinanceBookSync("X")
    sync.on_snapshot(DepthSnapshot("X", 10, 1, np.array([[101.0, 1.0]]), np.array([[100.0, 1.0]])), 0)
    assert sync.book is None and sync.rejects["crossed_snapshot"] == 1 and sync.needs_snapshot


def test_a_stream_that_never_gets_a_snapshot_is_capped() -> None:
    sync = BinanceBookSync("X", buffer_cap=50)
    empty = np.empty((0, 2))
    for i in range(1, 201):
        sync.on_diff(DepthDiff("X", i, i, i - 1, 1, empty, empty), 0)
    assert sync.buffered == 50 and sync.rejects["buffer_full"] == 150


def _bybit() -> list[DepthDiff | DepthSnapshot]:
    return [u for _, u in load_depth_recording(BYBIT)]


def test_bybit_snapshot_and_deltas_equal_a_plain_replay() -> None:
    sync = BybitBookSync("DOGEUSDT")
    for update in _bybit():
        _feed(sync, update, 0)
        assert sync.book is not None and sync.book.is_valid()
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    for line in BYBIT.read_text().splitlines():
        msg = json.loads(json.loads(line)["data"])
        if msg["type"] == "snapshot":
            bids, asks = {}, {}
        for side, key in ((bids, "b"), (asks, "a")):
            for p, q in msg["data"][key]:
                if float(q) == 0:
                    side.pop(float(p), None)
                else:
                    side[float(p)] = float(q)
    book = sync.book
    assert book is not None and sync.resyncs == 0 and not sync.rejects
    assert _as_dict(book, "bid") == bids and _as_dict(book, "ask") == asks
    assert len(bids) == 200 and len(asks) == 200


def test_bybit_a_delta_before_the_snapshot_or_a_gap_resyncs() -> None:
    updates = _bybit()
    sync = BybitBookSync("DOGEUSDT")
    sync.on_diff(updates[1], 0)  # type: ignore[arg-type]
    assert sync.rejects["delta_before_snapshot"] == 1 and sync.book is None and sync.needs_snapshot
    sync.on_snapshot(updates[0], 0)  # type: ignore[arg-type]
    sync.on_diff(updates[1], 0)  # type: ignore[arg-type]
    assert sync.book is not None
    sync.on_diff(updates[3], 0)  # type: ignore[arg-type]  # u skips one
    assert sync.rejects["gap"] == 1 and sync.resyncs == 1 and sync.book is None and sync.needs_snapshot
    sync.on_snapshot(updates[0], 0)  # type: ignore[arg-type]
    assert sync.book is not None and sync.resyncs == 1


def test_order_book_reads() -> None:
    book = OrderBook("X")
    assert book.best_bid() is None and book.mid() is None and not book.crossed()
    book.load(np.array([[99.0, 1.0], [98.0, 2.0], [97.0, 3.0]]), np.array([[101.0, 4.0], [102.0, 5.0]]), 7, 9)
    prices, sizes = book.levels("bid", max_levels=2)
    assert prices.tolist() == [99.0, 98.0] and sizes.tolist() == [1.0, 2.0]
    assert book.levels("ask")[0].tolist() == [101.0, 102.0]
    assert book.mid() == 100.0 and book.last_update_id == 7 and book.updated_ms == 9
    copy = book.copy()
    book.apply(np.array([[99.0, 0.0]]), np.array([[100.5, 1.0]]), 8, 10)
    assert book.best_bid() == 98.0 and book.best_ask() == 100.5 and book.size_at("bid", 99.0) == 0.0
    assert copy.best_bid() == 99.0 and copy.best_ask() == 101.0 and copy.depth("bid") == 3
    with pytest.raises(ValueError, match="side"):
        book.levels("buy")
    assert math.isclose(book.mid() or 0.0, 99.25)
