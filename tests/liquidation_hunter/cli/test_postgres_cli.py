"""The commands on a PostgreSQL event store (a real PostgreSQL 15 started by the tests): import and export through
``--db postgresql://...``, the same answers as on a SQLite file; a server that cannot be reached and a password in
the config are one line and exit 2, the password never printed."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from conftest import DATA, WIRE
from postgres_server import PostgresServer, fresh_database

from liquidation_hunter.cli import main
from live_heatmap.store.history import load_events


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_import_and_export_through_a_postgresql_url(postgres_server: PostgresServer, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    url = fresh_database(postgres_server)
    db = str(tmp_path / "events.sqlite")
    for store in (url, db):
        assert main(["import", str(WIRE), "--db", store]) == 0
        assert main(["import", str(DATA / "liquidations_normalized.csv"), "--db", store]) == 0
        assert main(["import", str(WIRE), "--db", store]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{WIRE} -> {url}: 4986 new events, 0 duplicates, 0 rejected"
    assert [line.split(": ", 1)[1] for line in lines[:3]] == [line.split(": ", 1)[1] for line in lines[3:]]
    since, until = "2025-01-27T17:00:00Z", "2025-01-27T17:20:00Z"
    for store, out in ((url, tmp_path / "pg.csv"), (db, tmp_path / "lite.csv")):
        assert main(["export", "--events", store, "--symbol", "ETHUSDT", "--from", since, "--to", until,
                     "--out", str(out)]) == 0
    assert (tmp_path / "pg.csv").read_bytes() == (tmp_path / "lite.csv").read_bytes()
    assert len(load_events(tmp_path / "pg.csv")) > 10
    assert main(["export", "--db", url, "--symbol", "ETHUSDT", "--to", until, "--what", "clusters",
                 "--format", "json"]) == 0
    from_pg = capsys.readouterr().out
    assert main(["export", "--db", db, "--symbol", "ETHUSDT", "--to", until, "--what", "clusters",
                 "--format", "json"]) == 0
    assert capsys.readouterr().out == from_pg and from_pg.startswith("[")


@pytest.mark.usefixtures("restore_logging")
def test_an_unreachable_server_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "pw-from-the-environment")
    url = f"postgresql://bob@127.0.0.1:{_closed_port()}/liq"
    config = tmp_path / "rec.yaml"
    config.write_text(f"storage:\n  path: ':memory:'\n  events: {url}\n")
    assert main(["import", str(WIRE), "--db", url]) == 2
    assert main(["export", "--events", url, "--symbol", "BTCUSDT"]) == 2
    assert main(["record", "--config", str(config)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all(line == err[0] for line in err), err
    assert err[0].startswith(f"error: {url}: cannot connect to PostgreSQL (")
    assert "pw-from-the-environment" not in err[0]


def test_a_password_in_the_config_is_refused_unshown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "rec.yaml"
    config.write_text("storage:\n  events: postgresql://bob:hunter2@127.0.0.1:5432/liq\n")
    for command in (["check-config", str(config)], ["record", "--config", str(config)]):
        assert main(command) == 2
    captured = capsys.readouterr()
    assert "hunter2" not in captured.out + captured.err
    assert captured.err.count("storage.events: expected a postgresql:// URL without a password") == 2


def test_the_heatmap_picture_from_a_postgresql_store_is_the_sqlite_one(postgres_server: PostgresServer,
                                                                       tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    url = fresh_database(postgres_server)
    db = str(tmp_path / "events.sqlite")
    pictures = []
    for store in (url, db):
        assert main(["import", str(WIRE), "--db", store]) == 0
        out = tmp_path / f"{len(pictures)}.png"
        assert main(["heatmap", "BTCUSDT", "--events", store, "--window", "1h", "--at", "2025-01-27T17:20:00Z",
                     "--out", str(out)]) == 0, capsys.readouterr().err
        pictures.append(out.read_bytes())
    assert pictures[0] == pictures[1] and len(pictures[0]) > 1000
    assert main(["heatmap", "BTCUSDT", "--events", url, "--at", "2020-01-01T00:00:00Z"]) == 2
    assert capsys.readouterr().err.strip().endswith(f"in {url}")


def test_a_backtest_and_a_validation_read_the_shared_store_as_they_read_the_file(
        postgres_server: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``backtest --events postgresql://...`` and ``validate-estimated --events postgresql://...``: the same trades
    and scores as from the SQLite file holding the same events; the store is named by its URL and its events'
    digest (there is no file to hash)."""
    url = fresh_database(postgres_server)
    db = str(tmp_path / "events.sqlite")
    for store in (url, db):
        assert main(["import", str(WIRE), "--db", store]) == 0
    capsys.readouterr()
    span = ["--from", "2025-01-27T16:50:00Z", "--to", "2025-01-27T17:20:00Z"]
    reports = []
    for store in (url, db):
        assert main(["backtest", "--config", str(DATA.parent.parent / "config" / "demo.yaml"), "--events", store,
                     "--prices", str(DATA / "aggtrades_large.csv"), *span, "--json"]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    from_pg, from_file = reports
    assert from_pg["trades"] and from_pg["trades"] == from_file["trades"]
    assert from_pg["summary"] == from_file["summary"]
    assert from_pg["inputs"]["events_sha256"] == from_file["inputs"]["events_sha256"]
    [events_entry] = [f for f in from_pg["inputs"]["files"] if f["role"] == "events"]
    assert events_entry["name"] == url
    texts = []
    for store in (url, db):
        assert main(["validate-estimated", "--events", store]) == 0
        texts.append(capsys.readouterr().out.replace(store, "STORE").replace(Path(store).name, "STORE"))
    assert texts[0] == texts[1] and texts[0].strip()
