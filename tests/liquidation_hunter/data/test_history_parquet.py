"""Fetched history as Parquet (issue 17): ``fetch-history --parquet DIR`` against the fake archive on 127.0.0.1
(real klines rows of ``data/binance/klines/``, metrics rows in the archive's columns) keeps klines, mark price
klines and open interest partitioned ``exchange=/symbol=/date=``; a second run writes nothing; the bars, a
``backtest --history`` read through DuckDB equal those read from the zips (``validate-estimated``:
test_validate_model_cli.py)."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA
from fakes.binance.archive_server import ArchiveServer, metrics_csv, zipped
from history_dir import day_start_ms, write_history

from liquidation_hunter.cli import main
from liquidation_hunter.data.estimated_history import history_symbols
from liquidation_hunter.data.history_bars import has_history, load_history_bars
from liquidation_hunter.data.history_parquet import export_history, is_history_dataset, read_open_interest
from liquidation_hunter.data.open_interest import load_open_interest
from liquidation_hunter.trading.archive import ArchiveFile

pytest.importorskip("duckdb", reason="duckdb not installed: pip install -e '.[research]'")

KLINES = DATA / "klines" / "2025-01-27" / "BTCUSDT-1m-2025-01-27_1640-1730.csv"
DAY1, DAY2 = date(2025, 1, 27), date(2025, 1, 28)


def publish(server: ArchiveServer, file: ArchiveFile, text: str) -> None:
    body = zipped(file.name.removesuffix(".zip") + ".csv", text)
    server.files[f"/{file.remote_path}"] = body
    server.files[f"/{file.remote_path}.CHECKSUM"] = f"{hashlib.sha256(body).hexdigest()}  {file.name}\n".encode()


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def fetch(server: ArchiveServer, archive: Path, parquet: Path, *args: str) -> int:
    return main(["fetch-history", "BTCUSDT", "--dir", str(archive), "--base-url", server.base_url, "--interval", "1m",
                 "--parquet", str(parquet), *args])


def test_fetch_keeps_parquet_partitions_and_a_second_run_writes_nothing(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    archive, parquet = tmp_path / "zips", tmp_path / "parquet"
    rows = len(KLINES.read_text().splitlines()) - 1
    with ArchiveServer() as server:
        for day in (DAY1, DAY2):
            publish(server, ArchiveFile("metrics", "BTCUSDT", None, day), metrics_csv(day))
        for kind in ("klines", "markPriceKlines"):
            publish(server, ArchiveFile(kind, "BTCUSDT", "1m", DAY1), KLINES.read_text())
        assert fetch(server, archive, parquet, "--from", "2025-01-27", "--to", "2025-01-28") == 0
        out = capsys.readouterr().out
        assert (f"parquet: {2 * rows + 2 * 288} rows, {2 * rows + 2 * 288} new; 4 partitions written, 0 unchanged "
                f"-> {parquet}") in out
        files = sorted(p.relative_to(parquet).as_posix() for p in parquet.rglob("*.parquet"))
        assert files == ["klines_1m/exchange=binance/symbol=BTCUSDT/date=2025-01-27/data.parquet",
                         "markPriceKlines_1m/exchange=binance/symbol=BTCUSDT/date=2025-01-27/data.parquet",
                         "metrics/exchange=binance/symbol=BTCUSDT/date=2025-01-27/data.parquet",
                         "metrics/exchange=binance/symbol=BTCUSDT/date=2025-01-28/data.parquet"]
        before = snapshot(parquet)
        assert fetch(server, archive, parquet, "--from", "2025-01-27", "--to", "2025-01-28") == 0
        assert f"0 new; 0 partitions written, 4 unchanged -> {parquet}" in capsys.readouterr().out
        assert snapshot(parquet) == before  # not a byte, not an mtime
        # one day asked again: only its partitions are looked at, nothing written
        assert fetch(server, archive, parquet, "--from", "2025-01-28", "--to", "2025-01-28", "--kinds", "metrics") == 0
        assert "parquet: 288 rows, 0 new; 0 partitions written, 1 unchanged" in capsys.readouterr().out
    assert snapshot(parquet) == before
    zipped_oi = load_open_interest(archive / "metrics" / "BTCUSDT")
    stored = read_open_interest(parquet, "BTCUSDT")
    assert stored is not None and stored.rows_per_day() == {"2025-01-27": 288, "2025-01-28": 288}
    assert np.array_equal(stored.time_ms, zipped_oi.time_ms) and np.array_equal(stored.open_interest,
                                                                                zipped_oi.open_interest)


def test_a_day_that_grew_is_rewritten_whole_and_others_are_not_touched(tmp_path: Path) -> None:
    archive, parquet = tmp_path / "zips", tmp_path / "parquet"
    write_history(archive, "BTCUSDT", DAY1, 60_000.0)
    write_history(archive, "BTCUSDT", DAY2, 61_000.0)
    first = export_history(archive, parquet, "BTCUSDT", kinds=("metrics",), first_day="2025-01-27",
                           last_day="2025-01-27")
    assert first == (288, 288, 1, 0)
    day1 = parquet / "metrics/exchange=binance/symbol=BTCUSDT/date=2025-01-27/data.parquet"
    kept = (day1.read_bytes(), day1.stat().st_mtime_ns)
    again = export_history(archive, parquet, "BTCUSDT", kinds=("metrics",))  # every day now
    assert again == (576, 288, 1, 1) and (day1.read_bytes(), day1.stat().st_mtime_ns) == kept
    # a partial day (the archive's file cut) then the whole of it: the partition grows, rewritten whole
    cut = tmp_path / "cut"
    (cut / "metrics" / "BTCUSDT").mkdir(parents=True)
    (cut / "metrics" / "BTCUSDT" / "BTCUSDT-metrics-2025-01-29.csv").write_text(
        metrics_csv(date(2025, 1, 29), skip=range(100, 288)))
    assert export_history(cut, parquet, "BTCUSDT", kinds=("metrics",)) == (100, 100, 1, 0)
    (cut / "metrics" / "BTCUSDT" / "BTCUSDT-metrics-2025-01-29.csv").write_text(metrics_csv(date(2025, 1, 29)))
    assert export_history(cut, parquet, "BTCUSDT", kinds=("metrics",)) == (288, 188, 1, 0)
    oi = read_open_interest(parquet, "BTCUSDT")
    assert oi is not None and oi.rows_per_day() == {"2025-01-27": 288, "2025-01-28": 288, "2025-01-29": 288}
    assert list(parquet.rglob(".*")) == []  # no staging file left


def test_the_bars_read_through_duckdb_equal_the_bars_of_the_zips(tmp_path: Path) -> None:
    archive, parquet = tmp_path / "zips", tmp_path / "parquet"
    for symbol, base in (("BTCUSDT", 60_000.0), ("ETHUSDT", 3_000.0)):
        write_history(archive, symbol, DAY1, base)
        export_history(archive, parquet, symbol)
    (archive / "markPriceKlines" / "ETHUSDT").rename(tmp_path / "no-marks")  # one symbol without mark klines
    export_history(archive, tmp_path / "p2", "ETHUSDT")
    assert is_history_dataset(parquet) and not is_history_dataset(archive)
    assert history_symbols(parquet) == history_symbols(archive) == ["BTCUSDT", "ETHUSDT"]
    assert has_history(parquet, "ETHUSDT") and not has_history(parquet, "XRPUSDT")
    for root, symbol in ((parquet, "BTCUSDT"), (tmp_path / "p2", "ETHUSDT")):
        start, end = day_start_ms(DAY1) + 3_600_000, day_start_ms(DAY1) + 20 * 3_600_000
        for window in ({}, {"start_ms": start, "end_ms": end}):
            zips = load_history_bars(archive, symbol, **window)  # type: ignore[arg-type]
            stored = load_history_bars(root, symbol, **window)  # type: ignore[arg-type]
            assert stored.bars == zips.bars and stored.notes() == zips.notes()
            assert stored.prices is not None and zips.prices is not None
            assert stored.prices.digest() == zips.prices.digest()
    assert load_history_bars(tmp_path / "p2", "ETHUSDT").trade_range_bars == 288  # no marks there either


def test_a_backtest_on_parquet_history_says_what_it_says_on_the_zips(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive, parquet = tmp_path / "zips", tmp_path / "parquet"
    write_history(archive, "BTCUSDT", DAY1, 60_000.0)
    export_history(archive, parquet, "BTCUSDT")
    config = tmp_path / "bot.yaml"
    config.write_text("mode: paper\nsymbols: [BTCUSDT]\nrisk: {cooldown_minutes: 0}\n")
    reports = []
    for root in (archive, parquet):
        assert main(["backtest", "--config", str(config), "--history", str(root), "--symbol", "BTCUSDT", "--json",
                     "--no-sensitivity"]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    assert reports[0]["inputs"]["history"]["bars"] == 288
    assert reports[0] == reports[1]


def test_a_misplaced_file_in_the_parquet_history_is_one_line(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    archive, parquet = tmp_path / "zips", tmp_path / "parquet"
    write_history(archive, "BTCUSDT", DAY1, 60_000.0)
    export_history(archive, parquet, "BTCUSDT")
    stray = parquet / "klines_5m" / "exchange=binance" / "symbol=BTCUSDT" / "day=2024-03-01"
    stray.mkdir()
    config = tmp_path / "bot.yaml"
    config.write_text("mode: paper\nsymbols: [BTCUSDT]\n")
    assert main(["backtest", "--config", str(config), "--history", str(parquet), "--symbol", "BTCUSDT"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {parquet / 'klines_5m'}: not a Parquet dataset of fetched history: "
                   "exchange=binance/symbol=BTCUSDT/day=2024-03-01 is not laid out as "
                   "exchange=<venue>/symbol=<SYMBOL>/date=<YYYY-MM-DD>/*.parquet")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        export_history(archive, tmp_path / "file", "BTCUSDT")
