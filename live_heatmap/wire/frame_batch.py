"""Many ``forceOrder`` frames -> event rows: the vectorised bulk path (files, warm starts, large batches).

Per frame, :func:`~live_heatmap.wire.events.parse_force_order` spends about as long on Python steps (field
lookups, checks, one tuple) as on decoding. Here a chunk of frames is decoded into msgspec structs in one
``map`` (msgspec checks the types as it decodes), then each field is pulled out for the whole chunk at once
and checked with whole-column operations (``min``/``max``, numpy), so the per-frame Python work is a few
list-comprehension steps.

:func:`decode_chunk` takes a chunk whole only if every one of its frames is bytes in Binance's exact shape
that :func:`parse_force_order` accepts with the same fields, by the same checks; otherwise
:func:`parse_rows` sends each frame of the chunk through :func:`parse_force_order` (which names the reject
reason). Either way the rows are the ones the per-frame parser gives, in the same order
(``tests/live_heatmap/wire/test_parse_paths.py`` checks this on real frames broken at random).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, Literal

import msgspec
import numpy as np

from live_heatmap.side import WIRE_SIDES, Side
from live_heatmap.venue import PriceKind, Venue
from live_heatmap.wire.events import (
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    FrameRejected,
    LiquidationEvent,
    parse_force_order,
    symbol_ok,
)

__all__ = ["CHUNK", "EventFields", "EventRows", "decode_chunk", "parse_rows"]

#: Frames decoded together: large enough that each whole-column step runs over many frames, small enough
#: that a bad frame sends few others through the per-frame parser.
CHUNK = 256

EventFields = tuple[str, Side, float, float, int, int, str, bool, Venue, PriceKind, str]
"""The fields of a :class:`LiquidationEvent`, in its order, as a plain tuple."""


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
_SYMBOLS: dict[str, str] = {}
"""Symbols already checked (usable and upper case), each mapped to one shared str object: a batch's rows then
share it, and its hash is computed once."""


class EventRows:
    """Events as parallel lists, in arrival order: one row per accepted frame (duplicates included)."""

    __slots__ = ("event_times", "exchanges", "fallbacks", "price_kinds", "prices", "quantities", "sides", "statuses",
                 "symbols", "trade_times", "venue_symbols")

    def __init__(self) -> None:
        self.symbols: list[str] = []
        self.sides: list[Side] = []
        self.prices: list[float] = []
        self.quantities: list[float] = []
        self.event_times: list[int] = []
        self.trade_times: list[int] = []
        self.statuses: list[str] = []
        self.fallbacks: list[bool] = []
        self.exchanges: list[Venue] = []
        self.price_kinds: list[PriceKind] = []
        self.venue_symbols: list[str] = []

    def __len__(self) -> int:
        return len(self.symbols)

    def add_events(self, events: list[LiquidationEvent]) -> None:
        """Append already parsed events (one transpose, no per-event Python step)."""
        if not events:
            return
        (symbols, sides, prices, quantities, event_times, trade_times, statuses, fallbacks, exchanges, price_kinds,
         venue_symbols) = zip(*events, strict=True)
        self.symbols += symbols
        self.sides += sides
        self.prices += prices
        self.quantities += quantities
        self.event_times += event_times
        self.trade_times += trade_times
        self.statuses += statuses
        self.fallbacks += fallbacks
        self.exchanges += exchanges
        self.price_kinds += price_kinds
        self.venue_symbols += venue_symbols

    def extend(self, other: EventRows) -> None:
        for name in self.__slots__:
            getattr(self, name).extend(getattr(other, name))

    def tuples(self) -> Iterator[EventFields]:
        """The rows as plain tuples in :class:`LiquidationEvent`'s field order."""
        return zip(self.symbols, self.sides, self.prices, self.quantities, self.event_times, self.trade_times,
                   self.statuses, self.fallbacks, self.exchanges, self.price_kinds, self.venue_symbols, strict=True)

    def event(self, i: int) -> LiquidationEvent:
        """Row ``i`` as a :class:`LiquidationEvent`."""
        return LiquidationEvent(self.symbols[i], self.sides[i], self.prices[i], self.quantities[i],
                                self.event_times[i], self.trade_times[i], self.statuses[i], self.fallbacks[i],
                                self.exchanges[i], self.price_kinds[i], self.venue_symbols[i])


