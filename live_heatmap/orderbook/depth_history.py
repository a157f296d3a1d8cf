"""Depth over time, cheaply: a book's notional per log-price bin, sampled at the caller's interval and kept as
RUNS, so memory grows with changes, not with samples.

* The price grid is global: bin ``i`` holds the prices in ``[(1 + bin_width) ** i, (1 + bin_width) ** (i + 1))``
  (:func:`bin_of`, :func:`bin_price`), so two samples, two symbols' histories and a recorded file agree on it.
* :func:`bin_notional` -- one side of a book within ``+-range_fraction`` of the mid: the sorted bins and their
  quote notional (``sum(price * size)`` of the levels in the bin).
* :class:`DepthHistory` -- ``sample(book, at_ms)`` compares each bin with its open run: a run goes on while the
  bin's notional stays within ``change`` (relative) of the run's size; a larger change closes it and opens a new
  one, a bin that empties (or leaves the range) closes it. A run holds ``start_ms <= t < end_ms`` once closed;
  an open run holds up to and including its ``end_ms`` (the last sample). ``close(at_ms)`` ends every open run
  (the book went away: a gap is not drawn as depth). Runs live in growable numpy arrays (struct of arrays,
  17 bytes a run: times as int32 ms after an origin), grown by half when full and compacted in place by
  ``prune``, so a history pruned at a fixed retention stays at a flat size. The origin moves forward when a
  sample would be 24.8 days after it: runs closed over ~12 days before that sample are pruned then.
* ``grid(...)`` rebuilds a time x price notional matrix (:class:`DepthGrid`) for drawing; ``runs_between`` gives
  the runs closed in a time range (each run once, for recording); ``from_runs`` rebuilds a history from
  recorded runs.

Pure: numpy only, time passed in, no I/O. The book is anything with ``symbol``, ``mid()`` and
``levels(side)`` (:class:`BookView`; :class:`~live_heatmap.orderbook.book.OrderBook` is one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["BookView", "DepthGrid", "DepthHistory", "DepthRuns", "bin_notional", "bin_of", "bin_price"]

BookSide = Literal["bid", "ask"]
SIDES: tuple[BookSide, BookSide] = ("bid", "ask")
"""Side codes in the run arrays: 0 bid, 1 ask."""

FloatArray = npt.NDArray[np.float64]
_SPAN_MS = 2**31 - 1
"""The largest time after the origin an int32 holds (24.8 days)."""
IntArray = npt.NDArray[np.int64]


class BookView(Protocol):
    """What sampling reads of a book (:class:`~live_heatmap.orderbook.book.OrderBook` has it)."""

    @property
    def symbol(self) -> str: ...

    def mid(self) -> float | None: ...

    def levels(self, side: str, max_levels: int | None = None) -> tuple[FloatArray, FloatArray]: ...


def _check_bin_width(bin_width: float) -> float:
    if not (math.isfinite(bin_width) and 0 < bin_width < 1):
        raise ValueError(f"bin_width must be in (0, 1), got {bin_width!r}")
    return math.log1p(bin_width)


def bin_of(prices: npt.ArrayLike, bin_width: float) -> IntArray:
    """The global bin of each price (positive prices)."""
    step = _check_bin_width(bin_width)
    # The tiny nudge keeps a price on a bin's lower edge in that bin despite rounding in log().
    return np.floor(np.log(np.asarray(prices, dtype=np.float64)) / step + 1e-9).astype(np.int64)


def bin_price(bins: npt.ArrayLike, bin_width: float) -> FloatArray:
    """The lower edge of each bin: ``(1 + bin_width) ** bin``."""
    step = _check_bin_width(bin_width)
    return np.exp(np.asarray(bins, dtype=np.float64) * step)


def book_mid(book: BookView) -> float | None:
    """The book's mid when it is a positive finite number, else None."""
    mid = book.mid()
    if mid is None or not (math.isfinite(mid) and mid > 0):
        return None
    return float(mid)


def bin_notional(book: BookView, side: BookSide, mid: float, range_fraction: float,
                 bin_width: float) -> tuple[IntArray, FloatArray, FloatArray]:
    """One side of ``book`` within ``+-range_fraction`` of ``mid``: the sorted non-empty bins, their quote notional
    and their notional-weighted mean price."""
    prices, sizes = book.levels(side)
    prices = np.asarray(prices, dtype=np.float64)
    sizes = np.asarray(sizes, dtype=np.float64)
    low, high = mid * (1 - range_fraction), mid * (1 + range_fraction)
    keep = (prices >= low) & (prices <= high) & (sizes > 0)
    prices, sizes = prices[keep], sizes[keep]
    if prices.size == 0:
        empty = np.empty(0)
        return np.empty(0, dtype=np.int64), empty, empty
    bins = bin_of(prices, bin_width)
    notional = prices * sizes
    first = int(bins.min())
    offset = bins - first
    total: FloatArray = np.asarray(np.bincount(offset, weights=notional), dtype=np.float64)
    weighted: FloatArray = np.asarray(np.bincount(offset, weights=notional * prices), dtype=np.float64)
    present = np.flatnonzero(total > 0)
    found: IntArray = present.astype(np.int64) + first
    return found, total[present], weighted[present] / total[present]


