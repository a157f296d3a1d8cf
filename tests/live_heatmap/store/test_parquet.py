"""History as a Parquet dataset (issue 17): written and read through a real DuckDB, on the shipped recording
recorded into a real SQLite event store first."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from conftest import DATA, WIRE

from live_heatmap import LiquidationEvent
from live_heatmap.side import Side
from live_heatmap.store.history import detect_format, import_events, load_events
from live_heatmap.store.parquet import FILE_NAME, export_parquet
from live_heatmap.store.recorder import EventStore
from live_heatmap.venue import PriceKind, Venue

DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped Binance recording (frames and the normalized CSV) recorded into an event store."""
    path = tmp_path_factory.mktemp("store") / "events.sqlite"
    with EventStore.open(path) as events:
        import_events(WIRE, events)
        import_events(DATA / "liquidations_normalized.csv", events)
    return path


def _files(root: Path) -> dict[str, tuple[str, int]]:
    """Every partition file: its sha256 and mtime (ns)."""
    return {p.relative_to(root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*.parquet"))}


def test_counts_by_symbol_side_and_day_equal_the_sqlite_store(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    events = load_events(store)
    report = export_parquet(events, out)
    assert report.events == report.new == len(events) > 6000
    with sqlite3.connect(store) as db:
        expected = Counter({(s, d, day): n for s, d, day, n in db.execute(
            "SELECT symbol, side, date(trade_time / 1000, 'unixepoch'), count(*) FROM events GROUP BY 1, 2, 3")})
    with duckdb.connect() as db:  # the dataset read by DuckDB alone, partitions from the paths
        got = Counter({(s, d, str(day)): n for s, d, day, n in db.execute(
            f"SELECT symbol, side, date, count(*) FROM read_parquet('{out}/*/*/*/*.parquet', hive_partitioning = "
            "true, hive_types = {'symbol': VARCHAR, 'date': DATE}) GROUP BY ALL").fetchall()})
    assert got == expected and len(expected) > 100
    assert detect_format(out) == "parquet"
    assert load_events(out) == events  # every field, in the same order


def test_a_second_export_of_the_same_range_changes_no_file(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    events = load_events(store)
    first = export_parquet(events, out)
    before = _files(out)
    assert first.written == len(before) > 100
    again = export_parquet(load_events(store), out)
    assert (again.new, again.written, again.unchanged) == (0, 0, first.written)
    assert _files(out) == before


def test_a_partial_day_exported_again_when_it_grew(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    events = load_events(store, symbols=["BTCUSDT"])
    middle = events[len(events) // 2].trade_time
    half = export_parquet([e for e in events if e.trade_time < middle], out)
    before = _files(out)
    grown = export_parquet(events, out)
    after = _files(out)
    day = f"date={_day(middle)}"
    changed = {name for name in after if before.get(name) != after[name]}
    assert day in "".join(changed)  # the day cut in two was rewritten whole
    assert all(before[name] == after[name] for name in before if name not in changed)  # earlier days untouched
    assert grown.new == len(events) - half.new and half.new > 0
    assert load_events(out) == events
    assert not list(out.rglob(".*"))  # no staging file left behind


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def test_filters_read_the_same_events_as_the_store(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    export_parquet(load_events(store), out)
    events = load_events(store)
    since, until = events[500].trade_time, events[-500].trade_time
    for symbols in (["BTCUSDT"], ["ETH/USDT:USDT", "SOLUSDT"], None):
        want = load_events(store, symbols=symbols, since_ms=since, until_ms=until)
        assert load_events(out, symbols=symbols, since_ms=since, until_ms=until) == want and want
    assert load_events(out, exchanges=["bybit"]) == []
    assert load_events(out, symbols=["NOSUCHUSDT"]) == []


def test_venues_and_every_field_round_trip(tmp_path: Path) -> None:
    t = 1_737_997_200_000
    events = [
        LiquidationEvent("BTCUSDT", Side.LONG, 101_000.5, 0.25, t + 5, t, "FILLED", False),
        LiquidationEvent("BTCUSDT", Side.SHORT, 99_000.125, 1.5, t + 9, t + 1, "PARTIALLY_FILLED", True),
        LiquidationEvent("BTCUSDT", Side.LONG, 101_000.5, 0.25, t, t, "FILLED", False, Venue.BYBIT,
                         PriceKind.BANKRUPTCY),
        LiquidationEvent("BTCUSDT", Side.SHORT, 3.0, 7.0, t + DAY_MS, t + DAY_MS, "FILLED", False, Venue.OKX,
                         PriceKind.BANKRUPTCY, "BTC-USDT-SWAP"),
    ]
    report = export_parquet([*events, events[0]], tmp_path)  # a repeated event is stored once
    assert (report.events, report.new, report.written) == (5, 4, 3)
    assert sorted(p.parent.relative_to(tmp_path).as_posix() for p in tmp_path.rglob(FILE_NAME)) == [
        "exchange=binance/symbol=BTCUSDT/date=2025-01-27", "exchange=bybit/symbol=BTCUSDT/date=2025-01-27",
        "exchange=okx/symbol=BTCUSDT/date=2025-01-28"]
    assert load_events(tmp_path) == sorted(events, key=lambda e: (e[5], e[0], e[1], e[3], e[2], e[8]))
    assert load_events(tmp_path, exchanges=["okx"]) == [events[3]]


def test_a_directory_that_is_not_a_dataset_is_named(store: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=re.escape("no exchange=<venue>/symbol=<SYMBOL>/date=<YYYY-MM-DD>")):
        load_events(empty)
    good = tmp_path / "good"
    export_parquet(load_events(store, symbols=["BTCUSDT"]), good)
    stray = good / "exchange=binance" / "notes.parquet"
    stray.write_bytes((next(good.rglob(FILE_NAME))).read_bytes())
    with pytest.raises(ValueError, match=re.escape("exchange=binance/notes.parquet is not laid out as")):
        load_events(good)
    stray.unlink()
    wrong_venue = good / "exchange=kraken" / "symbol=BTCUSDT" / "date=2025-01-27"
    wrong_venue.mkdir(parents=True)
    (wrong_venue / FILE_NAME).write_bytes(next(good.rglob(FILE_NAME)).read_bytes())
    with pytest.raises(ValueError, match=re.escape("exchange=kraken is not laid out")):
        load_events(good)
    (wrong_venue / FILE_NAME).write_text("symbol,side\n")
    (good / "exchange=kraken").rename(good / "exchange=okx")
    with pytest.raises(ValueError, match=re.escape("events.parquet: not a Parquet file")):
        load_events(good)
    with pytest.raises(ValueError, match="not a directory"):
        export_parquet([], WIRE)
