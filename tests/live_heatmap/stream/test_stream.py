"""The live stream against a local fake of Binance (tests/fakes/binance): every fault, in seconds."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fakes.binance import FakeBinance
from helpers import wait_until

from live_heatmap import LiveLiquidationHeatmap, parse_force_order
from live_heatmap.common.backoff import Backoff
from live_heatmap.status import feed_dict
from live_heatmap.stream.stream import LiquidationStream

FAST = {  # tiny timings so every fault resolves in well under a second
    "backoff": lambda: Backoff(initial=0.05, maximum=0.2, reset_after=1.0),
    "tick": 0.02,
    "close_timeout": 0.3,
    "connect_timeout": 2.0,
    "ping_interval": 0.2,
    "pong_timeout": 0.5,
    "silence_timeout": 2.0,
}


def frame(symbol: str, t: int, price: float = 100.0, qty: float = 1.0, side: str = "SELL") -> dict[str, Any]:
    return {"e": "forceOrder", "E": t + 3, "o": {"s": symbol, "S": side, "o": "LIMIT", "f": "IOC", "q": str(qty),
                                               "p": str(price * 0.99), "ap": str(price), "X": "FILLED",
                                               "l": str(qty), "z": str(qty), "T": t}}


T0 = 1_737_997_200_000


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(ping_interval=0.2) as server:
        yield server


STREAMS: dict[int, LiquidationStream] = {}
"""The stream feeding each heatmap of a test (the heatmap knows nothing of it)."""


def start_stream(heatmap: LiveLiquidationHeatmap, symbols: Any, **options: Any) -> LiquidationStream:
    STREAMS[id(heatmap)] = stream = LiquidationStream(heatmap, symbols, **options).start()
    return stream


def stop_stream(heatmap: LiveLiquidationHeatmap) -> None:
    stream = STREAMS.pop(id(heatmap), None)
    if stream is not None:
        stream.stop()


def feed(heatmap: LiveLiquidationHeatmap) -> dict[str, Any]:
    """The heatmap's counters and its stream's health, as the API serialises them."""
    stream = STREAMS.get(id(heatmap))
    return feed_dict(heatmap.status(), stream.status() if stream is not None else None)


@pytest.fixture
def heatmap() -> Iterator[LiveLiquidationHeatmap]:
    hm = LiveLiquidationHeatmap(clock=lambda: T0 + 60_000)
    yield hm
    stop_stream(hm)
    assert wait_until(lambda: not LiquidationStream.threads_alive(), 2.0), LiquidationStream.threads_alive()


def start(heatmap: LiveLiquidationHeatmap, fake: FakeBinance, symbols: Any = ("BTCUSDT",), *,
          market: bool = True, **options: Any) -> LiquidationStream:
    url = fake.market_url if market else fake.base_url
    stream = start_stream(heatmap, list(symbols) if not isinstance(symbols, str) else symbols,
                          ws_url=url, **{**FAST, **options})
    assert wait_until(lambda: all(s.subscribed for s in stream.status().shards)), stream.status()
    return stream


def publish_and_wait(fake: FakeBinance, heatmap: LiveLiquidationHeatmap, payload: dict[str, Any]) -> None:
    before = heatmap.stats()["accepted"]
    fake.publish_force_order(payload)
    assert wait_until(lambda: heatmap.stats()["accepted"] > before), feed(heatmap)


@pytest.mark.parametrize("combined", [True, False])
@pytest.mark.parametrize("market", [True, False])
def test_events_reach_the_heatmap_on_every_url_form(fake: FakeBinance, heatmap: LiveLiquidationHeatmap,
                                                    combined: bool, market: bool) -> None:
    stream = start(heatmap, fake, ["BTC/USDT:USDT", "ethusdt"], market=market, combined=combined)
    (conn,) = fake.open_connections()
    assert conn.path.endswith("/stream" if combined else "/ws")
    assert conn.path.startswith("/market") == market
    assert conn.subscriptions == {"btcusdt@forceOrder", "ethusdt@forceOrder"}
    publish_and_wait(fake, heatmap, frame("BTCUSDT", T0))
    publish_and_wait(fake, heatmap, frame("ETHUSDT", T0, price=3000.0, side="BUY"))
    assert [e.side for e in heatmap.events("BTCUSDT")] == ["long"]
    assert [e.side for e in heatmap.events("ETHUSDT")] == ["short"]
    status = feed(heatmap)
    assert status["connected"] and status["stream"]["events_received"] == 2
    assert status["stream"]["since_last_message_s"] is not None
    assert stream.status().shards[0].uptime_s > 0


def test_many_symbols_use_the_all_market_stream_with_a_filter(fake: FakeBinance,
                                                              heatmap: LiveLiquidationHeatmap) -> None:
    start(heatmap, fake, ["BTCUSDT", "ETHUSDT", "SOLUSDT"], per_symbol_limit=2)
    (conn,) = fake.open_connections()
    assert conn.subscriptions == {"!forceOrder@arr"}
    fake.publish_force_order(frame("DOGEUSDT", T0))
    publish_and_wait(fake, heatmap, frame("SOLUSDT", T0))
    assert heatmap.events("DOGEUSDT") == [] and len(heatmap.events("SOLUSDT")) == 1
    assert feed(heatmap)["stream"]["events_filtered"] == 1


def test_all_symbols(fake: FakeBinance, heatmap: LiveLiquidationHeatmap) -> None:
    start(heatmap, fake, "all")
    publish_and_wait(fake, heatmap, frame("DOGEUSDT", T0))
    publish_and_wait(fake, heatmap, frame("币安人生USDT", T0))


def test_mark_price_stream_feeds_update_price(fake: FakeBinance, heatmap: LiveLiquidationHeatmap) -> None:
    start(heatmap, fake, ["BTCUSDT"], mark_price=True)
    assert fake.open_connections()[0].subscriptions == {"btcusdt@forceOrder", "btcusdt@markPrice@1s"}
    fake.publish_mark_price("BTCUSDT", 91234.5, T0)
    assert wait_until(lambda: heatmap.get_price("BTC/USDT:USDT") == 91234.5)


def _reconnects(heatmap: LiveLiquidationHeatmap) -> int:
    status = feed(heatmap)["stream"]
    return int(status["reconnects"]) if status else 0


def _assert_recovers(fake: FakeBinance, heatmap: LiveLiquidationHeatmap, cause_kind: str, t: int) -> None:
    assert wait_until(lambda: _reconnects(heatmap) >= 1), feed(heatmap)
    assert wait_until(lambda: feed(heatmap)["connected"] and
                      fake.wait_for_subscription("btcusdt@forceOrder", 0.01) and
                      feed(heatmap)["stream"]["shards"][0]["subscribed"])
    shard = feed(heatmap)["stream"]["shards"][0]
    assert cause_kind in shard["disconnect_causes"], shard
    publish_and_wait(fake, heatmap, frame("BTCUSDT", t))  # events resume on the new connection


def test_reconnects_after_a_clean_close(fake: FakeBinance, heatmap: LiveLiquidationHeatmap) -> None:
    start(heatmap, fake)
    publish_and_wait(fake, heatmap, frame("BTCUSDT", T0))
    fake.close_all(code=1000)
    _assert_recovers(fake, heatmap, "server closed", T0 + 1000)
    assert fake.total_connections == 2


def test_reconnects_after_an_abrupt_drop(fake: FakeBinance, heatmap: LiveLiquidationHeatmap) -> None:
    start(heatmap, fake)
    fake.drop_all()
    _assert_recovers(fake, heatmap, "connection closed without a close frame", T0 + 1000)


def test_a_dead_socket_is_noticed_by_ping_pong(fake: FakeBinance, heatmap: LiveLiquidationHeatmap) -> None:
    start(heatmap, fake)
    fake.set_silent(True)  # nothing at all comes back, not even pongs
    assert wait_until(lambda: _reconnects(heatmap) >= 1, 3.0), feed(heatmap)
    assert feed(heatmap)["stream"]["shards"][0]["last_disconnect_cause"].startswith("no pong")
    fake.set_silent(False)
    _assert_recovers(fake, heatmap, "no pong", T0 + 2000)


def test_watchdog_replaces_an_open_connection_that_sends_nothing(heatmap: LiveLiquidationHeatmap) -> None:
    """Like Binance's retired URLs: the connection opens and answers pings, but no data ever comes."""
    with FakeBinance(ping_interval=None, legacy_paths_silent=True) as fake:
        try:
            start_stream(heatmap, ["BTCUSDT"], ws_url=fake.base_url, **{**FAST, "silence_timeout": 0.8})
            assert wait_until(lambda: _reconnects(heatmap) >= 2, 5.0), feed(heatmap)
            causes = feed(heatmap)["stream"]["shards"][0]["disconnect_causes"]
            assert set(causes) == {"silent"}, causes
            assert not feed(heatmap)["stream"]["shards"][0]["subscribed"]
        finally:
            stop_stream(heatmap)


