"""Binance's klines: the ``<symbol>@kline_<interval>`` stream frame and the REST rows of ``/fapi/v1/klines`` and
``/fapi/v1/markPriceKlines``, as one :class:`Kline` (issue 14: the estimated layer's live inputs).

:func:`parse_kline_frame` never raises: it returns a :class:`Kline` or the
:class:`~live_heatmap.wire.events.FrameRejected` naming what was wrong (the caller counts rejects by ``reason``).
:func:`kline_from_rest` reads one REST row (a JSON array) and raises that same error.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from live_heatmap.wire.events import FrameRejected, RejectReason
from live_heatmap.wire.parsed import Frame, decode_message, number, positive, timestamp_ms

__all__ = ["Kline", "kline_from_rest", "parse_kline_frame"]

_REST_FIELDS = 11  # openTime, o, h, l, c, volume, closeTime, quoteVolume, trades, takerBuyBase, takerBuyQuote


class Kline(NamedTuple):
    """One kline: times in epoch ms (``close_time`` is the bar's last millisecond, Binance's ``T``), prices in
    quote, volumes in base and quote (mark price klines carry zero volumes). ``closed``: the bar is final
    (Binance's ``x``; REST rows of past bars are)."""

    symbol: str
    open_time: int
    close_time: int
    open: float
    high: float
    low: float
    close: float
    base_volume: float
    quote_volume: float
    taker_buy_base: float
    taker_buy_quote: float
    closed: bool


def _volume(raw: Any, name: str) -> float:
    """A finite number >= 0 (a decimal string or a JSON number); else ``missing_field`` / ``bad_number``."""
    value = number(raw, name)
    if not (math.isfinite(value) and value >= 0):
        raise FrameRejected(RejectReason.BAD_QUANTITY, f"{name}={str(raw)[:40]!r}")
    return value


def _build(symbol: Any, values: tuple[Any, ...], closed: Any) -> Kline:
    """The :class:`Kline` of ``(t, T, o, h, l, c, v, q, V, Q)``, every field checked."""
    if type(symbol) is not str or not symbol:
        raise FrameRejected(RejectReason.BAD_SYMBOL, f"symbol={str(symbol)[:40]!r}")
    if type(closed) is not bool:
        raise FrameRejected(RejectReason.MISSING_FIELD if closed is None else RejectReason.BAD_NUMBER,
                            f"x={str(closed)[:40]!r}")
    open_raw, close_raw, *rest = values
    open_time, close_time = timestamp_ms(open_raw, "t"), timestamp_ms(close_raw, "T")
    if close_time < open_time:
        raise FrameRejected(RejectReason.BAD_TIMESTAMP, f"T={close_time} is before t={open_time}")
    o, h, low, c = (positive(v, n, RejectReason.BAD_PRICE) for v, n in zip(rest[:4], "ohlc", strict=True))
    if not (low <= min(o, c) and h >= max(o, c)):
        raise FrameRejected(RejectReason.BAD_PRICE, f"h={h} l={low} do not hold o={o} c={c}")
    v, q, taker_v, taker_q = (_volume(val, name) for val, name in zip(rest[4:], ("v", "q", "V", "Q"), strict=True))
    if taker_v > v or taker_q > q:
        raise FrameRejected(RejectReason.BAD_QUANTITY, f"taker-buy V={taker_v} Q={taker_q} above v={v} q={q}")
    return Kline(symbol, open_time, close_time, o, h, low, c, v, q, taker_v, taker_q, closed)


def parse_kline_frame(frame: Frame) -> Kline | FrameRejected:
    """A ``kline`` event (``{"e": "kline", "s", "k": {"t", "T", "o", "h", "l", "c", "v", "q", "V", "Q", "x"}}``,
    bare or already unwrapped from its ``{"stream", "data"}`` envelope) as a :class:`Kline`, or the reject:
    ``not_json``, ``not_an_object``, ``wrong_event_type``, ``missing_field``, ``bad_symbol``, ``bad_timestamp``,
    ``bad_price``, ``bad_quantity``, ``bad_number``. Never raises."""
    try:
        payload = decode_message(frame)
        if payload.get("e") != "kline":
            raise FrameRejected(RejectReason.WRONG_EVENT_TYPE, f"e={str(payload.get('e'))[:40]!r}")
        k = payload.get("k")
        if type(k) is not dict:
            raise FrameRejected(RejectReason.MISSING_FIELD, "k")
        return _build(k.get("s", payload.get("s")),
                      tuple(k.get(n) for n in ("t", "T", "o", "h", "l", "c", "v", "q", "V", "Q")), k.get("x"))
    except FrameRejected as exc:
        return exc


def kline_from_rest(symbol: str, row: Any, *, now_ms: int) -> Kline:
    """One row of ``/fapi/v1/klines`` or ``/fapi/v1/markPriceKlines`` (``[t, o, h, l, c, v, T, q, n, V, Q, ...]``)
    of ``symbol``; ``closed`` when its ``close_time`` is before ``now_ms``. Raises :class:`FrameRejected`."""
    if type(row) is not list or len(row) < _REST_FIELDS:
        raise FrameRejected(RejectReason.NOT_AN_ARRAY, f"a kline row of {_REST_FIELDS} fields, got {str(row)[:80]}")
    t, o, h, low, c, v, close_time, q, _trades, taker_v, taker_q = row[:_REST_FIELDS]
    built = _build(symbol, (t, close_time, o, h, low, c, v, q, taker_v, taker_q), False)
    return built._replace(closed=built.close_time < now_ms)
