"""The fake Binance market-stream server, driven by a plain websocket-client connection on 127.0.0.1."""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import statistics
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
import websocket
from conftest import DATA
from websocket import ABNF, WebSocket, WebSocketBadStatusException, WebSocketTimeoutException

from fakes.binance import FakeBinance, ReplayHandle, thin_snapshot
from fakes.binance.replay import replay_item

WS = DATA / "ws"
DOC_EVENT: dict[str, Any] = json.loads((WS / "forceOrder_doc_example.json").read_text())  # BTCUSDT
MARK_DOC: dict[str, Any] = json.loads((WS / "markPrice_doc_example.json").read_text())
ETH_EVENT: dict[str, Any] = {**DOC_EVENT, "o": {**DOC_EVENT["o"], "s": "ETHUSDT", "ap": "2500.10"}}
LOST = (websocket.WebSocketConnectionClosedException, ConnectionResetError, BrokenPipeError)

Connect = Callable[..., WebSocket]


# ------------------------------------------------------------------ fixtures and helpers

@pytest.fixture
def make_fake() -> Iterator[Callable[..., FakeBinance]]:
    """Start a FakeBinance with the given settings (pings off unless asked); all are stopped after."""
    started: list[FakeBinance] = []

    def make(**settings: Any) -> FakeBinance:
        settings.setdefault("ping_interval", None)
        fake = FakeBinance(**settings).start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture
def fake(make_fake: Callable[..., FakeBinance]) -> FakeBinance:
    return make_fake()


@pytest.fixture
def connect() -> Iterator[Connect]:
    """Open websocket-client connections (2 s timeout); all are closed after the test."""
    sockets: list[WebSocket] = []

    def open_(url: str, timeout: float = 2.0) -> WebSocket:
        ws = websocket.create_connection(url, timeout=timeout)
        sockets.append(ws)
        return ws

    yield open_
    for ws in sockets:
        ws.close(timeout=0.2)


def recv_json(ws: WebSocket) -> Any:
    return json.loads(ws.recv())


def request(ws: WebSocket, message: Any) -> Any:
    ws.send(message if isinstance(message, str) else json.dumps(message))
    return recv_json(ws)


def nothing_arrives(ws: WebSocket, seconds: float) -> bool:
    """True if no frame at all (data, ping, close) arrives within `seconds`."""
    ws.settimeout(seconds)
    try:
        ws.recv_frame()
    except WebSocketTimeoutException:
        return True
    finally:
        ws.settimeout(2.0)
    return False


