"""Pinned before the refactor: the ``forceOrder`` parser's contract (docs/INTERNALS.md, "Events"), to the boundary.

Every frame is given to :func:`parse_force_order` in every form it accepts (bytes, str, bytearray, dict, and
each of those wrapped in a ``{"stream","data"}`` envelope): the forms take different internal paths, and all
must give the same event, or the same reject reason with the same detail. Expected events are built here from
the frame's own fields by the rules of docs/INTERNALS.md, not read back from the parser.
"""

from __future__ import annotations

import copy
import itertools
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
import pytest

from live_heatmap import FrameRejected, LiquidationEvent, LiveLiquidationHeatmap, RejectReason, parse_force_order
from live_heatmap.wire.events import MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS
from live_heatmap.wire.frame_batch import decode_chunk

MIN_MS = int(datetime(2019, 1, 1, tzinfo=UTC).timestamp()) * 1000  # docs/INTERNALS.md: 2019-01-01..2100-01-01
MAX_MS = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp()) * 1000
SIDE_OF = {"SELL": "long", "BUY": "short"}  # docs/INTERNALS.md: o.S is the liquidation order's side

BASE: dict[str, Any] = {  # a real recorded frame (data/binance/forceorder_wire.jsonl)
    "e": "forceOrder", "E": 1718901133106,
    "o": {"s": "1000PEPEUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "43942", "p": "0.0107751",
          "ap": "0.0109313", "X": "FILLED", "l": "43942", "z": "43942", "T": 1718901133105},
}

Outcome = LiquidationEvent | tuple[RejectReason, str]


def frame_with(*, top: dict[str, Any] | None = None, drop: tuple[str, ...] = (), **order: Any) -> dict[str, Any]:
    """BASE with order fields set (``o.<key>=value``), top-level fields set, and ``drop`` keys removed
    (``"E"`` for the top level, ``"o.T"`` for the order)."""
    frame = copy.deepcopy(BASE)
    frame["o"].update(order)
    frame.update(top or {})
    for path in drop:
        if path.startswith("o."):
            del frame["o"][path[2:]]
        else:
            del frame[path]
    return frame


def _forms(frame: dict[str, Any]) -> list[Any]:
    raw = orjson.dumps(frame)
    envelope = {"stream": "!forceOrder@arr", "data": copy.deepcopy(frame)}
    raw_env = orjson.dumps(envelope)
    return [raw, raw.decode(), bytearray(raw), copy.deepcopy(frame),
            raw_env, raw_env.decode(), envelope]


def _one(frame: Any) -> Outcome:
    try:
        event = parse_force_order(frame)
    except FrameRejected as exc:
        assert isinstance(exc, ValueError)
        assert str(exc) == f"{exc.reason.value}: {exc.detail}"
        return exc.reason, exc.detail
    assert type(event) is LiquidationEvent
    return event


def outcome(frame: dict[str, Any]) -> Outcome:
    """The one answer every form of ``frame`` gets (asserted to be the same for all)."""
    results = [_one(form) for form in _forms(frame)]
    for form, result in zip(_forms(frame), results, strict=True):
        assert result == results[0], (type(form).__name__, result, results[0])
        if isinstance(result, LiquidationEvent):  # the fields' types too, not only their values
            assert [type(x) for x in result] == [type(x) for x in results[0]]
    return results[0]


def expected(frame: dict[str, Any]) -> LiquidationEvent:
    """The event the rules of docs/INTERNALS.md give for a good ``frame``."""
    o = frame["o"]

    def pick(primary: str, fallback: str) -> tuple[float, bool]:
        value = o.get(primary)
        if value is None or float(value) == 0.0:
            return float(o[fallback]), True
        return float(value), False

    price, fb_price = pick("ap", "p")
    quantity, fb_qty = pick("z", "q")
    status = o.get("X")
    return LiquidationEvent(o["s"].upper(), SIDE_OF[o["S"]], price, quantity, frame["E"], o["T"],
                            status if isinstance(status, str) else "UNKNOWN", fb_price or fb_qty)


def rejected(frame: dict[str, Any]) -> tuple[RejectReason, str]:
    result = outcome(frame)
    assert not isinstance(result, LiquidationEvent), result
    return result


_fresh_ids = itertools.count()


