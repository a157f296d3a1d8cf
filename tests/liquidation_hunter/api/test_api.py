"""The HTTP API against the real server on 127.0.0.1, over the real recorded session (2025-01-27 17:20 UTC)."""

from __future__ import annotations

import csv
import io
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from conftest import DATA, WIRE
from helpers import Client
from structlog.testing import capture_logs

from liquidation_hunter import LiquidationHunter
from liquidation_hunter.api import (
    ApiAuthError,
    ApiServer,
    ApiSource,
    bearer_ok,
    is_loopback,
    resolve_token,
    source_from_recording,
)
from liquidation_hunter.config.sections import ApiConfig
from liquidation_hunter.trading.books import Books
from live_heatmap.grid import grid_from_heatmap
from live_heatmap.store.history import EVENT_FIELDS, load_events
from strategies import CascadeFade, CascadeFadeParams

AT = 1_737_998_400_000  # 2025-01-27T17:20:00Z
PRICES = DATA / "aggtrades_large.csv"
TOKEN = "s3cr3t-token-for-tests-0123456789"


@pytest.fixture(scope="module")
def source() -> ApiSource:
    return source_from_recording(WIRE, at_ms=AT, prices=[PRICES])


@pytest.fixture(scope="module")
def server(source: ApiSource) -> Iterator[ApiServer]:
    with ApiServer(source, host="127.0.0.1", port=0) as srv:
        yield srv


@pytest.fixture
def client(server: ApiServer) -> Iterator[Client]:
    c = Client(server.port)
    yield c
    c.close()


# ------------------------------------------------------------------ endpoints, against the heatmap called directly


def test_health(client: Client, source: ApiSource) -> None:
    body = client.json("/health")
    assert body["status"] == "ok" and body["connected"] is False
    assert body["events"] == source.heatmap.stats()["accepted"] == 1338
    assert body["uptime_s"] >= 0


def test_symbols(client: Client, source: ApiSource) -> None:
    hm = source.heatmap
    body = client.json("/api/v1/symbols")
    assert [s["symbol"] for s in body["symbols"]] == hm.symbols()
    btc = next(s for s in body["symbols"] if s["symbol"] == "BTCUSDT")
    assert btc == {"symbol": "BTCUSDT", "unified": "BTC/USDT:USDT", "events": hm.event_count("BTCUSDT"),
                   "price": source.prices.price_at("BTCUSDT", AT) if source.prices else None}
    assert btc["price"] == 99381.9  # the last aggTrade at or before 17:20
    found = client.json("/api/v1/symbols?q=btc/usdt")["symbols"]
    assert [s["symbol"] for s in found] == ["BTCUSDT"]
    assert client.json("/api/v1/symbols?q=nothing-like-it")["symbols"] == []


@pytest.mark.parametrize("query", ["", "?min_strength=0.5", "?min_strength=0&max_distance=1", "?side=short"])
def test_clusters_match_the_heatmap(client: Client, source: ApiSource, query: str) -> None:
    params = dict(p.split("=") for p in query.lstrip("?").split("&") if p and not p.endswith("="))
    expected = source.heatmap.get_clusters(
        "BTCUSDT", float(params.get("min_strength", 0)),
        float(params["max_distance"]) if "max_distance" in params else None, side=params.get("side"), now_ms=AT)
    body = client.json(f"/api/v1/clusters/BTCUSDT{query}")
    assert body["symbol"] == "BTCUSDT" and body["at"] == AT and body["price"] == 99381.9
    assert body["clusters"] == [orjson.loads(orjson.dumps(s.to_dict()))
                                for s in source.statistics_of().annotate("BTCUSDT", expected)]
    assert [{k: v for k, v in c.items() if k not in {"z_score", "risk_level", "history_events"}}
            for c in body["clusters"]] == [orjson.loads(orjson.dumps(c.to_dict())) for c in expected]
    if not query:
        assert len(body["clusters"]) >= 1
        assert all(c["current_price"] == 99381.9 for c in body["clusters"])


