"""``fetch-history`` and the archive downloader against a fake data.binance.vision on 127.0.0.1 serving zips made
here: real klines rows (``data/binance/klines/``), metrics rows in the archive's header, their CHECKSUM files."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest
from conftest import DATA
from fakes.binance.archive_server import ArchiveServer, metrics_csv, zipped

from liquidation_hunter.cli import main
from liquidation_hunter.data.open_interest import load_open_interest
from liquidation_hunter.data.prices import load_kline_bars, load_prices
from liquidation_hunter.trading.archive import ArchiveDownloader, ArchiveFile, Outcome, plan_files

KLINES = DATA / "klines" / "2025-01-27" / "BTCUSDT-1m-2025-01-27_1640-1730.csv"
DAY1, DAY2 = date(2025, 1, 27), date(2025, 1, 28)


def publish(server: ArchiveServer, file: ArchiveFile, text: str, *, checksum_of: bytes | None = None) -> bytes:
    """Put ``file`` (a zip of ``text``) and its CHECKSUM on the server; ``checksum_of``: publish a wrong one."""
    body = zipped(file.name.removesuffix(".zip") + ".csv", text)
    digest = hashlib.sha256(body if checksum_of is None else checksum_of).hexdigest()
    server.files[f"/{file.remote_path}"] = body
    server.files[f"/{file.remote_path}.CHECKSUM"] = f"{digest}  {file.name}\n".encode()
    return body


def metrics_file(day: date) -> ArchiveFile:
    return ArchiveFile("metrics", "BTCUSDT", None, day)


def run(server: ArchiveServer, root: Path, *args: str) -> int:
    return main(["fetch-history", "BTCUSDT", "--dir", str(root), "--base-url", server.base_url, *args])


def test_a_range_is_downloaded_verified_kept_in_the_layout_and_read_back(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with ArchiveServer() as server:
        for day in (DAY1, DAY2):
            publish(server, metrics_file(day), metrics_csv(day))
        kline = ArchiveFile("klines", "BTCUSDT", "1m", DAY1)
        publish(server, kline, KLINES.read_text())
        for day in (DAY1, DAY2):
            publish(server, ArchiveFile("markPriceKlines", "BTCUSDT", "1m", day), KLINES.read_text())
        code = run(server, tmp_path, "--from", "2025-01-27", "--to", "2025-01-28", "--interval", "1m")
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "5 downloaded, 0 skipped, 1 not published, 0 failed" in out
    assert "not published" in err and "BTCUSDT-1m-2025-01-28.zip" in err  # the kline day 2 was not put up
    assert (tmp_path / "metrics/BTCUSDT/BTCUSDT-metrics-2025-01-27.zip").is_file()
    assert (tmp_path / "klines/BTCUSDT/1m/BTCUSDT-1m-2025-01-27.zip.CHECKSUM").is_file()
    index = json.loads((tmp_path / "index.json").read_text())["files"]
    entry = index["klines/BTCUSDT/1m/BTCUSDT-1m-2025-01-27.zip"]
    assert entry["sha256"] == hashlib.sha256((tmp_path / "klines/BTCUSDT/1m/BTCUSDT-1m-2025-01-27.zip")
                                             .read_bytes()).hexdigest()
    assert len(index) == 5 and metrics_file(DAY2).relpath in index and kline.relpath in index
    marks = load_kline_bars(tmp_path / "markPriceKlines" / "BTCUSDT" / "1m")
    assert marks.symbol == "BTCUSDT" and len(marks.close) == len(KLINES.read_text().splitlines()) - 1
    history = load_open_interest(tmp_path / "metrics" / "BTCUSDT")
    assert history.rows_per_day() == {"2025-01-27": 288, "2025-01-28": 288}
    assert history.gaps == ()
    prices = load_prices(tmp_path / "klines" / "BTCUSDT" / "1m")
    assert [(s.name, s.format, s.points) for s in prices.sources] == [
        ("BTCUSDT-1m-2025-01-27.zip", "klines", len(KLINES.read_text().splitlines()) - 1)]


def test_verified_files_are_skipped_on_a_second_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with ArchiveServer() as server:
        publish(server, metrics_file(DAY1), metrics_csv(DAY1))
        assert run(server, tmp_path, "--from", "2025-01-27", "--to", "2025-01-27", "--kinds", "metrics") == 0
        before = len(server.seen)
        assert run(server, tmp_path, "--from", "2025-01-27", "--to", "2025-01-27", "--kinds", "metrics") == 0
        assert len(server.seen) == before  # no request at all: the index and the bytes agree
    assert "1 skipped" in capsys.readouterr().out


def test_a_wrong_checksum_is_refused_not_kept_and_the_others_still_come(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with ArchiveServer() as server:
        publish(server, metrics_file(DAY1), metrics_csv(DAY1), checksum_of=b"another file")
        publish(server, metrics_file(DAY2), metrics_csv(DAY2))
        code = run(server, tmp_path, "--from", "2025-01-27", "--to", "2025-01-28", "--kinds", "metrics")
    out, err = capsys.readouterr()
    assert code == 1
    mismatch = [line for line in err.splitlines() if "sha256 mismatch" in line]
    assert len(mismatch) == 1 and "BTCUSDT-metrics-2025-01-27.zip" in mismatch[0] and "not kept" in mismatch[0]
    folder = tmp_path / "metrics" / "BTCUSDT"
    assert sorted(p.name for p in folder.iterdir()) == ["BTCUSDT-metrics-2025-01-28.zip",
                                                        "BTCUSDT-metrics-2025-01-28.zip.CHECKSUM"]
    assert "1 downloaded" in out and "1 failed" in out
    assert metrics_file(DAY1).relpath not in json.loads((tmp_path / "index.json").read_text())["files"]


def test_an_interrupted_download_resumes_with_a_range_and_is_verified(tmp_path: Path) -> None:
    file = ArchiveFile("klines", "BTCUSDT", "1m", DAY1)
    with ArchiveServer() as server:
        body = publish(server, file, KLINES.read_text())
        path = f"/{file.remote_path}"
        server.cut_next(path)
        result = ArchiveDownloader(tmp_path, base_url=server.base_url, backoff=0.0).fetch(file)
        zips = [s for s in server.seen if s.path == path]
    assert result.outcome is Outcome.DOWNLOADED
    assert (tmp_path / file.relpath).read_bytes() == body
    assert [(s.range, s.status) for s in zips] == [(None, 200), (f"bytes={len(body) // 2}-", 206)]
    assert not (tmp_path / (file.relpath + ".part")).exists()


def test_a_run_cut_short_leaves_a_part_file_the_next_run_resumes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = metrics_file(DAY1)
    with ArchiveServer() as server:
        body = publish(server, file, metrics_csv(DAY1))
        server.cut_next(f"/{file.remote_path}")
        args = ("--from", "2025-01-27", "--to", "2025-01-27", "--kinds", "metrics", "--retries", "0")
        assert run(server, tmp_path, *args) == 1
        part = tmp_path / (file.relpath + ".part")
        assert part.stat().st_size == len(body) // 2
        err = capsys.readouterr().err
        assert "the transfer was cut" in err and "run again to resume" in err
        assert run(server, tmp_path, *args) == 0
        last = server.seen[-1]
    assert (last.range, last.status) == (f"bytes={len(body) // 2}-", 206)
    assert load_open_interest(tmp_path / file.relpath).rows_per_day() == {"2025-01-27": 288}


def test_a_server_without_ranges_restarts_the_file(tmp_path: Path) -> None:
    file = metrics_file(DAY1)
    with ArchiveServer(ranges=False) as server:
        body = publish(server, file, metrics_csv(DAY1))
        server.cut_next(f"/{file.remote_path}")
        result = ArchiveDownloader(tmp_path, base_url=server.base_url, backoff=0.0).fetch(file)
        statuses = [s.status for s in server.seen if s.path == f"/{file.remote_path}"]
    assert result.outcome is Outcome.DOWNLOADED and statuses == [200, 200]
    assert (tmp_path / file.relpath).read_bytes() == body


def test_nothing_published_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with ArchiveServer() as server:
        code = run(server, tmp_path, "--from", "2025-01-27", "--to", "2025-01-27", "--kinds", "metrics")
    assert code == 1
    err = capsys.readouterr().err
    assert "not published" in err and "nothing published for BTCUSDT" in err


def test_whole_past_months_come_as_one_file_and_as_days_when_the_month_is_not_up(tmp_path: Path) -> None:
    files = plan_files("BTCUSDT", date(2024, 12, 30), date(2025, 2, 2), ("klines", "metrics"), "5m",
                       today=date(2025, 3, 1))
    klines = [f.stamp for f in files if f.kind == "klines"]
    assert klines == ["2024-12-30", "2024-12-31", "2025-01", "2025-02-01", "2025-02-02"]
    assert len([f for f in files if f.kind == "metrics"]) == 2 + 31 + 2  # no monthly metrics in the archive
    assert [f.stamp for f in plan_files("BTCUSDT", date(2025, 1, 1), date(2025, 1, 31), ("klines",), "5m",
                                        today=date(2025, 1, 31))][-1] == "2025-01-31"  # not over yet: days
    month = ArchiveFile("klines", "BTCUSDT", "1m", date(2025, 1, 1), monthly=True)
    assert month.remote_path == "data/futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2025-01.zip"
    with ArchiveServer() as server:
        publish(server, ArchiveFile("klines", "BTCUSDT", "1m", DAY1), KLINES.read_text())
        results = list(ArchiveDownloader(tmp_path, base_url=server.base_url).fetch_all([month]))
    assert len(results) == 31
    assert [r.file.stamp for r in results if r.outcome is Outcome.DOWNLOADED] == ["2025-01-27"]


@pytest.mark.parametrize(("args", "says"), [
    (("--from", "2025-01-28", "--to", "2025-01-27"), "--from 2025-01-28 is after --to 2025-01-27"),
    (("--from", "2025-13-01", "--to", "2025-01-27"), "--from '2025-13-01': expected a date YYYY-MM-DD"),
    (("--from", "27.01.2025", "--to", "2025-01-27"), "--from '27.01.2025': expected a date YYYY-MM-DD"),
    (("--from", "2025-01-27", "--to", "2025-01-27", "--kinds", "metrics,trades"), "unknown kind trades"),
])
def test_bad_arguments_are_one_line_and_exit_2_before_any_request(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], says: str) -> None:
    with ArchiveServer() as server:
        assert run(server, tmp_path, *args) == 2
        assert server.seen == []
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1 and err.startswith("error: ")
    assert not (tmp_path / "index.json").exists()