def test_reconnects_when_the_server_drops_for_missing_pongs() -> None:
    with FakeBinance(ping_interval=0.1, pong_timeout=0.4) as fake:
        heatmap = LiveLiquidationHeatmap(clock=lambda: T0 + 60_000)
        try:
            start(heatmap, fake)
            fake.set_ignore_pongs(True)
            assert wait_until(lambda: _reconnects(heatmap) >= 1, 3.0)
            fake.set_ignore_pongs(False)
            _assert_recovers(fake, heatmap, "server closed", T0 + 1000)
        finally:
            stop_stream(heatmap)


def test_answers_server_pings(fake: FakeBinance, heatmap: LiveLiquidationHeatmap) -> None:
    start(heatmap, fake, ping_interval=60.0)  # our own pings out of the way
    assert wait_until(lambda: fake.open_connections()[0].pongs_received >= 3, 3.0)
    assert _reconnects(heatmap) == 0


def test_reconnects_after_refused_connections(fake: FakeBinance, heatmap: LiveLiquidationHeatmap) -> None:
    fake.refuse_connections(0.6)
    stream = start_stream(heatmap, ["BTCUSDT"], ws_url=fake.market_url, **FAST)
    assert wait_until(lambda: stream.status().shards[0].subscribed, 5.0)
    assert stream.status().reconnects >= 2  # retried with backoff while refused
    assert len(fake.rejected_handshakes) >= 2
    publish_and_wait(fake, heatmap, frame("BTCUSDT", T0))