def test_either_symbol_form(client: Client) -> None:
    plain = client.json("/api/v1/clusters/BTCUSDT")
    assert client.json("/api/v1/clusters/" + quote("BTC/USDT:USDT", safe="")) == plain
    assert client.json("/api/v1/clusters/BTC/USDT:USDT") == plain
    assert client.json("/api/v1/clusters/btcusdt") == plain


def test_signal_is_the_configured_strategys_with_the_cluster_it_trades(client: Client, source: ApiSource) -> None:
    price = source.heatmap.get_price("ETHUSDT")
    assert price is not None
    before = source.heatmap.get_price_at("ETHUSDT")
    expected = LiquidationHunter(heatmap=source.heatmap).evaluate("ETH/USDT:USDT", price, now_ms=AT)
    assert source.heatmap.get_price_at("ETHUSDT") == before  # evaluating reads: the served heatmap is unchanged
    body = client.json("/api/v1/signal/ETHUSDT")
    assert (body["symbol"], body["unified"], body["strategy"], body["price"], body["at"]) == (
        "ETHUSDT", "ETH/USDT:USDT", "liquidation_magnet", price, AT)
    signal = body["signal"]
    assert (signal["direction"], signal["strength"], signal["entry"], signal["stop_loss"], signal["take_profit"],
            signal["reason"]) == (expected.direction, expected.strength, expected.entry, expected.stop_loss,
                                  expected.take_profit, expected.reason)
    assert expected.direction == 1 and expected.cluster is not None
    # best_cluster is the cluster the signal trades (a short one above), not the strongest (a long one below).
    assert body["best_cluster"] == orjson.loads(orjson.dumps(expected.cluster.to_dict()))
    assert signal["cluster_id"] == expected.cluster.cluster_id
    strongest = source.heatmap.get_best_cluster("ETHUSDT", 0.6, now_ms=AT)
    assert strongest is not None and strongest.cluster_id != signal["cluster_id"]
    # No trade: no cluster named. Every symbol answers, with or without a trade idea.
    btc = client.json("/api/v1/signal/BTCUSDT")
    assert btc["signal"]["direction"] == 0 and btc["best_cluster"] is None and "cluster_id" not in btc["signal"]
    for symbol in ("ETHUSDT", "SOLUSDT", "ACHUSDT"):
        assert set(client.json(f"/api/v1/signal/{symbol}")["signal"]) >= {"direction", "strength", "reason"}
    # min_strength replaces hunter.min_strength for one answer.
    assert client.json("/api/v1/signal/ETHUSDT?min_strength=1")["signal"]["direction"] == 0


CASCADE_AT = 1_737_997_130_000  # 16:58:50 UTC: cascade_fade's ETHUSDT signal in the backtest's golden master


def test_signal_of_cascade_fade_when_the_bot_runs_it() -> None:
    source = source_from_recording(WIRE, at_ms=CASCADE_AT, prices=[PRICES], strategy="cascade_fade")
    twin = source_from_recording(WIRE, at_ms=CASCADE_AT, prices=[PRICES])
    price = twin.heatmap.get_price("ETHUSDT")
    assert price is not None
    strategy = CascadeFade(LiquidationHunter(heatmap=twin.heatmap), CascadeFadeParams())
    expected = strategy.decide("ETHUSDT", price, CASCADE_AT)
    assert expected.direction == 1 and expected.origin == "long-1737996684136"
    with ApiServer(source, port=0) as srv:
        c = Client(srv.port)
        body = c.json("/api/v1/signal/ETHUSDT")
        again = c.json("/api/v1/signal/ETHUSDT")
        magnet_says = LiquidationHunter(heatmap=twin.heatmap).evaluate("ETHUSDT", price, now_ms=CASCADE_AT)
        c.close()
    assert body["strategy"] == "cascade_fade" and body["best_cluster"] is None  # a cascade, not a cluster
    assert body["signal"] == {"direction": 1, "strength": expected.strength, "entry": price,
                              "stop_loss": expected.stop_loss, "take_profit": expected.take_profit,
                              "reason": expected.reason, "origin": expected.origin}
    assert magnet_says.direction == 0  # what the API answered before, whatever the bot ran
    assert again == body  # the API's look does not use up the cascade (one cascade, one signal: the bot's)


