"""A controllable Binance USD-M order book for the fakes (issue 15): the REST answer of ``GET /fapi/v1/depth``
and the ``depthUpdate`` diffs of ``<symbol>@depth@100ms``, from one book the test holds.

Each change (:meth:`FakeDepth.update`) moves the book's update id on and returns the diff Binance would send
(``U`` the first id, ``u`` the last, ``pu`` the previous diff's ``u``); :meth:`FakeDepth.snapshot` answers the REST
call with the book as it is now and its ``lastUpdateId``. A gap in the ``pu`` chain is a diff the test does not
send (or a ``pu`` it passes itself).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .rest_wire import INVALID_SYMBOL, ApiError

Level = tuple[float, float]


@dataclass
class _Book:
    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)
    last_update_id: int = 1000
    last_u: int = 1000


class FakeDepth:
    """Books by symbol; ``clock`` stamps ``E``/``T``. Thread-safe."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self._clock = clock
        self._books: dict[str, _Book] = {}
        self._lock = threading.Lock()
        self.snapshots_served = 0

    def set_book(self, symbol: str, bids: Iterable[Level], asks: Iterable[Level], *,
                 last_update_id: int = 1000) -> None:
        """``symbol``'s book becomes these levels, at ``last_update_id``."""
        with self._lock:
            self._books[symbol] = _Book({p: q for p, q in bids if q > 0}, {p: q for p, q in asks if q > 0},
                                        last_update_id, last_update_id)

    def update(self, symbol: str, *, bids: Iterable[Level] = (), asks: Iterable[Level] = (), ids: int = 1,
               pu: int | None = None) -> dict[str, Any]:
        """Apply a change (quantity 0 deletes) taking ``ids`` update ids; the ``depthUpdate`` payload Binance sends
        for it (``pu``: override the chain, for a gap)."""
        bid_rows, ask_rows = list(bids), list(asks)
        with self._lock:
            book = self._books[symbol]
            first = book.last_update_id + 1
            book.last_update_id += ids
            for side, rows in ((book.bids, bid_rows), (book.asks, ask_rows)):
                for price, qty in rows:
                    if qty > 0:
                        side[price] = qty
                    else:
                        side.pop(price, None)
            prev, book.last_u = book.last_u, book.last_update_id
            now = self._clock()
            return {"e": "depthUpdate", "E": now, "T": now, "s": symbol, "U": first, "u": book.last_update_id,
                    "pu": prev if pu is None else pu, "b": [[f"{p}", f"{q}"] for p, q in bid_rows],
                    "a": [[f"{p}", f"{q}"] for p, q in ask_rows]}

    def levels(self, symbol: str) -> tuple[list[Level], list[Level]]:
        """``symbol``'s book now: bids best first, asks best first (not counted as a snapshot served)."""
        with self._lock:
            book = self._books[symbol]
            return sorted(book.bids.items(), reverse=True), sorted(book.asks.items())

    def snapshot(self, params: dict[str, str]) -> dict[str, Any]:
        """``GET /fapi/v1/depth``: the book now, ``limit`` levels a side (default 500), Binance's shape."""
        symbol = params.get("symbol", "")
        limit = int(params.get("limit", 500))
        if limit not in (5, 10, 20, 50, 100, 500, 1000):
            raise ApiError(-1100, "Illegal characters found in parameter 'limit'; legal range is "
                           "'5, 10, 20, 50, 100, 500, 1000'.")
        with self._lock:
            book = self._books.get(symbol)
            if book is None:
                raise INVALID_SYMBOL
            self.snapshots_served += 1
            now = self._clock()
            bids = sorted(book.bids.items(), reverse=True)[:limit]
            asks = sorted(book.asks.items())[:limit]
            return {"lastUpdateId": book.last_update_id, "E": now, "T": now,
                    "bids": [[f"{p}", f"{q}"] for p, q in bids], "asks": [[f"{p}", f"{q}"] for p, q in asks]}