def fresh_symbol(length: int = 12) -> str:
    """An upper-case symbol no other test uses (the parser remembers the symbols it has checked)."""
    tag = "".join("ABCDEFGHIJ"[int(d)] for d in str(next(_fresh_ids)))
    return ("PIN" + tag + "Z" * length)[:length - 4] + "USDT"


# -- the good frame, and the fields it gives ---------------------------------------------------------------------


def test_the_base_frame_gives_the_readme_event() -> None:
    event = outcome(BASE)
    assert event == LiquidationEvent("1000PEPEUSDT", "long", 0.0109313, 43942.0, 1718901133106, 1718901133105,
                                     "FILLED", False)
    assert event == expected(BASE)


def test_buy_is_a_short_and_sell_a_long() -> None:
    assert outcome(frame_with(S="BUY")).side == "short"  # type: ignore[union-attr]
    assert outcome(frame_with(S="SELL")).side == "long"  # type: ignore[union-attr]


def test_notional_and_dedupe_key() -> None:
    event = outcome(frame_with(ap="2.5", z="4", S="BUY"))
    assert isinstance(event, LiquidationEvent)
    assert event.notional == 10.0
    assert event.dedupe_key == ("binance", "1000PEPEUSDT", 1718901133105, "short", 4.0, 2.5)
    other = outcome(frame_with(ap="2.5", z="4", S="BUY", X="EXPIRED", top={"E": 1718901133999}))
    assert isinstance(other, LiquidationEvent)
    assert other.dedupe_key == event.dedupe_key  # E and the status are not part of the key
    for changed in (frame_with(ap="2.5", z="5", S="BUY"), frame_with(ap="2.6", z="4", S="BUY"),
                    frame_with(ap="2.5", z="4", S="SELL"), frame_with(ap="2.5", z="4", S="BUY", T=1718901133106),
                    frame_with(ap="2.5", z="4", S="BUY", s="ZROUSDT")):
        assert outcome(changed).dedupe_key != event.dedupe_key  # type: ignore[union-attr]


@pytest.mark.parametrize("symbol", ["btcusdt", "1000pepeUSDT", "BtcUsdt", "币安人生usdt"])
def test_symbols_are_upper_cased(symbol: str) -> None:
    event = outcome(frame_with(s=symbol))
    assert event == expected(frame_with(s=symbol))
    assert event.symbol == symbol.upper()  # type: ignore[union-attr]


@pytest.mark.parametrize(("status", "kept"), [("FILLED", "FILLED"), ("PARTIALLY_FILLED", "PARTIALLY_FILLED"),
                                              ("EXPIRED", "EXPIRED"), ("", ""), (None, "UNKNOWN"),
                                              (5, "UNKNOWN"), (["FILLED"], "UNKNOWN"), (True, "UNKNOWN"),
                                              (KeyError, "UNKNOWN")])
def test_status_is_kept_as_sent_or_unknown(status: object, kept: str) -> None:
    frame = frame_with(drop=("o.X",)) if status is KeyError else frame_with(X=status)
    event = outcome(frame)
    assert isinstance(event, LiquidationEvent)
    assert event.status == kept and type(event.status) is str


def test_a_str_subclass_status_in_a_dict_is_kept_on_every_path() -> None:
    """A dict from user code may carry an enum; the fast path used to turn it into "UNKNOWN"."""

    class Status(StrEnum):
        FILLED = "FILLED"

    for frame in (frame_with(X=Status.FILLED), frame_with(X=Status.FILLED, s="btcusdt")):
        assert parse_force_order(frame).status == "FILLED"
        assert parse_force_order({"stream": "x", "data": frame}).status == "FILLED"


def test_unknown_keys_are_ignored() -> None:
    frame = frame_with(rp="1", m={"x": [1]}, top={"x-new": [1, 2], "s": "OTHER"})
    assert outcome(frame) == expected(BASE)


def test_keys_are_case_sensitive_look_alike_keys_are_ignored() -> None:
    """Binance uses ``e``/``E``, ``s``/``S``, ``t``/``T``; keys that differ only in case are other keys."""
    decoy_order = {**BASE["o"], "s": "DECOYUSDT", "ap": "999", "z": "777", "T": 1718901139999}
    frame = frame_with(AP="999", Z="777", t=1718901139999, P="1", Q="1",
                       top={"O": decoy_order, "DATA": {**BASE, "o": decoy_order}, "e_": "x"})
    assert outcome(frame) == expected(BASE)