def parse_rows(frames: Iterable[Any], rejected: Counter[str]) -> EventRows:
    """Parse ``frames`` (bytes, str, dicts, envelopes or :class:`LiquidationEvent`) into rows.

    A frame that is not a usable event is counted in ``rejected`` by reason and has no row; nothing
    is raised.
    """
    rows = EventRows()
    for chunk in _chunks(frames):
        kinds = set(map(type, chunk))
        if kinds == _EVENTS:  # a replay or a warm start: already parsed
            rows.add_events(chunk)
            continue
        decoded = decode_chunk(chunk) if kinds == _BYTES else None
        if decoded is not None:
            rows.extend(decoded)
            continue
        events = []
        for frame in chunk:
            if type(frame) is LiquidationEvent:
                events.append(frame)
                continue
            try:
                events.append(parse_force_order(frame))
            except FrameRejected as exc:
                rejected[exc.reason.value] += 1
        rows.add_events(events)
    return rows


def _chunks(frames: Iterable[Any]) -> Iterator[list[Any]]:
    if isinstance(frames, list):
        for start in range(0, len(frames), CHUNK):
            yield frames[start:start + CHUNK]
        return
    it = iter(frames)
    while chunk := list(islice(it, CHUNK)):
        yield chunk


def decode_chunk(chunk: list[bytes]) -> EventRows | None:
    """The rows of ``chunk`` if every frame is a bare payload in Binance's own shape that
    :func:`parse_force_order` accepts as it is (``ap``/``z`` used, symbol already upper case); else None
    ("not sure": the per-frame parser decides each frame and names the reason)."""
    try:
        wires = list(map(_decode_wire, chunk))  # typed structs: the types are checked as they decode
        orders = [w.o for w in wires]
        prices = list(map(float, [o.ap for o in orders]))
        quantities = list(map(float, [o.z for o in orders]))
    except ValueError:  # msgspec.DecodeError is one: not JSON, not Binance's shape; or a price "1.2.3"
        return None
    if not chunk:
        return EventRows()
    event_times = [w.E for w in wires]
    trade_times = [o.T for o in orders]
    symbols = [o.s for o in orders]
    both = np.array((prices, quantities))
    if not (((both > 0.0) & (both < math.inf)).all()  # NaN fails both comparisons
            and MIN_TIMESTAMP_MS <= min(event_times) <= max(event_times) < MAX_TIMESTAMP_MS
            and MIN_TIMESTAMP_MS <= min(trade_times) <= max(trade_times) < MAX_TIMESTAMP_MS
            and all(s in _SYMBOLS or _checked(s) for s in set(symbols))):
        return None
    rows = EventRows()
    rows.symbols = list(map(_SYMBOLS.get, symbols, symbols))  # one shared str per symbol
    rows.sides = list(map(WIRE_SIDES.__getitem__, [o.S for o in orders]))
    rows.prices = prices
    rows.quantities = quantities
    rows.event_times = event_times
    rows.trade_times = trade_times
    rows.statuses = [o.X for o in orders]
    rows.fallbacks = [False] * len(chunk)
    rows.exchanges = [Venue.BINANCE] * len(chunk)
    rows.price_kinds = [PriceKind.FILL_AVG] * len(chunk)
    rows.venue_symbols = [""] * len(chunk)
    return rows


def _checked(symbol: str) -> bool:
    """Whether the per-frame parser keeps ``symbol`` as it is (usable and upper case); remembered if so
    (a few hundred exist)."""
    if not (symbol_ok(symbol) and symbol.upper() == symbol):
        return False
    if len(_SYMBOLS) < 100_000:  # the cap only bounds memory: a symbol not remembered is checked again
        _SYMBOLS[symbol] = symbol
    return True


_BYTES = {bytes}
_EVENTS = {LiquidationEvent}