@dataclass(frozen=True, slots=True)
class DepthGrid:
    """A time x price matrix of notional for drawing: ``bid[t, p]`` / ``ask[t, p]`` is the quote notional of bin
    ``p`` (lower edge ``prices[p]``, width ``bin_width``) at ``times[t]``; 0 where the history holds nothing."""

    times: IntArray
    prices: FloatArray
    bid: npt.NDArray[np.float32]
    ask: npt.NDArray[np.float32]
    bin_width: float


@dataclass(frozen=True, slots=True)
class DepthRuns:
    """Runs as parallel arrays (one row a run): ``side`` 0 bid / 1 ask, ``size`` quote notional; ``open`` runs
    hold up to and including ``end_ms``, closed ones up to it."""

    bins: npt.NDArray[np.int32]
    side: npt.NDArray[np.int8]
    start_ms: IntArray
    end_ms: IntArray
    size: npt.NDArray[np.float32]
    open: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.bins.size)


class _Open:
    """One side's open runs, sorted by bin: the bin, the run's size (the change reference) and its row."""

    __slots__ = ("bins", "rows", "size")

    def __init__(self) -> None:
        self.bins: IntArray = np.empty(0, dtype=np.int64)
        self.size: FloatArray = np.empty(0)
        self.rows: IntArray = np.empty(0, dtype=np.int64)