def test_malformed_frames_are_counted_by_reason_and_skipped(fake: FakeBinance,
                                                           heatmap: LiveLiquidationHeatmap) -> None:
    start(heatmap, fake)
    fake.send_raw(b'{"e":"forceOrder","E":1')  # truncated
    fake.send_raw(b"not json at all")
    fake.send_raw(orjson.dumps({"e": "someNewEvent", "E": T0}))
    fake.send_raw(orjson.dumps({"stream": "btcusdt@forceOrder", "data": {**frame("BTCUSDT", T0), "o": None}}))
    fake.send_raw(orjson.dumps({**frame("BTCUSDT", T0), "E": 12}))
    fake.send_raw(b'{"stream":"x","data":{"e":"forceOrder","E":1,"o":{' + b"x" * 200_000 + b"}}}")  # oversized
    publish_and_wait(fake, heatmap, frame("BTCUSDT", T0 + 1000))
    rejected = heatmap.stats()["rejected"]
    assert rejected == {"not_json": 3, "unknown_event_type": 1, "missing_field": 1, "bad_timestamp": 1}, rejected
    assert _reconnects(heatmap) == 0


def test_rotation_before_the_cut_loses_nothing_and_ingests_each_event_once(
        fake: FakeBinance, heatmap: LiveLiquidationHeatmap, wire_lines: list[bytes]) -> None:
    fake.set_max_lifetime(1.2)  # Binance's 24 h cut, shortened
    stream = start(heatmap, fake, "all", rotate_after=0.5)
    session = [line for line in wire_lines  # the 2025-01-27 16:50-17:20 session: 1,344 events
               if 1_737_996_000_000 <= parse_force_order(line).trade_time <= 1_737_999_000_000]
    replay = fake.replay(session, speed=900.0)  # 30 minutes in 2 s
    assert replay.wait(20.0)
    sent = {parse_force_order(p).dedupe_key for p in replay.sent}
    assert wait_until(lambda: heatmap.stats()["accepted"] >= len(sent), 5.0)
    time.sleep(0.3)
    held = {e.dedupe_key for s in heatmap.symbols() for e in heatmap.events(s)}
    assert held == sent  # every event the server sent, once
    assert heatmap.stats()["accepted"] == len(sent)
    health = stream.status()
    assert health.rotations >= 2, health
    assert health.shards[0].disconnect_causes == {}, health  # rotated before every cut


