"""Binance ``forceOrder`` frames -> :class:`LiquidationEvent`, parsed once at the edge.

Wire facts this module relies on (see README, "Events"):

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
from typing import Any, Literal, NamedTuple

import msgspec
import orjson

__all__ = [
    "MAX_TIMESTAMP_MS",
    "MIN_TIMESTAMP_MS",
    "FrameRejected",
    "LiquidationEvent",
    "RejectReason",
    "parse_force_order",
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
    """Exchange id, upper case (``BTCUSDT``)."""
    side: str
    """Side of the liquidated *position*: ``"long"`` (``S=SELL``) or ``"short"`` (``S=BUY``)."""
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

    @property
    def notional(self) -> float:
        """``price * quantity`` in quote currency (USD for USDT/USDC perpetuals)."""
        return self.price * self.quantity

    @property
    def dedupe_key(self) -> tuple[str, int, str, float, float]:
        """Two frames with the same key describe the same liquidation."""
        return (self.symbol, self.trade_time, self.side, self.quantity, self.price)


_SIDES = {"SELL": "long", "BUY": "short"}
_EVENT_TYPE = "forceOrder"


def _decode(frame: bytes | bytearray | memoryview | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(frame, dict):
        obj: Any = frame
    else:
        try:
            obj = orjson.loads(frame)
        except (orjson.JSONDecodeError, TypeError) as exc:
            raise FrameRejected(RejectReason.NOT_JSON, str(exc)[:120]) from None
        if not isinstance(obj, dict):
            raise FrameRejected(RejectReason.NOT_AN_OBJECT, f"top level is {type(obj).__name__}")
    data = obj.get("data")
    if data is not None and "stream" in obj:  # combined-stream envelope
        if not isinstance(data, dict):
            raise FrameRejected(RejectReason.NOT_AN_OBJECT, f"envelope data is {type(data).__name__}")
        obj = data
    return obj  # type: ignore[no-any-return]


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


_INF = math.inf
_tuple_new = tuple.__new__
_GOOD_SYMBOLS: dict[str, str] = {}
"""Symbols already checked, each mapped to one shared str object (a batch's rows then share it)."""


class _WireOrder(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """``o`` of a payload exactly as Binance sends it. Every field Binance sends is declared, and no other
    is allowed, so every byte of an accepted frame was decoded and checked (``orjson`` would have refused
    the frame otherwise: msgspec does not check the fields it skips)."""

    s: str
    S: Literal["SELL", "BUY"]
    ap: str
    z: str
    T: int
    X: str = "UNKNOWN"
    o: str = ""
    f: str = ""
    q: str = ""
    p: str = ""
    l: str = ""  # noqa: E741 - Binance's name


class _WirePayload(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    e: Literal["forceOrder"]
    E: int
    o: _WireOrder


_decode_wire = msgspec.json.Decoder(_WirePayload).decode
EventFields = tuple[str, str, float, float, int, int, str, bool]
"""The fields of a :class:`LiquidationEvent`, in its order, as a plain tuple."""


def wire_fields(frame: bytes) -> EventFields | None:
    """The event of a bare payload in Binance's own shape, as a plain tuple, or None for anything else.

    The fastest path (msgspec decodes straight into typed structs and checks the types as it goes). None
    means "not sure": :func:`parse_force_order` decides such frames, accepting or naming the reason.
    """
    try:
        wire = _decode_wire(frame)
        order = wire.o
        price, quantity, symbol = float(order.ap), float(order.z), order.s
    except ValueError:  # msgspec.DecodeError is one, and so is float("1.2.3")
        return None
    trade_time, event_time = order.T, wire.E
    if (0.0 < price < _INF and 0.0 < quantity < _INF
            and MIN_TIMESTAMP_MS <= trade_time < MAX_TIMESTAMP_MS
            and MIN_TIMESTAMP_MS <= event_time < MAX_TIMESTAMP_MS
            and (symbol in _GOOD_SYMBOLS or _good_symbol(symbol))):
        return symbol, _SIDES[order.S], price, quantity, event_time, trade_time, order.X, False
    return None


def _good_symbol(symbol: object) -> bool:
    """An upper-case, printable symbol without spaces (remembered: a few hundred exist)."""
    if not (type(symbol) is str and symbol.isupper() and len(symbol) <= 64
            and symbol.isprintable() and " " not in symbol):
        return False
    # Not mutated: the cap only bounds memory; whether the 100,000th symbol is remembered changes no result.
    if len(_GOOD_SYMBOLS) < 100_000:  # pragma: no mutate
        _GOOD_SYMBOLS[symbol] = symbol
    return True


def parse_force_order(frame: bytes | bytearray | memoryview | str | dict[str, Any]) -> LiquidationEvent:
    """Parse one ``forceOrder`` frame (raw payload or ``{"stream","data"}`` envelope).

    Accepts bytes, str or an already decoded dict. Raises :class:`FrameRejected`
    for anything that is not a complete, plausible liquidation.
    """
    if type(frame) is bytes:
        fields = wire_fields(frame)
        if fields is not None:
            return _tuple_new(LiquidationEvent, fields)
    # Then a fast path for any well-formed frame; anything unusual is re-examined by _parse_checked,
    # which gives the precise reason. All three accept exactly the same frames, with the same fields.
    try:
        # Not mutated: each mutant leaves obj None, hands a dict to orjson or leaves a str/bytes frame unparsed,
        # so the next lines raise and _parse_checked decides, as it does without the mutant (same output).
        obj = frame if type(frame) is dict else orjson.loads(frame)  # type: ignore[arg-type]  # pragma: no mutate
        if "stream" in obj:
            obj = obj["data"]
        order = obj["o"]
        raw_price, raw_qty, symbol = order["ap"], order["z"], order["s"]
        trade_time, event_time = order["T"], obj["E"]
        if (obj["e"] == _EVENT_TYPE and type(raw_price) is str and type(raw_qty) is str
                and type(trade_time) is int and type(event_time) is int
                and MIN_TIMESTAMP_MS <= trade_time < MAX_TIMESTAMP_MS
                and MIN_TIMESTAMP_MS <= event_time < MAX_TIMESTAMP_MS
                and (symbol in _GOOD_SYMBOLS or _good_symbol(symbol))):
            # Not mutated: its mutants (float(None), None unpacked) raise TypeError, and _parse_checked decides.
            price, quantity = float(raw_price), float(raw_qty)  # pragma: no mutate
            side = _SIDES.get(order["S"])
            if 0.0 < price < _INF and 0.0 < quantity < _INF and side is not None:
                status = order.get("X")
                return _tuple_new(LiquidationEvent, (
                    symbol, side, price, quantity, event_time, trade_time,
                    status if isinstance(status, str) else "UNKNOWN", False))  # as _parse_checked
    except Exception:  # noqa: BLE001 - the checked path below names the problem
        pass
    return _parse_checked(frame)


def _parse_checked(frame: bytes | bytearray | memoryview | str | dict[str, Any]) -> LiquidationEvent:
    """The careful parse: every check in order, each failure with its own reason."""
    obj = _decode(frame)
    event_type = obj.get("e")
    if event_type != _EVENT_TYPE:
        raise FrameRejected(RejectReason.WRONG_EVENT_TYPE, f"e={str(event_type)[:40]!r}")
    order = obj.get("o")
    if not isinstance(order, dict):
        raise FrameRejected(RejectReason.MISSING_FIELD, "o")

    symbol = order.get("s")
    if not isinstance(symbol, str) or not 0 < len(symbol) <= 64 or not symbol.isprintable() or " " in symbol:
        raise FrameRejected(RejectReason.BAD_SYMBOL if symbol is not None else RejectReason.MISSING_FIELD,
                            f"o.s={str(symbol)[:40]!r}")
    raw_side = order.get("S")
    side = _SIDES.get(raw_side) if type(raw_side) is str else None
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
