"""Price series: time-sorted price points per symbol, the values the backtest and the bot read prices from.

A point is a moment and a price, plus the range the price went through to get there (``open``, ``low``,
``high``): a trade is its own range (``open == low == high == price``); a kline is one point at its
``close_time`` whose price is the close and whose range is the bar's open, low and high.

Two readings, both without look-ahead (a bar's high, low and close are known only once it has closed):

* **the price at t** (signals, entries, the equity): the latest point at or before ``t``: the last trade, or
  the close of the last bar closed by ``t``. A bar still open at ``t`` is not used, so a kline price lags by up
  to a bar (a 1-minute bar's close is at most 60 s old: the backtest's bot sees no price younger).
* **the path between two exit checks** (:meth:`PriceSeries.path`): the first point's open, the lowest low and
  the highest high of the points after the last check up to the check: every trade, or each closed bar's
  wick, so a stop or a take-profit the price touched in between is not missed
  (:meth:`liquidation_hunter.trading.paper.PaperBroker.on_price_paths`).

Points of one symbol are sorted by time; equal times keep the given order (the last one wins). The files these
points are read from: :mod:`liquidation_hunter.data.prices.files`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from live_heatmap.common.symbols import symbol_key

__all__ = ["PricePath", "PriceSeries", "PriceSource"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Bars = tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray]
"""times, prices (trade price or close), opens, lows, highs; a trades-only series shares one array for the last four."""


@dataclass(frozen=True, slots=True)
class PriceSource:
    """One file a series was read from."""

    name: str
    """The file's name (without its folder, so a report does not depend on where the file sits)."""
    sha256: str
    format: str
    """``trades``, ``aggTrades``, ``binance-trades`` or ``klines``."""
    points: int


@dataclass(frozen=True, slots=True)
class PricePath:
    """What the price went through between two exit checks: it started at ``first``, reached ``low`` and
    ``high`` (in an order one bar does not tell), and is ``last`` now. One price ``p`` is ``PricePath.at(p)``.

    ``points``: the ``(opens, lows, highs)`` of the points the path is made of (a trade: its price three
    times), in time order, so :meth:`reached_at` can tell where a level was first reached; None: unknown."""

    first: float
    low: float
    high: float
    last: float
    points: tuple[Sequence[float] | FloatArray, Sequence[float] | FloatArray,
                  Sequence[float] | FloatArray] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def at(cls, price: float) -> PricePath:
        return cls(price, price, price, price)

    def reached_at(self, level: float, direction: int) -> float:
        """The price the path stood at when it first reached ``level`` going against a position of
        ``direction`` (+1: down to it, -1: up to it): the open of the first point whose low (high) is at or
        beyond it, i.e. a trade's own price, or the open of the first bar that reached it (a bar that opened
        beyond the level gapped through it). Without points: ``first``."""
        if self.points is None:
            return self.first
        opens, lows, highs = self.points
        adverse = np.asarray(lows if direction > 0 else highs, dtype=np.float64)
        hit = direction * (adverse - level) <= 0.0
        i = int(np.argmax(hit))
        return float(opens[i]) if len(hit) and hit[i] else self.first