def read_until_end(ws: WebSocket, timeout: float = 3.0) -> tuple[str, int | None]:
    """Read raw frames until the connection ends: ("close", code) after a close frame, ("lost", None) without."""
    ws.settimeout(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            frame = ws.recv_frame()
        except LOST:
            return "lost", None
        if frame.opcode == ABNF.OPCODE_CLOSE:
            with contextlib.suppress(*LOST):  # answer and hang up like a well-behaved client
                ws.send_close()
            ws.shutdown()
            return "close", struct.unpack("!H", frame.data[:2])[0]
        if frame.opcode == ABNF.OPCODE_PING:
            ws.pong(frame.data)
    raise AssertionError("the connection did not end")


def ping_times(ws: WebSocket, seconds: float) -> list[float]:
    """Read for `seconds`, answering pings (websocket-client does), and return when each ping came."""
    times: list[float] = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        ws.settimeout(left)
        try:
            opcode, _frame = ws.recv_data_frame(control_frame=True)
        except WebSocketTimeoutException:
            break
        if opcode == ABNF.OPCODE_PING:
            times.append(time.monotonic())
    ws.settimeout(2.0)
    return times


def only_connection(fake: FakeBinance) -> Any:
    assert fake.wait_for_connections(1, 2.0)
    (info,) = fake.connections()
    return info


def assert_thinned(payloads: list[dict[str, Any]], gap_ms: int = 1000) -> None:
    last: dict[str, int] = {}
    for payload in payloads:
        symbol, trade_ms = payload["o"]["s"], payload["o"]["T"]
        assert trade_ms - last.get(symbol, -gap_ms) >= gap_ms, (symbol, last.get(symbol), trade_ms)
        last[symbol] = trade_ms


# ------------------------------------------------------------------ routes

@pytest.mark.parametrize("prefix", ["", "/market"])
def test_raw_path_delivers_bare_payloads(fake: FakeBinance, connect: Connect, prefix: str) -> None:
    ws = connect(f"{fake.base_url}{prefix}/ws/btcusdt@forceOrder/!forceOrder@arr")
    info = only_connection(fake)
    assert info.path == f"{prefix}/ws/btcusdt@forceOrder/!forceOrder@arr" and not info.combined
    assert info.subscriptions == {"btcusdt@forceOrder", "!forceOrder@arr"}
    assert fake.publish_force_order(DOC_EVENT) == 2  # once per subscribed stream
    assert recv_json(ws) == DOC_EVENT and recv_json(ws) == DOC_EVENT


@pytest.mark.parametrize("prefix", ["", "/market"])
def test_combined_path_wraps_each_payload(fake: FakeBinance, connect: Connect, prefix: str) -> None:
    ws = connect(f"{fake.base_url}{prefix}/stream?streams=btcusdt@forceOrder/!forceOrder@arr")
    assert only_connection(fake).combined
    fake.publish_force_order(DOC_EVENT)
    assert recv_json(ws) == {"stream": "btcusdt@forceOrder", "data": DOC_EVENT}
    assert recv_json(ws) == {"stream": "!forceOrder@arr", "data": DOC_EVENT}


def test_combined_frame_has_the_recorded_shape(fake: FakeBinance, connect: Connect) -> None:
    recorded = json.loads((WS / "forceOrder_combined_frame.json").read_text())
    ws = connect(fake.market_url + "/stream?streams=!forceOrder@arr")
    fake.publish_force_order(recorded["data"])
    assert recv_json(ws) == recorded


def test_bare_ws_path_subscribes_nothing_until_asked(fake: FakeBinance, connect: Connect) -> None:
    ws = connect(fake.market_url + "/ws")
    assert only_connection(fake).subscriptions == frozenset()
    assert fake.publish_force_order(DOC_EVENT) == 0
    assert request(ws, {"method": "SUBSCRIBE", "params": ["!forceOrder@arr"], "id": 1}) == {"result": None, "id": 1}
    assert fake.wait_for_subscription("!forceOrder@arr", 1.0)
    fake.publish_force_order(DOC_EVENT)
    assert recv_json(ws) == DOC_EVENT


@pytest.mark.parametrize(("path", "status"), [
    ("/", 404), ("/market", 404), ("/api/v3/ping", 404), ("/market/wss/btcusdt@forceOrder", 404),
    ("/market/ws/BTCUSDT@forceOrder", 400), ("/market/stream?streams=btcusdt@forceOrder/ETHUSDT@forceOrder", 400),
])
def test_unknown_paths_and_bad_stream_names_fail_the_handshake(fake: FakeBinance, path: str, status: int) -> None:
    with pytest.raises(WebSocketBadStatusException) as failure:
        websocket.create_connection(fake.base_url + path, timeout=2)
    assert failure.value.status_code == status
    assert fake.rejected_handshakes == [(path, status)] and fake.total_connections == 0


def test_legacy_paths_can_be_accepted_but_silent(make_fake: Callable[..., FakeBinance], connect: Connect) -> None:
    fake = make_fake(legacy_paths_silent=True)
    old = connect(fake.base_url + "/ws/!forceOrder@arr")
    new = connect(fake.market_url + "/ws/!forceOrder@arr")
    assert fake.wait_for_connections(2)
    assert fake.publish_force_order(DOC_EVENT) == 1
    assert recv_json(new) == DOC_EVENT
    assert nothing_arrives(old, 0.3)


# ------------------------------------------------------------------ control messages

def test_recorded_control_messages_get_the_recorded_answers(fake: FakeBinance, connect: Connect) -> None:
    lines = [json.loads(line) for line in (WS / "control_messages.jsonl").read_text().splitlines()]
    pairs = [(lines[i], lines[i + 1]) for i in range(0, len(lines), 2) if "method" in lines[i]]
    assert [req["method"] for req, _ in pairs] == [
        "SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY"]
    ws = connect(fake.market_url + "/ws")
    for req, answer in pairs:
        assert request(ws, req) == answer
    info = only_connection(fake)
    assert info.subscriptions == {"btcusdt@forceOrder"} and info.combined  # SET_PROPERTY combined true
    assert info.messages_received == [req for req, _ in pairs]
    fake.publish_force_order(DOC_EVENT)
    assert recv_json(ws) == {"stream": "btcusdt@forceOrder", "data": DOC_EVENT}


def test_unsubscribe_stops_delivery_and_combined_can_be_switched_off(fake: FakeBinance, connect: Connect) -> None:
    ws = connect(fake.market_url + "/stream?streams=btcusdt@forceOrder/ethusdt@forceOrder")
    assert request(ws, {"method": "GET_PROPERTY", "params": ["combined"], "id": 1}) == {"result": True, "id": 1}
    unsubscribe = {"method": "UNSUBSCRIBE", "params": ["btcusdt@forceOrder"], "id": 2}
    assert request(ws, unsubscribe) == {"result": None, "id": 2}
    assert request(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 3}) == {"result": ["ethusdt@forceOrder"], "id": 3}
    assert request(ws, {"method": "SET_PROPERTY", "params": ["combined", False], "id": 4}) == {"result": None, "id": 4}
    assert fake.publish_force_order(DOC_EVENT) == 0
    fake.publish_force_order(ETH_EVENT)
    assert recv_json(ws) == ETH_EVENT


