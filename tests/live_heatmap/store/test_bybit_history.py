"""Bybit's recorded liquidation history (its former ``liquidation.BTCUSDT`` topic, ``data/bybit/``): the 72 days
import as Bybit bankruptcy-price events, the side convention holds on the data, they cluster, the raw frames of
the same recorder give the same events as its CSV, and bad rows are counted by reason."""

from __future__ import annotations

import csv
import json
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest

from live_heatmap import LiquidationEvent, LiveLiquidationHeatmap
from live_heatmap.side import Side
from live_heatmap.store.history import (
    BYBIT_COLUMNS,
    ImportReport,
    detect_format,
    import_events,
    load_events,
    read_events,
)
from live_heatmap.store.recorder import EventStore
from live_heatmap.venue import PriceKind, Venue

BYBIT = Path(__file__).resolve().parents[3] / "data" / "bybit"
HISTORY = BYBIT / "liquidation_BTCUSDT_2024-02-12_2024-06-02.csv"
FRAMES = BYBIT / "liquidation_BTCUSDT_raw_frames_2024-02-12.jsonl"
DAY = 86_400_000
HOUR = 3_600_000


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    """The CSV read with the csv module alone, to check the reader against."""
    with HISTORY.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def history() -> list[LiquidationEvent]:
    return load_events(HISTORY)


def test_both_file_kinds_are_recognised() -> None:
    assert detect_format(HISTORY) == "bybit_csv"
    assert detect_format(FRAMES) == "bybit_frames"


