"""Bybit's recorded history of its former ``liquidation.<symbol>`` topic, read for
:func:`~live_heatmap.store.history.load_events` (the module docstring there describes both forms): the CSV
``ts_ms,symbol,side,qty,price,ts`` and the raw frames ``{"t": ms, "d": [...]}``, one JSON object a line. The events
are ``exchange=bybit, price_kind=bankruptcy`` at the recorder's time; only USDT perpetuals' ids are read."""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import IO, Any

import orjson

from live_heatmap.side import Side
from live_heatmap.store.file_rows import parsed_rows
from live_heatmap.venue import PriceKind, Venue
from live_heatmap.wire.events import MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, FrameRejected, LiquidationEvent, RejectReason

__all__ = ["BYBIT_COLUMNS"]

BYBIT_COLUMNS = ("ts_ms", "symbol", "side", "qty", "price", "ts")
"""The header of Bybit's recorded ``liquidation.<symbol>`` history as CSV."""
_BYBIT_SIDES = {"Buy": Side.LONG, "Sell": Side.SHORT}  # the liquidated position's side
_BYBIT_LINEAR_USDT = re.compile(r"^[A-Z0-9]+USDT$")  # Bybit's id of a USDT perpetual: the heatmap key itself


def is_bybit_frame(line: str) -> bool:
    """A line of Bybit's liquidation recorder: ``{"t": ms, "d": [...]}`` (a ``forceOrder`` frame has neither)."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return isinstance(obj, dict) and "d" in obj and "t" in obj and "e" not in obj


def _bybit_event(time_ms: Any, symbol: Any, side: Any, size: Any, price: Any) -> LiquidationEvent:
    """One liquidation of Bybit's ``liquidation.<symbol>`` topic as its recorder kept it: ``time_ms`` the
    recorder's time (an int: a frame's time as a string is rejected), ``side`` the position's, ``size`` base
    units, ``price`` the bankruptcy price (decimal text or number)."""
    if time_ms is None or symbol is None or side is None or size is None or price is None:
        raise FrameRejected(RejectReason.MISSING_FIELD, "symbol, side, size, price and the time are needed")
    if type(time_ms) is not int or not MIN_TIMESTAMP_MS <= time_ms < MAX_TIMESTAMP_MS:
        raise FrameRejected(RejectReason.BAD_TIMESTAMP, f"time={str(time_ms)[:40]!r} is not epoch ms in 2019..2100")
    if not isinstance(symbol, str) or _BYBIT_LINEAR_USDT.match(symbol) is None:
        raise FrameRejected(RejectReason.BAD_SYMBOL, f"symbol={str(symbol)[:40]!r} is not a USDT perpetual's id")
    position = _BYBIT_SIDES.get(side) if type(side) is str else None
    if position is None:
        raise FrameRejected(RejectReason.BAD_SIDE, f"side={str(side)[:20]!r}")
    numbers = []
    for name, value, reason in (("size", size, RejectReason.BAD_QUANTITY), ("price", price, RejectReason.BAD_PRICE)):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise FrameRejected(RejectReason.BAD_NUMBER, f"{name}={str(value)[:40]!r}")
        try:
            number = float(value)
        except ValueError:
            raise FrameRejected(RejectReason.BAD_NUMBER, f"{name}={str(value)[:40]!r}") from None
        if not (number > 0 and math.isfinite(number)):
            raise FrameRejected(reason, f"{name}={str(value)[:40]!r}")
        numbers.append(number)
    return LiquidationEvent(symbol, position, numbers[1], numbers[0], time_ms, time_ms,
                            exchange=Venue.BYBIT, price_kind=PriceKind.BANKRUPTCY)


def read_bybit_csv(text: IO[str], rejected: Counter[str]) -> Iterator[LiquidationEvent]:
    """Rows ``ts_ms,symbol,side,qty,price,ts`` (``ts`` is ``ts_ms`` as ISO-8601 text, not read)."""
    rows = csv.reader(text)
    next(rows)

    def parse(row: list[str]) -> LiquidationEvent:
        if len(row) != len(BYBIT_COLUMNS):
            raise FrameRejected(RejectReason.MISSING_FIELD, f"{len(row)} columns")
        time_ms, symbol, side, qty, price, _ = (cell.strip() or None for cell in row)  # empty: missing
        return _bybit_event(int(time_ms) if time_ms is not None and time_ms.isdecimal() else time_ms, symbol, side,
                            qty, price)

    return parsed_rows((row for row in rows if row), parse, rejected)


def read_bybit_frames(text: IO[str], rejected: Counter[str]) -> Iterator[LiquidationEvent]:
    """Lines ``{"t": ms, "d": [{"updatedTime", "symbol", "side", "size", "price"}, ...]}``: every element of ``d``
    is one liquidation (at the recorder's time ``t``); an empty ``d`` is a frame without any."""
    for line in text:
        if not line.strip():
            continue
        try:
            frame = orjson.loads(line)
        except orjson.JSONDecodeError:
            rejected[RejectReason.NOT_JSON.value] += 1
            continue
        if not isinstance(frame, dict):
            rejected[RejectReason.NOT_AN_OBJECT.value] += 1
            continue
        items = frame.get("d")
        if not isinstance(items, list):
            rejected[RejectReason.MISSING_FIELD.value if items is None else "not_an_array"] += 1
            continue
        t = frame.get("t")

        def parse(item: Any, t: Any = t) -> LiquidationEvent:
            if not isinstance(item, dict):
                raise FrameRejected(RejectReason.NOT_AN_OBJECT, type(item).__name__)
            return _bybit_event(t, item.get("symbol"), item.get("side"), item.get("size"), item.get("price"))

        yield from parsed_rows(items, parse, rejected)