ID_ERROR = {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}


@pytest.mark.parametrize("message", [
    {"method": "SUBSCRIBE", "params": ["btcusdt@forceOrder"], "id": "1"},
    {"method": "SUBSCRIBE", "params": ["btcusdt@forceOrder"], "id": -1},
    {"method": "SUBSCRIBE", "params": ["btcusdt@forceOrder"], "id": 1.5},
    {"method": "SUBSCRIBE", "params": ["btcusdt@forceOrder"], "id": True},
    {"method": "SUBSCRIBE", "params": ["btcusdt@forceOrder"]},
    {"method": "LIST_SUBSCRIPTIONS", "id": None},
])
def test_request_id_must_be_an_unsigned_integer(fake: FakeBinance, connect: Connect, message: Any) -> None:
    ws = connect(fake.market_url + "/ws")
    assert request(ws, message) == ID_ERROR
    assert request(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 9}) == {"result": [], "id": 9}


@pytest.mark.parametrize("text", ["not json", "", '{"method": "SUBSCRIBE",', "{'id': 1}"])
def test_invalid_json_is_error_code_3(fake: FakeBinance, connect: Connect, text: str) -> None:
    ws = connect(fake.market_url + "/ws")
    answer = request(ws, text)
    assert answer["code"] == 3 and answer["msg"].startswith("Invalid JSON: expected value at line 1 column ")
    assert set(answer) == {"code", "msg"}
    assert only_connection(fake).messages_received == [text]


