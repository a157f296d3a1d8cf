"""One symbol's bounded event window: a FIFO of at most ``max_events`` events.

It is the deque of the design, stored column-wise: new events are appended to
a short Python list (cheap on the stream thread) and moved into fixed numpy
ring buffers when clusters are built, so a rebuild reads contiguous arrays and
memory stays under 100 bytes an event. Duplicates (same venue, trade time, side,
quantity and price) are dropped on arrival: the same tuple from two venues is two events.

Each event keeps its venue and price kind as small codes (:attr:`Venue.code`, int8 columns); the venue's
own symbol (OKX ``BTC-USDT-SWAP``) is kept once per venue for the window, as it is the same for every
event of that venue. Readers take ``venues`` (a set of venue codes, None: all) to see some venues only.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from live_heatmap.clustering import SIDE_LONG, SIDE_SHORT, SideArrays
from live_heatmap.side import SIDES_BY_CODE, Side
from live_heatmap.venue import VENUES_BY_CODE, PriceKind, Venue
from live_heatmap.wire.events import LiquidationEvent
from live_heatmap.wire.frame_batch import EventFields, EventRows

__all__ = ["KINDS_BY_CODE", "EventColumns", "EventWindow", "Venues", "event_arrays", "venue_symbols_of"]

_SIDE_CODE = {Side.LONG: SIDE_LONG, Side.SHORT: SIDE_SHORT}  # plain "long"/"short" find the same entries
_VENUE_CODE = {venue: venue.code for venue in Venue}  # plain "bybit" finds the same entry
KINDS_BY_CODE = tuple(PriceKind)
"""``KINDS_BY_CODE[code]``: the price kind a window stores as ``code``."""
_KIND_CODE = {kind: code for code, kind in enumerate(KINDS_BY_CODE)}
_FLUSH_AT = 4096
_FIELDS = 10  # LiquidationEvent fields after the symbol
_F_VENUE, _F_KIND, _F_VENUE_SYMBOL = 7, 8, 9  # where those fields sit among them
Venues = frozenset[int] | None
"""Venue codes to read (:attr:`Venue.code`); None: every venue."""


class EventColumns(NamedTuple):
    """Events as parallel arrays (copies), oldest trade first: what a strategy reads on every tick."""

    trade_time: npt.NDArray[np.int64]
    """``o.T``, UTC epoch ms."""
    is_long: npt.NDArray[np.bool_]
    """True where a long position was liquidated, False for a short one."""
    price: npt.NDArray[np.float64]
    quantity: npt.NDArray[np.float64]
    exchange: npt.NDArray[np.int8]
    """The venue of each event as its code (``VENUES_BY_CODE[code]``)."""

    @property
    def notional(self) -> npt.NDArray[np.float64]:
        """``price * quantity`` per event."""
        return self.price * self.quantity

    @classmethod
    def empty(cls) -> EventColumns:
        """No events."""
        return cls(np.empty(0, np.int64), np.empty(0, np.bool_), np.empty(0, np.float64), np.empty(0, np.float64),
                   np.empty(0, np.int8))


class EventWindow:
    """Events of one symbol. Thread-safe: writers and readers may be different threads.

    Eviction is by arrival: once ``capacity`` events are held, each new one
    replaces the oldest arrival. :meth:`by_side` also prunes events older than
    a given trade time.
    """

    __slots__ = (
        "_accepted_by_venue",
        "_by_price",
        "_event_time",
        "_fallback",
        "_fallbacks",
        "_flushed",
        "_head",
        "_keys",
        "_kind",
        "_lock",
        "_pending",
        "_pending_keys",
        "_price",
        "_pruned",
        "_quantity",
        "_seen",
        "_side",
        "_size",
        "_status",
        "_trade_time",
        "_venue",
        "_venue_symbols",
        "capacity",
        "duplicates",
        "symbol",
    )

    def __init__(self, symbol: str, capacity: int) -> None:
        self.symbol = symbol
        self.capacity = capacity
        """Most events held; the arrays start small and double up to it (quiet symbols stay small)."""
        self._allocate(0)
        self._by_price: list[npt.NDArray[np.int32]] = [np.empty(0, np.int32), np.empty(0, np.int32)]
        """Per side, the slots of its events in ascending price: kept up to date at each flush, so a
        rebuild never sorts the whole window. (int32: slots are below ``capacity``.)"""
        # Invariant: the live events occupy slots [head - size, head) while size < allocated,
        # and the whole ring (oldest at head) once size == allocated == capacity.
        self._head = 0
        self._size = 0
        self._seen: dict[int, None] = {}
        """The dedupe keys held, as a dict's keys: about 40 % smaller than a set's table (a set is kept at
        most 60 % full, slots of 16 bytes; a dict's entries are packed behind a small index)."""
        # New events as flat fields (side, price, qty, event time, trade time, status, fallback, venue, price kind,
        # venue symbol) x n:
        # plain numbers and shared strings are invisible to the garbage collector, whereas a list of
        # event tuples would make every collection walk all of them (it halved ingest throughput).
        self._pending: list[Any] = []
        self._pending_keys: list[int] = []
        self._lock = threading.Lock()
        self._flushed = 0
        self._pruned = 0
        self.duplicates = 0
        self._fallbacks = 0
        self._accepted_by_venue = [0] * len(VENUES_BY_CODE)
        self._venue_symbols: dict[int, str] = {}
        """The venue's own symbol per venue code, for the venues whose id differs from :attr:`symbol`."""

    def __len__(self) -> int:
        return self._size + len(self._pending_keys)

    def largest_side(self) -> int:
        """How many events the side with more of them holds (not yet folded ones included): no group of
        same-side events is larger."""
        with self._lock:
            pending = self._pending[0::_FIELDS]
            n_long = pending.count(Side.LONG)
            return max(self._by_price[SIDE_LONG].size + n_long, self._by_price[SIDE_SHORT].size + len(pending) - n_long)

    def add(self, event: LiquidationEvent | EventFields) -> bool:
        """Append ``event`` (or its fields as a plain tuple); False (nothing stored) if it duplicates one
        in the window."""
        _, side, price, quantity, _, trade_time, _, _, exchange = event[:9]
        key = hash((exchange, trade_time, side, quantity, price))  # the dedupe key (the symbol is the window's)
        seen = self._seen
        with self._lock:
            if key in seen:
                self.duplicates += 1
                return False
            seen[key] = None
            self._pending.extend(event[1:11])
            keys = self._pending_keys
            keys.append(key)
            if len(keys) >= _FLUSH_AT:
                self._flush()
        return True

    def add_block(self, keys: list[int], columns: Sequence[npt.NDArray[Any]],
                  venue_symbols: dict[int, str] | None = None) -> list[int] | None:
        """:meth:`add` for a large batch already in arrays (as :func:`event_arrays` makes them), with each
        row's dedupe key (``hash((exchange, trade_time, side, quantity, price))``, as :meth:`add` computes it):
        written straight into the ring. ``venue_symbols``: the venue's own symbol per venue code, for the venues
        whose id differs from :attr:`symbol` (:func:`venue_symbols_of`).

        Returns None if every row was new, else the indices of the rows that were stored."""
        with self._lock:
            self._flush()  # what came before goes in first
            if venue_symbols:
                self._venue_symbols.update(venue_symbols)
            new = self._admit(keys)
            if new is not None:
                columns = [column[new] for column in columns]
                keys = [keys[i] for i in new]
            if keys:
                self._write(keys, columns)
        return new

    def _admit(self, keys: list[int]) -> list[int] | None:
        """Record the keys of the new rows in ``_seen``: None if all are new, else the new rows' indices
        (a row whose key is already held, or repeats an earlier row of the batch, is a duplicate)."""
        seen = self._seen
        if seen.keys().isdisjoint(keys) and len(set(keys)) == len(keys):
            seen.update(dict.fromkeys(keys))
            return None
        new = []
        for i, key in enumerate(keys):
            if key not in seen:
                seen[key] = None
                new.append(i)
        self.duplicates += len(keys) - len(new)
        return new

    @property
    def fallbacks(self) -> int:
        """Events stored whose price or quantity came from ``p``/``q`` (see :class:`LiquidationEvent`)."""
        with self._lock:
            return self._fallbacks + int(sum(self._pending[6::_FIELDS]))

    @property
    def accepted(self) -> int:
        """Events stored since the window was created."""
        return self._flushed + len(self._pending_keys)

    def accepted_by_venue(self) -> list[int]:
        """:attr:`accepted` per venue, indexed by venue code."""
        with self._lock:
            counts = list(self._accepted_by_venue)
            pending = self._pending[_F_VENUE::_FIELDS]
        if pending:
            for venue in VENUES_BY_CODE:
                counts[venue.code] += pending.count(venue)
        return counts

    def venues_seen(self) -> frozenset[int]:
        """The codes of the venues this window has stored events from (some may have left it since)."""
        return frozenset(code for code, n in enumerate(self.accepted_by_venue()) if n)

    def count(self, venues: Venues = None) -> int:
        """How many events are held (:func:`len`), of ``venues`` only when given."""
        if venues is None:
            return len(self)
        with self._lock:
            self._flush()
            return int(np.count_nonzero(np.isin(self._venue[self._live()], list(venues))))

    @property
    def version(self) -> tuple[int, int]:
        """Changes whenever the set of events changes: a cheap staleness check."""
        return self.accepted, self._pruned

    def by_side(self, min_trade_time: int | None = None, venues: Venues = None) -> tuple[SideArrays, SideArrays]:
        """Copies of (price, quantity, trade_time) per side (long, short), each sorted by price; of ``venues``
        only when given.

        With ``min_trade_time``, events traded before it are pruned first.
        """
        return self.versioned_by_side(min_trade_time, venues)[1]

    def versioned_by_side(self, min_trade_time: int | None = None, venues: Venues = None
                          ) -> tuple[tuple[int, int], tuple[SideArrays, SideArrays]]:
        """(:attr:`version`, :meth:`by_side`), read together under the lock: the version of what was copied."""
        version, by_side, _ = self.by_side_with_venues(min_trade_time, venues)
        return version, by_side

    def by_side_with_venues(self, min_trade_time: int | None = None, venues: Venues = None
                            ) -> tuple[tuple[int, int], tuple[SideArrays, SideArrays],
                                       tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]]:
        """:meth:`versioned_by_side` and the venue codes of each side's events, in the same order."""
        with self._lock:
            self._flush()
            if min_trade_time is not None:
                self._prune(min_trade_time)
            out = []
            codes = []
            wanted = None if venues is None else list(venues)
            for side_order in self._by_price:
                order = side_order if wanted is None else side_order[np.isin(self._venue[side_order], wanted)]
                out.append((self._price[order], self._quantity[order], self._trade_time[order]))
                codes.append(self._venue[order])
            return self.version, (out[0], out[1]), (codes[0], codes[1])

    def events(self, venues: Venues = None) -> list[LiquidationEvent]:
        """The window as events (every field as it was added), oldest arrival first; of ``venues`` only when
        given."""
        with self._lock:
            self._flush()
            idx = self._order()
            if venues is not None:
                idx = np.arange(self._price.size)[idx]
                idx = idx[np.isin(self._venue[idx], list(venues))]
            cols = (self._price[idx].tolist(), self._quantity[idx].tolist(), self._event_time[idx].tolist(),
                    self._trade_time[idx].tolist(), self._side[idx].tolist(), self._status[idx].tolist(),
                    self._fallback[idx].tolist(), self._venue[idx].tolist(), self._kind[idx].tolist())
            venue_symbols = dict(self._venue_symbols)
        names = _status_names
        symbol = self.symbol
        if not venue_symbols and not any(cols[7]) and not any(cols[8]):  # Binance only: the defaults
            return [LiquidationEvent(symbol, SIDES_BY_CODE[s], p, q, e, t, names[x], f)
                    for p, q, e, t, s, x, f in zip(*cols[:7], strict=True)]
        return [LiquidationEvent(symbol, SIDES_BY_CODE[s], p, q, e, t, names[x], f, VENUES_BY_CODE[v],
                                 KINDS_BY_CODE[k], venue_symbols.get(v, ""))
                for p, q, e, t, s, x, f, v, k in zip(*cols, strict=True)]

    def events_since(self, min_trade_time: int, venues: Venues = None) -> EventColumns:
        """The events traded at or after ``min_trade_time`` (of ``venues`` only, when given) as columns, oldest
        trade first (ties: oldest arrival first). Nothing is pruned.

        One vectorised comparison over the live trade times, then only the matching events are copied:
        asking for the last minutes of a full window costs little more than those events.
        """
        with self._lock:
            self._flush()
            allocated = self._price.size
            start = self._head - self._size if self._size < allocated else 0
            live = self._trade_time[start:start + self._size]  # a view: the live slots are contiguous
            keep = live >= min_trade_time
            if venues is not None:
                keep &= np.isin(self._venue[start:start + self._size], list(venues))
            slots = np.flatnonzero(keep) + start
            if slots.size > 1:
                arrival = (slots - self._head) % allocated  # 0 = the oldest arrival
                slots = slots[np.lexsort((arrival, self._trade_time[slots]))]
            return EventColumns(self._trade_time[slots], self._side[slots] == SIDE_LONG, self._price[slots],
                                self._quantity[slots], self._venue[slots])

    def nbytes(self) -> int:
        """Bytes held by the ring buffers and the dedupe set (an estimate for the set)."""
        arrays = self._columns()
        seen = sys.getsizeof(self._seen) + 32 * len(self._seen)  # dict table + one int object per key
        return sum(a.nbytes for a in arrays) + seen

    # -- internals, called with the lock held --------------------------------------------------

    def _live(self) -> slice:
        """The live slots, contiguous in the ring whether or not it is full."""
        start = self._head - self._size if self._size < self._price.size else 0
        return slice(start, start + self._size)

    def _allocate(self, n: int) -> None:
        self._price = np.zeros(n, dtype=np.float64)
        self._quantity = np.zeros(n, dtype=np.float64)
        self._trade_time = np.zeros(n, dtype=np.int64)
        self._event_time = np.zeros(n, dtype=np.int64)
        self._side = np.zeros(n, dtype=np.int8)
        self._fallback = np.zeros(n, dtype=np.bool_)
        self._status = np.zeros(n, dtype=np.int16)
        self._keys = np.zeros(n, dtype=np.int64)
        self._venue = np.zeros(n, dtype=np.int8)
        self._kind = np.zeros(n, dtype=np.int8)

    def _columns(self) -> tuple[npt.NDArray[Any], ...]:
        return (self._price, self._quantity, self._trade_time, self._event_time, self._side, self._fallback,
                self._status, self._keys, self._venue, self._kind)

    def _grow(self, needed: int) -> None:
        """Reallocate to hold ``needed`` events (at most ``capacity``), live events first, in order."""
        allocated = min(self.capacity, max(needed, 2 * self._price.size, 64))
        if self._size == 0:  # nothing to carry over (a new window, or one pruned empty)
            self._allocate(allocated)
            self._head = 0
            return
        order = self._order()
        live = [column[order] for column in self._columns()]
        self._allocate(allocated)
        for column, values in zip(self._columns(), live, strict=True):
            column[: self._size] = values
        self._head = self._size % allocated
        for side in (SIDE_LONG, SIDE_SHORT):
            slots = np.flatnonzero(self._side[: self._size] == side)
            self._by_price[side] = slots[np.argsort(self._price[slots], kind="stable")].astype(np.int32)

    def _drop_from_index(self, gone_slots: npt.NDArray[np.int64]) -> None:
        gone = np.zeros(self._price.size, dtype=np.bool_)
        gone[gone_slots] = True
        self._by_price = [order[~gone[order]] for order in self._by_price]

    def _add_to_index(self, slots: npt.NDArray[np.int64]) -> None:
        sides = self._side[slots]
        for side in (SIDE_LONG, SIDE_SHORT):
            new = slots[sides == side]
            if new.size == 0:
                continue
            new = new[np.argsort(self._price[new], kind="stable")]
            order = self._by_price[side]
            at = np.searchsorted(self._price[order], self._price[new], side="right")
            self._by_price[side] = np.insert(order, at, new)

    def _order(self) -> npt.NDArray[np.int64] | slice:
        if self._size < self._price.size:
            return slice(self._head - self._size, self._head)
        wrapped: npt.NDArray[np.int64] = np.r_[self._head:self._price.size, 0:self._head]
        return wrapped

    def _flush(self) -> None:
        pending, keys = self._pending, self._pending_keys
        if not keys:
            return
        self._pending, self._pending_keys = [], []
        n = len(keys)
        venues = pending[_F_VENUE::_FIELDS]
        # Binance's defaults (the usual case) are found by identity, one C loop each: no per-event lookup.
        venue_codes: list[int] | int = (0 if venues.count(Venue.BINANCE) == n
                                        else list(map(_VENUE_CODE.__getitem__, venues)))
        kinds = pending[_F_KIND::_FIELDS]
        kind_codes: list[int] | int = (0 if kinds.count(PriceKind.FILL_AVG) == n
                                       else list(map(_KIND_CODE.__getitem__, kinds)))
        venue_symbols = pending[_F_VENUE_SYMBOL::_FIELDS]
        if venue_symbols.count("") != n:
            self._venue_symbols.update({_VENUE_CODE[v]: s for v, s in zip(venues, venue_symbols, strict=True) if s})
        self._write(keys, (list(map(_SIDE_CODE.__getitem__, pending[0::_FIELDS])), pending[1::_FIELDS],
                           pending[2::_FIELDS], pending[3::_FIELDS], pending[4::_FIELDS],
                           _status_codes_of(pending[5::_FIELDS]), pending[6::_FIELDS], venue_codes, kind_codes))

    def _write(self, keys: Sequence[int], columns: Sequence[Any]) -> None:
        """Put new events into the ring, oldest first; their keys are in ``_seen`` already. ``columns``: side
        codes, price, quantity, event time, trade time, status codes, fallback, venue codes, price kind codes
        (lists or arrays; the last two may be one code for every row)."""
        n = len(keys)
        self._flushed += n
        self._fallbacks += int(np.count_nonzero(columns[6]))
        venue_codes = columns[7]
        if isinstance(venue_codes, int):
            self._accepted_by_venue[venue_codes] += n
        else:
            for code, count in enumerate(np.bincount(venue_codes, minlength=len(VENUES_BY_CODE)).tolist()):
                self._accepted_by_venue[code] += count
        if n > self.capacity:  # the oldest of a huge batch never make it into the ring
            _forget(self._seen, keys[: -self.capacity])
            keys = keys[-self.capacity:]
            columns = [column if isinstance(column, int) else column[-self.capacity:] for column in columns]
            n = self.capacity
        if self._size + n > self._price.size and self._price.size < self.capacity:
            self._grow(self._size + n)
        allocated = self._price.size
        head = self._head
        # A plain slice when the batch does not wrap around the ring (the usual case): cheaper to fill.
        slots: slice | npt.NDArray[np.int64] = (slice(head, head + n) if head + n <= allocated
                                                else (head + np.arange(n)) % allocated)
        if self._size + n > allocated:  # evict what the new events overwrite
            n_evicted = self._size + n - allocated
            evicted = (self._head - self._size + np.arange(n_evicted)) % allocated
            _forget(self._seen, self._keys[evicted].tolist())
            self._drop_from_index(evicted)
        rings: tuple[npt.NDArray[Any], ...] = (self._side, self._price, self._quantity, self._event_time,
                                               self._trade_time, self._status, self._fallback, self._venue,
                                               self._kind)
        for ring, values in zip(rings, columns, strict=True):
            ring[slots] = values
        self._keys[slots] = keys
        self._head = int((self._head + n) % allocated)
        self._size = min(allocated, self._size + n)
        self._add_to_index(np.arange(head, head + n) if isinstance(slots, slice) else slots)

    def _prune(self, min_trade_time: int) -> None:
        idx = self._order()
        keep = self._trade_time[idx] >= min_trade_time
        if keep.all():
            return
        slots = np.arange(self._price.size)[idx]
        _forget(self._seen, self._keys[slots[~keep]].tolist())
        kept = slots[keep]
        n = kept.size
        for column in self._columns():
            column[:n] = column[kept]
        self._head, self._size = n % self._price.size, n
        self._pruned += 1
        remap = np.full(self._price.size, -1, dtype=np.int64)
        remap[kept] = np.arange(n)
        self._by_price = [remapped[remapped >= 0].astype(np.int32)
                          for remapped in (remap[order] for order in self._by_price)]