class PriceSeries:
    """Price points per symbol (Binance id, ``BTCUSDT``), each sorted by time (module docstring). Immutable.

    ``series`` maps a symbol to ``(times, prices)`` (trades: each point its own range) or to ``(times, prices,
    opens, lows, highs)`` (bars: ``prices`` are the closes, at the close times).
    """

    __slots__ = ("_series", "sources")

    def __init__(self, series: Mapping[str, Sequence[Sequence[int] | Sequence[float] | IntArray | FloatArray]],
                 *, sources: Sequence[PriceSource] = ()) -> None:
        built: dict[str, Bars] = {}
        for symbol in sorted(series, key=symbol_key):
            columns = series[symbol]
            if len(columns) not in (2, 5):
                raise ValueError(f"prices of {symbol}: expected (times, prices) or (times, prices, opens, lows, "
                                 "highs)")
            t = np.asarray(columns[0], dtype=np.int64)
            values = [np.asarray(c, dtype=np.float64) for c in columns[1:]]
            if t.ndim != 1 or any(v.shape != t.shape for v in values):
                raise ValueError(f"prices of {symbol}: times and prices must be sequences of one length")
            if not len(t):
                continue
            if not all(np.all(np.isfinite(v) & (v > 0)) for v in values):
                raise ValueError(f"prices of {symbol}: every price must be a positive finite number")
            order = np.argsort(t, kind="stable")
            key = symbol_key(symbol)
            if key in built:
                raise ValueError(f"prices of {symbol}: the symbol is given twice")
            if len(values) == 1:
                p = values[0][order]
                built[key] = (t[order], p, p, p, p)
            else:
                p, o, lo, hi = (v[order] for v in values)
                if not np.all((lo <= np.minimum(o, p)) & (np.maximum(o, p) <= hi)):
                    raise ValueError(f"prices of {symbol}: each bar's open and close must lie within its low and "
                                     "high")
                built[key] = (t[order], p, o, lo, hi)
        self._series = built
        self.sources = tuple(sources)

    @classmethod
    def _of(cls, built: Mapping[str, Bars], sources: Sequence[PriceSource]) -> PriceSeries:
        """A series of columns already checked and sorted (no copy)."""
        out = cls.__new__(cls)
        out._series = dict(sorted(built.items()))
        out.sources = tuple(sources)
        return out

    @classmethod
    def from_points(cls, points: Iterable[tuple[str, int, float]], *,
                    sources: Sequence[PriceSource] = ()) -> PriceSeries:
        """From ``(symbol, time_ms, price)`` triples in any order."""
        series: dict[str, tuple[list[int], list[float]]] = {}
        for symbol, at, price in points:
            times, values = series.setdefault(symbol_key(symbol), ([], []))
            times.append(int(at))
            values.append(float(price))
        return cls(series, sources=sources)

    @classmethod
    def from_bars(cls, bars: Iterable[tuple[str, int, float, float, float, float]], *,
                  sources: Sequence[PriceSource] = ()) -> PriceSeries:
        """From ``(symbol, close_time_ms, open, high, low, close)`` in any order."""
        series: dict[str, tuple[list[int], list[float], list[float], list[float], list[float]]] = {}
        for symbol, at, open_, high, low, close in bars:
            t, c, o, lo, hi = series.setdefault(symbol_key(symbol), ([], [], [], [], []))
            t.append(int(at))
            c.append(float(close))
            o.append(float(open_))
            lo.append(float(low))
            hi.append(float(high))
        return cls(series, sources=sources)

    # ------------------------------------------------------------------ reading

    @property
    def symbols(self) -> tuple[str, ...]:
        """Binance ids with at least one point, sorted."""
        return tuple(self._series)

    def __contains__(self, symbol: object) -> bool:
        return isinstance(symbol, str) and symbol_key(symbol) in self._series

    def __len__(self) -> int:
        return sum(len(b[0]) for b in self._series.values())

    def count(self, symbol: str) -> int:
        entry = self._series.get(symbol_key(symbol))
        return 0 if entry is None else len(entry[0])

    def times(self, symbol: str) -> IntArray:
        return self._series[symbol_key(symbol)][0]

    def prices(self, symbol: str) -> FloatArray:
        """The price of each point: the trade's, or the bar's close."""
        return self._series[symbol_key(symbol)][1]

    def bars(self, symbol: str) -> Bars:
        """``(times, prices, opens, lows, highs)`` of ``symbol`` (trades: the last four are one array)."""
        return self._series[symbol_key(symbol)]

    def has_ranges(self, symbol: str) -> bool:
        """True when some point of ``symbol`` is a bar (its low and high are not its price)."""
        _, p, _, lo, hi = self._series[symbol_key(symbol)]
        return lo is not p or hi is not p

    def price_at(self, symbol: str, at_ms: int) -> float | None:
        """The latest price at or before ``at_ms`` (a bar's close once closed), or None."""
        entry = self._series.get(symbol_key(symbol))
        if entry is None:
            return None
        i = int(np.searchsorted(entry[0], at_ms, side="right")) - 1
        return None if i < 0 else float(entry[1][i])

    def path(self, symbol: str, after_ms: int, upto_ms: int) -> PricePath | None:
        """The path of the points with ``after_ms < time <= upto_ms`` (module docstring), or None if there is none."""
        entry = self._series.get(symbol_key(symbol))
        if entry is None:
            return None
        t, p, o, lo, hi = entry
        a, b = (int(i) for i in np.searchsorted(t, [after_ms, upto_ms], side="right"))
        if b <= a:
            return None
        return PricePath(float(o[a]), float(lo[a:b].min()), float(hi[a:b].max()), float(p[b - 1]),
                         (o[a:b], lo[a:b], hi[a:b]))

    @property
    def first_ms(self) -> int | None:
        return min((int(b[0][0]) for b in self._series.values()), default=None)

    @property
    def last_ms(self) -> int | None:
        return max((int(b[0][-1]) for b in self._series.values()), default=None)

    # ------------------------------------------------------------------ deriving

    def window(self, start_ms: int | None = None, end_ms: int | None = None) -> PriceSeries:
        """The points with ``start_ms <= time < end_ms`` (None: unbounded)."""
        if start_ms is None and end_ms is None:
            return self
        out: dict[str, Bars] = {}
        for symbol, bars in self._series.items():
            t = bars[0]
            lo = 0 if start_ms is None else int(np.searchsorted(t, start_ms, side="left"))
            hi = len(t) if end_ms is None else int(np.searchsorted(t, end_ms, side="left"))
            if hi > lo:
                out[symbol] = _slice(bars, lo, hi)
        return PriceSeries._of(out, self.sources)

    def only(self, symbols: Iterable[str]) -> PriceSeries:
        """The series of ``symbols`` (either form) alone."""
        wanted = {symbol_key(s) for s in symbols}
        return PriceSeries._of({s: v for s, v in self._series.items() if s in wanted}, self.sources)

    def merged(self, other: PriceSeries) -> PriceSeries:
        """Both series' points (a symbol in both: its points merged by time, this one's first at equal times)."""
        out: dict[str, Bars] = dict(self._series)
        for symbol, bars in other._series.items():
            mine = out.get(symbol)
            if mine is None:
                out[symbol] = bars
                continue
            t = np.concatenate([mine[0], bars[0]])
            order = np.argsort(t, kind="stable")
            p = np.concatenate([mine[1], bars[1]])[order]
            if not (self.has_ranges(symbol) or other.has_ranges(symbol)):
                out[symbol] = (t[order], p, p, p, p)
            else:
                o, lo, hi = (np.concatenate([mine[i], bars[i]])[order] for i in (2, 3, 4))
                out[symbol] = (t[order], p, o, lo, hi)
        return PriceSeries._of(out, (*self.sources, *other.sources))

    def digest(self) -> str:
        """SHA-256 of the points (symbols, times, prices, and the bars' ranges), whatever files they came from."""
        h = hashlib.sha256()
        for symbol, (t, p, o, lo, hi) in self._series.items():
            h.update(symbol.encode())
            h.update(np.ascontiguousarray(t, dtype="<i8").tobytes())
            for column in (p, o, lo, hi) if lo is not p or hi is not p else (p,):
                h.update(np.ascontiguousarray(column, dtype="<f8").tobytes())
        return h.hexdigest()

    def __repr__(self) -> str:
        return f"PriceSeries({', '.join(f'{s}: {len(b[0])}' for s, b in self._series.items())})"


def _slice(bars: Bars, lo: int, hi: int) -> Bars:
    t, p, o, low, high = bars
    ps = p[lo:hi]
    if low is p and high is p:
        return (t[lo:hi], ps, ps, ps, ps)
    return (t[lo:hi], ps, o[lo:hi], low[lo:hi], high[lo:hi])
