"""History in and out: every recording format read into events (real files), imports into the store, and
exports of events and clusters that read back equal."""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import zipfile
from pathlib import Path

import orjson
import pytest
from conftest import DATA, WIRE

from live_heatmap import LiquidationEvent, LiveLiquidationHeatmap, parse_force_order
from live_heatmap.side import Side
from live_heatmap.store.history import (
    EVENT_FIELDS,
    ImportReport,
    SnapshotSymbolError,
    detect_format,
    event_order,
    export_clusters,
    export_events,
    import_events,
    load_events,
    read_events,
)
from live_heatmap.store.recorder import EventStore
from live_heatmap.store.stores import open_event_store
from live_heatmap.venue import PriceKind, Venue

NORMALIZED = DATA / "liquidations_normalized.csv"
SNAPSHOT = DATA / "liquidationSnapshot_coinm_head.csv"
NOW = 1_737_997_200_000


@pytest.fixture(scope="module")
def wire_events() -> list[LiquidationEvent]:
    """The real recording, in the order every read gives (by trade time; ties by content)."""
    return sorted((parse_force_order(line) for line in WIRE.read_bytes().splitlines()), key=event_order)


def test_formats_are_recognised_by_content(tmp_path: Path) -> None:
    assert detect_format(WIRE) == "frames"
    assert detect_format(NORMALIZED) == "normalized_csv"
    assert detect_format(SNAPSHOT) == "snapshot_csv"
    with EventStore.open(tmp_path / "s.sqlite"):
        pass
    assert detect_format(tmp_path / "s.sqlite") == "sqlite"
    export_events([], "csv", tmp_path / "e.csv")
    export_events([], "json", tmp_path / "e.json")
    assert detect_format(tmp_path / "e.csv") == "events_csv"
    assert detect_format(tmp_path / "e.json") == "events_json"
    (tmp_path / "x.txt").write_text("hello,world\n1,2\n")
    with pytest.raises(ValueError, match="not a recording this project reads"):
        load_events(tmp_path / "x.txt")


def test_raw_frames(tmp_path: Path, wire_events: list[LiquidationEvent]) -> None:
    assert load_events(WIRE) == wire_events  # no duplicate in the file
    lines = WIRE.read_bytes().splitlines()[:50]
    path = tmp_path / "frames.jsonl"
    path.write_bytes(b"\n".join([
        lines[10],  # out of order
        *lines[:10],
        b'{"stream":"btcusdt@forceOrder","data":' + lines[11] + b"}",  # a combined-stream envelope
        lines[3],  # a duplicate
        b"",
        b"not json",
        b'{"e":"markPriceUpdate","E":1}',
        lines[12].replace(b'"ap":"', b'"ap":"-'),
    ]) + b"\n")
    report = read_events(path)
    assert report.format == "frames"
    assert report.events == wire_events[:12]
    assert (report.read, report.duplicates) == (13, 1)
    assert report.rejected == {"not_json": 1, "wrong_event_type": 1, "bad_price": 1}


def test_normalized_csv_matches_the_wire_and_falls_back_where_ap_is_missing(
        wire_events: list[LiquidationEvent]) -> None:
    report = read_events(NORMALIZED)
    exact = [e for e in report.events if not e.fallback]
    assert exact == wire_events  # the same 4,986 events, read from the flat table (E is T in both)
    fallback = [e for e in report.events if e.fallback]
    assert len(fallback) == 1155
    assert report.rejected == {"bad_symbol": 2}  # 'Hello Arbitrage Trading BotIPUSDT': a broken recording
    with NORMALIZED.open() as fh:
        rows = {(r["s"], int(r["T"]), r["S"]): r for r in csv.DictReader(fh) if r["ap_missing"] == "1"}
    for e in fallback:
        row = rows[(e.symbol, e.trade_time, "SELL" if e.side == "long" else "BUY")]
        assert e.price == float(row["p"])  # ap missing: the order price p, as the parser's rule says
        assert e.quantity == float(row["z"])  # z is there: the filled quantity is kept
        assert row["ap"] in ("None", "")


