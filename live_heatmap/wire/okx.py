"""OKX v5 ``liquidation-orders`` messages (and the REST answer of the same) -> :class:`LiquidationEvent` s.

Wire facts this module relies on (docs/VENUES.md, "Parsers"):

* A pushed message is ``{"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": [...]}``; the
  REST endpoint ``GET /api/v5/public/liquidation-orders`` answers ``{"code": "0", "msg": "", "data": [...]}``
  with the same elements. Each element is one instrument (``instId``, ``instType``, ``uly``...) with a
  ``details`` array: **every** detail is one liquidation ``{bkPx, sz, side, posSide, ts, bkLoss, ccy}``.
* ``posSide`` is the liquidated position (``long``/``short``); in one-way mode it is ``net`` and ``side`` (the
  liquidation order's side) decides: ``sell`` = a long was liquidated, ``buy`` = a short. ``long`` with
  ``buy`` or ``short`` with ``sell`` contradict each other: rejected as ``inconsistent_side``.
* ``bkPx`` is the **bankruptcy** price. ``sz`` is in **contracts**: ``sz * ctVal`` is base units for a linear
  contract (``BTC-USDT-SWAP``, ``ctVal`` 0.01 BTC) and USD for an inverse one (``BTC-USD-SWAP``, 100 USD), whose
  base size is then USD / ``bkPx``. ``ctVal`` comes from the instruments (ccxt's ``contractSize``); an
  instrument they do not know is rejected as ``unknown_contract_size``, never guessed.
* ``ts`` is a string of epoch ms (a JSON integer is accepted too). OKX sends no separate emission time, so
  ``event_time`` and ``trade_time`` are both the detail's ``ts``.
"""

from __future__ import annotations

import math
from typing import Any

from live_heatmap.common.instruments import Instrument, Instruments
from live_heatmap.side import Side
from live_heatmap.venue import PriceKind, Venue
from live_heatmap.wire.events import FrameRejected, LiquidationEvent, RejectReason, checked_symbol
from live_heatmap.wire.parsed import Frame, ParsedFrame, array, decode_message, positive, reject, timestamp_ms

__all__ = ["CHANNEL", "INCONSISTENT_SIDES", "OKX_SIDES", "ParsedFrame", "parse_okx_frame"]

CHANNEL = "liquidation-orders"
OKX_SIDES = {("long", "sell"): Side.LONG, ("short", "buy"): Side.SHORT,
             ("net", "sell"): Side.LONG, ("net", "buy"): Side.SHORT}
"""``(posSide, side)`` -> the side of the liquidated position."""
INCONSISTENT_SIDES = frozenset({("long", "buy"), ("short", "sell")})
"""Pairs that contradict each other: a long position is closed by a sell, a short one by a buy."""


def parse_okx_frame(frame: Frame, instruments: Instruments) -> ParsedFrame:
    """Parse one ``liquidation-orders`` message or REST answer (bytes, str or an already decoded dict); never raises.

    Returns the events of its usable details and a reject for each unusable one (a problem of a ``data``
    element, such as an unknown ``instId``, rejects each of its details; an element with no details is one
    ``empty_details`` reject). A message that is unusable as a whole (not JSON, the text ``pong``, an
    ``{"event": ...}`` answer, a REST error, another channel, ``data`` not an array, a pushed message with an
    empty ``data``) gives one reject and no events. An empty REST answer (nothing liquidated) gives neither.

    ``symbol`` is the instrument's heatmap key, ``venue_symbol`` the ``instId``.
    """
    try:
        obj = decode_message(frame)
        rest = False
        if "event" in obj or "op" in obj:  # an answer (subscribe, error, notice) or a request echoed back
            return reject(RejectReason.NOT_DATA, f"event={str(obj.get('event', obj.get('op')))[:40]!r}")
        arg = obj.get("arg")
        if arg is not None:
            if type(arg) is not dict or arg.get("channel") != CHANNEL:
                return reject(RejectReason.UNKNOWN_TOPIC, f"arg={str(arg)[:80]!r}")
        elif "code" in obj:  # the REST answer
            code = obj.get("code")
            if code not in ("0", 0):
                return reject(RejectReason.NOT_DATA, f"code={str(code)[:20]!r} msg={str(obj.get('msg'))[:80]!r}")
            rest = True
        else:
            raise FrameRejected(RejectReason.MISSING_FIELD, "arg")
        data = array(obj.get("data"), "data")
        if not data and not rest:
            return reject(RejectReason.EMPTY_DATA, "data=[]")
    except FrameRejected as exc:
        return ParsedFrame([], [exc])
    events: list[LiquidationEvent] = []
    rejects: list[FrameRejected] = []
    for element in data:
        try:
            details = _details(element)
        except FrameRejected as exc:
            rejects.append(exc)
            continue
        try:
            instrument = _instrument(element, instruments)
        except FrameRejected as exc:  # every detail of this element is lost
            rejects.extend([exc] * len(details))
            continue
        for detail in details:
            try:
                events.append(_event(detail, instrument))
            except FrameRejected as exc:
                rejects.append(exc)
    return ParsedFrame(events, rejects)


