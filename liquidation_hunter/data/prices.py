"""Price series for a backtest: time-sorted price points per symbol, read from trade or kline CSV files.

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

Files (plain, ``.gz``, or a ``.zip`` holding one CSV; a folder: every ``.csv``, ``.csv.gz`` and ``.zip`` in it),
one reader per kind, recognised from the header (or, without one, from the number of columns, as Binance's
public data files come):

* **trades** - one point per trade, at the trade time:

  - the recorder's columns ``T`` (trade time, ms), ``s`` (symbol), ``p`` (price), ... as in
    ``data/binance/aggtrades_large.csv``;
  - Binance public data ``aggTrades`` (``agg_trade_id, price, quantity, first_trade_id, last_trade_id,
    transact_time, is_buyer_maker``) and ``trades`` (``id, price, qty, quote_qty, time, is_buyer_maker``);

* **klines** - Binance's archive format (``open_time, open, high, low, close, volume, close_time,
  quote_volume, count, taker_buy_volume, taker_buy_quote_volume, ignore``, with or without that header, as
  ``data/binance/klines/``): one point per bar (above). A bar must have ``low <= open, close <= high`` and
  ``open_time <= close_time``.

A symbol comes from the ``s``/``symbol`` column, else from the file name as Binance names its files
(``BTCUSDT-1m-2025-01-27.csv``, ``BTCUSDT-aggTrades-2025-01-27.zip``), else from ``symbol=``. Times are
epoch milliseconds (microsecond stamps, as Binance's spot files use from 2025, are converted); a time outside
2019..2100, a price that is not a positive finite number or a row too short is an error naming the file and
the line. Points of one symbol are sorted by time; equal times keep the file's order (the last one wins).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import itertools
import math
import os
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from live_heatmap import to_unified
from live_heatmap.common.symbols import symbol_key

__all__ = ["PriceFileError", "PricePath", "PriceSeries", "PriceSource", "load_prices"]

MIN_MS = 1_546_300_800_000  # 2019-01-01
MAX_MS = 4_102_444_800_000  # 2100-01-01
_US_FROM = MIN_MS * 1000  # stamps at least this large are microseconds
_SUFFIXES = (".csv", ".csv.gz", ".zip")

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Bars = tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray]
"""times, prices (trade price or close), opens, lows, highs; a trades-only series shares one array for the last four."""


class PriceFileError(ValueError):
    """A price file that cannot be read; the message names the file (and the line)."""


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


# ---------------------------------------------------------------------- files


def load_prices(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
                symbol: str | None = None) -> PriceSeries:
    """Read one or more price files or folders (module docstring) into one :class:`PriceSeries`.

    A path may be given as ``SYMBOL=path`` to name the symbol of a file that has no symbol column. Files may mix
    kinds and symbols. Raises :class:`PriceFileError` (a ``ValueError``) naming the file and line of the first
    problem.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if not paths:
        raise PriceFileError("no price file given")
    series: PriceSeries | None = None
    for item in paths:
        text = os.fspath(item)
        named = symbol
        head, sep, tail = text.partition("=")
        if sep and not Path(text).exists() and head and "/" not in head and os.sep not in head:
            named, text = head, tail
        for path in _files(Path(text)):
            one = _load_one(path, symbol=named)
            series = one if series is None else series.merged(one)
    assert series is not None
    return series


def _files(path: Path) -> list[Path]:
    """``path``, or the price files of the folder ``path`` (by name), none of them in a sub-folder."""
    if not path.is_dir():
        return [path]
    found = sorted(p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(_SUFFIXES))
    if not found:
        raise PriceFileError(f"{path}: a folder with no price file (.csv, .csv.gz or .zip)")
    return found


def _load_one(path: Path, *, symbol: str | None) -> PriceSeries:
    where = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PriceFileError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise PriceFileError(f"{where}: is a folder, not a file") from None
    except OSError as exc:
        raise PriceFileError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    digest = hashlib.sha256(raw).hexdigest()
    text = _decompress(raw, path)
    rows = csv.reader(io.StringIO(text))
    first = next(rows, None)
    while first is not None and not any(c.strip() for c in first):
        first = next(rows, None)
    if first is None:
        raise PriceFileError(f"{where}: empty (no price rows)")
    header = None if _is_number(first[0]) else [c.strip() for c in first]
    layout = _layout(header, len(first), where)
    fixed = symbol or (None if layout.symbol is not None else _symbol_from_name(path))
    if layout.symbol is None and fixed is None:
        raise PriceFileError(f"{where}: no symbol column and none in the file name; name the file like "
                             "BTCUSDT-1m-2025-01-27.csv or give it as BTCUSDT=" + where)
    if fixed is not None:
        fixed = symbol_key(fixed)
    points: list[tuple[str, int, float]] = []
    bars: list[tuple[str, int, float, float, float, float]] = []
    line = 1 if header is not None else 0
    body: Iterator[list[str]] = rows if header is not None else itertools.chain([first], rows)
    for row in body:
        line += 1
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) < layout.width:
            raise PriceFileError(f"{where}:{line}: expected {layout.width} columns, got {len(row)}")
        sym = fixed if fixed is not None else row[layout.symbol].strip().upper()  # type: ignore[index]
        if not sym:
            raise PriceFileError(f"{where}:{line}: empty symbol")
        if layout.kind == "klines":
            bars.append(_kline(row, layout, sym, where, line))
        else:
            points.append((sym, _time(row[layout.time], where, line), _price(row[layout.price], where, line)))
    if not points and not bars:
        raise PriceFileError(f"{where}: no price rows")
    source = [PriceSource(path.name, digest, layout.kind, len(points) + len(bars))]
    try:
        if bars:
            return PriceSeries.from_bars(bars, sources=source)
        return PriceSeries.from_points(points, sources=source)
    except ValueError as exc:
        raise PriceFileError(f"{where}: {exc}") from None