def _forget(seen: dict[int, None], keys: Sequence[int]) -> None:
    pop = seen.pop
    for key in keys:
        pop(key, None)


def event_arrays(rows: EventRows) -> tuple[npt.NDArray[Any], ...]:
    """Rows as the ring's column types: side codes, price, quantity, event time, trade time, status codes,
    fallback, venue codes, price kind codes (the arguments of :meth:`EventWindow.add_block` after the keys)."""
    n = len(rows)
    venues = (np.zeros(n, np.int8) if rows.exchanges.count(Venue.BINANCE) == n
              else np.fromiter(map(_VENUE_CODE.__getitem__, rows.exchanges), np.int8, n))
    kinds = (np.zeros(n, np.int8) if rows.price_kinds.count(PriceKind.FILL_AVG) == n
             else np.fromiter(map(_KIND_CODE.__getitem__, rows.price_kinds), np.int8, n))
    return (np.fromiter(map(_SIDE_CODE.__getitem__, rows.sides), np.int8, n),
            np.array(rows.prices, dtype=np.float64), np.array(rows.quantities, dtype=np.float64),
            np.array(rows.event_times, dtype=np.int64), np.array(rows.trade_times, dtype=np.int64),
            np.array(_status_codes_of(rows.statuses), dtype=np.int16), np.array(rows.fallbacks, dtype=np.bool_),
            venues, kinds)


