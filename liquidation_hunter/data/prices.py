"""Price series for a backtest: time-sorted price points per symbol, read from trade or kline CSV files.

A backtest sets each symbol's price to its latest point at or before the simulated moment, as the live bot
takes the latest mark price. Files (plain, ``.gz``, or a ``.zip`` holding one CSV), recognised from the header
(or, without one, from the number of columns, as Binance's public data files come):

* **trades** - one point per trade, at the trade time:

  - the recorder's columns ``T`` (trade time, ms), ``s`` (symbol), ``p`` (price), ... as in
    ``data/binance/aggtrades_large.csv``;
  - Binance public data ``aggTrades`` (``agg_trade_id, price, quantity, first_trade_id, last_trade_id,
    transact_time, is_buyer_maker``) and ``trades`` (``id, price, qty, quote_qty, time, is_buyer_maker``);

* **klines** (``open_time, open, high, low, close, volume, close_time, ...``), per ``kline_path``:

  - ``"close"``: one point per bar, the close at ``close_time`` (the moment it is known);
  - ``"ohlc"`` (default): four points inside the bar, so stops and take-profits can meet the bar's
    extremes: the open at ``open_time``, then the low and the high (low first in a bar that closed at or
    above its open, high first otherwise: the usual O-L-H-C / O-H-L-C assumption, since a bar does not say
    which came first) a third and two thirds of the way through, and the close at ``close_time``.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from live_heatmap import to_unified
from live_heatmap.common.symbols import symbol_key

__all__ = ["KlinePath", "PriceFileError", "PriceSeries", "PriceSource", "load_prices"]

KlinePath = Literal["ohlc", "close"]
MIN_MS = 1_546_300_800_000  # 2019-01-01
MAX_MS = 4_102_444_800_000  # 2100-01-01
_US_FROM = MIN_MS * 1000  # stamps at least this large are microseconds

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class PriceFileError(ValueError):
    """A price file that cannot be read; the message names the file (and the line)."""


@dataclass(frozen=True, slots=True)
class PriceSource:
    """One file a series was read from."""

    name: str
    """The file's name (without its folder, so a report does not depend on where the file sits)."""
    sha256: str
    format: str
    """``trades``, ``aggTrades``, ``binance-trades`` or ``klines-<path>``."""
    points: int


class PriceSeries:
    """Price points per symbol (Binance id, ``BTCUSDT``), each sorted by time. Immutable once built."""

    __slots__ = ("_series", "sources")

    def __init__(self, series: Mapping[str, tuple[Sequence[int] | IntArray, Sequence[float] | FloatArray]],
                 *, sources: Sequence[PriceSource] = ()) -> None:
        built: dict[str, tuple[IntArray, FloatArray]] = {}
        for symbol in sorted(series, key=symbol_key):
            times, prices = series[symbol]
            t = np.asarray(times, dtype=np.int64)
            p = np.asarray(prices, dtype=np.float64)
            if t.shape != p.shape or t.ndim != 1:
                raise ValueError(f"prices of {symbol}: times and prices must be two sequences of one length")
            if not len(t):
                continue
            if not np.all(np.isfinite(p) & (p > 0)):
                raise ValueError(f"prices of {symbol}: every price must be a positive finite number")
            order = np.argsort(t, kind="stable")
            key = symbol_key(symbol)
            if key in built:
                raise ValueError(f"prices of {symbol}: the symbol is given twice")
            built[key] = (t[order], p[order])
        self._series = built
        self.sources = tuple(sources)

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

    # ------------------------------------------------------------------ reading

    @property
    def symbols(self) -> tuple[str, ...]:
        """Binance ids with at least one point, sorted."""
        return tuple(self._series)

    def __contains__(self, symbol: object) -> bool:
        return isinstance(symbol, str) and symbol_key(symbol) in self._series

    def __len__(self) -> int:
        return sum(len(t) for t, _ in self._series.values())

    def count(self, symbol: str) -> int:
        entry = self._series.get(symbol_key(symbol))
        return 0 if entry is None else len(entry[0])

    def times(self, symbol: str) -> IntArray:
        return self._series[symbol_key(symbol)][0]

    def prices(self, symbol: str) -> FloatArray:
        return self._series[symbol_key(symbol)][1]

    def price_at(self, symbol: str, at_ms: int) -> float | None:
        """The latest price at or before ``at_ms``, or None."""
        entry = self._series.get(symbol_key(symbol))
        if entry is None:
            return None
        i = int(np.searchsorted(entry[0], at_ms, side="right")) - 1
        return None if i < 0 else float(entry[1][i])

    @property
    def first_ms(self) -> int | None:
        return min((int(t[0]) for t, _ in self._series.values()), default=None)

    @property
    def last_ms(self) -> int | None:
        return max((int(t[-1]) for t, _ in self._series.values()), default=None)

    # ------------------------------------------------------------------ deriving

    def window(self, start_ms: int | None = None, end_ms: int | None = None) -> PriceSeries:
        """The points with ``start_ms <= time < end_ms`` (None: unbounded)."""
        if start_ms is None and end_ms is None:
            return self
        out: dict[str, tuple[IntArray, FloatArray]] = {}
        for symbol, (t, p) in self._series.items():
            lo = 0 if start_ms is None else int(np.searchsorted(t, start_ms, side="left"))
            hi = len(t) if end_ms is None else int(np.searchsorted(t, end_ms, side="left"))
            if hi > lo:
                out[symbol] = (t[lo:hi], p[lo:hi])
        return PriceSeries(out, sources=self.sources)

    def only(self, symbols: Iterable[str]) -> PriceSeries:
        """The series of ``symbols`` (either form) alone."""
        wanted = {symbol_key(s) for s in symbols}
        return PriceSeries({s: v for s, v in self._series.items() if s in wanted}, sources=self.sources)

    def merged(self, other: PriceSeries) -> PriceSeries:
        """Both series' points (a symbol in both: its points merged by time, this one's first at equal times)."""
        out: dict[str, tuple[IntArray, FloatArray]] = dict(self._series)
        for symbol, (times, values) in other._series.items():
            t0, p0 = out.get(symbol, (times[:0], values[:0]))
            out[symbol] = (np.concatenate([t0, times]), np.concatenate([p0, values]))
        return PriceSeries(out, sources=(*self.sources, *other.sources))

    def digest(self) -> str:
        """SHA-256 of the points (symbols, times and prices), whatever files they came from."""
        h = hashlib.sha256()
        for symbol, (t, p) in self._series.items():
            h.update(symbol.encode())
            h.update(np.ascontiguousarray(t, dtype="<i8").tobytes())
            h.update(np.ascontiguousarray(p, dtype="<f8").tobytes())
        return h.hexdigest()

    def __repr__(self) -> str:
        return f"PriceSeries({', '.join(f'{s}: {len(t)}' for s, (t, _) in self._series.items())})"