def _as_snapshot_rows(events: list[LiquidationEvent]) -> str:
    """Real USD-M liquidations written as liquidationSnapshot rows (no header: some archives have none), each
    row twice as the archives repeat them."""
    rows = [f"{e.trade_time},{'SELL' if e.side == 'long' else 'BUY'},LIMIT,IOC,{e.quantity!r},{e.price * 1.01!r},"
            f"{e.price!r},FILLED,{e.quantity!r},{e.quantity!r}\n" for e in events]
    return "".join(row + row for row in rows)


def test_liquidation_snapshot_archive(tmp_path: Path, wire_events: list[LiquidationEvent]) -> None:
    btc = [e for e in wire_events if e.symbol == "BTCUSDT"][:30]
    unnamed = tmp_path / "snapshot.csv"
    unnamed.write_text(",".join(("time", "side", "order_type", "time_in_force", "original_quantity", "price",
                                 "average_price", "order_status", "last_fill_quantity",
                                 "accumulated_fill_quantity")) + "\n" + _as_snapshot_rows(btc))
    assert detect_format(unnamed) == "snapshot_csv"
    with pytest.raises(SnapshotSymbolError, match=r"give its USD-M symbol \(symbol=BTCUSDT\)"):
        load_events(unnamed)
    report = read_events(unnamed, symbol="BTC/USDT:USDT")
    assert report.duplicates == len(btc)  # every row twice
    assert [(e.symbol, e.side, e.price, e.quantity, e.trade_time) for e in report.events] == [
        (e.symbol, e.side, e.price, e.quantity, e.trade_time) for e in btc]
    # As Binance served it: zipped, named after the symbol, and some archives without the header row.
    zipped = tmp_path / "BTCUSDT-liquidationSnapshot-2025-01-27.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("BTCUSDT-liquidationSnapshot-2025-01-27.csv", _as_snapshot_rows(btc))
    assert detect_format(zipped) == "snapshot_csv"
    assert load_events(zipped) == report.events


def test_coin_m_snapshot_archives_are_refused(tmp_path: Path) -> None:
    """Binance's COIN-M archive counts contracts (100 USD each for BTC): 7 contracts are not 7 BTC. It is refused
    by its symbol, and by its numbers when it is given a USD-M symbol."""
    with pytest.raises(SnapshotSymbolError, match="symbol=BTCUSD_PERP is a COIN-M contract"):
        load_events(SNAPSHOT, symbol="BTCUSD_PERP")
    with pytest.raises(SnapshotSymbolError, match=r"every quantity is a whole number .* \(7 at 30631.6\).* "
                                                   "whatever symbol=BTCUSDT says"):
        load_events(SNAPSHOT, symbol="BTCUSDT")
    for name in ("ETHUSD_PERP", "BTCUSD_230630"):
        named = tmp_path / f"{name}-liquidationSnapshot-2023-06-25.csv"
        shutil.copy(SNAPSHOT, named)
        with pytest.raises(SnapshotSymbolError, match=rf"its file name \({name}\) is a COIN-M contract"):
            load_events(named)
    store = tmp_path / "events.sqlite"
    with EventStore.open(store) as opened, pytest.raises(SnapshotSymbolError):
        import_events(SNAPSHOT, opened, symbol="BTCUSDT")
    with EventStore.open_readonly(store) as opened:
        assert list(opened.events(None, None, None)) == []  # nothing stored


def test_gzip_and_filters(tmp_path: Path, wire_events: list[LiquidationEvent]) -> None:
    packed = tmp_path / "frames.jsonl.gz"
    packed.write_bytes(gzip.compress(WIRE.read_bytes()))
    btc = [e for e in wire_events if e.symbol in ("BTCUSDT", "ETHUSDT")]
    assert load_events(packed, symbols=["BTC/USDT:USDT", "ethusdt"]) == btc
    since, until = btc[5].trade_time, btc[50].trade_time
    assert load_events(packed, symbols=["BTCUSDT", "ETHUSDT"], since_ms=since, until_ms=until) == btc[5:50]
    assert load_events(NORMALIZED, symbols=["BTCUSDT"], since_ms=since, until_ms=until) == [
        e for e in btc[5:50] if e.symbol == "BTCUSDT"]


