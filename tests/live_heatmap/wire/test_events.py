"""The parser against every real recorded frame, and every way a frame can be bad."""

from __future__ import annotations

import json
import math

import orjson
import pytest
from conftest import DATA

from live_heatmap import FrameRejected, LiquidationEvent, LiveLiquidationHeatmap, RejectReason, parse_force_order

REAL = {  # three real frames from the recording, one per case that matters
    "sell": b'{"e":"forceOrder","E":1718901133106,"o":{"s":"1000PEPEUSDT","S":"SELL","o":"LIMIT","f":"IOC",'
            b'"q":"43942","p":"0.0107751","ap":"0.0109313","X":"FILLED","l":"43942","z":"43942","T":1718901133106}}',
    "buy": b'{"e":"forceOrder","E":1718901315083,"o":{"s":"ZROUSDT","S":"BUY","o":"LIMIT","f":"IOC","q":"139.4",'
           b'"p":"3.4633144","ap":"3.4180000","X":"FILLED","l":"139.4","z":"139.4","T":1718901315083}}',
}


def test_every_recorded_frame_parses(wire_lines: list[bytes]) -> None:
    events = [parse_force_order(line) for line in wire_lines]
    assert len(events) == 4986
    assert {e.side for e in events} == {"long", "short"}
    for line, event in zip(wire_lines, events, strict=True):
        raw = json.loads(line)["o"]
        assert event.side == {"SELL": "long", "BUY": "short"}[raw["S"]]
        assert event.price == float(raw["ap"]) and event.quantity == float(raw["z"])
        assert event.trade_time == raw["T"] and not event.fallback


def test_sell_means_a_long_was_liquidated() -> None:
    """Peer defect 1: sides inverted. S=SELL closes a long, S=BUY closes a short."""
    assert parse_force_order(REAL["sell"]).side == "long"
    assert parse_force_order(REAL["buy"]).side == "short"


def test_price_and_quantity_are_fill_price_and_filled_quantity() -> None:
    """Peer defect 2: clustering on p*q. Price is ap, quantity z, notional ap*z."""
    frame = json.loads(REAL["sell"])
    frame["o"].update(q="50000", l="100", z="43942")
    event = parse_force_order(frame)
    assert event.price == 0.0109313 and event.quantity == 43942.0
    assert event.notional == pytest.approx(0.0109313 * 43942)
    assert event.notional != pytest.approx(0.0107751 * 50000)


def test_event_fields_and_times() -> None:
    event = parse_force_order(REAL["buy"])
    assert event == LiquidationEvent("ZROUSDT", "short", 3.418, 139.4, 1718901315083, 1718901315083, "FILLED", False)
    with pytest.raises(AttributeError):
        event.price = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("form", ["bytes", "str", "dict", "bytearray", "memoryview"])
def test_accepts_bytes_str_and_dict(form: str) -> None:
    raw = REAL["sell"]
    frame = {"bytes": raw, "str": raw.decode(), "dict": orjson.loads(raw), "bytearray": bytearray(raw),
             "memoryview": memoryview(raw)}[form]
    assert parse_force_order(frame).symbol == "1000PEPEUSDT"  # type: ignore[arg-type]


def test_combined_stream_envelope_is_unwrapped() -> None:
    frame = (DATA / "ws" / "forceOrder_combined_frame.json").read_bytes()
    event = parse_force_order(frame)
    assert (event.symbol, event.side, event.price, event.quantity) == ("IOTXUSDT", "long", 0.06669, 3661.0)
    assert (event.event_time, event.trade_time) == (1634653599186, 1634653599180)


def test_unknown_keys_and_other_statuses_are_accepted() -> None:
    frame = orjson.loads(REAL["buy"])
    frame["x-new"] = {"nested": [1]}
    frame["o"]["future"] = "1"
    frame["o"]["X"] = "PARTIALLY_FILLED"
    event = parse_force_order(frame)
    assert event.status == "PARTIALLY_FILLED"


def test_non_ascii_symbols_from_the_real_stream_parse(wire_lines: list[bytes]) -> None:
    symbols = {parse_force_order(line).symbol for line in wire_lines}
    assert "币安人生USDT" in symbols


@pytest.mark.parametrize("missing", ["ap", "z"])
@pytest.mark.parametrize("how", ["absent", "zero"])
def test_fallback_to_order_price_and_quantity_is_marked(missing: str, how: str) -> None:
    frame = orjson.loads(REAL["sell"])
    if how == "absent":
        del frame["o"][missing]
    else:
        frame["o"][missing] = "0"
    event = parse_force_order(frame)
    assert event.fallback
    if missing == "ap":
        assert event.price == 0.0107751 and event.quantity == 43942.0
    else:
        assert event.price == 0.0109313 and event.quantity == 43942.0


def _mutate(path: str, value: object) -> dict[str, object]:
    frame = orjson.loads(REAL["sell"])
    target = frame
    *parents, leaf = path.split(".")
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[leaf]
    else:
        target[leaf] = value
    return frame  # type: ignore[no-any-return]


