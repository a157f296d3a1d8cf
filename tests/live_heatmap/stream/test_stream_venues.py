"""The stream on Bybit and OKX against local fakes (tests/fakes/bybit, tests/fakes/okx): keep-alive, drops,
garbage, refused topics; and, pure, Bybit's shards and the connection limiter."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fakes.bybit.ws_server import FakeBybit
from fakes.okx.ws_server import FakeOkx
from helpers import wait_until

from live_heatmap import LiveLiquidationHeatmap
from live_heatmap.common.backoff import Backoff
from live_heatmap.common.instruments import Instrument, Instruments
from live_heatmap.stream.limits import RateLimiter
from live_heatmap.stream.settings import StreamSettings
from live_heatmap.stream.stream import LiquidationStream
from live_heatmap.stream.venues.base import SubscriptionBook
from live_heatmap.stream.venues.bybit import BybitAdapter, args_chars
from live_heatmap.stream.venues.okx import OkxSession
from live_heatmap.venue import Venue

FAST = {
    "backoff": lambda: Backoff(initial=0.05, maximum=0.2, reset_after=1.0),
    "tick": 0.02,
    "close_timeout": 0.3,
    "connect_timeout": 2.0,
    "ping_interval": 0.1,
    "pong_timeout": 0.5,
    "silence_timeout": 5.0,
    "max_messages_per_second": 50.0,
}
T0 = 1_791_565_600_000
OKX_INSTRUMENTS = Instruments.of(Venue.OKX, T0, [
    Instrument(Venue.OKX, "BTC-USDT-SWAP", "BTC/USDT:USDT", "BTCUSDT", 0.01),
    Instrument(Venue.OKX, "ETH-USDT-SWAP", "ETH/USDT:USDT", "ETHUSDT", 0.1),
])


@pytest.fixture
def heatmap() -> Iterator[LiveLiquidationHeatmap]:
    yield LiveLiquidationHeatmap(clock=lambda: T0 + 60_000)


@pytest.fixture
def streams() -> Iterator[list[LiquidationStream]]:
    started: list[LiquidationStream] = []
    yield started
    for stream in started:
        stream.stop()
    assert wait_until(lambda: not LiquidationStream.threads_alive(), 2.0), LiquidationStream.threads_alive()


def start(streams: list[LiquidationStream], heatmap: LiveLiquidationHeatmap, venue: str, url: str,
          symbols: Any = ("BTCUSDT",), **options: Any) -> LiquidationStream:
    instruments = OKX_INSTRUMENTS if venue == "okx" else None
    stream = LiquidationStream(heatmap, list(symbols) if not isinstance(symbols, str) else symbols, venue=venue,
                               instruments=instruments, ws_url=url, **{**FAST, **options})
    streams.append(stream.start())
    assert wait_until(lambda: all(s.subscribed for s in stream.status().shards)), stream.status()
    return stream


def bybit_item(t: int, qty: float = 0.5, side: str = "Buy") -> dict[str, Any]:
    return {"T": t, "s": "BTCUSDT", "S": side, "v": str(qty), "p": f"{82000 + t % 1000}.5"}


def okx_detail(t: int, sz: float = 8.55) -> dict[str, Any]:
    return {"bkLoss": "0", "bkPx": f"{82000 + t % 1000}.7", "ccy": "", "posSide": "long", "side": "sell",
            "sz": str(sz), "ts": str(t)}


class Venues:
    """Publishing the same liquidations on either fake."""

    @staticmethod
    def publish(fake: FakeBybit | FakeOkx, times: list[int]) -> None:
        if isinstance(fake, FakeBybit):
            fake.publish("BTCUSDT", [bybit_item(t) for t in times])
        else:
            fake.publish([{"instId": "BTC-USDT-SWAP", "details": [okx_detail(t) for t in times]}])


def held(heatmap: LiveLiquidationHeatmap) -> list[int]:
    return sorted(e.trade_time for e in heatmap.events("BTCUSDT"))


@pytest.fixture(params=["bybit", "okx"])
def venue_fake(request: pytest.FixtureRequest) -> Iterator[tuple[str, FakeBybit | FakeOkx]]:
    fake: FakeBybit | FakeOkx = FakeBybit(ping_timeout=0.4) if request.param == "bybit" else FakeOkx(idle_limit=0.4)
    with fake:
        yield request.param, fake


# ------------------------------------------------------------------ keep-alive

def test_stays_connected_past_several_keepalive_periods(venue_fake: tuple[str, FakeBybit | FakeOkx],
                                                        heatmap: LiveLiquidationHeatmap,
                                                        streams: list[LiquidationStream]) -> None:
    venue, fake = venue_fake
    stream = start(streams, heatmap, venue, fake.url)
    (conn,) = fake.open_connections()
    assert wait_until(lambda: conn.pings_received >= 6, 5.0)  # > 2 s of the fake's 0.4 s limit, with no data
    assert stream.status().reconnects == 0 and fake.total_connections == 1 and conn.ended_by is None
    Venues.publish(fake, [T0, T0 + 1, T0 + 2])  # one message, three liquidations
    assert wait_until(lambda: held(heatmap) == [T0, T0 + 1, T0 + 2]), stream.status()
    status = stream.status()
    assert (status.venue, status.connected, status.connections, status.events_received) == (venue, True, 1, 3)
    assert status.since_last_event_s is not None


def test_a_client_that_does_not_ping_is_dropped_and_reconnects(venue_fake: tuple[str, FakeBybit | FakeOkx],
                                                               heatmap: LiveLiquidationHeatmap,
                                                               streams: list[LiquidationStream]) -> None:
    venue, fake = venue_fake
    stream = start(streams, heatmap, venue, fake.url, ping_interval=math.inf)
    assert wait_until(lambda: stream.status().reconnects >= 2, 5.0), stream.status()
    assert {c.ended_by for c in fake.connections()[:2]} == {"keepalive"}
    causes = stream.status().shards[0].disconnect_causes
    expected = "connection closed without a close frame" if venue == "bybit" else "server closed"
    assert set(causes) == {expected}, causes
    if venue == "okx":
        assert "4004" in str(stream.status().shards[0].last_disconnect_cause)


# ------------------------------------------------------------------ drops and garbage

def test_after_a_drop_every_event_sent_outside_it_arrives_once(venue_fake: tuple[str, FakeBybit | FakeOkx],
                                                              heatmap: LiveLiquidationHeatmap,
                                                              streams: list[LiquidationStream]) -> None:
    venue, fake = venue_fake
    stream = start(streams, heatmap, venue, fake.url)
    before = [T0 + i * 100 for i in range(5)]
    for t in before:
        Venues.publish(fake, [t, t + 1])
    assert wait_until(lambda: len(held(heatmap)) == 10), stream.status()
    fake.drop_all()
    assert wait_until(lambda: stream.status().reconnects >= 1 and stream.status().shards[0].subscribed), \
        stream.status()
    after = [T0 + 10_000 + i * 100 for i in range(5)]
    for t in after:
        Venues.publish(fake, [t, t + 1])
    sent = sorted([t for t in before + after] + [t + 1 for t in before + after])
    assert wait_until(lambda: len(held(heatmap)) == 20), stream.status()
    Venues.publish(fake, [before[0], before[0] + 1])  # a replayed message: stored once
    assert wait_until(lambda: heatmap.stats()["duplicates"] == 2)
    assert held(heatmap) == sent and heatmap.stats()["accepted"] == 20
    assert stream.status().events_received == 22 and fake.total_connections == 2


def test_garbage_is_counted_by_reason_per_venue_and_the_loop_goes_on(venue_fake: tuple[str, FakeBybit | FakeOkx],
                                                                     heatmap: LiveLiquidationHeatmap,
                                                                     streams: list[LiquidationStream]) -> None:
    venue, fake = venue_fake
    stream = start(streams, heatmap, venue, fake.url)
    fake.send_raw(b"not json at all")
    fake.send_raw(b'{"topic":"allLiquidation.BTCUSDT","ts":17915')  # truncated
    fake.send_raw(b"\xff\xfe\x00garbage")  # not UTF-8: a binary frame
    fake.send_raw(orjson.dumps({"something": "else"}))
    if venue == "bybit":
        fake.send_raw(orjson.dumps({"topic": "allLiquidation.BTCUSDT", "type": "snapshot", "ts": T0, "data": {}}))
        fake.publish("BTCUSDT", [bybit_item(T0), {**bybit_item(T0 + 1), "S": "Up"}])  # one good, one bad side
        expected = {"not_json": 3, "unknown_message": 1, "not_an_array": 1, "bad_side": 1}
    else:
        fake.publish([{"instId": "BTC-USDT-SWAP", "details": []}])
        fake.publish([{"instId": "BTC-USDT-SWAP", "details": [okx_detail(T0), {**okx_detail(T0 + 1), "side": "buy"}]}])
        expected = {"not_json": 3, "unknown_message": 1, "empty_details": 1, "inconsistent_side": 1}
    Venues.publish(fake, [T0 + 5_000])
    assert wait_until(lambda: held(heatmap) == [T0, T0 + 5_000]), stream.status()
    assert dict(stream.status().rejected) == expected
    assert {k: heatmap.stats()["rejected"][k] for k in expected} == expected
    assert stream.status().reconnects == 0


# ------------------------------------------------------------------ subscriptions

def test_a_bad_bybit_topic_in_a_batch_is_found_and_dropped(heatmap: LiveLiquidationHeatmap,
                                                           streams: list[LiquidationStream]) -> None:
    symbols = [f"C{i}USDT" for i in range(11)] + ["NOPEUSDT"]
    with FakeBybit(unknown_symbols={"NOPEUSDT"}) as fake:
        stream = start(streams, heatmap, "bybit", fake.url, symbols, subscribe_batch=10)
        status = stream.status()
        assert status.subscription_errors == 1
        assert status.shards[0].dropped_topics == ("allLiquidation.NOPEUSDT",)
        assert "allLiquidation.NOPEUSDT" in status.shards[0].subscribe_errors[0]
        (conn,) = fake.open_connections()
        assert conn.subscriptions == {f"allLiquidation.C{i}USDT" for i in range(11)}
        assert all(len(m["args"]) <= 10 for m in conn.messages_received if m.get("op") == "subscribe")
        failed = fake.failed_requests
        fake.drop_all()  # the new connection does not ask for the bad topic again
        assert wait_until(lambda: fake.total_connections == 2 and stream.status().shards[0].subscribed)
        assert fake.failed_requests == failed
        assert fake.open_connections()[0].subscriptions == conn.subscriptions


def test_an_okx_subscription_refused_is_counted_and_retried(heatmap: LiveLiquidationHeatmap,
                                                            streams: list[LiquidationStream]) -> None:
    with FakeOkx(max_subscribes=0) as fake:
        stream = LiquidationStream(heatmap, ["BTC/USDT:USDT"], venue=Venue.OKX, instruments=OKX_INSTRUMENTS,
                                   ws_url=fake.url, **FAST)
        streams.append(stream.start())
        assert wait_until(lambda: stream.status().reconnects >= 2, 5.0)
        status = stream.status()
        assert status.subscription_errors >= 2 and not status.shards[0].subscribed
        assert str(status.shards[0].last_disconnect_cause).startswith("subscribe refused: 60014")


def test_okx_keeps_the_configured_instruments_and_shows_the_skipped(heatmap: LiveLiquidationHeatmap,
                                                                    streams: list[LiquidationStream]) -> None:
    with FakeOkx() as fake:
        stream = start(streams, heatmap, "okx", fake.url, ["BTC/USDT:USDT", "DOGE/USDT:USDT"])
        assert stream.status().skipped_symbols == ("DOGE/USDT:USDT",)
        assert heatmap.symbols() == ["BTCUSDT"]  # tracked by its heatmap key
        fake.publish([{"instId": "ETH-USDT-SWAP", "details": [okx_detail(T0), okx_detail(T0 + 1)]},
                      {"instId": "BTC-USDT-SWAP", "details": [okx_detail(T0, sz=2)]}])
        assert wait_until(lambda: held(heatmap) == [T0])
        (event,) = heatmap.events("BTCUSDT")
        assert event.quantity == pytest.approx(0.02)  # 2 contracts of 0.01 BTC
        status = stream.status()
        assert (status.events_received, status.events_filtered, dict(status.rejected)) == (1, 2, {})
        (conn,) = fake.open_connections()
        assert conn.messages_received[0]["args"] == [{"channel": "liquidation-orders", "instType": "SWAP"}]


def test_each_venue_has_its_own_defaults_and_refuses_binances_url() -> None:
    bybit, okx = StreamSettings.for_venue(Venue.BYBIT), StreamSettings.for_venue(Venue.OKX)
    assert bybit.ws_url == "wss://stream.bybit.com/v5/public/linear" and bybit.connection.ping_interval == 20.0
    assert okx.ws_url == "wss://ws.okx.com:8443/ws/v5/public" and okx.connection.ping_interval < 30.0
    assert (bybit.connection_limit, okx.connection_limit, okx.subscribe_limit) == ((500, 300.0), (3, 1.0),
                                                                                    (480, 3600.0))
    assert StreamSettings.for_venue(Venue.BINANCE) == StreamSettings()
    with pytest.raises(ValueError, match="Binance's"):
        LiquidationStream(LiveLiquidationHeatmap(), ["BTCUSDT"], StreamSettings(), venue="bybit")
    with pytest.raises(ValueError, match="instruments"):
        LiquidationStream(LiveLiquidationHeatmap(), ["BTCUSDT"], venue="okx")


# ------------------------------------------------------------------ pure: shards and limits

def test_a_thousand_bybit_symbols_shard_within_21000_characters_of_args() -> None:
    symbols = [f"{'X' * (i % 9)}C{i}USDT" for i in range(1000)]
    plan = BybitAdapter().plan(symbols, StreamSettings.for_venue(Venue.BYBIT), None)
    sizes = [args_chars(shard) for shard in plan.shards]
    assert len(plan.shards) >= 2 and max(sizes) <= 21_000
    assert min(sizes[:-1]) > 21_000 - 40  # full, but for the last
    topics = [t for shard in plan.shards for t in shard]
    assert sorted(topics) == sorted(f"allLiquidation.{s}" for s in symbols)
    small = BybitAdapter().plan(symbols[:50], StreamSettings.for_venue(Venue.BYBIT, max_args_chars=300), None)
    assert all(args_chars(shard) <= 300 for shard in small.shards)
    assert len(small.shards) >= math.ceil(args_chars([t for shard in small.shards for t in shard]) / 300) >= 4


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_connection_limiter_holds() -> None:
    clock = Clock()
    bybit = RateLimiter(500, 300.0, clock=clock)
    assert all(bybit.reserve() == 0.0 for _ in range(500))
    clock.now += 100.0
    assert bybit.reserve() == pytest.approx(200.0)  # the first frees 300 s after it was taken
    assert bybit.in_window() == 500
    clock.now += 200.0
    assert bybit.reserve() == 0.0 and bybit.in_window() == 1
    okx = RateLimiter(3, 1.0, clock=clock)
    assert [okx.reserve() == 0.0 for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5
    assert okx.reserve() == pytest.approx(0.5)
    clock.now += 0.5
    assert okx.reserve() == 0.0


def test_the_okx_subscribe_budget_is_never_exceeded() -> None:
    clock = Clock()
    budget = RateLimiter(2, 3600.0, clock=clock)
    router: Any = None
    session = OkxSession("0.1", ("liquidation-orders:SWAP",) * 3, router, SubscriptionBook(), budget=budget,
                         first_id=1)
    assert session.next_request() is not None and session.next_request() is not None
    assert session.next_request() is None and session.has_requests()  # the hour's budget is spent
    clock.now += 3600.0
    assert orjson.loads(session.next_request() or "")["op"] == "subscribe"
    assert session.requests_sent == 3 and not session.has_requests()


def test_new_instruments_apply_on_the_open_connection(heatmap: LiveLiquidationHeatmap,
                                                      streams: list[LiquidationStream]) -> None:
    with FakeOkx() as fake:
        stream = start(streams, heatmap, "okx", fake.url, ["BTC/USDT:USDT"])
        fake.publish([{"instId": "BTC-USDT-SWAP", "details": [okx_detail(T0, sz=2)]}])
        assert wait_until(lambda: held(heatmap) == [T0])
        stream.update_instruments(Instruments.of(Venue.OKX, T0 + 1, [  # OKX's ctVal changed
            Instrument(Venue.OKX, "BTC-USDT-SWAP", "BTC/USDT:USDT", "BTCUSDT", 0.001)]))
        fake.publish([{"instId": "BTC-USDT-SWAP", "details": [okx_detail(T0 + 1, sz=2)]}])
        assert wait_until(lambda: held(heatmap) == [T0, T0 + 1])
        assert [e.quantity for e in heatmap.events("BTCUSDT")] == pytest.approx([0.02, 0.002])
        assert len(fake.open_connections()) == 1 and stream.status().reconnects == 0
        with pytest.raises(ValueError, match="cannot take bybit's instruments"):
            stream.update_instruments(Instruments.of(Venue.BYBIT, T0, []))
    binance = LiquidationStream(heatmap, ["BTCUSDT"])  # its ids follow the rule: no table to replace
    with pytest.raises(ValueError, match="binance: the stream cannot take"):
        binance.update_instruments(Instruments.of(Venue.BINANCE, T0, []))