# -- the envelope ------------------------------------------------------------------------------------------------


def test_the_envelope_data_is_parsed_not_its_outer_level() -> None:
    inner = frame_with(s="ZROUSDT", S="BUY", ap="3.418", z="139.4")
    decoy = frame_with(s="DECOYUSDT", ap="999", z="777")  # a complete frame at the outer level too
    envelope = {**decoy, "stream": "!forceOrder@arr", "data": inner, "DATA": decoy}
    want = expected(inner)
    for form in (envelope, orjson.dumps(envelope), orjson.dumps(envelope).decode()):
        assert parse_force_order(form) == want


@pytest.mark.parametrize(("data", "kind"), [([1], "list"), ("x", "str"), (5, "int"), (True, "bool")])
def test_envelope_data_that_is_not_an_object(data: object, kind: str) -> None:
    envelope = {"stream": "!forceOrder@arr", "data": data}
    for form in (envelope, orjson.dumps(envelope), orjson.dumps(envelope).decode()):
        with pytest.raises(FrameRejected) as info:
            parse_force_order(form)  # type: ignore[arg-type]
        assert (info.value.reason, info.value.detail) == (RejectReason.NOT_AN_OBJECT, f"envelope data is {kind}")


def test_envelope_rules_data_none_and_data_without_stream() -> None:
    # "stream" with data null: not an envelope; the outer object itself is the frame.
    with_null = {**BASE, "stream": "x", "data": None}
    assert outcome(with_null) == expected(BASE)
    no_event = {"stream": "x", "data": None}
    for form in (no_event, orjson.dumps(no_event)):
        with pytest.raises(FrameRejected) as info:
            parse_force_order(form)  # type: ignore[arg-type]
        assert (info.value.reason, info.value.detail) == (RejectReason.WRONG_EVENT_TYPE, "e='None'")
    # "data" without "stream": an unknown key of a bare frame.
    assert outcome({**BASE, "data": frame_with(s="ZROUSDT")}) == expected(BASE)


# -- the fallback rule: p/q only where ap/z are missing or zero ---------------------------------------------------


@pytest.mark.parametrize("how", ["absent", "null", "0", "0.0", "-0", "0E-8", 0, 0.0])
def test_price_falls_back_to_p_when_ap_is_missing_or_zero(how: object) -> None:
    frame = frame_with(drop=("o.ap",)) if how == "absent" else frame_with(ap=None if how == "null" else how)
    event = outcome(frame)
    assert isinstance(event, LiquidationEvent)
    assert (event.price, event.quantity, event.fallback) == (0.0107751, 43942.0, True)


@pytest.mark.parametrize("how", ["absent", "null", "0", "0.000"])
def test_quantity_falls_back_to_q_when_z_is_missing_or_zero(how: str) -> None:
    frame = frame_with(drop=("o.z",), q="50000") if how == "absent" else frame_with(
        z=None if how == "null" else how, q="50000")
    event = outcome(frame)
    assert isinstance(event, LiquidationEvent)
    assert (event.price, event.quantity, event.fallback) == (0.0109313, 50000.0, True)


def test_both_fall_back() -> None:
    event = outcome(frame_with(ap="0", z="0", p="2", q="3"))
    assert (event.price, event.quantity, event.fallback) == (2.0, 3.0, True)  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", ["abc", "", None, True, [1], "-1", "nan", "0"])
def test_p_and_q_are_not_read_when_ap_and_z_are_good(bad: object) -> None:
    event = outcome(frame_with(p=bad, q=bad))
    assert event == expected(BASE) and not event.fallback  # type: ignore[union-attr]
    assert outcome(frame_with(drop=("o.p", "o.q"))) == expected(BASE)