def _details(element: Any) -> list[Any]:
    """The ``details`` of a ``data`` element (not empty)."""
    if type(element) is not dict:
        raise FrameRejected(RejectReason.NOT_AN_OBJECT, f"data element is {type(element).__name__}")
    details = array(element.get("details"), "details")
    if not details:
        raise FrameRejected(RejectReason.EMPTY_DETAILS, f"instId={str(element.get('instId'))[:40]!r}")
    return details


def _instrument(element: dict[str, Any], instruments: Instruments) -> Instrument:
    """The instrument of a ``data`` element, with a usable contract size."""
    inst_id = checked_symbol(element.get("instId"), "instId")
    instrument = instruments.get(inst_id)
    if instrument is None or not (instrument.contract_size > 0.0 and math.isfinite(instrument.contract_size)):
        raise FrameRejected(RejectReason.UNKNOWN_CONTRACT_SIZE,
                            f"instId={inst_id!r}: no contract size known (instruments as of {instruments.as_of_ms})")
    return instrument


def _event(detail: Any, instrument: Instrument) -> LiquidationEvent:
    if type(detail) is not dict:
        raise FrameRejected(RejectReason.NOT_AN_OBJECT, f"details element is {type(detail).__name__}")
    side = _side(detail.get("posSide"), detail.get("side"))
    price = positive(detail.get("bkPx"), "bkPx", RejectReason.BAD_PRICE)
    contracts = positive(detail.get("sz"), "sz", RejectReason.BAD_QUANTITY)
    ts = timestamp_ms(detail.get("ts"), "ts", digit_string=True)
    size = instrument.contract_size
    # sz and ctVal are decimals: drop the float product's last-digit noise (3 * 0.1 is 0.3, not 0.30000000000000004)
    quantity = float(f"{contracts * size:.15g}") if size != 1.0 else contracts
    if instrument.inverse:  # sz * ctVal is USD
        quantity /= price
    if not (quantity > 0.0 and math.isfinite(quantity)):
        raise FrameRejected(RejectReason.BAD_QUANTITY, f"sz={contracts!r} x ctVal={size!r} = {quantity!r}")
    key = instrument.key
    venue_id = instrument.venue_id
    return LiquidationEvent(key, side, price, quantity, ts, ts, "FILLED", False, Venue.OKX, PriceKind.BANKRUPTCY,
                            "" if venue_id == key else venue_id)


def _side(pos_side: Any, order_side: Any) -> Side:
    if type(pos_side) is str and type(order_side) is str:
        side = OKX_SIDES.get((pos_side, order_side))
        if side is not None:
            return side
        if (pos_side, order_side) in INCONSISTENT_SIDES:
            raise FrameRejected(RejectReason.INCONSISTENT_SIDE, f"posSide={pos_side!r} with side={order_side!r}")
    if pos_side is None:
        raise FrameRejected(RejectReason.MISSING_FIELD, "posSide")
    if order_side is None:
        raise FrameRejected(RejectReason.MISSING_FIELD, "side")
    raise FrameRejected(RejectReason.BAD_SIDE, f"posSide={str(pos_side)[:20]!r} side={str(order_side)[:20]!r}")