@pytest.mark.parametrize(("message", "code", "words"), [
    ({"method": "SUBSCRIB", "params": [], "id": 7}, 2, "unknown variant"),
    ({"params": ["btcusdt@forceOrder"], "id": 7}, 2, "missing field"),
    ({"method": "SUBSCRIBE", "params": ["BTCUSDT@forceOrder"], "id": 7}, 2, "invalid stream"),
    ({"method": "SUBSCRIBE", "params": ["btcusdt@forceOrder", "BTCusdt@markPrice@1s"], "id": 7}, 2, "invalid stream"),
    ({"method": "SUBSCRIBE", "params": "btcusdt@forceOrder", "id": 7}, 2, "params"),
    ({"method": "SUBSCRIBE", "params": [42], "id": 7}, 2, "invalid stream"),
    ({"method": "LIST_SUBSCRIPTIONS", "params": ["x"], "id": 7}, 2, "too many parameters"),
    ({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 7}, 1, "expected Boolean"),
    ({"method": "SET_PROPERTY", "params": ["compressed", True], "id": 7}, 0, "Unknown property"),
    ({"method": "GET_PROPERTY", "params": [], "id": 7}, 2, "property name must be a string"),
    ({"method": "GET_PROPERTY", "params": ["combined", True], "id": 7}, 2, "too many parameters"),
])
def test_bad_requests_get_an_error_frame_and_change_nothing(
        fake: FakeBinance, connect: Connect, message: Any, code: int, words: str) -> None:
    ws = connect(fake.market_url + "/ws")
    answer = request(ws, message)
    assert answer["code"] == code and answer["id"] == 7 and words in answer["msg"]
    assert request(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 8}) == {"result": [], "id": 8}
    assert request(ws, {"method": "GET_PROPERTY", "params": ["combined"], "id": 9}) == {"result": False, "id": 9}


def test_more_than_max_streams_is_refused(make_fake: Callable[..., FakeBinance], connect: Connect) -> None:
    fake = make_fake(max_streams=3)
    ws = connect(fake.market_url + "/ws/a@forceOrder")
    too_many = {"method": "SUBSCRIBE", "params": ["b@forceOrder", "c@forceOrder", "d@forceOrder"], "id": 1}
    answer = request(ws, too_many)
    assert answer["code"] == 2 and answer["id"] == 1 and "too many streams" in answer["msg"]
    assert request(ws, {"method": "SUBSCRIBE", "params": ["a@forceOrder", "b@forceOrder", "c@forceOrder"], "id": 2}) \
        == {"result": None, "id": 2}
    assert request(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 3})["result"] == ["a@forceOrder", "b@forceOrder",
                                                                                 "c@forceOrder"]
    with pytest.raises(WebSocketBadStatusException) as failure:
        connect(fake.market_url + "/stream?streams=a@forceOrder/b@forceOrder/c@forceOrder/d@forceOrder")
    assert failure.value.status_code == 400


def test_more_than_ten_messages_a_second_closes_the_connection(fake: FakeBinance, connect: Connect) -> None:
    ws = connect(fake.market_url + "/ws")
    for burst in range(2):  # ten a second is allowed, again and again
        for i in range(10):
            ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
        assert [recv_json(ws)["id"] for _ in range(10)] == list(range(10))
        if burst == 0:
            time.sleep(1.05)
    for i in range(10, 12):
        ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
    assert read_until_end(ws) == ("close", 1008)
    info = only_connection(fake)
    assert info.ended_by == "rate_limit" and len(info.messages_received) == 21


# ------------------------------------------------------------------ publishing and replay

def test_publish_routes_by_stream(fake: FakeBinance, connect: Connect) -> None:
    btc = connect(fake.market_url + "/ws/btcusdt@forceOrder")
    everything = connect(fake.market_url + "/ws/!forceOrder@arr")
    eth = connect(fake.market_url + "/ws/ethusdt@forceOrder")
    assert fake.wait_for_connections(3)
    assert fake.publish_force_order(DOC_EVENT) == 2
    assert fake.publish_force_order(json.dumps(ETH_EVENT).encode()) == 2  # raw JSON goes out byte for byte
    assert recv_json(btc) == DOC_EVENT
    assert recv_json(everything) == DOC_EVENT and recv_json(everything) == ETH_EVENT
    assert recv_json(eth) == ETH_EVENT
    assert nothing_arrives(btc, 0.2)
    assert fake.publish("btcusdt@forceOrder", b'{"e":"forceOrder","extra":[1]}') == 1
    assert btc.recv() == '{"e":"forceOrder","extra":[1]}'