def test_event_store_source(store_target: str, wire_events: list[LiquidationEvent]) -> None:
    path = store_target  # a SQLite file, or a postgresql:// URL: load_events reads either by its name
    with open_event_store(path) as store:
        store.append(wire_events)
        assert load_events(store, symbols=["SOLUSDT"]) == [e for e in wire_events if e.symbol == "SOLUSDT"]
    assert load_events(path) == wire_events


def test_import_counts_and_is_idempotent(store_target: str) -> None:
    with open_event_store(store_target) as store:
        assert import_events(WIRE, store) == ImportReport(4986, 0, 0)
        assert import_events(WIRE, store) == ImportReport(0, 4986, 0)
        # The normalized table holds the same 4,986 (duplicates now) and 1,155 fallback events more.
        assert import_events(NORMALIZED, store) == ImportReport(1155, 4986, 2)
        assert store.count() == 4986 + 1155
        assert import_events(WIRE, store, symbols=["BTCUSDT"], since_ms=NOW).inserted == 0


ODD = [
    LiquidationEvent("BTCUSDT", "short", 0.1 + 0.2, 1e-8, NOW + 3, NOW, "PARTIALLY_FILLED", True),
    LiquidationEvent("1000PEPEUSDT", "long", 1.2345678901234567e-05, 123456789.0, NOW, NOW, "EXPIRED", False),
    LiquidationEvent("币安人生USDT", "long", 0.25, 3.0, NOW + 1, NOW + 1, "NEW", False),
]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_exported_events_read_back_equal(tmp_path: Path, store_target: str, fmt: str,
                                        wire_events: list[LiquidationEvent]) -> None:
    events = sorted(wire_events + ODD, key=event_order)
    path = tmp_path / f"events.{fmt}"
    assert export_events(events, fmt, path) == len(events)
    back = load_events(path)
    assert back == events
    assert [type(e.fallback) for e in back[:3]] == [bool] * 3
    assert [e.price for e in back] == [e.price for e in events]  # exact floats, not rounded
    with open_event_store(store_target) as store:  # and through the store (SQLite, PostgreSQL)
        assert import_events(path, store).inserted == len(events)
        out = io.StringIO()
        export_events(store.events(), fmt, out)
    (tmp_path / f"again.{fmt}").write_text(out.getvalue())
    assert load_events(tmp_path / f"again.{fmt}") == events


def on(venue: Venue, e: LiquidationEvent, venue_symbol: str = "") -> LiquidationEvent:
    kind = PriceKind.FILL_AVG if venue is Venue.BINANCE else PriceKind.BANKRUPTCY
    return e._replace(exchange=venue, price_kind=kind, venue_symbol=venue_symbol)


VENUES = [  # the same liquidation tuple on Binance and Bybit (two events), OKX with its own ids
    on(Venue.BINANCE, ODD[0]), on(Venue.BYBIT, ODD[0]), on(Venue.BYBIT, ODD[1]),
    on(Venue.OKX, LiquidationEvent("BTCUSDT", Side.LONG, 82655.7, 0.0855, NOW + 4, NOW + 2, "FILLED", False),
       "BTC-USDT-SWAP"),
    on(Venue.OKX, LiquidationEvent("BTC/USD:BTC", Side.SHORT, 50000.0, 2.0, NOW, NOW, "FILLED", False),
       "BTC-USD-SWAP"),
]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_exports_carry_the_venue_and_read_back_equal(tmp_path: Path, store_target: str, fmt: str,
                                                     wire_events: list[LiquidationEvent]) -> None:
    events = sorted(wire_events[:100] + VENUES, key=event_order)
    path = tmp_path / f"events.{fmt}"
    assert export_events(events, fmt, path) == len(events)
    back = load_events(path)
    assert [tuple(e) for e in back] == [tuple(e) for e in events]  # all 11 fields
    assert all(type(e.exchange) is Venue and type(e.price_kind) is PriceKind for e in back)
    assert load_events(path, exchanges=["bybit"]) == [e for e in events if e.exchange is Venue.BYBIT]
    assert load_events(path, exchanges=["okx"], symbols=["BTCUSDT"]) == VENUES[3:4]
    with open_event_store(store_target) as store:  # through the store and out again
        assert import_events(path, store) == ImportReport(len(events), 0, 0)
        assert import_events(path, store, exchanges=["okx"]) == ImportReport(0, 2, 0)
        out = io.StringIO()
        export_events(store.events(exchanges=["bybit", "okx"]), fmt, out)
    (tmp_path / f"again.{fmt}").write_text(out.getvalue())
    assert load_events(tmp_path / f"again.{fmt}") == [e for e in events if e.exchange is not Venue.BINANCE]