class DepthHistory:
    """A symbol's depth over time as runs (module docstring)."""

    def __init__(self, symbol: str, bin_width: float = 0.0005, change: float = 0.05,
                 range_fraction: float = 0.05, capacity: int = 4096) -> None:
        _check_bin_width(bin_width)
        if not (math.isfinite(change) and change >= 0):
            raise ValueError(f"change must be a non-negative number, got {change!r}")
        if not (math.isfinite(range_fraction) and 0 < range_fraction < 1):
            raise ValueError(f"range_fraction must be in (0, 1), got {range_fraction!r}")
        self.symbol = symbol
        self.bin_width = bin_width
        self.change = change
        self.range_fraction = range_fraction
        self.samples = 0
        """Samples taken (book given and with a mid)."""
        self.last_sample_ms: int | None = None
        self._n = 0
        capacity = max(16, capacity)
        self._bin = np.empty(capacity, dtype=np.int32)
        self._side = np.empty(capacity, dtype=np.int8)
        # Times are int32 ms after _origin (the first sample; moved forward by _rebase): 17 bytes a run, not 25.
        self._origin = 0
        self._start = np.empty(capacity, dtype=np.int32)
        self._end = np.empty(capacity, dtype=np.int32)
        self._size = np.empty(capacity, dtype=np.float32)
        self._open = (_Open(), _Open())

    # -- size ---------------------------------------------------------------------------------------------
    @property
    def runs(self) -> int:
        """Runs held (open and closed)."""
        return self._n

    @property
    def open_runs(self) -> int:
        return int(sum(o.bins.size for o in self._open))

    def nbytes(self) -> int:
        """Bytes held by the run arrays (their capacity, not just the rows in use) and the open-run index."""
        arrays = (self._bin, self._side, self._start, self._end, self._size)
        return int(sum(a.nbytes for a in arrays) + sum(o.bins.nbytes + o.size.nbytes + o.rows.nbytes
                                                         for o in self._open))

    # -- writing ------------------------------------------------------------------------------------------
    def _grow(self, extra: int) -> None:
        need = self._n + extra
        if need <= self._bin.size:
            return
        capacity = max(need, self._bin.size + self._bin.size // 2)
        for name in ("_bin", "_side", "_start", "_end", "_size"):
            old = getattr(self, name)
            new = np.empty(capacity, dtype=old.dtype)
            new[:self._n] = old[:self._n]
            setattr(self, name, new)

    def _append(self, bins: IntArray, side: int, start_ms: int, end_ms: int, size: FloatArray) -> IntArray:
        self._grow(bins.size)
        rows = np.arange(self._n, self._n + bins.size, dtype=np.int64)
        self._bin[rows] = bins
        self._side[rows] = side
        self._start[rows] = start_ms - self._origin
        self._end[rows] = end_ms - self._origin
        self._size[rows] = size
        self._n += bins.size
        return rows

    def _check_time(self, at_ms: int) -> None:
        if self.last_sample_ms is not None and at_ms < self.last_sample_ms:
            raise ValueError(f"{self.symbol}: sample at {at_ms} before the last one ({self.last_sample_ms})")
        if self.last_sample_ms is None and self._n == 0:
            self._origin = at_ms
        elif at_ms - self._origin > _SPAN_MS:
            self._rebase(at_ms)

    def _rebase(self, at_ms: int) -> None:
        """Move the time origin to half the int32 span before ``at_ms``: closed runs ended before it are pruned,
        open runs that started before it start there (a history never prunes for ~12 days otherwise)."""
        origin = at_ms - _SPAN_MS // 2
        self.prune(origin)
        n, shift = self._n, origin - self._origin
        start = self._start[:n].astype(np.int64) - shift
        self._start[:n] = np.maximum(start, 0)
        self._end[:n] = np.maximum(self._end[:n].astype(np.int64) - shift, 0)
        self._origin = origin

    def sample(self, book: BookView, at_ms: int) -> bool:
        """Sample ``book`` at ``at_ms`` (not before the last sample). A book without a mid closes the open runs
        (as :meth:`close`) and counts no sample; returns whether a sample was taken."""
        self._check_time(at_ms)
        mid = book_mid(book)
        if mid is None:
            self.close(at_ms)
            return False
        for code, side in enumerate(SIDES):
            bins, notional, _ = bin_notional(book, side, mid, self.range_fraction, self.bin_width)
            self._update_side(code, bins, notional, at_ms)
        self.samples += 1
        self.last_sample_ms = at_ms
        return True

    def _update_side(self, code: int, bins: IntArray, notional: FloatArray, at_ms: int) -> None:
        state = self._open[code]
        old_bins = state.bins
        # Where each new bin sits among the open ones, and which open bins are still present.
        where = np.searchsorted(old_bins, bins)
        clipped = np.minimum(where, max(old_bins.size - 1, 0))
        matched = (where < old_bins.size) & (old_bins[clipped] == bins) if old_bins.size else np.zeros(bins.size, bool)
        ref = np.where(matched, state.size[clipped] if old_bins.size else 0.0, 0.0)
        changed = matched & (np.abs(notional - ref) > self.change * ref)
        kept = matched & ~changed
        # Closed: open bins gone from this sample, and bins whose notional moved beyond the threshold.
        still = np.zeros(old_bins.size, dtype=bool)
        still[clipped[kept]] = True
        closing = state.rows[~still]
        self._end[closing] = at_ms - self._origin
        # Kept runs reach this sample; new runs start at it.
        kept_rows = state.rows[clipped[kept]]
        self._end[kept_rows] = at_ms - self._origin
        fresh = ~kept
        new_rows = self._append(bins[fresh], code, at_ms, at_ms, notional[fresh])
        rows = np.empty(bins.size, dtype=np.int64)
        rows[kept] = kept_rows
        rows[fresh] = new_rows
        size = np.where(kept, ref, notional)
        state.bins, state.size, state.rows = bins.copy(), size, rows

    def close(self, at_ms: int) -> None:
        """End every open run at ``at_ms`` (the book went away or resyncs): nothing is drawn after it."""
        self._check_time(at_ms)
        for state in self._open:
            self._end[state.rows] = at_ms - self._origin
            state.bins, state.size, state.rows = np.empty(0, dtype=np.int64), np.empty(0), np.empty(0, np.int64)
        self.last_sample_ms = at_ms

    def prune(self, before_ms: int) -> int:
        """Drop the closed runs that ended at or before ``before_ms``, compacting in place (the capacity stays);
        returns how many were dropped."""
        n = self._n
        is_open = np.zeros(n, dtype=bool)
        for state in self._open:
            is_open[state.rows] = True
        keep = is_open | (self._end[:n] > np.clip(before_ms - self._origin, -_SPAN_MS - 1, _SPAN_MS))
        dropped = int(n - keep.sum())
        if dropped == 0:
            return 0
        new_index = np.cumsum(keep) - 1
        for name in ("_bin", "_side", "_start", "_end", "_size"):
            arr = getattr(self, name)
            arr[:n - dropped] = arr[:n][keep]
        for state in self._open:
            state.rows = new_index[state.rows]
        self._n = n - dropped
        return dropped

    # -- reading ------------------------------------------------------------------------------------------
    def _is_open(self) -> npt.NDArray[np.bool_]:
        is_open = np.zeros(self._n, dtype=bool)
        for state in self._open:
            is_open[state.rows] = True
        return is_open

    def all_runs(self) -> DepthRuns:
        """Every run held (copies)."""
        n = self._n
        return DepthRuns(self._bin[:n].copy(), self._side[:n].copy(), self._start[:n].astype(np.int64) + self._origin,
                         self._end[:n].astype(np.int64) + self._origin, self._size[:n].copy(), self._is_open())

    def runs_between(self, start_ms: int, end_ms: int) -> DepthRuns:
        """The runs CLOSED in ``[start_ms, end_ms)``, in row order: called with consecutive ranges, each run comes
        once (a recorder's batches; :meth:`close` before the last one to include the open runs)."""
        runs = self.all_runs()
        pick = ~runs.open & (runs.end_ms >= start_ms) & (runs.end_ms < end_ms)
        return _take(runs, pick)

    @classmethod
    def from_runs(cls, symbol: str, runs: DepthRuns, bin_width: float = 0.0005, change: float = 0.05,
                  range_fraction: float = 0.05) -> DepthHistory:
        """A history holding ``runs`` (recorded ones: all closed) for grids of a replay or a backtest."""
        history = cls(symbol, bin_width, change, range_fraction, capacity=len(runs))
        order = np.lexsort((runs.start_ms, runs.side))
        n = len(runs)
        history._bin[:n] = runs.bins[order]
        history._side[:n] = runs.side[order]
        if n:
            history._origin = int(runs.start_ms.min())
            if int(runs.end_ms.max()) - history._origin > _SPAN_MS:
                raise ValueError(f"{symbol}: runs over more than {_SPAN_MS // 86_400_000} days: load less at once")
        history._start[:n] = runs.start_ms[order] - history._origin
        history._end[:n] = runs.end_ms[order] - history._origin
        history._size[:n] = runs.size[order]
        history._n = n
        if len(runs):
            history.last_sample_ms = int(runs.end_ms.max())
        return history

    def grid(self, start_ms: int, end_ms: int, step_ms: int, price_low: float | None = None,
             price_high: float | None = None) -> DepthGrid:
        """Notional per bin at ``start_ms, start_ms + step_ms, ...`` up to ``end_ms`` (inclusive), for the bins
        from ``price_low`` to ``price_high`` (default: every bin a run in the time range touches)."""
        if step_ms <= 0 or end_ms < start_ms:
            raise ValueError(f"grid: need step_ms > 0 and end_ms >= start_ms, got {start_ms}, {end_ms}, {step_ms}")
        times = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        runs = self.all_runs()
        touch = (runs.start_ms <= end_ms) & ((runs.end_ms > start_ms) | (runs.open & (runs.end_ms >= start_ms)))
        runs = _take(runs, touch)
        bins = runs.bins.astype(np.int64)
        if price_low is not None:
            low_bin = int(bin_of([price_low], self.bin_width)[0])
        else:
            low_bin = int(bins.min()) if bins.size else 0
        if price_high is not None:
            high_bin = int(bin_of([price_high], self.bin_width)[0])
        else:
            high_bin = int(bins.max()) if bins.size else -1
        width = max(high_bin - low_bin + 1, 0)
        prices = bin_price(np.arange(low_bin, low_bin + width), self.bin_width)
        t = times.size
        # Time index range of each run: first grid time >= start, last grid time < end (<= end when open).
        first = np.clip(-((start_ms - runs.start_ms) // step_ms), 0, t)
        stop_closed = -((start_ms - runs.end_ms) // step_ms)
        stop_open = (runs.end_ms - start_ms) // step_ms + 1
        stop = np.clip(np.where(runs.open, stop_open, stop_closed), 0, t)
        inside = (bins >= low_bin) & (bins < low_bin + width) & (stop > first)
        out = []
        for code in (0, 1):
            pick = inside & (runs.side == code)
            diff = np.zeros((t + 1, width), dtype=np.float64)
            column = bins[pick] - low_bin
            size = runs.size[pick].astype(np.float64)
            np.add.at(diff, (first[pick], column), size)
            np.add.at(diff, (stop[pick], column), -size)
            matrix = np.cumsum(diff[:t], axis=0)
            matrix[np.abs(matrix) < 1e-6 * (np.abs(matrix).max() if matrix.size else 0)] = 0.0
            out.append(np.maximum(matrix, 0.0).astype(np.float32))
        return DepthGrid(times, prices, out[0], out[1], self.bin_width)


def _take(runs: DepthRuns, pick: npt.NDArray[np.bool_]) -> DepthRuns:
    return DepthRuns(runs.bins[pick], runs.side[pick], runs.start_ms[pick], runs.end_ms[pick], runs.size[pick],
                     runs.open[pick])