def test_the_72_days_import(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    with EventStore.open(tmp_path / "events.sqlite") as store:
        assert import_events(HISTORY, store) == ImportReport(30_630, 0, 0)
        assert import_events(HISTORY, store) == ImportReport(0, 30_630, 0)  # again: nothing new
        assert store.count() == store.count(exchanges=["bybit"]) == len(rows) == 30_630
        assert store.count(exchanges=["binance", "okx"]) == 0
        events = list(store.events(["BTC/USDT:USDT"], exchanges=["bybit"]))
        first, last = store.span() or (0, 0)
    sides = Counter({"Buy": Side.LONG, "Sell": Side.SHORT}[r["side"]] for r in rows)
    assert Counter(e.side for e in events) == sides == {Side.LONG: 14_149, Side.SHORT: 16_481}
    times = [int(r["ts_ms"]) for r in rows]
    assert (first, last) == (min(times), max(times))
    assert first // DAY * DAY == 1_707_696_000_000  # 2024-02-12
    assert last // DAY * DAY == 1_717_286_400_000  # 2024-06-02
    assert {(e.symbol, e.exchange, e.price_kind, e.venue_symbol, e.status, e.fallback) for e in events} == {
        ("BTCUSDT", Venue.BYBIT, PriceKind.BANKRUPTCY, "", "FILLED", False)}
    assert all(e.event_time == e.trade_time for e in events)
    by_row = sorted((int(r["ts_ms"]), float(r["price"]), float(r["qty"])) for r in rows)
    assert sorted((e.trade_time, e.price, e.quantity) for e in events) == by_row


def test_buy_means_a_long_was_liquidated(history: list[LiquidationEvent]) -> None:
    """Longs are liquidated as the price falls: consecutive long liquidations (within a minute) walk the
    bankruptcy price down far more often than up, short ones up. Read the other way round, both would fail."""
    moves: Counter[tuple[Side, str]] = Counter()
    for a, b in pairwise(history):
        if a.side == b.side and b.trade_time - a.trade_time < 60_000 and a.price != b.price:
            moves[a.side, "down" if b.price < a.price else "up"] += 1
    assert moves[Side.LONG, "down"] > 5 * moves[Side.LONG, "up"] > 0
    assert moves[Side.SHORT, "up"] > 5 * moves[Side.SHORT, "down"] > 0


def test_the_history_clusters(tmp_path: Path, history: list[LiquidationEvent]) -> None:
    hours = Counter(e.trade_time // HOUR for e in history)
    now = (max(hours, key=hours.__getitem__) + 1) * HOUR  # the end of the busiest hour
    with EventStore.open(tmp_path / "events.sqlite") as store:
        import_events(HISTORY, store)
        heatmap = LiveLiquidationHeatmap(clock=lambda: now)
        since = now - int(heatmap.config.horizon_minutes * 60_000)
        window = list(store.events(["BTCUSDT"], since, now, exchanges=["bybit"]))
    assert heatmap.ingest_many(window).accepted == len(window) > 50
    clusters = heatmap.get_clusters("BTCUSDT", now_ms=now)
    assert clusters and {c.side for c in clusters} == {Side.LONG, Side.SHORT}
    for c in clusters:
        members = [e for e in window if e.side == c.side and c.price_low <= e.price <= c.price_high
                   and c.first_event_ms <= e.trade_time <= c.last_updated]
        assert len(members) >= c.liquidation_count
        assert {(e.exchange, e.price_kind) for e in members} == {(Venue.BYBIT, PriceKind.BANKRUPTCY)}


def test_the_raw_frames_give_the_events_of_the_csv_rows_of_their_times(tmp_path: Path,
                                                                         history: list[LiquidationEvent]) -> None:
    frames = [json.loads(line) for line in FRAMES.read_text().splitlines()]
    assert len(frames) == 31 and sum(len(f["d"]) for f in frames) == 32
    times = {f["t"] for f in frames}
    report = read_events(FRAMES)
    assert (report.format, report.read, report.duplicates, dict(report.rejected)) == ("bybit_frames", 32, 0, {})
    assert report.events == [e for e in history if e.trade_time in times]
    assert [(e.side, e.quantity, e.price) for e in report.events] == [
        ({"Buy": Side.LONG, "Sell": Side.SHORT}[d["side"]], float(d["size"]), float(d["price"]))
        for f in frames for d in sorted(f["d"], key=lambda d: (d["side"] == "Sell", float(d["size"])))]
    with EventStore.open(tmp_path / "events.sqlite") as store:  # the two forms of one recording import once
        assert import_events(FRAMES, store).inserted == 32
        assert import_events(HISTORY, store) == ImportReport(30_630 - 32, 32, 0)


def test_bad_csv_rows_are_counted_by_reason(tmp_path: Path) -> None:
    good = "1707756333999,BTCUSDT,Buy,1.496,49306.3,2024-02-12T16:45:33.999Z"
    bad = [
        good.replace("1707756333999", "1707756333"),  # seconds
        good.replace("1707756333999", "soon"),
        good.replace("BTCUSDT", "BTCPERP"),  # a USDC perpetual: its key is not its id, not guessed
        good.replace("BTCUSDT", ""),
        good.replace("Buy", "Long"),
        good.replace("1.496", "0"),
        good.replace("49306.3", "nan"),
        good.replace("49306.3", "abc"),
        "1707756333999,BTCUSDT,Buy",
    ]
    path = tmp_path / "bybit.csv"
    path.write_text("\n".join([",".join(BYBIT_COLUMNS), good, *bad, good.replace("Buy", "Sell"), ""]) + "\n")
    report = read_events(path)
    assert [(e.side, e.trade_time) for e in report.events] == [(Side.LONG, 1707756333999),
                                                               (Side.SHORT, 1707756333999)]
    assert report.rejected == {"bad_timestamp": 2, "bad_symbol": 1, "missing_field": 2, "bad_side": 1,
                               "bad_quantity": 1, "bad_price": 1, "bad_number": 1}


def test_bad_frames_are_counted_by_reason(tmp_path: Path) -> None:
    good = FRAMES.read_text().splitlines()[0]
    frame = json.loads(good)
    item = frame["d"][0]
    lines = [
        good,
        "not json",
        "[1, 2]",
        json.dumps({"t": frame["t"], "d": item}),  # d not an array
        json.dumps({"t": frame["t"]}),  # no d
        json.dumps({"t": frame["t"], "d": []}),  # a frame without a liquidation: nothing, no reject
        json.dumps({"t": str(frame["t"]), "d": [item]}),  # the time as a string
        json.dumps({"t": frame["t"] // 1000, "d": [item]}),  # seconds
        json.dumps({"t": frame["t"], "d": [item, "x", {**item, "size": "0"}, {**item, "side": None},
                                           {**item, "price": True}, {**item, "size": "0.5"}]}),
    ]
    path = tmp_path / "frames.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = read_events(path)
    assert report.format == "bybit_frames"
    assert [e.quantity for e in report.events] == [0.5, 1.496]  # the first line and the last good item
    assert report.events[1] == load_events(FRAMES)[0]
    assert report.rejected == {"not_json": 1, "not_an_object": 2, "not_an_array": 1, "missing_field": 2,
                               "bad_timestamp": 2, "bad_quantity": 1, "bad_number": 1}
