"""Bybit v5 ``allLiquidation.<symbol>`` messages -> :class:`LiquidationEvent` s, parsed once at the edge.

Wire facts this module relies on (docs/VENUES.md, "Parsers"):

* A message is ``{"topic": "allLiquidation.BTCUSDT", "type": "snapshot", "ts": <ms>, "data": [...]}``; every
  element of ``data`` is one liquidation ``{"T", "s", "S", "v", "p"}`` (Bybit pushes every liquidation, batched
  every 500 ms, so ``data`` often holds several).
* ``S`` is the side of the liquidated **position**: ``Buy`` = a long was liquidated, ``Sell`` = a short (the
  opposite of Binance's ``S``, which is the side of the liquidation order).
* ``p`` is the position's **bankruptcy** price, ``v`` the size in base units (linear contracts); both decimal
  strings. ``T`` (when it traded) and ``ts`` (when Bybit pushed the message) are integer epoch ms.
* The deprecated ``liquidation.<symbol>`` topic is not read here (its recorded history has its own reader).
"""

from __future__ import annotations

from typing import Any

from live_heatmap.common.instruments import Instruments
from live_heatmap.side import Side
from live_heatmap.venue import PriceKind, Venue
from live_heatmap.wire.events import FrameRejected, LiquidationEvent, RejectReason, checked_symbol
from live_heatmap.wire.parsed import Frame, ParsedFrame, array, decode_message, positive, reject, timestamp_ms

__all__ = ["BYBIT_SIDES", "TOPIC_PREFIX", "ParsedFrame", "parse_bybit_frame"]

TOPIC_PREFIX = "allLiquidation."
BYBIT_SIDES = {"Buy": Side.LONG, "Sell": Side.SHORT}
"""Bybit's ``S`` (the side of the liquidated position) -> :class:`Side`."""


def parse_bybit_frame(frame: Frame, instruments: Instruments | None = None) -> ParsedFrame:
    """Parse one ``allLiquidation`` message (bytes, str or an already decoded dict); never raises.

    Returns the events of its usable ``data`` elements and a reject for each unusable one; a message that is
    unusable as a whole (not JSON, a control message such as a ``{"op": ...}`` answer, another topic, no
    usable ``ts``, ``data`` not an array or empty) gives one reject and no events.

    ``symbol`` is the instrument's heatmap key from ``instruments`` when they know the id, else the id
    upper-cased (Bybit's linear ids are ``BASEQUOTE`` like Binance's); ``venue_symbol`` is the id when it differs
    from the key. ``event_time`` is the message's ``ts``, ``trade_time`` the element's ``T``.
    """
    try:
        obj = decode_message(frame)
        topic = obj.get("topic")
        if topic is None:
            if "op" in obj or "success" in obj or "ret_msg" in obj:
                return reject(RejectReason.NOT_DATA, f"op={str(obj.get('op'))[:40]!r}")
            raise FrameRejected(RejectReason.MISSING_FIELD, "topic")
        if type(topic) is not str or not topic.startswith(TOPIC_PREFIX):
            return reject(RejectReason.UNKNOWN_TOPIC, f"topic={str(topic)[:60]!r}")
        event_time = timestamp_ms(obj.get("ts"), "ts")
        data = array(obj.get("data"), "data")
        if not data:
            return reject(RejectReason.EMPTY_DATA, "data=[]")
    except FrameRejected as exc:
        return ParsedFrame([], [exc])
    topic_symbol = topic[len(TOPIC_PREFIX):].upper()
    events: list[LiquidationEvent] = []
    rejects: list[FrameRejected] = []
    for item in data:
        try:
            events.append(_event(item, topic_symbol, event_time, instruments))
        except FrameRejected as exc:
            rejects.append(exc)
    return ParsedFrame(events, rejects)


def _event(item: Any, topic_symbol: str, event_time: int, instruments: Instruments | None) -> LiquidationEvent:
    if type(item) is not dict:
        raise FrameRejected(RejectReason.NOT_AN_OBJECT, f"data element is {type(item).__name__}")
    venue_id = checked_symbol(item.get("s"), "s").upper()
    if venue_id != topic_symbol:
        raise FrameRejected(RejectReason.BAD_SYMBOL, f"s={venue_id!r} in the topic of {topic_symbol!r}")
    raw_side = item.get("S")
    side = BYBIT_SIDES.get(raw_side) if type(raw_side) is str else None
    if side is None:
        raise FrameRejected(RejectReason.MISSING_FIELD if raw_side is None else RejectReason.BAD_SIDE,
                            f"S={str(raw_side)[:20]!r}")
    price = positive(item.get("p"), "p", RejectReason.BAD_PRICE)
    quantity = positive(item.get("v"), "v", RejectReason.BAD_QUANTITY)
    trade_time = timestamp_ms(item.get("T"), "T")
    instrument = instruments.get(venue_id) if instruments is not None else None
    if instrument is None:
        key = venue_id
    else:
        key = instrument.key
        if instrument.inverse:  # an inverse contract's size is USD (contracts of contract_size USD)
            quantity = quantity * instrument.contract_size / price
    return LiquidationEvent(key, side, price, quantity, event_time, trade_time, "FILLED", False, Venue.BYBIT,
                            PriceKind.BANKRUPTCY, "" if venue_id == key else venue_id)
