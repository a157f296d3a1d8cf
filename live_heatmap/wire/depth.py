"""Order-book depth messages -> :class:`DepthDiff` / :class:`DepthSnapshot`, parsed once at the edge.

Wire facts this module relies on (docs/LIQUIDITY.md, "The local book"):

* Binance USD-M ``<symbol>@depth@100ms`` (raw, or wrapped ``{"stream", "data"}`` by a combined stream):
  ``{"e": "depthUpdate", "E": ms, "T": ms, "s": "BTCUSDT", "U": first id, "u": last id, "pu": the previous
  event's u, "b": [[price, qty], ...], "a": [...]}``; prices and quantities are decimal strings, a quantity of 0
  removes the level.
* Binance ``GET /fapi/v1/depth``: ``{"lastUpdateId", "E", "T", "bids": [[price, qty], ...], "asks": [...]}``.
* Bybit v5 ``orderbook.<depth>.<symbol>``: ``{"topic", "type": "snapshot"|"delta", "ts": ms, "cts": ms,
  "data": {"s", "b", "a", "u", "seq"}}``; a delta's ``u`` is the snapshot's ``u`` + 1, + 2, ... A Bybit snapshot
  becomes a :class:`DepthSnapshot` (``last_update_id = u``), a delta a :class:`DepthDiff` with ``first_id =
  last_id = u`` and ``prev_last_id = u - 1``, so one sync logic (``pu`` must equal the previous ``u``) serves
  both venues.

The parsers never raise on a message: they return ``(update, None)`` or ``(None, FrameRejected)`` whose
``reason`` (a :class:`RejectReason`) the caller counts. :func:`parse_depth_snapshot` reads a REST answer the
caller asked for and raises :class:`FrameRejected` (a ``ValueError``) naming what is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from live_heatmap.wire.events import FrameRejected, RejectReason, checked_symbol
from live_heatmap.wire.parsed import Frame, array, decode_message, number, timestamp_ms

__all__ = [
    "BYBIT_BOOK_PREFIX",
    "DepthDiff",
    "DepthSnapshot",
    "DepthUpdate",
    "parse_bybit_depth",
    "parse_depth_diff",
    "parse_depth_snapshot",
]

FloatArray = npt.NDArray[np.float64]

BYBIT_BOOK_PREFIX = "orderbook."
_MAX_ID = 2**63 - 1
_EMPTY = np.empty((0, 2), dtype=np.float64)
_EMPTY.setflags(write=False)


@dataclass(frozen=True, slots=True, eq=False)
class DepthDiff:
    """One incremental book update: set each level's size (0 removes it).

    Binance: ``first_id`` = ``U``, ``last_id`` = ``u``, ``prev_last_id`` = ``pu``. Bybit delta: ``u``, ``u``,
    ``u - 1``. ``bids``/``asks`` are float64 arrays of shape ``(n, 2)``: price, quantity (base units).
    """

    symbol: str
    first_id: int
    last_id: int
    prev_last_id: int
    event_ms: int
    bids: FloatArray
    asks: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class DepthSnapshot:
    """A whole book (Binance REST ``/fapi/v1/depth``, Bybit ``type: snapshot``) as of ``last_update_id``."""

    symbol: str
    last_update_id: int
    event_ms: int
    bids: FloatArray
    asks: FloatArray


DepthUpdate = DepthDiff | DepthSnapshot


def _update_id(raw: Any, name: str) -> int:
    if raw is None:
        raise FrameRejected(RejectReason.MISSING_FIELD, name)
    if type(raw) is not int or not 0 <= raw <= _MAX_ID:
        raise FrameRejected(RejectReason.BAD_UPDATE_ID, f"{name}={str(raw)[:40]!r}")
    return raw


def _levels(raw: Any, name: str, *, allow_zero: bool = True) -> FloatArray:
    """``[[price, qty], ...]`` as an ``(n, 2)`` float64 array: prices finite and > 0, quantities finite and >= 0
    (> 0 unless ``allow_zero``); else :class:`FrameRejected` (``missing_field``, ``not_an_array``,
    ``bad_level``, ``bad_number``, ``bad_price``, ``bad_quantity``)."""
    rows = array(raw, name)
    if not rows:
        return _EMPTY
    out: list[tuple[float, float]] = []
    for i, row in enumerate(rows):
        if type(row) is not list or len(row) < 2:
            raise FrameRejected(RejectReason.BAD_LEVEL, f"{name}[{i}]={str(row)[:40]!r}")
        price = number(row[0], f"{name}[{i}] price")
        if not (price > 0.0 and math.isfinite(price)):
            raise FrameRejected(RejectReason.BAD_PRICE, f"{name}[{i}] price={str(row[0])[:40]!r}")
        qty = number(row[1], f"{name}[{i}] qty")
        if not ((qty >= 0.0 if allow_zero else qty > 0.0) and math.isfinite(qty)):
            raise FrameRejected(RejectReason.BAD_QUANTITY, f"{name}[{i}] qty={str(row[1])[:40]!r}")
        out.append((price, qty))
    arr = np.array(out, dtype=np.float64)
    arr.setflags(write=False)
    return arr


def _symbol(raw: Any, name: str, symbols: Collection[str] | None) -> str:
    symbol = checked_symbol(raw, name).upper()
    if symbols is not None and symbol not in symbols:
        raise FrameRejected(RejectReason.UNKNOWN_SYMBOL, f"{name}={symbol!r}")
    return symbol


def parse_depth_diff(frame: Frame, symbols: Collection[str] | None = None
                     ) -> tuple[DepthDiff | None, FrameRejected | None]:
    """Parse one Binance ``depthUpdate`` (bytes, str or a decoded dict; raw or in a combined-stream envelope);
    never raises. ``symbols`` (upper case), when given, are the symbols the caller keeps books of: a diff of
    another is rejected (``unknown_symbol``)."""
    try:
        obj = decode_message(frame)
        if "stream" in obj and "data" in obj:
            obj = obj["data"]
            if type(obj) is not dict:
                raise FrameRejected(RejectReason.NOT_AN_OBJECT, f"envelope data is {type(obj).__name__}")
        event_type = obj.get("e")
        if event_type != "depthUpdate":
            raise FrameRejected(RejectReason.MISSING_FIELD if event_type is None else RejectReason.WRONG_EVENT_TYPE,
                                f"e={str(event_type)[:40]!r}")
        symbol = _symbol(obj.get("s"), "s", symbols)
        first_id = _update_id(obj.get("U"), "U")
        last_id = _update_id(obj.get("u"), "u")
        prev_last_id = _update_id(obj.get("pu"), "pu")
        if first_id > last_id:
            raise FrameRejected(RejectReason.BAD_UPDATE_ID, f"U={first_id} > u={last_id}")
        event_ms = timestamp_ms(obj.get("E"), "E")
        bids = _levels(obj.get("b"), "b")
        asks = _levels(obj.get("a"), "a")
    except FrameRejected as exc:
        return None, exc
    return DepthDiff(symbol, first_id, last_id, prev_last_id, event_ms, bids, asks), None


def parse_depth_snapshot(payload: Frame, symbol: str) -> DepthSnapshot:
    """The answer of Binance ``GET /fapi/v1/depth?symbol=<symbol>`` (bytes, str or decoded dict) as a
    :class:`DepthSnapshot` of ``symbol`` (upper-cased); raises :class:`FrameRejected` (a ``ValueError``) naming
    what is wrong (not JSON, ``lastUpdateId``, ``E``, a level of ``bids``/``asks``)."""
    obj = decode_message(payload)
    last_update_id = _update_id(obj.get("lastUpdateId"), "lastUpdateId")
    event_ms = timestamp_ms(obj.get("E"), "E")
    bids = _levels(obj.get("bids"), "bids", allow_zero=False)
    asks = _levels(obj.get("asks"), "asks", allow_zero=False)
    return DepthSnapshot(symbol.upper(), last_update_id, event_ms, bids, asks)


def parse_bybit_depth(frame: Frame, symbols: Collection[str] | None = None
                      ) -> tuple[DepthUpdate | None, FrameRejected | None]:
    """Parse one Bybit v5 ``orderbook.<depth>.<symbol>`` message; never raises. A ``snapshot`` gives a
    :class:`DepthSnapshot`, a ``delta`` a :class:`DepthDiff` (``prev_last_id = u - 1``). Control messages
    (subscribe answers, pongs) are ``not_data``, other topics ``unknown_topic``."""
    try:
        obj = decode_message(frame)
        topic = obj.get("topic")
        if topic is None:
            if "op" in obj or "success" in obj or "ret_msg" in obj:
                raise FrameRejected(RejectReason.NOT_DATA, f"op={str(obj.get('op'))[:40]!r}")
            raise FrameRejected(RejectReason.MISSING_FIELD, "topic")
        if type(topic) is not str or not topic.startswith(BYBIT_BOOK_PREFIX):
            raise FrameRejected(RejectReason.UNKNOWN_TOPIC, f"topic={str(topic)[:60]!r}")
        kind = obj.get("type")
        if kind not in ("snapshot", "delta"):
            raise FrameRejected(RejectReason.MISSING_FIELD if kind is None else RejectReason.WRONG_EVENT_TYPE,
                                f"type={str(kind)[:40]!r}")
        event_ms = timestamp_ms(obj.get("ts"), "ts")
        data = obj.get("data")
        if type(data) is not dict:
            raise FrameRejected(RejectReason.MISSING_FIELD if data is None else RejectReason.NOT_AN_OBJECT,
                                f"data is {type(data).__name__}")
        symbol = _symbol(data.get("s"), "s", symbols)
        if topic.rsplit(".", 1)[-1].upper() != symbol:
            raise FrameRejected(RejectReason.BAD_SYMBOL, f"s={symbol!r} in topic {topic[:60]!r}")
        update_id = _update_id(data.get("u"), "u")
        if kind == "snapshot":
            bids = _levels(data.get("b"), "b", allow_zero=False)
            asks = _levels(data.get("a"), "a", allow_zero=False)
            return DepthSnapshot(symbol, update_id, event_ms, bids, asks), None
        if update_id < 1:
            raise FrameRejected(RejectReason.BAD_UPDATE_ID, f"u={update_id} in a delta")
        bids = _levels(data.get("b"), "b")
        asks = _levels(data.get("a"), "a")
    except FrameRejected as exc:
        return None, exc
    return DepthDiff(symbol, update_id, update_id, update_id - 1, event_ms, bids, asks), None