def test_stop_during_a_backoff_wait(fake: FakeBinance) -> None:
    heatmap = LiveLiquidationHeatmap()
    fake.refuse_connections(30)
    start_stream(heatmap, ["BTCUSDT"], ws_url=fake.market_url,
                         **{**FAST, "backoff": lambda: Backoff(initial=20.0, maximum=20.0)})
    assert wait_until(lambda: _reconnects(heatmap) >= 1)
    started = time.monotonic()
    stop_stream(heatmap)
    assert time.monotonic() - started < 2.0
    assert wait_until(lambda: not LiquidationStream.threads_alive(), 0.5)


def test_stop_during_a_connect() -> None:
    """A server that accepts TCP and never answers the WebSocket handshake."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    heatmap = LiveLiquidationHeatmap()
    port = listener.getsockname()[1]
    start_stream(heatmap, ["BTCUSDT"], ws_url=f"ws://127.0.0.1:{port}/market", **{**FAST, "connect_timeout": 30.0})
    assert wait_until(lambda: accepted)
    started = time.monotonic()
    stop_stream(heatmap)
    assert time.monotonic() - started < 2.0
    assert wait_until(lambda: not LiquidationStream.threads_alive(), 0.5)
    listener.close()
    accepted[0].close()


def test_stop_during_a_replay(fake: FakeBinance, heatmap: LiveLiquidationHeatmap,
                              wire_lines: list[bytes]) -> None:
    start(heatmap, fake, "all")
    session = [line for line in wire_lines if parse_force_order(line).trade_time >= 1_737_996_000_000]
    replay = fake.replay(session, speed=60.0)
    assert wait_until(lambda: heatmap.stats()["accepted"] > 20)
    started = time.monotonic()
    stop_stream(heatmap)
    assert time.monotonic() - started < 2.0
    assert wait_until(lambda: not LiquidationStream.threads_alive(), 0.5)
    replay.stop()


def test_subscriptions_are_paced_and_sharded() -> None:
    symbols = [f"C{i}USDT" for i in range(1500)]
    with FakeBinance(ping_interval=None) as fake:
        heatmap = LiveLiquidationHeatmap()
        try:
            stream = start_stream(heatmap, symbols, ws_url=fake.market_url, per_symbol_limit=5000,
                                          max_streams_per_connection=1024, **FAST)
            assert len(stream.shards) == 2
            assert wait_until(lambda: all(s.subscribed for s in stream.status().shards), 10.0)
            conns = fake.open_connections()
            assert sorted(len(c.subscriptions) for c in conns) == [476, 1024]
            for conn in conns:  # 100 streams a request, never more than 10 messages a second
                assert all(len(m["params"]) <= 100 for m in conn.messages_received)
            assert stream.status().reconnects == 0
        finally:
            stop_stream(heatmap)


def test_subscribe_errors_are_reported(fake: FakeBinance, heatmap: LiveLiquidationHeatmap) -> None:
    with FakeBinance(ping_interval=None, max_streams=3) as small:
        hm = LiveLiquidationHeatmap()
        try:
            stream = start_stream(hm, ["AUSDT", "BUSDT", "CUSDT", "DUSDT"], ws_url=small.market_url, **FAST)
            assert wait_until(lambda: stream.status().shards[0].subscribe_errors, 3.0)
        finally:
            stop_stream(hm)


def test_live_binance_source_of_the_hunter(fake: FakeBinance) -> None:
    from liquidation_hunter import LiquidationHunter

    hunter = LiquidationHunter(heatmap=LiveLiquidationHeatmap(clock=lambda: T0 + 60_000))
    heatmap = hunter.set_data_source("live_binance", symbols=["BTC/USDT:USDT"], ws_url=fake.market_url, **FAST)
    try:
        assert fake.wait_for_subscription("btcusdt@forceOrder", 5.0)
        for i in range(14):  # 14 typical-sized liquidations: strength 0.8 by the formula in docs/INTERNALS.md
            fake.publish_force_order(frame("BTCUSDT", T0 + i * 1000, price=98.0 + i * 0.01, qty=100.0))
        assert wait_until(lambda: heatmap.stats()["accepted"] == 14)
        signal, _strength, cluster = hunter.generate_signal("BTC/USDT:USDT", 100.0)
        assert signal == -1 and cluster is not None and cluster.liquidation_count == 14
    finally:
        hunter.stop()