def test_publish_mark_price_has_the_documented_shape(fake: FakeBinance, connect: Connect) -> None:
    one_second = connect(fake.market_url + "/stream?streams=btcusdt@markPrice@1s")
    three_seconds = connect(fake.market_url + "/ws/btcusdt@markPrice")
    assert fake.wait_for_connections(2)
    assert fake.publish_mark_price("BTCUSDT", 11794.15, MARK_DOC["E"]) == 2
    wrapped = recv_json(one_second)
    assert wrapped["stream"] == "btcusdt@markPrice@1s" and wrapped["data"] == recv_json(three_seconds)
    payload = wrapped["data"]
    assert payload.keys() == MARK_DOC.keys()
    assert payload["e"] == "markPriceUpdate" and payload["s"] == "BTCUSDT" and payload["E"] == MARK_DOC["E"]
    assert float(payload["p"]) == 11794.15 and payload["T"] > payload["E"]


def test_frames_reach_a_connection_in_publish_order(fake: FakeBinance, connect: Connect) -> None:
    ws = connect(fake.market_url + "/stream?streams=btcusdt@forceOrder/!forceOrder@arr")
    fake.wait_for_subscription("btcusdt@forceOrder")
    sent = [{**DOC_EVENT, "E": DOC_EVENT["E"] + i} for i in range(300)]
    publisher = threading.Thread(target=lambda: [fake.publish_force_order(p) for p in sent])
    publisher.start()
    publisher.join()
    got = [recv_json(ws) for _ in range(600)]
    assert [(f["stream"], f["data"]["E"]) for f in got] == [
        (stream, p["E"]) for p in sent for stream in ("btcusdt@forceOrder", "!forceOrder@arr")]


def test_replay_thins_like_the_snapshot_stream(fake: FakeBinance, connect: Connect, wire_lines: list[bytes]) -> None:
    payloads = [orjson.loads(line) for line in wire_lines]
    ws = connect(fake.market_url + "/ws/!forceOrder@arr")
    fake.wait_for_subscription("!forceOrder@arr")
    handle = fake.replay(payloads, speed=math.inf)
    assert handle.wait(10.0) and handle.done
    sent = handle.sent
    assert len(sent) == handle.planned < len(payloads)
    got = [recv_json(ws) for _ in sent]
    assert got == sent
    assert_thinned(got)
    kept = iter(payloads)
    assert all(any(p == g for p in kept) for g in got)  # a subsequence of the recording, in its order
    assert {p["o"]["s"] for p in got} == {p["o"]["s"] for p in payloads}  # no symbol vanishes
    assert nothing_arrives(ws, 0.1)


def test_unthinned_replay_sends_every_recorded_line(fake: FakeBinance, connect: Connect,
                                                    wire_lines: list[bytes]) -> None:
    ws = connect(fake.market_url + "/ws/!forceOrder@arr")
    fake.wait_for_subscription("!forceOrder@arr")
    handle = fake.replay(wire_lines, speed=0, thin=False)
    assert handle.wait(10.0)
    assert handle.sent == wire_lines
    assert [str(ws.recv()).encode() for _ in wire_lines] == wire_lines


def test_replay_spaces_events_by_trade_time_over_speed(fake: FakeBinance, connect: Connect) -> None:
    base = DOC_EVENT["o"]["T"]
    offsets = [0, 1000, 2000, 4000]  # ms of o.T; at speed 10 -> 0, 0.1, 0.2, 0.4 s
    payloads = [{**DOC_EVENT, "o": {**DOC_EVENT["o"], "T": base + ms}} for ms in offsets]
    ws = connect(fake.market_url + "/ws/btcusdt@forceOrder")
    fake.wait_for_subscription("btcusdt@forceOrder")
    fake.replay(payloads, speed=10.0)
    arrivals = []
    for _ in payloads:
        ws.recv()
        arrivals.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert 0.07 < gaps[0] < 0.25 and 0.07 < gaps[1] < 0.25 and 0.17 < gaps[2] < 0.4, gaps


