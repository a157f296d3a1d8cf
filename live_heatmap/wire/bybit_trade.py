"""Bybit v5 ``publicTrade.<SYMBOL>`` messages -> :class:`Trade` s, parsed once at the edge (the liquidity layer's
walls when its books are Bybit's, issue 15).

Wire facts: ``{"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": ms, "data": [{"T": ms, "s": "BTCUSDT",
"S": "Buy", "v": "0.001", "p": "16578.50", "L": ..., "i": ..., "BT": false}, ...]}``; ``p`` the price and ``v``
the size in base units (linear), decimal strings; ``data`` may hold several trades.

:func:`parse_bybit_trades` never raises: the usable trades and one reject per unusable element (or one for the
whole message), each a :class:`FrameRejected` whose ``reason`` the caller counts.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from live_heatmap.wire.events import FrameRejected, RejectReason, checked_symbol
from live_heatmap.wire.parsed import Frame, array, decode_message, positive, timestamp_ms

__all__ = ["TRADE_PREFIX", "Trade", "parse_bybit_trades"]

TRADE_PREFIX = "publicTrade."


@dataclass(frozen=True, slots=True)
class Trade:
    """One trade: the symbol (upper case), price, size in base units, when it traded (epoch ms)."""

    symbol: str
    price: float
    quantity: float
    at_ms: int


def parse_bybit_trades(frame: Frame, symbols: Collection[str] | None = None
                       ) -> tuple[list[Trade], list[FrameRejected]]:
    """Parse one ``publicTrade.<SYMBOL>`` message (bytes, str or a decoded dict); never raises. ``symbols`` (upper
    case), when given, are the ones followed: a trade of another is rejected (``unknown_symbol``)."""
    try:
        obj = decode_message(frame)
        topic = obj.get("topic")
        if topic is None:
            raise FrameRejected(RejectReason.MISSING_FIELD, "topic")
        if type(topic) is not str or not topic.startswith(TRADE_PREFIX):
            raise FrameRejected(RejectReason.UNKNOWN_TOPIC, f"topic={str(topic)[:60]!r}")
        items = array(obj.get("data"), "data")
        if not items:
            raise FrameRejected(RejectReason.EMPTY_DATA, "data")
    except FrameRejected as exc:
        return [], [exc]
    topic_symbol = topic[len(TRADE_PREFIX):].upper()
    trades: list[Trade] = []
    rejects: list[FrameRejected] = []
    for item in items:
        try:
            if type(item) is not dict:
                raise FrameRejected(RejectReason.NOT_AN_OBJECT, f"data item is {type(item).__name__}")
            symbol = checked_symbol(item.get("s"), "s").upper()
            if symbol != topic_symbol:
                raise FrameRejected(RejectReason.BAD_SYMBOL, f"s={symbol!r} in topic {topic[:60]!r}")
            if symbols is not None and symbol not in symbols:
                raise FrameRejected(RejectReason.UNKNOWN_SYMBOL, f"s={symbol!r}")
            price = positive(item.get("p"), "p", RejectReason.BAD_PRICE)
            quantity = positive(item.get("v"), "v", RejectReason.BAD_QUANTITY)
            at_ms = timestamp_ms(item.get("T"), "T")
        except FrameRejected as exc:
            rejects.append(exc)
            continue
        trades.append(Trade(symbol, price, quantity, at_ms))
    return trades, rejects
