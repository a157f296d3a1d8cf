"""The depth parsers: real frames parse, every bad field is a reject by name, and nothing raises."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from live_heatmap.wire.depth import DepthDiff, DepthSnapshot, parse_bybit_depth, parse_depth_diff, parse_depth_snapshot
from live_heatmap.wire.events import FrameRejected, RejectReason

DATA = Path(__file__).resolve().parents[3] / "data" / "orderbook"
FRAME = json.loads((DATA / "binance_usdm_depth100ms_2021-07-22.jsonl").read_text().splitlines()[0])
BYBIT_LINES = (DATA / "bybit_v5_linear_DOGEUSDT_2026-08-09.excerpt.jsonl").read_text().splitlines()
BYBIT_DELTA = json.loads(json.loads(BYBIT_LINES[1])["data"])


def test_a_real_diff_parses_raw_and_wrapped() -> None:
    for frame in (FRAME, FRAME["data"], orjson.dumps(FRAME)):
        diff, rejected = parse_depth_diff(frame)
        assert rejected is None and isinstance(diff, DepthDiff)
        raw = FRAME["data"]
        assert (diff.symbol, diff.first_id, diff.last_id, diff.prev_last_id, diff.event_ms) == (
            raw["s"], raw["U"], raw["u"], raw["pu"], raw["E"])
        assert diff.bids.tolist() == [[float(p), float(q)] for p, q in raw["b"]]
        assert diff.asks.shape == (len(raw["a"]), 2)


def _edited(**fields: Any) -> dict[str, Any]:
    data = dict(FRAME["data"])
    for key, value in fields.items():
        if value is ...:
            data.pop(key)
        else:
            data[key] = value
    return data


@pytest.mark.parametrize(("fields", "reason"), [
    ({"U": ...}, RejectReason.MISSING_FIELD),
    ({"pu": "12"}, RejectReason.BAD_UPDATE_ID),
    ({"u": -1}, RejectReason.BAD_UPDATE_ID),
    ({"U": 10**13, "u": 10**12}, RejectReason.BAD_UPDATE_ID),
    ({"u": True}, RejectReason.BAD_UPDATE_ID),
    ({"b": [["7.5", "NaN"]]}, RejectReason.BAD_QUANTITY),
    ({"b": [["7.5", "-1"]]}, RejectReason.BAD_QUANTITY),
    ({"a": [["nan", "1"]]}, RejectReason.BAD_PRICE),
    ({"a": [["0", "1"]]}, RejectReason.BAD_PRICE),
    ({"a": [["x", "1"]]}, RejectReason.BAD_NUMBER),
    ({"a": [["7.5"]]}, RejectReason.BAD_LEVEL),
    ({"a": "7.5"}, RejectReason.NOT_AN_ARRAY),
    ({"e": "aggTrade"}, RejectReason.WRONG_EVENT_TYPE),
    ({"E": 5}, RejectReason.BAD_TIMESTAMP),
    ({"s": ...}, RejectReason.MISSING_FIELD),
])
def test_bad_fields_are_rejects_by_name(fields: dict[str, Any], reason: RejectReason) -> None:
    diff, rejected = parse_depth_diff(_edited(**fields))
    assert diff is None and rejected is not None and rejected.reason is reason


def test_a_diff_for_an_unknown_symbol_is_rejected_when_symbols_are_given() -> None:
    assert parse_depth_diff(FRAME, symbols={"SUSHIUSDT"})[1] is None
    rejected = parse_depth_diff(FRAME, symbols={"BTCUSDT"})[1]
    assert rejected is not None and rejected.reason is RejectReason.UNKNOWN_SYMBOL


def test_a_real_rest_snapshot_parses_and_a_bad_one_names_the_field() -> None:
    line = (DATA / "binance_usdm_rest_depth_2021-07-22.txt").read_text().splitlines()[0]
    body = line.partition(" -> ")[2].partition(": ")[2]
    snap = parse_depth_snapshot(body, "sushiusdt")
    raw = json.loads(body)
    assert isinstance(snap, DepthSnapshot) and snap.symbol == "SUSHIUSDT"
    assert snap.last_update_id == raw["lastUpdateId"] and snap.bids.shape == (len(raw["bids"]), 2)
    raw["lastUpdateId"] = "x"
    with pytest.raises(ValueError, match="lastUpdateId"):
        parse_depth_snapshot(raw, "SUSHIUSDT")
    raw["lastUpdateId"] = 5
    raw["asks"][3] = ["7.7", "-2"]
    with pytest.raises(ValueError, match=r"asks\[3\] qty"):
        parse_depth_snapshot(raw, "SUSHIUSDT")
    with pytest.raises(ValueError, match="not_json"):
        parse_depth_snapshot("<html>", "SUSHIUSDT")


def test_bybit_real_snapshot_and_delta() -> None:
    snap, rejected = parse_bybit_depth(json.loads(BYBIT_LINES[0])["data"])
    assert rejected is None and isinstance(snap, DepthSnapshot) and snap.bids.shape == (200, 2)
    delta, rejected = parse_bybit_depth(BYBIT_DELTA)
    assert rejected is None and isinstance(delta, DepthDiff)
    u = BYBIT_DELTA["data"]["u"]
    assert (delta.symbol, delta.last_id, delta.prev_last_id, delta.event_ms) == ("DOGEUSDT", u, u - 1,
                                                                                 BYBIT_DELTA["ts"])
    assert snap.last_update_id == u - 1


@pytest.mark.parametrize(("edit", "reason"), [
    ({"type": "partial"}, RejectReason.WRONG_EVENT_TYPE),
    ({"topic": "tickers.DOGEUSDT"}, RejectReason.UNKNOWN_TOPIC),
    ({"topic": "orderbook.200.BTCUSDT"}, RejectReason.BAD_SYMBOL),
    ({"data": {"s": "DOGEUSDT", "b": [], "a": [], "u": "1"}}, RejectReason.BAD_UPDATE_ID),
    ({"data": {"s": "DOGEUSDT", "b": [["0.07", "NaN"]], "a": [], "u": 3}}, RejectReason.BAD_QUANTITY),
    ({"ts": None}, RejectReason.MISSING_FIELD),
])
def test_bybit_rejects_by_name(edit: dict[str, Any], reason: RejectReason) -> None:
    update, rejected = parse_bybit_depth({**BYBIT_DELTA, **edit})
    assert update is None and rejected is not None and rejected.reason is reason


def test_bybit_control_message_is_not_data() -> None:
    rejected = parse_bybit_depth(b'{"success":true,"ret_msg":"","op":"subscribe"}')[1]
    assert rejected is not None and rejected.reason is RejectReason.NOT_DATA


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                                 max_size=4), max_leaves=20)
_fields = st.sampled_from(["e", "E", "s", "U", "u", "pu", "b", "a", "type", "ts", "data", "topic"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_fields, _json, max_size=6), st.binary(max_size=40))
def test_the_parsers_never_raise(edit: dict[str, Any], raw: bytes) -> None:
    for parse in (parse_depth_diff, parse_bybit_depth):
        for frame in ({**FRAME["data"], **edit}, {**BYBIT_DELTA, **edit}, raw):
            update, rejected = parse(frame)
            assert (update is None) != (rejected is None)
            if rejected is not None:
                assert isinstance(rejected, FrameRejected) and rejected.reason in RejectReason