def test_grid_is_the_heatmaps_grid(client: Client, source: ApiSource) -> None:
    assert source.prices is not None
    times, prices = source.prices.times("BTCUSDT"), source.prices.prices("BTCUSDT")
    keep = (times >= AT - 7_200_000) & (times <= AT)
    expected = grid_from_heatmap(source.heatmap, "BTCUSDT", 7_200_000, AT,
                                 price_points=(times[keep], prices[keep])).to_dict()
    body = client.json("/api/v1/grid/BTCUSDT?window=2h")
    assert body["symbol"] == "BTCUSDT" and body["at"] == AT and body["price_source"] == "trades"
    for key in ("start_ms", "end_ms", "x", "y", "z", "z_long", "z_short", "candles", "events", "clusters"):
        assert body[key] == orjson.loads(orjson.dumps(expected[key])), key
    assert body["start_ms"] == AT - 7_200_000 and body["end_ms"] == AT
    assert len(body["z"]) == len(body["y"]) - 1 and all(len(row) == len(body["x"]) - 1 for row in body["z"])
    assert len(body["x"]) - 1 == 120  # 1-minute columns
    assert body["candles"] and all(len(c) == 5 and c[2] >= max(c[1], c[4]) for c in body["candles"])
    assert body["events"] == 31 and sum(map(sum, body["z"])) > 0
    with_points = client.json("/api/v1/grid/BTCUSDT?window=30m&points=true")
    assert with_points["price_points"] and with_points["end_ms"] - with_points["start_ms"] == 1_800_000


def test_grid_without_price_series_uses_the_fills(source: ApiSource) -> None:
    bare = source_from_recording(WIRE, at_ms=AT)
    with ApiServer(bare, port=0) as srv:
        c = Client(srv.port)
        body = c.json("/api/v1/grid/ETHUSDT?window=1h")
        assert body["price_source"] == "liquidations" and body["candles"]
        c.close()


def test_grid_of_a_symbol_with_nothing_to_draw() -> None:
    quiet = source_from_recording(WIRE, at_ms=AT)
    quiet.heatmap.track(["ZZZUSDT"])
    with ApiServer(quiet, port=0) as srv:
        c = Client(srv.port)
        body = c.json("/api/v1/grid/ZZZUSDT?window=2h", 404)
        assert body["detail"] == "ZZZUSDT: no events or prices in the last 2h before 2025-01-27T17:20:00.000Z"
        assert c.json("/api/v1/clusters/ZZZUSDT")["clusters"] == []
        assert c.json("/api/v1/signal/ZZZUSDT")["signal"]["direction"] == 0
        c.close()


def test_events_newest_first(client: Client, source: ApiSource) -> None:
    cols = source.heatmap.events_since("BTCUSDT", 0)
    body = client.json("/api/v1/events/BTCUSDT?limit=5")
    times = [e["trade_time"] for e in body["events"]]
    assert times == sorted(cols.trade_time.tolist(), reverse=True)[:5]
    first = body["events"][0]
    i = cols.trade_time.tolist().index(first["trade_time"])
    assert first["price"] == cols.price[i] and first["quantity"] == cols.quantity[i]
    assert first["side"] == ("long" if cols.is_long[i] else "short")
    assert len(client.json("/api/v1/events/BTCUSDT")["events"]) == 31
    since = client.json("/api/v1/events/BTCUSDT?since=2025-01-27T17:00Z&limit=1000")["events"]
    assert since and all(e["trade_time"] >= AT - 1_200_000 for e in since)
    assert len(since) == int((cols.trade_time >= AT - 1_200_000).sum())


def test_status_without_books(client: Client) -> None:
    body = client.json("/api/v1/status")
    assert body["books"] is None and body["heatmap"]["accepted"] == 1338


def test_status_over_books_and_nothing_stops_trading(tmp_path: Path, source: ApiSource) -> None:
    path = tmp_path / "books.sqlite"
    Books.open(path, mode="paper", starting_wallet=10_000.0, now_ms=AT).close()
    with_books = ApiSource(source.heatmap, clock=lambda: AT, books_path=str(path))
    with ApiServer(with_books, port=0) as srv:
        c = Client(srv.port)
        body = c.json("/api/v1/status")
        assert body["halted"] is None and body["account"]["equity"] == 10_000.0 and body["positions"] == []
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            for target in ("/api/v1/status", "/api/v1/halt", "/halt"):
                status, head, _ = c.request(method, target, body=b'{"halt": true}')
                assert status == 405 and head["allow"] == "GET, HEAD"
        c.close()
    with Books.open_readonly(path) as books:
        assert books.halt_reason() is None


