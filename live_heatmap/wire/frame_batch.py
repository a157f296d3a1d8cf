"""Many ``forceOrder`` frames -> event columns: the bulk path of :meth:`LiveLiquidationHeatmap.ingest_many`.

Per frame, :func:`parse_force_order` spends about as long on Python steps (field lookups, checks, one
tuple) as on decoding. Here a chunk of frames is decoded into msgspec structs in one ``map``, then each
field is pulled out for the whole chunk at once and checked with whole-column operations (``min``/``max``,
numpy), so the per-frame Python work is a few list-comprehension steps.

A chunk is taken whole only if every one of its frames is bytes that :func:`~live_heatmap.wire.events.wire_fields`
accepts, by the same checks; otherwise each frame of the chunk goes through :func:`parse_force_order`
itself (which names the reject reason). Either way the rows are the ones the per-frame parser gives, in the
same order (``tests/test_parse_paths.py`` checks this on real frames broken at random).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import numpy as np

from live_heatmap.wire.events import (
    _GOOD_SYMBOLS,
    _SIDES,
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    EventFields,
    FrameRejected,
    LiquidationEvent,
    _decode_wire,
    _good_symbol,
    parse_force_order,
)

__all__ = ["CHUNK", "EventRows", "parse_each", "parse_rows"]

#: Frames decoded together: large enough that each whole-column step runs over many frames, small enough
#: that a bad frame sends few others through the per-frame parser.
CHUNK = 256


class EventRows:
    """Events as parallel lists, in arrival order: one row per accepted frame (duplicates included)."""

    __slots__ = ("event_times", "fallbacks", "prices", "quantities", "sides", "statuses", "symbols",
                 "trade_times")

    def __init__(self) -> None:
        self.symbols: list[str] = []
        self.sides: list[str] = []
        self.prices: list[float] = []
        self.quantities: list[float] = []
        self.event_times: list[int] = []
        self.trade_times: list[int] = []
        self.statuses: list[str] = []
        self.fallbacks: list[bool] = []

    def __len__(self) -> int:
        return len(self.symbols)

    def add_events(self, events: list[LiquidationEvent]) -> None:
        """Append already parsed events (one transpose, no per-event Python step)."""
        if not events:
            return
        symbols, sides, prices, quantities, event_times, trade_times, statuses, fallbacks = zip(*events, strict=True)
        self.symbols += symbols
        self.sides += sides
        self.prices += prices
        self.quantities += quantities
        self.event_times += event_times
        self.trade_times += trade_times
        self.statuses += statuses
        self.fallbacks += fallbacks

    def tuples(self) -> Iterator[EventFields]:
        """The rows as plain tuples in :class:`LiquidationEvent`'s field order."""
        return zip(self.symbols, self.sides, self.prices, self.quantities, self.event_times, self.trade_times,
                   self.statuses, self.fallbacks, strict=True)

    def event(self, i: int) -> LiquidationEvent:
        """Row ``i`` as a :class:`LiquidationEvent`."""
        return LiquidationEvent(self.symbols[i], self.sides[i], self.prices[i], self.quantities[i],
                                self.event_times[i], self.trade_times[i], self.statuses[i], self.fallbacks[i])


def parse_rows(frames: Iterable[Any], rejected: Counter[str]) -> EventRows:
    """Parse ``frames`` (bytes, str, dicts, envelopes or :class:`LiquidationEvent`) into rows.

    A frame that is not a usable event is counted in ``rejected`` by reason and has no row; nothing
    is raised.
    """
    rows = EventRows()
    for chunk in _chunks(frames):
        if set(map(type, chunk)) == _EVENTS:  # a replay or a warm start: already parsed
            rows.add_events(chunk)
        elif not _add_chunk(rows, chunk):
            rows.add_events(parse_each(chunk, rejected))
    return rows


def _chunks(frames: Iterable[Any]) -> Iterator[list[Any]]:
    if isinstance(frames, list):
        for start in range(0, len(frames), CHUNK):
            yield frames[start:start + CHUNK]
        return
    it = iter(frames)
    while chunk := list(islice(it, CHUNK)):
        yield chunk


def parse_each(chunk: list[Any], rejected: Counter[str]) -> list[LiquidationEvent]:
    """Each frame through :func:`parse_force_order` (events pass as they are); rejects counted by reason."""
    events = []
    for frame in chunk:
        if type(frame) is LiquidationEvent:
            events.append(frame)
            continue
        try:
            events.append(parse_force_order(frame))
        except FrameRejected as exc:
            rejected[exc.reason.value] += 1
    return events


def _add_chunk(rows: EventRows, chunk: list[Any]) -> bool:
    """Append the chunk's rows if every frame is a bare payload in Binance's own shape that passes the
    checks of :func:`parse_force_order`'s first path; False (nothing appended) if any frame needs more."""
    if set(map(type, chunk)) != _BYTES:
        return False
    try:
        wires = list(map(_decode_wire, chunk))  # typed structs: the types are checked as they decode
        orders = [w.o for w in wires]
        prices = list(map(float, [o.ap for o in orders]))
        quantities = list(map(float, [o.z for o in orders]))
    except ValueError:  # msgspec.DecodeError is one: not JSON, not Binance's shape; or a price "1.2.3"
        return False
    event_times = [w.E for w in wires]
    trade_times = [o.T for o in orders]
    symbols = [o.s for o in orders]
    both = np.array((prices, quantities))
    if not (((both > 0.0) & (both < math.inf)).all()  # NaN fails both comparisons
            and MIN_TIMESTAMP_MS <= min(event_times) <= max(event_times) < MAX_TIMESTAMP_MS
            and MIN_TIMESTAMP_MS <= min(trade_times) <= max(trade_times) < MAX_TIMESTAMP_MS
            and all(s in _GOOD_SYMBOLS or _good_symbol(s) for s in set(symbols))):
        return False
    rows.symbols += map(_GOOD_SYMBOLS.get, symbols, symbols)  # one shared str per symbol: its hash is kept
    rows.sides += map(_SIDES.__getitem__, [o.S for o in orders])
    rows.prices += prices
    rows.quantities += quantities
    rows.event_times += event_times
    rows.trade_times += trade_times
    rows.statuses += [o.X for o in orders]
    rows.fallbacks += [False] * len(chunk)
    return True


_BYTES = {bytes}
_EVENTS = {LiquidationEvent}
