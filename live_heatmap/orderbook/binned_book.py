"""Books rebuilt from recorded depth runs (issue 15): what a replay of the depth a bot recorded samples.

A bot records its liquidity layer as runs of notional per log-price bin (``live_heatmap.store.depth_runs``), not
the book itself. :func:`binned_books` turns a :class:`~live_heatmap.orderbook.depth_history.DepthGrid` of those
runs back into one :class:`BinnedBook` per grid time: a level per non-empty bin, priced in the middle of the bin
(so binning it again at the same width lands in the same bin) with the bin's notional as its quote size. Sampled
into a :class:`~live_heatmap.orderbook.layer.LiquidityLayer` of the same bin width, such a book gives the same
bins, and so the same walls, as the recorded ones, at the recording's interval. The mid is halfway between the
best bid bin's middle and the best ask bin's (the same bin when the touch lies inside one), a bin's width at
most from the real one; a time with no bin on a
side has no mid (the layer then ends its runs there: a gap in the recording, never an invented book).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from live_heatmap.orderbook.depth_history import DepthGrid

__all__ = ["BinnedBook", "binned_books"]

FloatArray = npt.NDArray[np.float64]


class BinnedBook:
    """A read-only book of one symbol at one moment made of bins (the ``BookView`` sampling reads)."""

    __slots__ = ("_ask_prices", "_ask_sizes", "_bid_prices", "_bid_sizes", "symbol")

    def __init__(self, symbol: str, centers: FloatArray, bid_notional: npt.ArrayLike,
                 ask_notional: npt.ArrayLike) -> None:
        self.symbol = symbol
        bid = np.asarray(bid_notional, dtype=np.float64)
        ask = np.asarray(ask_notional, dtype=np.float64)
        bids, asks = np.flatnonzero(bid > 0)[::-1], np.flatnonzero(ask > 0)  # best first, as OrderBook.levels
        self._bid_prices = centers[bids]
        self._bid_sizes = bid[bids] / self._bid_prices
        self._ask_prices = centers[asks]
        self._ask_sizes = ask[asks] / self._ask_prices

    def mid(self) -> float | None:
        """Halfway between the best bid and ask bins' middles (the same bin when the touch is inside one); None when
        a side is empty or the bid's bin is above the ask's."""
        if not (self._bid_prices.size and self._ask_prices.size):
            return None
        best_bid, best_ask = float(self._bid_prices[0]), float(self._ask_prices[0])
        return (best_bid + best_ask) / 2.0 if best_bid <= best_ask else None

    def levels(self, side: str, max_levels: int | None = None) -> tuple[FloatArray, FloatArray]:
        """(prices, base sizes) of ``side`` (``bid`` descending, ``ask`` ascending), as OrderBook.levels."""
        if side == "bid":
            prices, sizes = self._bid_prices, self._bid_sizes
        elif side == "ask":
            prices, sizes = self._ask_prices, self._ask_sizes
        else:
            raise ValueError(f"side must be 'bid' or 'ask', got {side!r}")
        return prices[:max_levels].copy(), sizes[:max_levels].copy()


def binned_books(grid: DepthGrid, symbol: str) -> Iterator[tuple[int, BinnedBook]]:
    """(time, book) for each time of ``grid`` (module docstring)."""
    centers = grid.prices * (1.0 + grid.bin_width / 2.0)
    for row, at_ms in enumerate(grid.times.tolist()):
        yield int(at_ms), BinnedBook(symbol, centers, grid.bid[row], grid.ask[row])
