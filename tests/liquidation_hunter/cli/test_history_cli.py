"""``import`` and ``export`` as users run them, on the real recordings and a real SQLite store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import DATA, WIRE

from liquidation_hunter.cli import main
from live_heatmap.store.history import load_events
from live_heatmap.store.recorder import EventStore
from live_heatmap.venue import PriceKind, Venue

COIN_M = DATA / "liquidationSnapshot_coinm_head.csv"
BYBIT = Path(__file__).resolve().parents[3] / "data" / "bybit"
SCHEMA_1 = Path(__file__).resolve().parents[2] / "live_heatmap" / "store" / "fixtures" / "events_schema1.sqlite"


def test_import_twice_then_export_a_range_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "events.sqlite"
    assert main(["import", str(WIRE), "--db", str(db)]) == 0
    assert main(["import", str(DATA / "liquidations_normalized.csv"), "--db", str(db)]) == 0
    assert main(["import", str(WIRE), "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("4986 new events, 0 duplicates, 0 rejected")
    assert "4986 duplicates" in lines[1] and "2 rejected" in lines[1]  # the rows whose ap was lost come in
    assert lines[2].endswith("0 new events, 4986 duplicates, 0 rejected")

    out = tmp_path / "eth.csv"
    since, until = "2025-01-27T17:00:00Z", "2025-01-27T17:20:00Z"
    assert main(["export", "--db", str(db), "--symbol", "ETH/USDT:USDT", "--from", since, "--to", until,
                 "--out", str(out)]) == 0
    exported = load_events(out)
    expected = load_events(WIRE, symbols=["ETHUSDT"], since_ms=1_737_997_200_000, until_ms=1_737_998_400_000)
    assert exported == expected and len(expected) > 10

    assert main(["export", "--db", str(db), "--symbol", "ETHUSDT", "--to", until, "--what", "clusters",
                 "--format", "json"]) == 0
    clusters = json.loads(capsys.readouterr().out)
    assert clusters and {c["symbol"] for c in clusters} == {"ETHUSDT"}
    assert all(0.0 <= c["strength"] <= 1.0 for c in clusters)


def test_history_commands_need_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(WIRE)]) == 2
    config = tmp_path / "bot.yaml"
    config.write_text("storage:\n  events: null\n")
    assert main(["export", "--config", str(config), "--symbol", "BTCUSDT"]) == 2
    assert main(["record", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "give --db FILE or --config FILE" in err and "storage.events is null" in err


def test_mistakes_with_files_are_one_line_and_a_non_zero_exit(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "store.sqlite")
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes([0x00, 0x01, 0x9D, 0xFF, 0xFE]) * 40)
    not_liquidations = tmp_path / "other.jsonl"
    not_liquidations.write_text('{"a": 1}\n{"e": "forceOrder", "o": {}}\n')
    cases = [
        (["import", str(tmp_path / "nope.jsonl"), "--db", db], 2, "nope.jsonl: no such file"),
        (["import", str(garbage), "--db", db], 2, "garbage.bin: not a recording this project reads (byte 2"),
        (["import", str(not_liquidations), "--db", db], 1, "other.jsonl: no liquidation in it (2 lines"),
        (["export", "--events", str(tmp_path / "nope.jsonl"), "--symbol", "BTCUSDT"], 2, "nope.jsonl: no such"),
        (["export", "--db", str(tmp_path / "nope.sqlite"), "--symbol", "BTCUSDT"], 2, "nope.sqlite: No such file"),
        # Binance's COIN-M archive counts contracts (100 USD each for BTC): never stored as coins
        (["import", str(COIN_M), "--file-symbol", "BTCUSDT", "--db", db], 2,
         "every quantity is a whole number at prices above 1,000 (7 at 30631.6): a COIN-M archive, counting "
         "contracts (100 USD each for BTC), not coins, whatever --file-symbol BTCUSDT says"),
        (["import", str(COIN_M), "--file-symbol", "BTCUSD_PERP", "--db", db], 2,
         "--file-symbol BTCUSD_PERP is a COIN-M contract"),
        (["import", str(COIN_M), "--db", db], 2, "give its USD-M symbol (--file-symbol BTCUSDT)"),
    ]
    for argv, code, message in cases:
        assert main(argv) == code, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and message in err, (argv, err)
    assert main(["export", "--db", db, "--symbol", "BTCUSDT"]) == 0
    assert capsys.readouterr().out.count("\n") == 1  # the header alone: no COIN-M contract was stored
    assert main(["import", str(WIRE), "--db", db]) == 0  # the store the mistakes left is still usable


def test_bybit_history_imports_and_exports_by_exchange(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "events.sqlite"
    shutil.copyfile(SCHEMA_1, db)  # a store recorded before the venue was kept (Binance events): migrated
    history = BYBIT / "liquidation_BTCUSDT_2024-02-12_2024-06-02.csv"
    assert main(["import", str(history), "--db", str(db), "--exchange", "binance"]) == 1
    assert "no liquidation of binance in it (0 lines or rows rejected)" in capsys.readouterr().err
    assert main(["import", str(history), "--db", str(db), "--exchange", "bybit"]) == 0
    assert main(["import", str(BYBIT / "liquidation_BTCUSDT_raw_frames_2024-02-12.jsonl"), "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("30630 new events, 0 duplicates, 0 rejected")
    assert lines[1].endswith("0 new events, 32 duplicates, 0 rejected")  # the same recording, other form
    with EventStore.open_readonly(db) as store:
        assert store.count(exchanges=["bybit"]) == 30_630 and store.count(exchanges=["binance"]) == 11

    out = tmp_path / "day.csv"
    day = ["--from", "2024-05-20T00:00:00Z", "--to", "2024-05-21T00:00:00Z"]
    assert main(["export", "--db", str(db), "--symbol", "BTCUSDT", "--exchange", "bybit", *day, "--out", str(out)]) == 0
    header = out.read_text().splitlines()[0].split(",")
    assert header[-3:] == ["exchange", "price_kind", "venue_symbol"]
    exported = load_events(out)
    assert exported and {(e.exchange, e.price_kind) for e in exported} == {(Venue.BYBIT, PriceKind.BANKRUPTCY)}
    assert exported == load_events(BYBIT / "liquidation_BTCUSDT_2024-02-12_2024-06-02.csv",
                                   since_ms=1_716_163_200_000, until_ms=1_716_249_600_000)
    assert main(["export", "--db", str(db), "--symbol", "BTCUSDT", "--exchange", "binance", *day]) == 0
    assert capsys.readouterr().out.count("\n") == 1  # the header alone: Binance has none that day

    assert main(["export", "--db", str(db), "--symbol", "BTCUSDT", "--exchange", "bybit", "--what", "clusters",
                 "--to", "2024-05-21T00:00:00Z", "--format", "json"]) == 0
    clusters = json.loads(capsys.readouterr().out)
    assert clusters and {c["symbol"] for c in clusters} == {"BTCUSDT"}
    assert main(["export", "--db", str(db), "--symbol", "BTCUSDT", "--exchange", "okx", "--what", "clusters"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no events of BTCUSDT on okx up to then" in err


def _parquet_files(root: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*.parquet")}


def test_export_parquet_twice_then_read_back_by_the_commands(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    db, out = tmp_path / "events.sqlite", tmp_path / "history"
    assert main(["import", str(WIRE), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["export", "--db", str(db), "--format", "parquet", "--out", str(out)]) == 0
    first = capsys.readouterr().out
    files = _parquet_files(out)
    assert "4986 events, 4986 new" in first and f"{len(files)} partitions written, 0 unchanged" in first
    assert main(["export", "--db", str(db), "--format", "parquet", "--out", str(out)]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"4986 events, 0 new; 0 partitions written, "
                                                     f"{len(files)} unchanged")
    assert _parquet_files(out) == files
    # The other commands read the directory as they read the store: the same answers.
    answers = []
    for events in (db, out):
        assert main(["clusters", "--events", str(events), "--at", "2025-01-27T17:20:00Z", "--symbol", "ETHUSDT"]) == 0
        answers.append(capsys.readouterr().out.replace(events.name, "SOURCE"))
    assert answers[0] == answers[1] and "(2919 events up to then)" in answers[0]
    csv_out = tmp_path / "eth.csv"
    assert main(["export", "--events", str(out), "--symbol", "ETHUSDT", "--out", str(csv_out)]) == 0
    assert load_events(csv_out) == load_events(db, symbols=["ETHUSDT"])


def test_parquet_mistakes_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "events.sqlite"
    assert main(["import", str(WIRE), "--db", str(db)]) == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["export", "--db", str(db), "--format", "parquet"]) == 2
    assert main(["export", "--db", str(db), "--format", "parquet", "--out", str(WIRE)]) == 2
    assert main(["export", "--db", str(db)]) == 2  # csv needs --symbol
    assert main(["clusters", "--events", str(empty)]) == 2
    assert main(["clusters", "--events", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 5 and all(line.startswith("error: ") for line in err)
    assert "needs --out DIR" in err[0] and "not a directory" in err[1] and "needs --symbol" in err[2]
    assert "not a Parquet dataset of liquidations" in err[3] and "no such file" in err[4]