def test_a_bad_ap_or_z_does_not_fall_back() -> None:
    """Only missing or zero means "use p/q": a negative or NaN ap is a bad price, even with a good p."""
    assert rejected(frame_with(ap="-1", p="5")) == (RejectReason.BAD_PRICE, "o.ap/o.p=-1.0")
    assert rejected(frame_with(ap="nan", p="5")) == (RejectReason.BAD_PRICE, "o.ap/o.p=nan")
    assert rejected(frame_with(z="-2", q="5")) == (RejectReason.BAD_QUANTITY, "o.z/o.q=-2.0")
    assert rejected(frame_with(ap="x", p="5")) == (RejectReason.BAD_NUMBER, "o.ap='x'")


def test_the_fallback_value_is_checked_like_the_primary() -> None:
    assert rejected(frame_with(ap="0", p="abc")) == (RejectReason.BAD_NUMBER, "o.p='abc'")
    assert rejected(frame_with(ap="0", p=True)) == (RejectReason.BAD_NUMBER, "o.p=True")
    assert rejected(frame_with(ap="0", p="0")) == (RejectReason.BAD_PRICE, "o.ap/o.p=0.0")
    assert rejected(frame_with(ap="0", p="-0.5")) == (RejectReason.BAD_PRICE, "o.ap/o.p=-0.5")
    assert rejected(frame_with(ap="0", drop=("o.p",))) == (RejectReason.MISSING_FIELD, "o.ap/o.p")
    assert rejected(frame_with(drop=("o.ap", "o.p"))) == (RejectReason.MISSING_FIELD, "o.ap/o.p")
    assert rejected(frame_with(ap=None, p=None)) == (RejectReason.MISSING_FIELD, "o.ap/o.p")
    assert rejected(frame_with(z="0", q="inf")) == (RejectReason.BAD_QUANTITY, "o.z/o.q=inf")
    assert rejected(frame_with(z="0", q="0")) == (RejectReason.BAD_QUANTITY, "o.z/o.q=0.0")
    assert rejected(frame_with(drop=("o.z", "o.q"))) == (RejectReason.MISSING_FIELD, "o.z/o.q")
    assert rejected(frame_with(z=0, q=[2])) == (RejectReason.BAD_NUMBER, "o.q='[2]'")


# -- numbers: booleans, NaN, infinities, negatives, odd spellings ------------------------------------------------


@pytest.mark.parametrize("key", ["ap", "z"])
@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_not_numbers(key: str, value: bool) -> None:
    assert rejected(frame_with(**{key: value})) == (RejectReason.BAD_NUMBER, f"o.{key}={value!r}")


@pytest.mark.parametrize(("key", "reason", "name"), [("ap", RejectReason.BAD_PRICE, "o.ap/o.p"),
                                                     ("z", RejectReason.BAD_QUANTITY, "o.z/o.q")])
@pytest.mark.parametrize(("raw", "shown"), [("nan", "nan"), ("NaN", "nan"), ("-nan", "nan"), ("inf", "inf"),
                                            ("Infinity", "inf"), ("-inf", "-inf"), ("1e999", "inf"),
                                            ("-1", "-1.0"), ("-0.0001", "-0.0001"), (-3, "-3.0"), (-2.5, "-2.5")])
def test_nan_infinite_and_negative_values(key: str, reason: RejectReason, name: str, raw: object, shown: str) -> None:
    assert rejected(frame_with(**{key: raw})) == (reason, f"{name}={shown}")


@pytest.mark.parametrize(("key", "raw"), [("ap", "abc"), ("ap", "1.2.3"), ("z", ""), ("z", "1,5"), ("ap", "0x10"),
                                          ("z", [1]), ("ap", {}), ("z", {"v": 1})])
def test_values_that_are_not_numbers(key: str, raw: object) -> None:
    assert rejected(frame_with(**{key: raw})) == (RejectReason.BAD_NUMBER, f"o.{key}={str(raw)!r}")


def test_a_long_bad_number_is_shown_cut_to_40_characters() -> None:
    value = "x" * 39 + "ABCDEFGH"
    assert rejected(frame_with(ap=value)) == (RejectReason.BAD_NUMBER, f"o.ap={'x' * 39 + 'A'!r}")
    assert rejected(frame_with(ap="0", p=value)) == (RejectReason.BAD_NUMBER, f"o.p={'x' * 39 + 'A'!r}")


@pytest.mark.parametrize(("raw", "value"), [(1.5, 1.5), (2, 2.0), ("1e-3", 0.001), (" 7 ", 7.0), ("1_000", 1000.0),
                                            ("+4", 4.0)])