def test_status_before_the_books_exist(tmp_path: Path, source: ApiSource) -> None:
    with ApiServer(ApiSource(source.heatmap, books_path=str(tmp_path / "none.sqlite")), port=0) as srv:
        c = Client(srv.port)
        assert c.json("/api/v1/status", 503)["error"] == "no books"
        c.close()


# ------------------------------------------------------------------ export


def test_export_events_round_trip(client: Client, source: ApiSource, tmp_path: Path) -> None:
    for fmt in ("csv", "json"):
        status, head, body = client.get(f"/api/v1/export/BTCUSDT?what=events&format={fmt}")
        assert status == 200 and f'filename="BTCUSDT-events.{fmt}"' in head["content-disposition"]
        path = tmp_path / f"events.{fmt}"
        path.write_bytes(body)
        assert load_events(path) == sorted(source.heatmap.events("BTCUSDT"), key=lambda e: e.trade_time)
    _, head, body = client.get("/api/v1/export/BTCUSDT")
    assert head["content-type"].startswith("text/csv")
    assert tuple(next(csv.reader(io.StringIO(body.decode())))) == EVENT_FIELDS
    status, _, body = client.get("/api/v1/export/BTCUSDT?format=json&from=2025-01-27T17:00Z&to=2025-01-27T17:10Z")
    rows = json.loads(body)
    assert status == 200 and rows and all(AT - 1_200_000 <= r["trade_time"] < AT - 600_000 for r in rows)