def test_a_replay_can_be_stopped(fake: FakeBinance) -> None:
    payloads = [DOC_EVENT, {**DOC_EVENT, "o": {**DOC_EVENT["o"], "T": DOC_EVENT["o"]["T"] + 60_000}}]
    handle: ReplayHandle = fake.replay(payloads, speed=1.0)
    time.sleep(0.1)
    handle.stop()
    assert handle.done and handle.sent == [DOC_EVENT]


def test_thin_snapshot_keeps_the_latest_event_per_symbol_and_second() -> None:
    def event(symbol: str, trade_ms: int) -> dict[str, Any]:
        return {"e": "forceOrder", "E": trade_ms, "o": {**DOC_EVENT["o"], "s": symbol, "T": trade_ms}}

    recording = [event("BTCUSDT", 0), event("ETHUSDT", 100), event("BTCUSDT", 300), event("BTCUSDT", 900),
                 event("BTCUSDT", 1100), event("ETHUSDT", 1100), event("BTCUSDT", 2500)]
    kept = [orjson.loads(item.wire) for item in thin_snapshot([replay_item(p) for p in recording], 1000)]
    assert [(p["o"]["s"], p["o"]["T"]) for p in kept] == [
        ("ETHUSDT", 100), ("BTCUSDT", 900), ("ETHUSDT", 1100), ("BTCUSDT", 2500)]


# ------------------------------------------------------------------ faults

def test_close_all_sends_a_close_frame(fake: FakeBinance, connect: Connect) -> None:
    ws = connect(fake.market_url + "/ws/btcusdt@forceOrder")
    only_connection(fake)
    fake.publish_force_order(DOC_EVENT)
    assert fake.close_all(code=1001) == 1
    assert recv_json(ws) == DOC_EVENT  # what was queued before the close still arrives
    assert read_until_end(ws) == ("close", 1001)
    assert fake.wait_for_disconnect(1) and only_connection(fake).ended_by == "close"


def test_drop_all_ends_the_connection_without_a_close_frame(fake: FakeBinance, connect: Connect) -> None:
    ws = connect(fake.market_url + "/ws/btcusdt@forceOrder")
    only_connection(fake)
    assert fake.drop_all() == 1
    assert read_until_end(ws) == ("lost", None)
    assert fake.wait_for_disconnect(1) and only_connection(fake).ended_by == "drop"


def test_silent_server_sends_no_data_no_pings_and_no_replies(make_fake: Callable[..., FakeBinance],
                                                             connect: Connect) -> None:
    fake = make_fake(ping_interval=0.1)
    ws = connect(fake.market_url + "/ws/btcusdt@forceOrder")
    assert ping_times(ws, 0.25)  # pings flow
    fake.set_silent(True)
    ping_times(ws, 0.15)  # let anything already in flight arrive
    assert fake.publish_force_order(DOC_EVENT) == 0
    ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 1}))
    ws.ping(b"are you there")
    assert nothing_arrives(ws, 0.6)
    info = only_connection(fake)
    assert info.is_open and info.messages_received == [{"method": "LIST_SUBSCRIPTIONS", "id": 1}]
    fake.set_silent(False)
    assert ping_times(ws, 0.35)  # pings resume
    fake.publish_force_order(DOC_EVENT)
    assert recv_json(ws) == DOC_EVENT


def test_server_pings_at_the_configured_interval(make_fake: Callable[..., FakeBinance], connect: Connect) -> None:
    fake = make_fake(ping_interval=0.2)
    ws = connect(fake.market_url + "/ws/btcusdt@forceOrder")
    times = ping_times(ws, 1.1)
    assert 4 <= len(times) <= 6, times
    assert 0.15 <= statistics.median(b - a for a, b in itertools.pairwise(times)) <= 0.3
    time.sleep(0.05)
    info = only_connection(fake)
    assert info.pings_sent >= len(times) and info.pongs_received >= len(times) - 1