def test_numbers_python_reads_are_accepted(raw: object, value: float) -> None:
    event = outcome(frame_with(ap=raw, z=raw))
    assert isinstance(event, LiquidationEvent)
    assert (event.price, event.quantity, event.fallback) == (value, value, False)


def test_an_integer_too_large_for_a_float_is_a_bad_number_not_a_crash() -> None:
    """A dict decoded by the standard library keeps big integers exact; float() then overflows."""
    big = 10**400
    frame = json.loads(json.dumps(frame_with(ap=big)))
    with pytest.raises(FrameRejected) as info:
        parse_force_order(frame)
    assert (info.value.reason, info.value.detail) == (RejectReason.BAD_NUMBER, f"o.ap={str(big)[:40]!r}")
    heatmap = LiveLiquidationHeatmap()
    assert heatmap.ingest(frame) is False
    quantity = json.loads(json.dumps(frame_with(z=big)))
    assert heatmap.ingest_many([frame, quantity, BASE]).accepted == 1
    assert heatmap.stats()["rejected"] == {"bad_number": 3}


# -- timestamps: integer epoch ms in [2019-01-01, 2100-01-01) ----------------------------------------------------


def test_the_timestamp_bounds_are_2019_and_2100() -> None:
    assert (MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS) == (MIN_MS, MAX_MS)


def _with_time(field: str, value: object, route: str) -> dict[str, Any]:
    frame = frame_with(T=value) if field == "o.T" else frame_with(top={"E": value})
    if route == "lower_symbol":  # the fast paths leave it to the checked one
        frame["o"]["s"] = "btcusdt"
    elif route == "fallback":
        frame["o"]["ap"] = "0"
    return frame


