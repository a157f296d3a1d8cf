"""Bybit's ``allLiquidation`` parser: the documented example and real frames give exact events; every bad input is
a named reject and never an exception."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from venue_samples import BYBIT_CONTROL, BYBIT_DOC, edited_forms, fuzz_values, three_venues

from live_heatmap import LiquidationEvent, RejectReason
from live_heatmap.common.instruments import Instrument, Instruments
from live_heatmap.side import Side
from live_heatmap.venue import PriceKind, Venue
from live_heatmap.wire.bybit import ParsedFrame, parse_bybit_frame

GOOD: dict[str, Any] = {"topic": "allLiquidation.BTCUSDT", "type": "snapshot", "ts": 1791565601482,
                        "data": [{"T": 1791565600992, "s": "BTCUSDT", "S": "Buy", "v": "0.006", "p": "82396.90"}]}


def _with(path: str, value: object) -> dict[str, Any]:
    """GOOD with one field set (``KeyError``: removed); ``data.0.x`` is a field of the first element."""
    frame = orjson.loads(orjson.dumps(GOOD))
    *parents, leaf = path.split(".")
    target: Any = frame
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is KeyError:
        del target[leaf]
    else:
        target[leaf] = value
    return frame


def _reasons(parsed: ParsedFrame) -> list[str]:
    return [r.reason.value for r in parsed.rejects]


def test_the_documented_example() -> None:
    parsed = parse_bybit_frame(BYBIT_DOC.read_bytes())
    assert parsed.rejects == []
    assert parsed.events == [LiquidationEvent("ROSEUSDT", Side.SHORT, 0.04499, 20000.0, 1739502303204, 1739502302929,
                                              "FILLED", False, Venue.BYBIT, PriceKind.BANKRUPTCY, "")]
    event = parsed.events[0]
    assert event.notional == pytest.approx(899.80)
    assert event.trade_time == 1739502302929 and event.price_kind == "bankruptcy"
    assert event.unified_symbol == "ROSE/USDT:USDT" and event.venue_id == "ROSEUSDT"


def test_real_frames_two_events_in_one_message_and_single_ones() -> None:
    lines = three_venues()
    two = parse_bybit_frame(lines[1])
    assert [(e.side, e.price, e.quantity, e.trade_time, e.event_time) for e in two.events] == [
        ("long", 82396.9, 0.006, 1791565600992, 1791565601482), ("long", 82394.3, 0.038, 1791565601058, 1791565601482)]
    strk, ada = parse_bybit_frame(lines[4]), parse_bybit_frame(lines[5])
    assert [(e.symbol, e.side, e.price, e.quantity) for e in strk.events + ada.events] == [
        ("STRKUSDT", "long", 0.05165, 2084.9), ("ADAUSDT", "short", 0.1915, 13248.0)]
    assert not (two.rejects or strk.rejects or ada.rejects)


@pytest.mark.parametrize("form", ["bytes", "str", "dict", "bytearray", "memoryview"])
def test_accepts_bytes_str_and_dict(form: str) -> None:
    raw = BYBIT_DOC.read_bytes()
    frame = {"bytes": raw, "str": raw.decode(), "dict": orjson.loads(raw), "bytearray": bytearray(raw),
             "memoryview": memoryview(raw)}[form]
    assert parse_bybit_frame(frame) == parse_bybit_frame(raw)


def test_the_key_comes_from_the_instruments_when_they_know_the_id() -> None:
    table = Instruments.of(Venue.BYBIT, 0, [
        Instrument(Venue.BYBIT, "BTCUSDT", "BTC/USDT:USDT", "BTCUSDT"),
        Instrument(Venue.BYBIT, "BTCPERP", "BTC/USDC:USDC", "BTCUSDC"),  # Bybit's id for the USDC perpetual
    ])
    assert parse_bybit_frame(GOOD, table).events[0][::10] == ("BTCUSDT", "")
    perp = _with("topic", "allLiquidation.BTCPERP")
    perp["data"][0]["s"] = "BTCPERP"
    event = parse_bybit_frame(perp, table).events[0]
    assert (event.symbol, event.venue_symbol, event.venue_id, event.unified_symbol) == (
        "BTCUSDC", "BTCPERP", "BTCPERP", "BTC/USDC:USDC")
    # Without instruments, or an id they do not list: the id upper-cased is the key.
    assert parse_bybit_frame(perp).events[0][::10] == ("BTCPERP", "")
    lower = _with("data.0.s", "btcusdt")
    lower["topic"] = "allLiquidation.btcusdt"
    assert parse_bybit_frame(lower, table).events[0].symbol == "BTCUSDT"


def test_an_inverse_instruments_size_is_usd_and_becomes_base() -> None:
    table = Instruments.of(Venue.BYBIT, 0, [Instrument(Venue.BYBIT, "BTCUSD", "BTC/USD:BTC", "BTC/USD:BTC", 1.0,
                                                       inverse=True)])
    frame = {"topic": "allLiquidation.BTCUSD", "ts": 1791565601482,
             "data": [{"T": 1791565600992, "s": "BTCUSD", "S": "Sell", "v": "5000", "p": "80000"}]}
    event = parse_bybit_frame(frame, table).events[0]
    assert (event.symbol, event.venue_symbol, event.quantity, event.notional) == (
        "BTC/USD:BTC", "BTCUSD", 0.0625, 5000.0)


def test_control_messages_are_not_data() -> None:
    for line in BYBIT_CONTROL.read_bytes().splitlines():  # a subscribe request, a ping, the pong answer
        assert _reasons(parse_bybit_frame(line)) == ["not_data"]
    ack = {"success": True, "ret_msg": "", "conn_id": "x", "req_id": "1", "op": "subscribe"}
    failed = {"success": False, "ret_msg": "error:handler not found,topic:allLiquidation.NOPE", "op": "subscribe"}
    assert _reasons(parse_bybit_frame(ack)) == _reasons(parse_bybit_frame(failed)) == ["not_data"]
    assert _reasons(parse_bybit_frame(b"pong")) == ["not_data"]


# Whole-message problems: one reject, no events.
MESSAGE_CASES: list[tuple[str, object, str]] = [
    ("topic", "liquidation.BTCUSDT", "unknown_topic"),  # the deprecated topic
    ("topic", "publicTrade.BTCUSDT", "unknown_topic"),
    ("topic", 7, "unknown_topic"),
    ("topic", KeyError, "missing_field"),
    ("data", {"T": 1791565600992, "s": "BTCUSDT", "S": "Buy", "v": "0.006", "p": "82396.90"}, "not_an_array"),
    ("data", "[]", "not_an_array"),
    ("data", [], "empty_data"),
    ("data", KeyError, "missing_field"),
    ("ts", KeyError, "missing_field"),
    ("ts", "1791565601482", "bad_timestamp"),  # a string
    ("ts", 1791565601, "bad_timestamp"),  # seconds
    ("ts", 1791565601482.0, "bad_timestamp"),
    ("ts", 1791565601482000, "bad_timestamp"),  # microseconds
    ("ts", True, "bad_timestamp"),
]
# Element problems: that element is rejected (here the only one).
ELEMENT_CASES: list[tuple[str, object, str]] = [
    ("s", KeyError, "missing_field"),
    ("s", "", "bad_symbol"),
    ("s", "BTC USDT", "bad_symbol"),
    ("s", 5, "bad_symbol"),
    ("s", "ETHUSDT", "bad_symbol"),  # not the topic's symbol
    ("S", KeyError, "missing_field"),
    ("S", "BUY", "bad_side"),
    ("S", "buy", "bad_side"),
    ("S", "long", "bad_side"),
    ("S", 1, "bad_side"),
    ("p", KeyError, "missing_field"),
    ("p", "0", "bad_price"),
    ("p", "-1", "bad_price"),
    ("p", "nan", "bad_price"),
    ("p", "inf", "bad_price"),
    ("p", "1.2.3", "bad_number"),
    ("p", "", "bad_number"),
    ("p", True, "bad_number"),
    ("p", [1], "bad_number"),
    ("p", 2**1100, "bad_number"),
    ("v", KeyError, "missing_field"),
    ("v", "0", "bad_quantity"),
    ("v", "-0.5", "bad_quantity"),
    ("v", "NaN", "bad_quantity"),
    ("v", "abc", "bad_number"),
    ("T", KeyError, "missing_field"),
    ("T", "1791565600992", "bad_timestamp"),
    ("T", 1791565600, "bad_timestamp"),
    ("T", 1791565600992.0, "bad_timestamp"),
    ("T", 1_500_000_000_000, "bad_timestamp"),  # 2017: before the window
    ("T", None, "missing_field"),
]


@pytest.mark.parametrize(("path", "value", "reason"), MESSAGE_CASES, ids=lambda v: repr(v)[:30])
def test_a_bad_message_is_one_named_reject(path: str, value: object, reason: str) -> None:
    parsed = parse_bybit_frame(_with(path, value))
    assert parsed.events == [] and _reasons(parsed) == [reason]
    assert all(r.reason in RejectReason for r in parsed.rejects)


@pytest.mark.parametrize(("field", "value", "reason"), ELEMENT_CASES, ids=lambda v: repr(v)[:30])
def test_a_bad_element_is_rejected_and_the_others_kept(field: str, value: object, reason: str) -> None:
    frame = _with(f"data.0.{field}", value)
    good = {"T": 1791565601058, "s": "BTCUSDT", "S": "Sell", "v": "0.038", "p": "82394.30"}
    frame["data"] = [good, frame["data"][0], good]
    parsed = parse_bybit_frame(frame)
    assert _reasons(parsed) == [reason]
    assert [(e.side, e.price) for e in parsed.events] == [("short", 82394.3)] * 2


@pytest.mark.parametrize("raw", [b"", b"garbage", b'{"topic":"allLiquidation.BTCUSDT","ts":17915656', b"[1,2]",
                                 b'"text"', b"\xff\xfe", b"null", b"{}"])
def test_garbage_and_truncated_messages(raw: bytes) -> None:
    reasons = _reasons(parse_bybit_frame(raw))
    expected = {b"[1,2]": "not_an_object", b'"text"': "not_an_object", b"null": "not_an_object",
                b"{}": "missing_field"}.get(raw, "not_json")
    assert reasons == [expected]


def test_data_elements_that_are_not_objects() -> None:
    frame = _with("data", [1, None, "x", [], GOOD["data"][0]])
    parsed = parse_bybit_frame(frame)
    assert _reasons(parsed) == ["not_an_object"] * 4 and len(parsed.events) == 1


_VALUES = fuzz_values("Buy", "Sell", "BTCUSDT", "0.1", "nan", "1791565600992", 1791565600992)
_PATHS = ["topic", "ts", "data", "type", "data.0", "data.0.T", "data.0.s", "data.0.S", "data.0.v", "data.0.p"]


@settings(max_examples=300, deadline=None)
@given(edits=st.lists(st.tuples(st.sampled_from(_PATHS), _VALUES), max_size=3), cut=st.integers(0, 300))
def test_never_raises_and_every_event_is_plausible(edits: list[tuple[str, object]], cut: int) -> None:
    for candidate in edited_forms(GOOD, edits, cut):
        parsed = parse_bybit_frame(candidate)
        assert len(parsed.events) + len(parsed.rejects) >= 1
        for event in parsed.events:
            assert 0 < event.price < float("inf") and 0 < event.quantity < float("inf")
            assert type(event.trade_time) is int and type(event.event_time) is int
            assert event.side in (Side.LONG, Side.SHORT) and event.exchange is Venue.BYBIT