def venue_symbols_of(rows: EventRows) -> dict[tuple[str, int], str]:
    """``{(symbol, venue code): venue symbol}`` for the rows whose venue id differs from the symbol."""
    if rows.venue_symbols.count("") == len(rows):
        return {}
    return {(symbol, _VENUE_CODE[venue]): venue_symbol
            for symbol, venue, venue_symbol in zip(rows.symbols, rows.exchanges, rows.venue_symbols, strict=True)
            if venue_symbol}


_status_names: list[str] = ["FILLED", "PARTIALLY_FILLED", "NEW", "EXPIRED", "CANCELED", "UNKNOWN"]
_status_codes: dict[str, int] = {name: code for code, name in enumerate(_status_names)}
_status_lock = threading.Lock()


def _status_codes_of(statuses: list[str]) -> list[int]:
    """:func:`_status_code` of each, with one dict lookup each when every status is known (the usual case)."""
    codes = list(map(_status_codes.get, statuses))
    if None in codes:
        return [_status_code(x) for x in statuses]
    return codes  # type: ignore[return-value]


def _status_code(status: str) -> int:
    """A small integer for an order status, interned process-wide."""
    code = _status_codes.get(status)
    if code is None:
        with _status_lock:
            code = _status_codes.setdefault(status, len(_status_names))
            if code == len(_status_names):
                _status_names.append(status)
    return code