ROUTES = ["plain", "lower_symbol", "fallback"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("field", ["E", "o.T"])
@pytest.mark.parametrize(("value", "ok"), [(MIN_MS, True), (MIN_MS - 1, False), (MIN_MS + 1, True),
                                           (MAX_MS - 1, True), (MAX_MS, False), (MAX_MS + 1, False)])
def test_timestamp_bounds_to_the_millisecond(field: str, value: int, ok: bool, route: str) -> None:
    frame = _with_time(field, value, route)
    if ok:
        event = outcome(frame)
        assert event == expected(frame)
        assert (event.event_time if field == "E" else event.trade_time) == value  # type: ignore[union-attr]
    else:
        assert rejected(frame) == (RejectReason.BAD_TIMESTAMP, f"{field}={value} is not epoch ms in 2019..2100")


@pytest.mark.parametrize("field", ["E", "o.T"])
@pytest.mark.parametrize(("value", "shown"), [(1718901133, "1718901133"), (1718901133106000, "1718901133106000"),
                                              (-5, "-5"), (0, "0")])
def test_seconds_microseconds_and_negatives_are_out_of_range(field: str, value: int, shown: str) -> None:
    assert rejected(_with_time(field, value, "plain")) == (
        RejectReason.BAD_TIMESTAMP, f"{field}={shown} is not epoch ms in 2019..2100")


@pytest.mark.parametrize("field", ["E", "o.T"])
@pytest.mark.parametrize("value", [True, False, 1718901133106.0, "1718901133106", [1718901133106], "x" * 60])
def test_timestamps_that_are_not_integers(field: str, value: object) -> None:
    assert rejected(_with_time(field, value, "plain")) == (
        RejectReason.BAD_TIMESTAMP, f"{field}={str(value)[:40]!r} is not an integer")


def test_missing_timestamps_are_named() -> None:
    assert rejected(frame_with(drop=("o.T",))) == (RejectReason.MISSING_FIELD, "o.T")
    assert rejected(frame_with(T=None)) == (RejectReason.MISSING_FIELD, "o.T")
    assert rejected(frame_with(drop=("E",))) == (RejectReason.MISSING_FIELD, "E")
    assert rejected(frame_with(top={"E": None})) == (RejectReason.MISSING_FIELD, "E")


# -- the symbol: 1..64 printable characters without a space --------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("length", [1, 2, 63, 64])
def test_symbols_of_1_to_64_characters_are_accepted(length: int, route: str) -> None:
    symbol = "A" * length
    if route == "lower_symbol":
        symbol = symbol.lower()
    frame = frame_with(s=symbol, ap="0" if route == "fallback" else BASE["o"]["ap"])
    event = outcome(frame)
    assert event == expected(frame)
    assert event.symbol == "A" * length  # type: ignore[union-attr]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("length", [65, 66, 200])
def test_symbols_longer_than_64_characters_are_rejected(length: int, route: str) -> None:
    symbol = "B" * (length - 1) + ("c" if route == "lower_symbol" else "C")
    frame = frame_with(s=symbol, ap="0" if route == "fallback" else BASE["o"]["ap"])
    assert rejected(frame) == (RejectReason.BAD_SYMBOL, f"o.s={symbol[:40]!r}")


@pytest.mark.parametrize(("symbol", "shown"), [("", "''"), ("BTC USDT", "'BTC USDT'"), ("BTC\tUSDT", "'BTC\\tUSDT'"),
                                               ("BTC\nUSDT", "'BTC\\nUSDT'"), ("BTC\x00", "'BTC\\x00'"),
                                               (12, "'12'"), (True, "'True'"), (["BTC"], "\"['BTC']\""),
                                               ({"s": 1}, "\"{'s': 1}\"")])
def test_bad_symbols(symbol: object, shown: str) -> None:
    assert rejected(frame_with(s=symbol)) == (RejectReason.BAD_SYMBOL, f"o.s={shown}")


def test_a_missing_symbol_is_a_missing_field() -> None:
    assert rejected(frame_with(drop=("o.s",))) == (RejectReason.MISSING_FIELD, "o.s='None'")
    assert rejected(frame_with(s=None)) == (RejectReason.MISSING_FIELD, "o.s='None'")


# -- every other reject reason, with the detail that names the field -----------------------------------------------


@pytest.mark.parametrize("raw", [b"not json", b"", b'{"e":"forceOrder"', b"\xff\xfe", b"{}x", b"[1,]"])
def test_not_json_detail_is_what_orjson_said(raw: bytes) -> None:
    for form in (raw, bytearray(raw), memoryview(raw), raw.decode("utf-8", errors="replace")):
        with pytest.raises(orjson.JSONDecodeError) as said:
            orjson.loads(form)
        with pytest.raises(FrameRejected) as info:
            parse_force_order(form)
        assert info.value.reason is RejectReason.NOT_JSON
        assert info.value.detail == str(said.value) and len(info.value.detail) <= 120
        assert "line 1 column" in info.value.detail


def test_not_json_details_word_for_word() -> None:
    with pytest.raises(FrameRejected) as info:
        parse_force_order(b"")
    assert info.value.detail == "Input is a zero-length, empty document: line 1 column 1 (char 0)"
    with pytest.raises(FrameRejected) as info:
        parse_force_order(12345)  # type: ignore[arg-type]
    assert info.value.reason is RejectReason.NOT_JSON
    assert info.value.detail.startswith("Input must be bytes, bytearray, memoryview, or str")


@pytest.mark.parametrize(("raw", "kind"), [(b"[1,2]", "list"), (b"5", "int"), (b'"forceOrder"', "str"),
                                           (b"null", "NoneType"), (b"true", "bool"), (b"1.5", "float")])
def test_not_an_object(raw: bytes, kind: str) -> None:
    for form in (raw, raw.decode(), bytearray(raw)):
        with pytest.raises(FrameRejected) as info:
            parse_force_order(form)
        assert (info.value.reason, info.value.detail) == (RejectReason.NOT_AN_OBJECT, f"top level is {kind}")


@pytest.mark.parametrize(("e", "shown"), [("markPriceUpdate", "'markPriceUpdate'"), ("forceorder", "'forceorder'"),
                                          (1, "'1'"), (None, "'None'"), (KeyError, "'None'"),
                                          ("y" * 39 + "Zq" * 10, repr("y" * 39 + "Z"))])
def test_wrong_event_type(e: object, shown: str) -> None:
    frame = frame_with(drop=("e",)) if e is KeyError else frame_with(top={"e": e})
    assert rejected(frame) == (RejectReason.WRONG_EVENT_TYPE, f"e={shown}")


@pytest.mark.parametrize("order", [KeyError, None, [], "x", 5])
def test_order_missing_or_not_an_object(order: object) -> None:
    frame = frame_with(drop=("o",)) if order is KeyError else frame_with(top={"o": order})
    assert rejected(frame) == (RejectReason.MISSING_FIELD, "o")


@pytest.mark.parametrize(("side", "detail"), [("LONG", "o.S='LONG'"), ("sell", "o.S='sell'"), ("", "o.S=''"),
                                              (1, "o.S='1'"), (True, "o.S='True'"), (["SELL"], "o.S=\"['SELL']\""),
                                              ("S" * 19 + "XY" * 5, f"o.S={'S' * 19 + 'X'!r}")])
def test_bad_side(side: object, detail: str) -> None:
    assert rejected(frame_with(S=side)) == (RejectReason.BAD_SIDE, detail)


def test_a_missing_side_is_a_missing_field() -> None:
    assert rejected(frame_with(drop=("o.S",))) == (RejectReason.MISSING_FIELD, "o.S")
    assert rejected(frame_with(S=None)) == (RejectReason.MISSING_FIELD, "o.S")


def test_every_reason_is_pinned_here() -> None:
    """Each RejectReason's value (the counter key) is what docs/INTERNALS.md lists."""
    assert [r.value for r in RejectReason] == [
        "not_json", "not_an_object", "wrong_event_type", "missing_field", "bad_number", "bad_symbol", "bad_side",
        "bad_price", "bad_quantity", "bad_timestamp",
        # the Bybit and OKX parsers' own (docs/VENUES.md, "Parsers")
        "not_data", "unknown_topic", "not_an_array", "empty_data", "empty_details", "inconsistent_side",
        "unknown_contract_size",
        # the depth parsers' own (docs/LIQUIDITY.md, "The local book")
        "bad_update_id", "bad_level", "unknown_symbol"]


# -- decode_chunk: the bulk path takes every frame in Binance's own shape ---------------------------------------


@pytest.mark.parametrize("edit", ["none", "price_below_1", "quantity_below_1", "min_times", "max_times",
                                  "symbol_64", "buy", "no_status"])
def test_the_bulk_path_takes_every_binance_shaped_frame(edit: str) -> None:
    """Its docstring: the event of a bare payload in Binance's own shape; None only for anything else.
    (A stricter fast path gives the same answers, slower; this pins that it is not stricter.)"""
    frame = frame_with(s=fresh_symbol(64 if edit == "symbol_64" else 12))
    if edit == "price_below_1":
        frame["o"]["ap"] = "0.5"
    elif edit == "quantity_below_1":
        frame["o"]["z"] = "0.25"
    elif edit in ("min_times", "max_times"):
        frame["E"] = frame["o"]["T"] = MIN_MS if edit == "min_times" else MAX_MS - 1
    elif edit == "buy":
        frame["o"]["S"] = "BUY"
    elif edit == "no_status":
        del frame["o"]["X"]
    raw = orjson.dumps(frame)
    rows = decode_chunk([raw])
    assert rows is not None
    assert [LiquidationEvent._make(r) for r in rows.tuples()] == [expected(frame)] == [outcome(frame)]


@pytest.mark.parametrize("frame", [frame_with(s="B" * 65), frame_with(s="btcusdt"), frame_with(ap="0"),
                                   frame_with(T=MAX_MS), frame_with(top={"E": MIN_MS - 1}), frame_with(ap="-1")])
def test_the_bulk_path_leaves_what_it_must_not_take_to_the_careful_parser(frame: dict[str, Any]) -> None:
    assert decode_chunk([orjson.dumps(frame)]) is None
    assert decode_chunk([orjson.dumps(frame_with()), orjson.dumps(frame)]) is None  # the whole chunk


def test_a_batch_of_a_new_symbol_is_stored_under_its_name() -> None:
    symbol = fresh_symbol()
    frames = [orjson.dumps(frame_with(s=symbol, T=BASE["o"]["T"] + i)) for i in range(100)]
    heatmap = LiveLiquidationHeatmap()
    report = heatmap.ingest_many(frames)
    assert report.accepted == 100
    assert heatmap.symbols() == [symbol]
    events = heatmap.events(symbol)
    assert len(events) == 100 and {e.symbol for e in events} == {symbol}
    assert all(type(e.symbol) is str for e in events)