def _decompress(raw: bytes, path: Path) -> str:
    where = str(path)
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        elif raw[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
                if len(members) != 1:
                    raise PriceFileError(f"{where}: expected one .csv in the archive, found {len(members)}")
                raw = archive.read(members[0])
        return raw.decode("utf-8-sig")
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise PriceFileError(f"{where}: a broken archive ({exc})") from None
    except UnicodeDecodeError as exc:
        raise PriceFileError(f"{where}: not UTF-8 text (byte {exc.start})") from None


@dataclass(frozen=True, slots=True)
class _Layout:
    kind: str
    time: int
    price: int
    symbol: int | None
    width: int
    kline: tuple[int, int, int, int, int, int | None] = (0, 0, 0, 0, 0, None)
    """open_time, open, high, low, close, close_time (None: the next bar's open - 1 is unknown; see below)."""


def _layout(header: list[str] | None, width: int, where: str) -> _Layout:
    if header is None:
        if width == 7:  # aggTrades: agg_trade_id, price, quantity, first_id, last_id, transact_time, maker
            return _Layout("aggTrades", 5, 1, None, 7)
        if width == 6:  # trades: id, price, qty, quote_qty, time, is_buyer_maker
            return _Layout("binance-trades", 4, 1, None, 6)
        if width in (11, 12):  # klines: open_time, open, high, low, close, volume, close_time, ...
            return _Layout("klines", 0, 4, None, 7, (0, 1, 2, 3, 4, 6))
        raise PriceFileError(f"{where}: no header and {width} columns: not a Binance trades (6), aggTrades (7) "
                             "or klines (12) file")
    exact = {name: i for i, name in enumerate(header)}
    lower = {name.lower(): i for i, name in enumerate(header)}

    def col(*names: str) -> int | None:
        for name in names:
            if name in exact:
                return exact[name]
            if len(name) > 1 and name.lower() in lower:
                return lower[name.lower()]
        return None

    symbol = col("s", "symbol")
    if col("open_time") is not None and col("close") is not None:
        found = [col(n) for n in ("open_time", "open", "high", "low", "close")]
        cols = [c for c in found if c is not None]
        if len(cols) != len(found):
            raise PriceFileError(f"{where}: a klines header needs open_time, open, high, low and close")
        o_t, o, h, lo, c = cols
        close_time = col("close_time")
        width = max(*cols, close_time or 0, symbol or 0) + 1
        return _Layout("klines", o_t, c, symbol, width, (o_t, o, h, lo, c, close_time))
    time = col("T", "transact_time", "time", "timestamp")
    price = col("p", "price")
    if time is None or price is None:
        raise PriceFileError(f"{where}: unknown columns {header[:8]}: expected trades (T or time, p or price) or "
                             "klines (open_time, open, high, low, close, close_time)")
    kind = "trades" if "T" in exact else "aggTrades" if "transact_time" in lower else "binance-trades"
    return _Layout(kind, time, price, symbol, max(time, price, symbol or 0) + 1)


def _kline(row: list[str], layout: _Layout, symbol: str, where: str,
           line: int) -> tuple[str, int, float, float, float, float]:
    """One bar: ``(symbol, close_time, open, high, low, close)``."""
    o_t, o, h, lo, c, c_t = layout.kline
    opened = _time(row[o_t], where, line)
    if c_t is None:
        raise PriceFileError(f"{where}: klines without a close_time column cannot be placed in time")
    closed = _time(row[c_t], where, line)
    if closed < opened:
        raise PriceFileError(f"{where}:{line}: close_time {closed} is before open_time {opened}")
    open_, high, low, close = (_price(row[i], where, line) for i in (o, h, lo, c))
    if not low <= min(open_, close) <= max(open_, close) <= high:
        raise PriceFileError(f"{where}:{line}: open {open_} and close {close} must lie within low {low} and "
                             f"high {high}")
    return symbol, closed, open_, high, low, close


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _time(text: str, where: str, line: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not number.is_integer():
            raise PriceFileError(f"{where}:{line}: time: expected epoch milliseconds, got {text!r}") from None
        value = int(number)
    if value >= _US_FROM:
        value //= 1000
    if not MIN_MS <= value < MAX_MS:
        raise PriceFileError(f"{where}:{line}: time: expected epoch milliseconds in 2019..2100, got {text!r}")
    return value


def _price(text: str, where: str, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise PriceFileError(f"{where}:{line}: price: expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0.0):
        raise PriceFileError(f"{where}:{line}: price: expected a positive finite number, got {text!r}")
    return value


def _symbol_from_name(path: Path) -> str | None:
    """``BTCUSDT`` from ``BTCUSDT-1m-2025-01-27.csv`` (Binance's public data names), or None."""

    token = path.name.split(".")[0].split("-")[0].upper()
    try:
        to_unified(token)
    except ValueError:
        return None
    return token
