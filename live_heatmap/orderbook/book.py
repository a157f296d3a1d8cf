"""One symbol's local order book: price -> size per side, kept by :mod:`live_heatmap.orderbook.sync`.

The book is a dict ``price -> size`` per side (an update is a dict write or delete, O(1) per level), the best
price of each side kept incrementally (recomputed only when the best level itself is removed), and the sorted
arrays :meth:`OrderBook.levels` hands out built lazily, once per change of the side. A diff touches few levels
(5-20 of a 1000-level book), so a dict write beats an insert into a sorted array, which moves the tail; the
figures are in ``benchmarks/RESULTS.md`` (``make bench-orderbook``).

Prices are the floats of the venue's decimal strings: the same string always gives the same float, so a level
is found again by its price. Sizes are in base units (Binance and Bybit linear contracts are 1 base unit).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["BookSide", "OrderBook"]

FloatArray = npt.NDArray[np.float64]

BookSide = str
"""``"bid"`` or ``"ask"``."""

_SIDES = ("bid", "ask")


class _Side:
    """One side of the book: a dict price -> size, its best price and a lazily sorted copy."""

    __slots__ = ("_best", "_best_dirty", "_descending", "_sorted", "levels")

    def __init__(self, descending: bool) -> None:
        self.levels: dict[float, float] = {}
        self._descending = descending
        self._best: float | None = None
        self._best_dirty = False
        self._sorted: tuple[FloatArray, FloatArray] | None = None

    def clear(self) -> None:
        self.levels.clear()
        self._best = None
        self._best_dirty = False
        self._sorted = None

    def update(self, rows: list[list[float]]) -> None:
        """Set each ``[price, size]``; a size of 0 removes the level."""
        if not rows:
            return
        levels = self.levels
        best = self._best
        descending = self._descending
        dirty = self._best_dirty
        for price, size in rows:
            if size == 0.0:
                if levels.pop(price, None) is not None and price == best:
                    dirty = True
            else:
                levels[price] = size
                if not dirty and (best is None or (price > best if descending else price < best)):
                    best = price
        self._best = best
        self._best_dirty = dirty
        self._sorted = None

    def best(self) -> float | None:
        if self._best_dirty:
            levels = self.levels
            self._best = (max(levels) if self._descending else min(levels)) if levels else None
            self._best_dirty = False
        return self._best

    def sorted_arrays(self) -> tuple[FloatArray, FloatArray]:
        if self._sorted is None:
            levels = self.levels
            prices = np.fromiter(levels.keys(), dtype=np.float64, count=len(levels))
            sizes = np.fromiter(levels.values(), dtype=np.float64, count=len(levels))
            order = np.argsort(prices, kind="stable")
            if self._descending:
                order = order[::-1]
            prices, sizes = prices[order], sizes[order]
            prices.setflags(write=False)
            sizes.setflags(write=False)
            self._sorted = (prices, sizes)
        return self._sorted

    def copy_into(self, other: _Side) -> None:
        other.levels = dict(self.levels)
        other._best = self._best
        other._best_dirty = self._best_dirty
        other._sorted = self._sorted  # read-only arrays: safe to share


def _rows(levels: FloatArray | list[list[float]]) -> list[list[float]]:
    return levels.tolist() if isinstance(levels, np.ndarray) else levels


class OrderBook:
    """A symbol's price levels, bids and asks. Not thread-safe: one writer (the sync), readers take a :meth:`copy`.

    ``last_update_id`` is the venue's id of the last update applied (Binance ``u``, Bybit ``u``); ``updated_ms``
    the venue's event time of that update (epoch ms), 0 for an empty book.
    """

    __slots__ = ("_asks", "_bids", "last_update_id", "symbol", "updated_ms")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids = _Side(descending=True)
        self._asks = _Side(descending=False)
        self.last_update_id = 0
        self.updated_ms = 0

    # -- writing (the sync) ------------------------------------------------------------------------------------
    def load(self, bids: FloatArray | list[list[float]], asks: FloatArray | list[list[float]],
             last_update_id: int, updated_ms: int) -> None:
        """Replace the whole book by a snapshot's levels (``(n, 2)`` price, size; sizes of 0 are left out)."""
        self._bids.clear()
        self._asks.clear()
        self.apply(bids, asks, last_update_id, updated_ms)

    def apply(self, bids: FloatArray | list[list[float]], asks: FloatArray | list[list[float]],
              last_update_id: int, updated_ms: int) -> None:
        """Apply one diff: each ``(price, size)`` sets that level, a size of 0 removes it."""
        self._bids.update(_rows(bids))
        self._asks.update(_rows(asks))
        self.last_update_id = last_update_id
        self.updated_ms = updated_ms

    def clear(self) -> None:
        """Empty the book (both sides), ids back to 0."""
        self._bids.clear()
        self._asks.clear()
        self.last_update_id = 0
        self.updated_ms = 0

    # -- reading -----------------------------------------------------------------------------------------------
    def best_bid(self) -> float | None:
        """The highest bid price, ``None`` when there are no bids."""
        return self._bids.best()

    def best_ask(self) -> float | None:
        """The lowest ask price, ``None`` when there are no asks."""
        return self._asks.best()

    def mid(self) -> float | None:
        """``(best bid + best ask) / 2``; ``None`` unless both sides have levels."""
        bid, ask = self._bids.best(), self._asks.best()
        if bid is None or ask is None:
            return None
        return (bid + ask) / 2.0

    def crossed(self) -> bool:
        """True when the best bid is at or above the best ask: a book that must never be served."""
        bid, ask = self._bids.best(), self._asks.best()
        return bid is not None and ask is not None and bid >= ask

    def levels(self, side: BookSide, max_levels: int | None = None) -> tuple[FloatArray, FloatArray]:
        """``(prices, sizes)`` of one side, best first: ``"bid"`` descending, ``"ask"`` ascending; at most
        ``max_levels``. The arrays are read-only and shared until the side changes."""
        book_side = self._side(side)
        prices, sizes = book_side.sorted_arrays()
        if max_levels is not None:
            if max_levels < 0:
                raise ValueError(f"max_levels must be >= 0, not {max_levels}")
            return prices[:max_levels], sizes[:max_levels]
        return prices, sizes

    def size_at(self, side: BookSide, price: float) -> float:
        """The size at ``price`` on ``side`` (0.0 when there is no such level)."""
        return self._side(side).levels.get(price, 0.0)

    def depth(self, side: BookSide) -> int:
        """How many levels ``side`` holds."""
        return len(self._side(side).levels)

    def copy(self) -> OrderBook:
        """An independent copy (for a reader on another thread)."""
        other = OrderBook(self.symbol)
        self._bids.copy_into(other._bids)
        self._asks.copy_into(other._asks)
        other.last_update_id = self.last_update_id
        other.updated_ms = self.updated_ms
        return other

    def is_valid(self) -> bool:
        """Every price and size finite and > 0 and the book not crossed (a check for tests and the sync)."""
        for book_side in (self._bids, self._asks):
            for price, size in book_side.levels.items():
                if not (price > 0.0 and size > 0.0 and math.isfinite(price) and math.isfinite(size)):
                    return False
        return not self.crossed()

    def _side(self, side: BookSide) -> _Side:
        if side == "bid":
            return self._bids
        if side == "ask":
            return self._asks
        raise ValueError(f"side must be one of {_SIDES}, not {side!r}")

    def __repr__(self) -> str:
        return (f"OrderBook({self.symbol!r}, bids={len(self._bids.levels)}, asks={len(self._asks.levels)}, "
                f"best_bid={self.best_bid()}, best_ask={self.best_ask()}, last_update_id={self.last_update_id})")