def test_an_import_filtered_by_exchange_stores_that_venue_only(tmp_path: Path, store_target: str) -> None:
    path = tmp_path / "events.csv"
    export_events(VENUES, "csv", path)
    with open_event_store(store_target) as store:
        assert import_events(path, store, exchanges=["bybit"]) == ImportReport(2, 0, 0)
        assert list(store.events()) == sorted(VENUES[1:3], key=event_order)
        with pytest.raises(ValueError, match="unknown exchange"):
            import_events(path, store, exchanges=["binanse"])


# What export wrote before the venue was kept (8 fields), byte for byte.
OLD_CSV = (f"symbol,side,price,quantity,event_time,trade_time,status,fallback\n"
           f"BTCUSDT,short,{0.1 + 0.2!r},1e-08,{NOW + 3},{NOW},PARTIALLY_FILLED,True\n"
           f"ETHUSDT,long,3000.5,2.0,{NOW},{NOW},FILLED,False\n")
OLD_JSON = f"""[
  {{
    "symbol": "BTCUSDT",
    "side": "short",
    "price": {0.1 + 0.2!r},
    "quantity": 1e-8,
    "event_time": {NOW + 3},
    "trade_time": {NOW},
    "status": "PARTIALLY_FILLED",
    "fallback": true
  }},
  {{
    "symbol": "ETHUSDT",
    "side": "long",
    "price": 3000.5,
    "quantity": 2.0,
    "event_time": {NOW},
    "trade_time": {NOW},
    "status": "FILLED",
    "fallback": false
  }}
]
"""


