"""The kline frame parser and the REST kline row reader (issue 14): good frames read exactly, every bad input named,
nothing raised."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from live_heatmap.wire.events import FrameRejected, RejectReason
from live_heatmap.wire.kline import Kline, kline_from_rest, parse_kline_frame

T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC

FRAME: dict[str, Any] = {"e": "kline", "E": T0 + 300_000, "s": "BTCUSDT", "k": {
    "t": T0, "T": T0 + 299_999, "s": "BTCUSDT", "i": "5m", "f": 1, "L": 9, "o": "100.0", "c": "101.0", "h": "102.5",
    "l": "99.5", "v": "12.5", "n": 9, "x": True, "q": "1262.5", "V": "7.5", "Q": "757.5", "B": "0"}}


def test_a_closed_kline_frame_is_read_field_by_field() -> None:
    parsed = parse_kline_frame(orjson.dumps(FRAME))
    assert parsed == Kline("BTCUSDT", T0, T0 + 299_999, 100.0, 102.5, 99.5, 101.0, 12.5, 1262.5, 7.5, 757.5, True)


def test_an_open_kline_frame_says_so() -> None:
    frame = copy.deepcopy(FRAME)
    frame["k"]["x"] = False
    parsed = parse_kline_frame(frame)
    assert isinstance(parsed, Kline)
    assert parsed.closed is False


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    frame = copy.deepcopy(FRAME)
    target = frame
    for key in path[:-1]:
        target = target[key]
    if value is _DROP:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return frame


_DROP = object()


@pytest.mark.parametrize(("frame", "reason"), [
    (b"{not json", RejectReason.NOT_JSON),
    (b"[1, 2]", RejectReason.NOT_AN_OBJECT),
    (b"pong", RejectReason.NOT_DATA),
    (_with(("e",), "markPriceUpdate"), RejectReason.WRONG_EVENT_TYPE),
    (_with(("k",), _DROP), RejectReason.MISSING_FIELD),
    (_with(("k",), "x"), RejectReason.MISSING_FIELD),
    (_with(("k", "t"), 1.5), RejectReason.BAD_TIMESTAMP),
    (_with(("k", "T"), T0 - 1), RejectReason.BAD_TIMESTAMP),
    (_with(("k", "t"), 1_500_000), RejectReason.BAD_TIMESTAMP),
    (_with(("k", "o"), "abc"), RejectReason.BAD_NUMBER),
    (_with(("k", "c"), "0"), RejectReason.BAD_PRICE),
    (_with(("k", "h"), "100.5"), RejectReason.BAD_PRICE),
    (_with(("k", "l"), "nan"), RejectReason.BAD_PRICE),
    (_with(("k", "v"), "-1"), RejectReason.BAD_QUANTITY),
    (_with(("k", "V"), "13"), RejectReason.BAD_QUANTITY),
    (_with(("k", "q"), None), RejectReason.MISSING_FIELD),
    (_with(("k", "x"), _DROP), RejectReason.MISSING_FIELD),
    (_with(("k", "x"), "true"), RejectReason.BAD_NUMBER),
    (_with(("k", "s"), 7), RejectReason.BAD_SYMBOL),
])
def test_a_bad_frame_is_rejected_by_name_and_never_raises(frame: Any, reason: RejectReason) -> None:
    parsed = parse_kline_frame(frame if isinstance(frame, bytes) else orjson.dumps(frame))
    assert isinstance(parsed, FrameRejected)
    assert parsed.reason is reason


def test_a_rest_row_is_closed_once_its_bar_is_over() -> None:
    row = [T0, "100.0", "102.5", "99.5", "101.0", "12.5", T0 + 299_999, "1262.5", 9, "7.5", "757.5", "0"]
    assert kline_from_rest("BTCUSDT", row, now_ms=T0 + 300_000) == \
        Kline("BTCUSDT", T0, T0 + 299_999, 100.0, 102.5, 99.5, 101.0, 12.5, 1262.5, 7.5, 757.5, True)
    assert kline_from_rest("BTCUSDT", row, now_ms=T0 + 299_999).closed is False


@pytest.mark.parametrize("row", [None, [T0, "1"], {"t": T0}])
def test_a_malformed_rest_row_raises_the_named_reject(row: Any) -> None:
    with pytest.raises(FrameRejected) as caught:
        kline_from_rest("BTCUSDT", row, now_ms=T0)
    assert caught.value.reason is RejectReason.NOT_AN_ARRAY
