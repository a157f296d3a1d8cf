"""``import`` and ``export`` as users run them, on the real recordings and a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import DATA, WIRE

from liquidation_hunter.cli import main
from live_heatmap.store.history import load_events

COIN_M = DATA / "liquidationSnapshot_coinm_head.csv"


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
