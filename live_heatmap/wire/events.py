"""Binance ``forceOrder`` frames -> :class:`LiquidationEvent`, parsed once at the edge.

Wire facts this module relies on (see docs/INTERNALS.md, "Events"):

* ``o.S`` is the side of the *liquidation order*: ``SELL`` closes a **long**
  position, ``BUY`` closes a **short** one.
* ``o.ap`` (average fill price) and ``o.z`` (filled quantity) say where and how
  much really traded; ``o.p``/``o.q`` are the order's limit price and original
  quantity and are used only where ``ap``/``z`` are missing or zero
  (the event is then marked ``fallback=True``).
* ``E`` and ``o.T`` are integer epoch milliseconds; every other value is a
  decimal string. Unknown extra keys are ignored.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, NamedTuple, TypeGuard

import orjson

from live_heatmap.common.symbols import to_unified
from live_heatmap.side import WIRE_SIDES, Side
from live_heatmap.venue import PriceKind, Venue

__all__ = [
    "MAX_TIMESTAMP_MS",
    "MIN_TIMESTAMP_MS",
    "FrameRejected",
    "LiquidationEvent",
    "RejectReason",
    "checked_symbol",
    "decode_object",
    "parse_force_order",
    "symbol_ok",
]

#: 2019-01-01T00:00:00Z. Binance USD-M futures opened in September 2019.
MIN_TIMESTAMP_MS = 1_546_300_800_000
#: 2100-01-01T00:00:00Z. Anything later is a unit error (seconds vs micro/nanoseconds).
MAX_TIMESTAMP_MS = 4_102_444_800_000


class RejectReason(StrEnum):
    """Why a frame was rejected; the value is the counter key callers use."""

    NOT_JSON = "not_json"
    NOT_AN_OBJECT = "not_an_object"
    WRONG_EVENT_TYPE = "wrong_event_type"
    MISSING_FIELD = "missing_field"
    BAD_NUMBER = "bad_number"
    BAD_SYMBOL = "bad_symbol"
    BAD_SIDE = "bad_side"
    BAD_PRICE = "bad_price"
    BAD_QUANTITY = "bad_quantity"
    BAD_TIMESTAMP = "bad_timestamp"
    # Bybit and OKX (live_heatmap.wire.bybit, live_heatmap.wire.okx):
    NOT_DATA = "not_data"
    """A control message (a subscribe or ping answer, OKX's ``pong``, an error reply), not liquidations."""
    UNKNOWN_TOPIC = "unknown_topic"
    """Data of another topic or channel than the liquidation feed."""
    NOT_AN_ARRAY = "not_an_array"
    """``data`` (or OKX's ``details``) is not a JSON array."""
    EMPTY_DATA = "empty_data"
    """A pushed message whose ``data`` array is empty (an empty REST answer is not a reject)."""
    EMPTY_DETAILS = "empty_details"
    """An OKX ``data`` element with an empty ``details`` array."""
    INCONSISTENT_SIDE = "inconsistent_side"
    """OKX ``posSide`` and ``side`` disagree (``long`` with ``buy``, ``short`` with ``sell``)."""
    UNKNOWN_CONTRACT_SIZE = "unknown_contract_size"
    """A size in contracts of an instrument whose contract size is not known (never guessed)."""
    # Order-book depth (live_heatmap.wire.depth):
    BAD_UPDATE_ID = "bad_update_id"
    """A depth update id (Binance ``U``, ``u``, ``pu``, ``lastUpdateId``; Bybit ``u``) that is missing, not a
    non-negative JSON integer, or out of order (``U > u``)."""
    BAD_LEVEL = "bad_level"
    """A book level that is not a ``[price, size]`` pair."""
    UNKNOWN_SYMBOL = "unknown_symbol"
    """A depth update for a symbol the caller did not ask for."""


class FrameRejected(ValueError):
    """A frame that is not a usable ``forceOrder`` event.

    ``reason`` is a :class:`RejectReason` (count rejects by it); ``detail`` says
    what exactly was wrong, for the log.
    """

    __slots__ = ("detail", "reason")

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class LiquidationEvent(NamedTuple):
    """One forced liquidation, immutable. Prices in quote currency, times in UTC epoch ms."""

    symbol: str
    """The heatmap's key for the instrument, upper case: the compact id of its unified symbol (``BTCUSDT`` for
    ``BTC/USDT:USDT``, whichever venue it came from; see :mod:`live_heatmap.common.symbols`)."""
    side: Side
    """Side of the liquidated *position*: ``Side.LONG`` (``S=SELL``) or ``Side.SHORT`` (``S=BUY``); a plain
    ``"long"``/``"short"`` is the same value."""
    price: float
    """Average fill price ``ap`` (``p`` when ``fallback``)."""
    quantity: float
    """Filled quantity ``z`` in base units (``q`` when ``fallback``)."""
    event_time: int
    """``E``: when the exchange emitted the event."""
    trade_time: int
    """``o.T``: when the liquidation traded. Decay and dedupe use this time."""
    status: str = "FILLED"
    """``o.X`` as sent (``FILLED``, ``PARTIALLY_FILLED``, ``EXPIRED``...)."""
    fallback: bool = False
    """True when price or quantity came from ``p``/``q`` because ``ap``/``z`` were missing or zero."""
    exchange: Venue = Venue.BINANCE
    """The venue that published the liquidation."""
    price_kind: PriceKind = PriceKind.FILL_AVG
    """What ``price`` is: Binance's average fill, or Bybit's and OKX's bankruptcy price."""
    venue_symbol: str = ""
    """The venue's own id when it differs from ``symbol`` (OKX ``BTC-USDT-SWAP``); empty when it is ``symbol``."""

    @property
    def venue_id(self) -> str:
        """The instrument's id on its venue (``BTCUSDT`` on Binance and Bybit, ``BTC-USDT-SWAP`` on OKX)."""
        return self.venue_symbol or self.symbol

    @property
    def unified_symbol(self) -> str:
        """The ccxt unified symbol (``BTC/USDT:USDT``): the join key across venues."""
        return to_unified(self.symbol) if "/" not in self.symbol else self.symbol

    @property
    def notional(self) -> float:
        """``price * quantity`` in quote currency (USD for USDT/USDC perpetuals)."""
        return self.price * self.quantity

    @property
    def dedupe_key(self) -> tuple[str, str, int, str, float, float]:
        """Two frames with the same key describe the same liquidation (the same tuple on two venues is two)."""
        return (self.exchange, self.symbol, self.trade_time, self.side, self.quantity, self.price)


_EVENT_TYPE = "forceOrder"


def decode_object(frame: bytes | bytearray | memoryview | str | dict[str, Any]) -> dict[str, Any]:
    """``frame`` as a JSON object (a dict passes through); else :class:`FrameRejected` (``not_json``,
    ``not_an_object``). Every venue's parser starts here."""
    if isinstance(frame, dict):
        return frame
    try:
        obj = orjson.loads(frame)
    except (orjson.JSONDecodeError, TypeError) as exc:
        raise FrameRejected(RejectReason.NOT_JSON, str(exc)[:120]) from None
    if not isinstance(obj, dict):
        raise FrameRejected(RejectReason.NOT_AN_OBJECT, f"top level is {type(obj).__name__}")
    return obj


def _decode(frame: bytes | bytearray | memoryview | str | dict[str, Any]) -> dict[str, Any]:
    obj = decode_object(frame)
    data = obj.get("data")
    if data is not None and "stream" in obj:  # combined-stream envelope
        if not isinstance(data, dict):
            raise FrameRejected(RejectReason.NOT_AN_OBJECT, f"envelope data is {type(data).__name__}")
        obj = data
    return obj


def _number(order: dict[str, Any], key: str) -> float | None:
    """A decimal string (or number) from the order, ``None`` if absent; NaN/inf pass through."""
    raw = order.get(key)
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise FrameRejected(RejectReason.BAD_NUMBER, f"o.{key}={raw!r}")
    try:
        return float(raw)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int past float's range (a decoded dict)
        raise FrameRejected(RejectReason.BAD_NUMBER, f"o.{key}={str(raw)[:40]!r}") from None


def _timestamp(value: Any, name: str) -> int:
    if value is None:
        raise FrameRejected(RejectReason.MISSING_FIELD, name)
    if type(value) is not int:
        raise FrameRejected(RejectReason.BAD_TIMESTAMP, f"{name}={str(value)[:40]!r} is not an integer")
    if not MIN_TIMESTAMP_MS <= value < MAX_TIMESTAMP_MS:
        raise FrameRejected(RejectReason.BAD_TIMESTAMP, f"{name}={value} is not epoch ms in 2019..2100")
    return value


def _positive(order: dict[str, Any], primary_key: str, fallback_key: str, reason: RejectReason) -> tuple[float, bool]:
    """``o.<primary_key>`` unless missing or zero, then ``o.<fallback_key>`` (read only then); the result must
    be finite and > 0."""
    name = f"o.{primary_key}/o.{fallback_key}"
    primary = _number(order, primary_key)
    used_fallback = primary is None or primary == 0.0
    value = _number(order, fallback_key) if used_fallback else primary
    if value is None:
        raise FrameRejected(RejectReason.MISSING_FIELD, name)
    if not (value > 0.0 and math.isfinite(value)):
        raise FrameRejected(reason, f"{name}={value!r}")
    return value, used_fallback


def symbol_ok(symbol: object) -> TypeGuard[str]:
    """A usable ``o.s``: a printable string of 1 to 64 characters without spaces (upper-cased when parsed)."""
    return isinstance(symbol, str) and 0 < len(symbol) <= 64 and symbol.isprintable() and " " not in symbol


def checked_symbol(raw: Any, name: str) -> str:
    """``raw`` when :func:`symbol_ok`; else :class:`FrameRejected` (``missing_field``, ``bad_symbol``)."""
    if not symbol_ok(raw):
        raise FrameRejected(RejectReason.BAD_SYMBOL if raw is not None else RejectReason.MISSING_FIELD,
                            f"{name}={str(raw)[:40]!r}")
    return raw


def parse_force_order(frame: bytes | bytearray | memoryview | str | dict[str, Any]) -> LiquidationEvent:
    """Parse one ``forceOrder`` frame (raw payload or ``{"stream","data"}`` envelope).

    Accepts bytes, str or an already decoded dict. Raises :class:`FrameRejected`
    for anything that is not a complete, plausible liquidation: every check in
    order, each failure with its own reason. The one per-frame parser (the stream,
    the readers); many frames at once go through the bulk path
    (:func:`live_heatmap.wire.frame_batch.parse_rows`), which gives the same events.
    """
    obj = _decode(frame)
    event_type = obj.get("e")
    if event_type != _EVENT_TYPE:
        raise FrameRejected(RejectReason.WRONG_EVENT_TYPE, f"e={str(event_type)[:40]!r}")
    order = obj.get("o")
    if not isinstance(order, dict):
        raise FrameRejected(RejectReason.MISSING_FIELD, "o")

    symbol = checked_symbol(order.get("s"), "o.s")
    raw_side = order.get("S")
    side = WIRE_SIDES.get(raw_side) if type(raw_side) is str else None
    if side is None:
        if raw_side is None:
            raise FrameRejected(RejectReason.MISSING_FIELD, "o.S")
        raise FrameRejected(RejectReason.BAD_SIDE, f"o.S={str(raw_side)[:20]!r}")

    price, price_fb = _positive(order, "ap", "p", RejectReason.BAD_PRICE)
    quantity, qty_fb = _positive(order, "z", "q", RejectReason.BAD_QUANTITY)
    trade_time = _timestamp(order.get("T"), "o.T")
    event_time = _timestamp(obj.get("E"), "E")
    status = order.get("X")
    return LiquidationEvent(
        symbol.upper(),
        side,
        price,
        quantity,
        event_time,
        trade_time,
        status if isinstance(status, str) else "UNKNOWN",
        price_fb or qty_fb,
    )