BAD_FRAMES = [
    (b"not json", RejectReason.NOT_JSON),
    (b'{"e":"forceOrder"', RejectReason.NOT_JSON),  # truncated
    (b"", RejectReason.NOT_JSON),
    (b"[1,2]", RejectReason.NOT_AN_OBJECT),
    (b'{"stream":"x","data":[1]}', RejectReason.NOT_AN_OBJECT),
    (b'{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"1"}', RejectReason.WRONG_EVENT_TYPE),
    (b'{"result":null,"id":1}', RejectReason.WRONG_EVENT_TYPE),
    (_mutate("o", KeyError), RejectReason.MISSING_FIELD),
    (_mutate("o.s", KeyError), RejectReason.MISSING_FIELD),
    (_mutate("o.s", ""), RejectReason.BAD_SYMBOL),
    (_mutate("o.s", 12), RejectReason.BAD_SYMBOL),
    (_mutate("o.S", KeyError), RejectReason.MISSING_FIELD),
    (_mutate("o.S", "LONG"), RejectReason.BAD_SIDE),
    (_mutate("o.ap", "abc"), RejectReason.BAD_NUMBER),
    (_mutate("o.z", [1]), RejectReason.BAD_NUMBER),
    (_mutate("o.ap", True), RejectReason.BAD_NUMBER),
    (_mutate("o.ap", "-1"), RejectReason.BAD_PRICE),
    (_mutate("o.ap", "NaN"), RejectReason.BAD_PRICE),
    (_mutate("o.ap", "inf"), RejectReason.BAD_PRICE),
    (_mutate("o.z", "-3"), RejectReason.BAD_QUANTITY),
    (_mutate("o.z", "nan"), RejectReason.BAD_QUANTITY),
    ({**_mutate("o.z", "0"), "o": {**_mutate("o.z", "0")["o"], "q": "0"}}, RejectReason.BAD_QUANTITY),
    ({"e": "forceOrder", "E": 1718901133106, "o": {**_mutate("o.ap", KeyError)["o"], "p": None}},
     RejectReason.MISSING_FIELD),
    (_mutate("o.T", KeyError), RejectReason.MISSING_FIELD),
    (_mutate("E", KeyError), RejectReason.MISSING_FIELD),
    (_mutate("o.T", "1718901133106"), RejectReason.BAD_TIMESTAMP),
    (_mutate("o.T", 1718901133.106), RejectReason.BAD_TIMESTAMP),
    (_mutate("o.T", 1718901133), RejectReason.BAD_TIMESTAMP),  # seconds, not ms
    (_mutate("o.T", 1718901133106000), RejectReason.BAD_TIMESTAMP),  # microseconds
    (_mutate("E", -5), RejectReason.BAD_TIMESTAMP),
    (_mutate("E", True), RejectReason.BAD_TIMESTAMP),
]


@pytest.mark.parametrize(("frame", "reason"), BAD_FRAMES)
def test_bad_frames_raise_one_exception_type_with_the_reason(frame: object, reason: RejectReason) -> None:
    with pytest.raises(FrameRejected) as info:
        parse_force_order(frame)  # type: ignore[arg-type]
    assert info.value.reason is reason
    assert isinstance(info.value, ValueError)
    assert reason.value in str(info.value)


def test_batch_ingest_never_stops_at_a_bad_frame(wire_lines: list[bytes]) -> None:
    frames: list[object] = []
    for i, line in enumerate(wire_lines[:500]):
        frames.append(line)
        if i % 50 == 0:
            frames.append(BAD_FRAMES[(i // 50) % len(BAD_FRAMES)][0])
    heatmap = LiveLiquidationHeatmap()
    report = heatmap.ingest_many(frames)  # type: ignore[arg-type]
    assert report.accepted == 500
    assert sum(report.rejected.values()) == 10
    assert heatmap.stats()["rejected"] == dict(report.rejected)
    assert report.total == len(frames)


def test_duplicates_are_ingested_once(wire_lines: list[bytes]) -> None:
    heatmap = LiveLiquidationHeatmap()
    first = heatmap.ingest_many(wire_lines)
    again = heatmap.ingest_many(reversed(wire_lines))
    assert (first.accepted, first.duplicates) == (4986, 0)
    assert (again.accepted, again.duplicates) == (0, 4986)
    # Same liquidation as an envelope, a dict and an event: still one.
    event = parse_force_order(wire_lines[0])
    envelope = b'{"stream":"!forceOrder@arr","data":' + wire_lines[0] + b"}"
    assert not heatmap.ingest(envelope) and not heatmap.ingest(event)
    assert heatmap.event_count(event.symbol) == sum(
        1 for line in wire_lines if parse_force_order(line).symbol == event.symbol)


def test_same_time_different_quantity_is_not_a_duplicate() -> None:
    heatmap = LiveLiquidationHeatmap()
    base = orjson.loads(REAL["sell"])
    other = orjson.loads(REAL["sell"])
    other["o"]["z"] = "43943"
    assert heatmap.ingest(base) and heatmap.ingest(other)
    assert not math.isnan(heatmap.events("1000PEPEUSDT")[1].quantity)