# ---------------------------------------------------------------------- files


def load_prices(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
                kline_path: KlinePath = "ohlc", symbol: str | None = None) -> PriceSeries:
    """Read one or more price files (module docstring) into one :class:`PriceSeries`.

    A path may be given as ``SYMBOL=path`` to name the symbol of a file that has no symbol column.
    Raises :class:`PriceFileError` (a ``ValueError``) naming the file and line of the first problem.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if kline_path not in ("ohlc", "close"):
        raise ValueError(f"kline_path: expected 'ohlc' or 'close', got {kline_path!r}")
    if not paths:
        raise PriceFileError("no price file given")
    series: PriceSeries | None = None
    for item in paths:
        text = os.fspath(item)
        named = symbol
        head, sep, tail = text.partition("=")
        if sep and not Path(text).exists() and head and "/" not in head and os.sep not in head:
            named, text = head, tail
        one = _load_one(Path(text), kline_path=kline_path, symbol=named)
        series = one if series is None else series.merged(one)
    assert series is not None
    return series


def _load_one(path: Path, *, kline_path: KlinePath, symbol: str | None) -> PriceSeries:
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
            points += _kline_points(row, layout, sym, where, line, path=kline_path)
        else:
            points.append((sym, _time(row[layout.time], where, line), _price(row[layout.price], where, line)))
    if not points:
        raise PriceFileError(f"{where}: no price rows")
    fmt = layout.kind if layout.kind != "klines" else f"klines-{kline_path}"
    try:
        return PriceSeries.from_points(points, sources=[PriceSource(path.name, digest, fmt, len(points))])
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


def _kline_points(row: list[str], layout: _Layout, symbol: str, where: str, line: int, *,
                  path: KlinePath) -> list[tuple[str, int, float]]:
    o_t, o, h, lo, c, c_t = layout.kline
    opened = _time(row[o_t], where, line)
    if c_t is None:
        raise PriceFileError(f"{where}: klines without a close_time column cannot be placed in time")
    closed = _time(row[c_t], where, line)
    if closed < opened:
        raise PriceFileError(f"{where}:{line}: close_time {closed} is before open_time {opened}")
    close = _price(row[c], where, line)
    if path == "close":
        return [(symbol, closed, close)]
    open_, high, low = (_price(row[i], where, line) for i in (o, h, lo))
    if not low <= min(open_, close) <= max(open_, close) <= high:
        raise PriceFileError(f"{where}:{line}: open {open_} and close {close} must lie within low {low} and "
                             f"high {high}")
    first, second = (low, high) if close >= open_ else (high, low)
    span = closed - opened
    return [(symbol, opened, open_), (symbol, opened + span // 3, first), (symbol, opened + 2 * span // 3, second),
            (symbol, closed, close)]


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