def test_a_client_whose_pongs_are_ignored_is_dropped(make_fake: Callable[..., FakeBinance], connect: Connect) -> None:
    fake = make_fake(ping_interval=0.1, pong_timeout=0.3)
    ws = connect(fake.market_url + "/ws/btcusdt@forceOrder")
    assert len(ping_times(ws, 0.5)) >= 3  # answered pings keep it open past pong_timeout
    assert only_connection(fake).is_open
    fake.set_ignore_pongs(True)
    started = time.monotonic()
    assert read_until_end(ws) == ("close", 1008)
    assert time.monotonic() - started < 1.0
    assert only_connection(fake).ended_by == "pong_timeout"


def test_max_lifetime_closes_each_connection(fake: FakeBinance, connect: Connect) -> None:
    fake.set_max_lifetime(0.4)
    for n in (1, 2):
        ws = connect(fake.market_url + "/ws/btcusdt@forceOrder")
        opened = time.monotonic()
        assert read_until_end(ws) == ("close", 1000)
        assert 0.3 < time.monotonic() - opened < 1.5
        assert fake.wait_for_disconnect(n) and fake.connections()[-1].ended_by == "max_lifetime"
    fake.set_max_lifetime(None)
    ws = connect(fake.market_url + "/ws/btcusdt@forceOrder")
    assert nothing_arrives(ws, 0.5)


def test_refused_handshakes_fail_then_succeed_later(fake: FakeBinance, connect: Connect) -> None:
    fake.refuse_connections(0.4)
    with pytest.raises(WebSocketBadStatusException) as failure:
        connect(fake.market_url + "/ws/btcusdt@forceOrder")
    assert failure.value.status_code == 503 and fake.total_connections == 0
    time.sleep(0.5)
    ws = connect(fake.market_url + "/ws/btcusdt@forceOrder")
    fake.publish_force_order(DOC_EVENT)
    assert recv_json(ws) == DOC_EVENT and fake.total_connections == 1


def test_send_raw_sends_any_frame_as_is(fake: FakeBinance, connect: Connect) -> None:
    ws = connect(fake.market_url + "/ws/btcusdt@forceOrder")
    only_connection(fake)
    truncated, unknown = '{"e":"forceOrder","E":1568014460893,"o":{"s":"BTC', '{"e":"newEvent","x":1}'
    huge = "x" * 2**21
    for data in (truncated, unknown, b"not json", huge):
        assert fake.send_raw(data) == 1
    assert fake.send_raw(b"\x00\x01", binary=True) == 1
    fake.publish_force_order(DOC_EVENT)
    assert [ws.recv() for _ in range(4)] == [truncated, unknown, "not json", huge]
    opcode, data = ws.recv_data()
    assert opcode == ABNF.OPCODE_BINARY and data == b"\x00\x01"
    assert recv_json(ws) == DOC_EVENT  # the connection survives


def test_reconnections_are_counted_and_waitable(fake: FakeBinance, connect: Connect) -> None:
    connect(fake.market_url + "/ws").close()
    connect(fake.market_url + "/ws/btcusdt@forceOrder")
    assert fake.wait_for_connections(2, 2.0) and not fake.wait_for_connections(3, 0.1)
    assert fake.wait_for_disconnect(1) and fake.connections()[0].ended_by == "client"
    assert [info.id for info in fake.open_connections()] == [2]


def test_stop_closes_everything_quickly_and_leaves_no_thread(connect: Connect) -> None:
    fake = FakeBinance(ping_interval=0.05).start()
    ws = connect(fake.market_url + "/ws/btcusdt@forceOrder")  # never reads, so never answers the close
    later = {**DOC_EVENT, "o": {**DOC_EVENT["o"], "T": DOC_EVENT["o"]["T"] + 60_000}}
    replay = fake.replay([DOC_EVENT, later], speed=1.0)
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 2.0
    assert not [t for t in threading.enumerate() if t.name == "fake-binance"]
    assert replay.done and len(replay.sent) == 1
    ws.settimeout(1.0)
    with pytest.raises(LOST):
        for _ in range(100):  # pings, then the close frame, then the end
            ws.recv_frame()
    assert only_connection(fake).ended_by == "server_stop"
    fake.stop()  # idempotent