def test_export_clusters(client: Client, source: ApiSource) -> None:
    expected = [orjson.loads(orjson.dumps(c.to_dict())) for c in source.heatmap.get_clusters("BTCUSDT", now_ms=AT)]
    assert client.json("/api/v1/export/BTCUSDT?what=clusters&format=json") == expected
    _, _, body = client.get("/api/v1/export/BTCUSDT?what=clusters&format=csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [r["cluster_id"] for r in rows] == [c["cluster_id"] for c in expected]
    assert [float(r["strength"]) for r in rows] == [c["strength"] for c in expected]


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(("path", "status", "fragment"), [
    ("/api/v1/clusters/NOPEUSDT", 404, "unknown symbol 'NOPEUSDT'"),
    ("/api/v1/grid/" + quote("NOPE/USDT:USDT", safe=""), 404, "unknown symbol 'NOPE/USDT:USDT'"),
    ("/api/v1/events/%00%ff", 404, "unknown symbol"),
    ("/api/v1/clusters/BTCUSDT?max_distance=", 400, "max_distance: expected a value (leave the parameter out"),
    ("/api/v1/events/BTCUSDT?limit=", 400, "limit: expected a value"),
    ("/api/v1/clusters/BTCUSDT?min_strength=x", 400, "min_strength: expected a number in [0, 1], got 'x'"),
    ("/api/v1/clusters/BTCUSDT?min_strength=1.5", 400, "min_strength: expected a number in [0, 1], got '1.5'"),
    ("/api/v1/clusters/BTCUSDT?min_strength=nan", 400, "min_strength"),
    ("/api/v1/clusters/BTCUSDT?max_distance=-1", 400, "max_distance: expected a number in [0, 1000]"),
    ("/api/v1/clusters/BTCUSDT?side=up", 400, "side: expected one of 'long', 'short', got 'up'"),
    ("/api/v1/clusters/BTCUSDT?min_strength=0.1&min_strength=0.2", 400, "min_strength: expected one value"),
    ("/api/v1/grid/BTCUSDT?window=8d", 400, "window: expected a duration such as 30m, 2h or 1d"),
    ("/api/v1/grid/BTCUSDT?window=0m", 400, "from 1m to 7d, got '0m'"),
    ("/api/v1/grid/BTCUSDT?window=2x", 400, "got '2x'"),
    ("/api/v1/grid/BTCUSDT?window=-2h", 400, "window"),
    ("/api/v1/grid/BTCUSDT?window=2h&points=maybe", 400, "points: expected true or false"),
    ("/api/v1/events/BTCUSDT?limit=0", 400, "limit: expected an integer from 1 to 1000, got '0'"),
    ("/api/v1/events/BTCUSDT?limit=1e3", 400, "limit"),
    ("/api/v1/events/BTCUSDT?since=yesterday", 400, "since: expected epoch milliseconds or an ISO-8601 time"),
    ("/api/v1/events/BTCUSDT?since=2030-01-01", 400, "since: expected a time at or before now"),
    ("/api/v1/events/BTCUSDT?since=1", 400, "within 2010..2100"),
    ("/api/v1/export/BTCUSDT?format=xml", 400, "format: expected one of 'csv', 'json', got 'xml'"),
    ("/api/v1/export/BTCUSDT?what=trades", 400, "what: expected one of 'events', 'clusters'"),
    ("/api/v1/export/BTCUSDT?from=2025-01-27T17:10Z&to=2025-01-27T17:00Z", 400, "to: expected a time after from"),
    ("/api/v1/clusters/BTCUSDT?min_strenght=0.5", 400,
     "unknown parameter 'min_strenght' (known here: exchanges, max_distance, min_strength, side)"),
    ("/health?verbose=1", 400, "unknown parameter 'verbose' (known here: none)"),
    ("/api/v1/symbols?q=" + "x" * 41, 400, "q: expected at most 40 characters, got 'xxx"),
    ("/api/v1/events/BTCUSDT?since=", 400, "since: expected a value (leave the parameter out"),
    ("/api/v1/nothing/BTCUSDT", 404, "no such path"),
    ("/api/v1/clusters/", 404, "no such path"),
    ("/api/v2/symbols", 404, "no such path"),
])
def test_errors_say_what_was_wrong(client: Client, path: str, status: int, fragment: str) -> None:
    body = client.json(path, status)
    assert set(body) == {"error", "detail"} and fragment in body["detail"], body


@pytest.mark.parametrize("path", ["/static/../server.py", "/static/%2e%2e/server.py", "/static/..%2fserver.py",
                                  "/static/%2e%2e%2f%2e%2e%2fpyproject.toml", "/static//etc/passwd",
                                  "/static/%2fetc%2fpasswd", "/static/..\\server.py", "/static/%00", "/static/",
                                  "/static/nothing.js", "/static/../../../../etc/passwd"])
def test_static_stays_in_its_folder(client: Client, path: str) -> None:
    status, _, body = client.get(path)
    assert status == 404, path
    assert b"import" not in body and b"root:" not in body


def test_page_and_static_files(client: Client, server: ApiServer) -> None:
    status, head, body = client.get("/")
    assert status == 200 and head["content-type"] == "text/html; charset=utf-8" and body.startswith(b"<!doctype")
    static = server.static_dir
    for file in sorted(p for p in static.rglob("*") if p.is_file()):
        status, head, body = client.get("/static/" + file.relative_to(static).as_posix())
        assert status == 200 and body == file.read_bytes()
        if file.suffix in (".js", ".css", ".html"):
            assert head["content-type"].split(";")[0] == {".js": "text/javascript", ".css": "text/css",
                                                          ".html": "text/html"}[file.suffix]


def test_fallback_index_without_a_page(tmp_path: Path, source: ApiSource) -> None:
    with ApiServer(source, port=0, static_dir=tmp_path) as srv:
        c = Client(srv.port)
        status, _, body = c.get("/")
        assert status == 200 and b"/docs" in body
        c.close()


def test_head_has_headers_but_no_body(client: Client) -> None:
    status, head, body = client.request("HEAD", "/api/v1/clusters/BTCUSDT")
    assert status == 200 and body == b"" and int(head["content-length"]) > 100
    assert client.json("/health")["status"] == "ok"  # the connection is still in step


def test_a_failing_view_is_a_generic_500(source: ApiSource) -> None:
    class Broken(ApiSource):
        def clusters(self, symbol: str, *args: Any) -> dict[str, Any]:
            raise RuntimeError(f"boom with {TOKEN}")

    with capture_logs() as logs, ApiServer(Broken(source.heatmap, clock=lambda: AT), port=0) as srv:
        c = Client(srv.port)
        status, _, body = c.get("/api/v1/clusters/BTCUSDT")
        assert status == 500 and orjson.loads(body) == {
            "error": "internal error", "detail": "the server could not answer; see its log"}
        assert c.json("/health")["status"] == "ok"  # the server goes on
        c.close()
    assert any(entry["event"] == "api.request_failed" for entry in logs)


def test_malformed_requests_are_4xx_not_crashes(server: ApiServer) -> None:
    for raw in (b"GARBAGE\r\n\r\n", b"GET /health HTTP/9.9\r\n\r\n", b"GET " + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
                b"BREW /health HTTP/1.1\r\nHost: x\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(raw)
            head = sock.recv(4096)
        assert head.startswith(b"HTTP/1."), raw[:20]
        assert 400 <= int(head.split()[1]) < 500, head[:80]


# ------------------------------------------------------------------ auth


def test_loopback_rules() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.1.2.3") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    assert not is_loopback("::")


def test_token_rules() -> None:
    env = "LIQUIDATION_HUNTER_API_TOKEN"
    assert resolve_token("127.0.0.1", env, {}) is None
    assert resolve_token("127.0.0.1", env, {env: TOKEN}) == TOKEN
    assert resolve_token("0.0.0.0", env, {env: TOKEN}) == TOKEN
    with pytest.raises(ApiAuthError, match=f"0.0.0.0 without a token: set the environment variable {env}"):
        resolve_token("0.0.0.0", env, {})
    with pytest.raises(ApiAuthError):
        resolve_token("192.168.1.5", env, {env: ""})
    # Refused before anything binds.
    source = source_from_recording(WIRE, at_ms=AT)
    with pytest.raises(ApiAuthError):
        ApiServer(source, host="0.0.0.0", port=0)
    with pytest.raises(ApiAuthError):
        ApiServer.from_config(source, ApiConfig(host="0.0.0.0", port=0), environ={})


def test_bearer_check() -> None:
    assert bearer_ok(None, None) and bearer_ok("anything", None)
    assert bearer_ok(f"Bearer {TOKEN}", TOKEN) and bearer_ok(f"bearer {TOKEN}", TOKEN)
    for wrong in (None, "", TOKEN, f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", "Bearer ",
                  "Bearer \u00e9\u00e9"):
        assert not bearer_ok(wrong, TOKEN), wrong


def test_a_loopback_server_with_a_token(source: ApiSource) -> None:
    with capture_logs() as logs:
        srv = ApiServer.from_config(source, ApiConfig(port=0), environ={"LIQUIDATION_HUNTER_API_TOKEN": TOKEN})
        srv.start()
        c = Client(srv.port)
        try:
            for path in ("/api/v1/symbols", "/api/v1/clusters/BTCUSDT", "/api/v1/status", "/api/v1/export/BTCUSDT"):
                status, head, body = c.get(path)
                assert status == 401 and head["www-authenticate"].startswith("Bearer"), path
                assert TOKEN.encode() not in body
                assert c.get(path, {"Authorization": "Bearer wrong"})[0] == 401
                assert c.get(path, {"Authorization": f"Bearer {TOKEN}"})[0] == 200
            for open_path in ("/health", "/openapi.json", "/docs", "/"):
                assert c.get(open_path)[0] == 200, open_path
        finally:
            c.close()
            srv.stop()
    assert logs and TOKEN not in repr(logs)


# ------------------------------------------------------------------ protocol, lifecycle


def test_keep_alive_and_nodelay(client: Client) -> None:
    client.json("/health")
    sock = client.conn.sock
    started = time.perf_counter()
    for _ in range(20):
        client.json("/api/v1/clusters/BTCUSDT")
    assert client.conn.sock is sock  # one connection for all
    assert (time.perf_counter() - started) / 20 < 0.03  # no 40 ms Nagle + delayed-ACK stall


def test_stop_is_quick_with_open_connections(source: ApiSource) -> None:
    srv = ApiServer(source, port=0).start()
    clients = [Client(srv.port) for _ in range(3)]
    for c in clients:
        c.json("/health")
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 1.0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
    for c in clients:
        c.close()


def test_window_takes_what_the_one_duration_parser_takes(client: Client) -> None:
    assert client.json("/api/v1/grid/BTCUSDT?window=1.5h")["start_ms"] == AT - 5_400_000
    assert client.json("/api/v1/grid/BTCUSDT?window=")["start_ms"] == AT - 7_200_000  # blank: the default
    for bad in ("2", "h", "8d", "59s", "2 h h", "1w"):
        detail = client.json(f"/api/v1/grid/BTCUSDT?window={quote(bad)}", 400)["detail"]
        assert detail.startswith("window: expected a duration such as 30m, 2h or 1d (units s, m, h, d), from 1m to 7d")


# ------------------------------------------------------------------ description and docs


def test_openapi_describes_every_endpoint(client: Client, server: ApiServer) -> None:
    import schemathesis

    spec = client.json("/openapi.json")
    assert spec == orjson.loads(orjson.dumps(server.app.openapi()))
    assert spec["openapi"].startswith("3.1")
    assert set(spec["paths"]) == {"/health", "/api/v1/symbols", "/api/v1/clusters/{symbol}",
                                  "/api/v1/signal/{symbol}", "/api/v1/grid/{symbol}", "/api/v1/events/{symbol}",
                                  "/api/v1/status", "/api/v1/export/{symbol}", "/api/v1/positions", "/api/v1/trades",
                                  "/api/v1/equity", "/api/v1/estimated/{symbol}", "/api/v1/unified/{symbol}",
                                  "/api/v1/depth/{symbol}", "/api/v1/density/{symbol}", "/api/v1/stats/{symbol}"}
    schema = schemathesis.openapi.from_dict(spec)
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) == 16
    clusters = spec["paths"]["/api/v1/clusters/{symbol}"]["get"]
    assert {p["name"] for p in clusters["parameters"]} == {"symbol", "min_strength", "max_distance", "side",
                                                           "exchanges"}
    assert all(set(op["responses"]) >= {"200", "400"} and "422" not in op["responses"]
               for item in spec["paths"].values() for op in item.values())


def test_docs_page_is_self_contained(client: Client) -> None:
    status, head, body = client.get("/docs")
    assert status == 200 and head["content-type"].startswith("text/html")
    assert b"/openapi.json" in body and b"http://" not in body and b"https://" not in body


def test_the_framework_stays_off_the_bots_start_path() -> None:
    """FastAPI and uvicorn load only when the API is on (``api.enabled``) or ``serve`` runs."""
    code = ("import sys, liquidation_hunter.cli.main, liquidation_hunter.bot.runner, liquidation_hunter.api; "
            "print(sorted(m for m in ('fastapi', 'starlette', 'uvicorn', 'pydantic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ the serve command


def _serve(argv: list[str]) -> int:
    import argparse

    from liquidation_hunter.cli.serve import add_serve_parser

    parser = argparse.ArgumentParser()
    add_serve_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", *argv])
    code: int = args.handler(args)
    return code


def test_serve_refuses_mistakes(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                tmp_path: Path) -> None:
    monkeypatch.delenv("LIQUIDATION_HUNTER_API_TOKEN", raising=False)
    assert _serve([]) == 2
    assert "serve needs --events" in capsys.readouterr().err
    assert _serve(["--events", str(tmp_path / "none.jsonl")]) == 2
    assert "none.jsonl: no such file" in capsys.readouterr().err
    assert _serve(["--events", str(WIRE), "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "refusing to listen on 0.0.0.0 without a token" in capsys.readouterr().err
    assert _serve(["--events", str(WIRE), "--port", "70000"]) == 2
    assert "--port: expected 0..65535" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("strategy:\n  name: cascade_fade\n  params:\n    burst_minutes: 0\n")
    assert _serve(["--config", str(bad), "--events", str(WIRE), "--port", "0"]) == 2
    assert "bad.yaml: strategy.params.burst_minutes: expected" in capsys.readouterr().err