@pytest.mark.parametrize(("name", "text"), [("old.csv", OLD_CSV), ("old.json", OLD_JSON)])
def test_an_export_made_before_the_venue_was_kept_imports_as_binance(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert detect_format(path) == ("events_csv" if name.endswith("csv") else "events_json")
    expected = [LiquidationEvent("BTCUSDT", Side.SHORT, 0.1 + 0.2, 1e-8, NOW + 3, NOW, "PARTIALLY_FILLED", True),
                LiquidationEvent("ETHUSDT", Side.LONG, 3000.5, 2.0, NOW, NOW, "FILLED", False)]
    report = read_events(path)
    assert (report.events, dict(report.rejected)) == (expected, {})
    assert all(e.exchange is Venue.BINANCE and e.price_kind is PriceKind.FILL_AVG for e in report.events)
    assert load_events(path, exchanges=["bybit"]) == []
    with EventStore.open(tmp_path / "s.sqlite") as store:
        assert import_events(path, store) == ImportReport(2, 0, 0)
        assert store.append([on(Venue.BYBIT, expected[0])]) == 1  # not the same liquidation as Binance's
        assert import_events(path, store) == ImportReport(0, 2, 0)


def test_a_json_export_missing_a_venue_key_is_rejected_not_guessed(tmp_path: Path) -> None:
    item = {name: value for name, value in zip(EVENT_FIELDS, VENUES[1], strict=True)}
    path = tmp_path / "e.json"
    path.write_text(json.dumps([item, {k: v for k, v in item.items() if k != "price_kind"},
                                {**item, "exchange": "ftx"}, {**item, "venue_symbol": None},
                                {**item, "price_kind": "mark"}, {**item, "venue_symbol": "BTC USDT"}]))
    report = read_events(path)
    assert report.events == [VENUES[1]]
    assert report.rejected == {"missing_field": 2, "bad_price_kind": 1, "bad_exchange": 1, "bad_symbol": 1}


def test_exported_events_layout(tmp_path: Path) -> None:
    export_events(ODD[:1], "csv", tmp_path / "e.csv")
    assert (tmp_path / "e.csv").read_text().splitlines() == [
        ",".join(EVENT_FIELDS),
        f"BTCUSDT,short,{0.1 + 0.2!r},1e-08,{NOW + 3},{NOW},PARTIALLY_FILLED,True,binance,fill_avg,"]
    export_events(ODD[:1], "json", tmp_path / "e.json")
    assert json.loads((tmp_path / "e.json").read_text()) == [dict(zip(EVENT_FIELDS, ODD[0], strict=True))]
    with pytest.raises(ValueError, match="'csv' or 'json'"):
        export_events(ODD, "xml", tmp_path / "e.xml")


def test_bad_rows_of_an_export_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    good = f"BTCUSDT,long,100.0,1.0,{NOW},{NOW},FILLED,False,bybit,bankruptcy,"
    path.write_text("\n".join([",".join(EVENT_FIELDS), good, good.replace("long", "up"),
                               good.replace("100.0", "-1"), good.replace(f",{NOW},F", ",17,F"), "BTCUSDT,long",
                               good.removesuffix(",bybit,bankruptcy,"),  # 8 columns under an 11-column header
                               good.replace("bybit", "kraken"), good.replace("bankruptcy", "mark"),
                               good.replace("bankruptcy,", "bankruptcy,BTC USDT")]))
    report = read_events(path)
    assert report.events == [LiquidationEvent("BTCUSDT", Side.LONG, 100.0, 1.0, NOW, NOW, "FILLED", False,
                                              Venue.BYBIT, PriceKind.BANKRUPTCY)]
    assert report.rejected == {"bad_side": 1, "bad_price": 1, "bad_timestamp": 1, "missing_field": 2,
                               "bad_exchange": 1, "bad_price_kind": 1, "bad_symbol": 1}


def test_clusters_export(tmp_path: Path, wire_events: list[LiquidationEvent]) -> None:
    heatmap = LiveLiquidationHeatmap(min_cluster_size=3)
    heatmap.ingest_many(wire_events)
    now = 1_766_849_000_000  # 2025-12-27 15:23, inside the busiest recorded session
    heatmap.update_price("1000PEPEUSDT", 0.0075)  # one symbol with a price (distance), the others without
    clusters = [c for symbol in heatmap.symbols() for c in heatmap.get_clusters(symbol, now_ms=now)]
    assert len(clusters) > 50
    assert any(c.distance_from_price is None for c in clusters) and any(c.distance_from_price for c in clusters)
    assert export_clusters(clusters, "json", tmp_path / "c.json") == len(clusters)
    assert orjson.loads((tmp_path / "c.json").read_bytes()) == [c.to_dict() for c in clusters]
    assert export_clusters(clusters, "csv", tmp_path / "c.csv") == len(clusters)
    with (tmp_path / "c.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["cluster_id"] for r in rows] == [c.cluster_id for c in clusters]
    assert [float(r["strength"]) for r in rows] == [c.strength for c in clusters]
    assert [float(r["price_level"]) for r in rows] == [c.price_level for c in clusters]
    assert {r["distance_from_price"] for r in rows if r["symbol"] != "1000PEPEUSDT"} == {""}  # None: empty
    assert export_clusters([], "csv", tmp_path / "none.csv") == 0
    assert (tmp_path / "none.csv").read_text() == ",".join(rows[0]) + "\n"  # the header alone
