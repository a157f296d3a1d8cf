"""What the Bybit and OKX parsers share: their result (:class:`ParsedFrame`) and the checks of one value.

A Bybit or OKX message carries several liquidations, so their parsers do not raise: they return the events
of a message and one :class:`~live_heatmap.wire.events.FrameRejected` per element they could not use (or one
for a message that is unusable as a whole). The caller counts the rejects by ``reason``, per venue.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from live_heatmap.wire.events import (
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    FrameRejected,
    LiquidationEvent,
    RejectReason,
    decode_object,
)

__all__ = ["Frame", "ParsedFrame", "array", "decode_message", "number", "positive", "reject", "timestamp_ms"]

Frame = bytes | bytearray | memoryview | str | dict[str, Any]
"""A message as the socket (bytes, str) or a reader (an already decoded dict) hands it over."""

_PONGS = frozenset({b"pong", "pong"})
_MAX_TS_DIGITS = 13  # 4_102_444_800_000 (2100) has 13 digits: anything longer is out of range anyway


class ParsedFrame(NamedTuple):
    """The events of one message and the rejects of the elements (or of the whole message) that were unusable."""

    events: list[LiquidationEvent]
    rejects: list[FrameRejected]


def reject(reason: RejectReason, detail: str) -> ParsedFrame:
    """The result for a message that is unusable as a whole: no events, one reject."""
    return ParsedFrame([], [FrameRejected(reason, detail)])


def decode_message(frame: Frame) -> dict[str, Any]:
    """``frame`` as a JSON object; raises :class:`FrameRejected` (``not_data`` for a text ``pong``, ``not_json``,
    ``not_an_object``)."""
    if isinstance(frame, memoryview | bytearray):
        frame = bytes(frame)
    if isinstance(frame, bytes | str) and frame in _PONGS:
        raise FrameRejected(RejectReason.NOT_DATA, "pong")
    return decode_object(frame)


def array(value: Any, name: str) -> list[Any]:
    """``value`` when it is a JSON array; else :class:`FrameRejected` (``missing_field``, ``not_an_array``)."""
    if type(value) is not list:
        if value is None:
            raise FrameRejected(RejectReason.MISSING_FIELD, name)
        raise FrameRejected(RejectReason.NOT_AN_ARRAY, f"{name} is {type(value).__name__}")
    return value


def number(raw: Any, name: str) -> float:
    """A decimal string (or a JSON number) as a float, maybe NaN or infinite; else :class:`FrameRejected`
    (``missing_field``, ``bad_number`` for something that is not a number)."""
    if raw is None:
        raise FrameRejected(RejectReason.MISSING_FIELD, name)
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise FrameRejected(RejectReason.BAD_NUMBER, f"{name}={str(raw)[:40]!r}")
    try:
        return float(raw)
    except (ValueError, OverflowError):  # OverflowError: an int past float's range (a decoded dict)
        raise FrameRejected(RejectReason.BAD_NUMBER, f"{name}={str(raw)[:40]!r}") from None


def positive(raw: Any, name: str, reason: RejectReason) -> float:
    """A decimal string (or a JSON number) that is finite and > 0; else :class:`FrameRejected` (``missing_field``,
    ``bad_number`` for something that is not a number, ``reason`` for NaN, infinity, zero or less)."""
    value = number(raw, name)
    if not (value > 0.0 and math.isfinite(value)):
        raise FrameRejected(reason, f"{name}={str(raw)[:40]!r}")
    return value


def timestamp_ms(value: Any, name: str, *, digit_string: bool = False) -> int:
    """Epoch milliseconds in 2019..2100 as a JSON integer (or, with ``digit_string``, a string of ASCII digits as
    OKX sends them); else :class:`FrameRejected` (``missing_field``, ``bad_timestamp``: another type, a float,
    seconds, micro- or nanoseconds)."""
    if value is None:
        raise FrameRejected(RejectReason.MISSING_FIELD, name)
    if digit_string and type(value) is str and 0 < len(value) <= _MAX_TS_DIGITS and value.isascii() \
            and value.isdigit():
        value = int(value)
    if type(value) is not int:
        kind = "a digit string" if digit_string else "an integer"
        raise FrameRejected(RejectReason.BAD_TIMESTAMP, f"{name}={str(value)[:40]!r} is not {kind} of ms")
    if not MIN_TIMESTAMP_MS <= value < MAX_TIMESTAMP_MS:
        raise FrameRejected(RejectReason.BAD_TIMESTAMP, f"{name}={value} is not epoch ms in 2019..2100")
    return value
