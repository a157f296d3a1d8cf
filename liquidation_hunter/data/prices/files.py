"""Price files: the one reader of trade and kline CSV files, :func:`load_prices`, into a
:class:`~liquidation_hunter.data.prices.series.PriceSeries`.

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
  ``data/binance/klines/``): one point per bar, at its ``close_time``, its price the close and its range the
  bar's open, low and high, read without look-ahead (:mod:`liquidation_hunter.data.prices.series`). A bar must
  have ``low <= open, close <= high`` and ``open_time <= close_time``.

A symbol comes from the ``s``/``symbol`` column, else from the file name as Binance names its files
(``BTCUSDT-1m-2025-01-27.csv``, ``BTCUSDT-aggTrades-2025-01-27.zip``), else from ``symbol=``. Times are
epoch milliseconds (microsecond stamps, as Binance's spot files use from 2025, are converted); a time outside
2019..2100, a price that is not a positive finite number or a row too short is an error naming the file and
the line. Points of one symbol are sorted by time; equal times keep the file's order (the last one wins).
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from liquidation_hunter.data.archive_text import csv_text
from liquidation_hunter.data.prices.series import PriceSeries, PriceSource
from live_heatmap import to_unified
from live_heatmap.common.symbols import symbol_key

__all__ = ["KlineBars", "PriceFileError", "load_kline_bars", "load_prices"]

MIN_MS = 1_546_300_800_000  # 2019-01-01
MAX_MS = 4_102_444_800_000  # 2100-01-01
_US_FROM = MIN_MS * 1000  # stamps at least this large are microseconds
_SUFFIXES = (".csv", ".csv.gz", ".zip")


class PriceFileError(ValueError):
    """A price file that cannot be read; the message names the file (and the line)."""


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


def _read_text(path: Path) -> tuple[bytes, str]:
    """The file's bytes and its text (plain, gzip or zip); one-line errors naming it."""
    where = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PriceFileError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise PriceFileError(f"{where}: is a folder, not a file") from None
    except OSError as exc:
        raise PriceFileError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    return raw, csv_text(raw, where, PriceFileError)


def _load_one(path: Path, *, symbol: str | None) -> PriceSeries:
    where = str(path)
    raw, text = _read_text(path)
    digest = hashlib.sha256(raw).hexdigest()
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


_VOLUMES = ("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume")
_VOLUME_COLUMNS = (5, 7, 9, 10)
"""Where a headerless Binance klines file keeps them."""


@dataclass(frozen=True, slots=True)
class KlineBars:
    """One symbol's klines (or markPriceKlines) as columns in time order, with the volumes a price series drops:
    ``volume`` and ``taker_buy_volume`` in the base asset, ``quote_volume`` and ``taker_buy_quote_volume`` in the
    quote asset (mark price klines carry zeros there). A bar repeated across files keeps the last one read."""

    symbol: str
    open_time: npt.NDArray[np.int64]
    close_time: npt.NDArray[np.int64]
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]
    volume: npt.NDArray[np.float64]
    quote_volume: npt.NDArray[np.float64]
    taker_buy_volume: npt.NDArray[np.float64]
    taker_buy_quote_volume: npt.NDArray[np.float64]


def load_kline_bars(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
                    symbol: str | None = None) -> KlineBars:
    """Read klines files or folders of one symbol (the files :func:`load_prices` reads as klines, with the same
    checks and errors) into :class:`KlineBars`, volumes included. Any other kind of file is a
    :class:`PriceFileError`."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    bars: dict[int, tuple[float, ...]] = {}
    symbols: set[str] = set()
    for item in paths:
        for path in _files(Path(item)):
            where = str(path)
            _, text = _read_text(path)
            rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
            if not rows:
                raise PriceFileError(f"{where}: empty (no price rows)")
            header = None if _is_number(rows[0][0]) else [c.strip() for c in rows[0]]
            layout = _layout(header, len(rows[0]), where)
            if layout.kind != "klines":
                raise PriceFileError(f"{where}: a {layout.kind} file, not klines")
            lower = [c.lower() for c in header] if header is not None else None
            volumes = _VOLUME_COLUMNS if lower is None else tuple(
                lower.index(n) if n in lower else -1 for n in _VOLUMES)
            if min(volumes) < 0:
                raise PriceFileError(f"{where}: a klines header without {', '.join(_VOLUMES)}")
            named = symbol or _symbol_from_name(path) or ""
            first = 1 if header is not None else 0
            for line, row in enumerate(rows[first:], start=first + 1):
                if len(row) <= max(layout.width - 1, *volumes):
                    raise PriceFileError(f"{where}:{line}: expected {max(layout.width, max(volumes) + 1)} columns, "
                                         f"got {len(row)}")
                sym = row[layout.symbol].strip().upper() if layout.symbol is not None else named
                _, closed, open_, high, low, close = _kline(row, layout, sym, where, line)
                opened = _time(row[layout.kline[0]], where, line)
                symbols.add(symbol_key(sym) if sym else "")
                bars[opened] = (closed, open_, high, low, close, *(_volume(row[i], where, line) for i in volumes))
    if not bars:
        raise PriceFileError(f"{', '.join(map(str, paths))}: no klines")
    if len(symbols) > 1 or "" in symbols:
        raise PriceFileError(f"{', '.join(map(str, paths))}: klines of {', '.join(sorted(symbols)) or 'no symbol'}: "
                             "read one named symbol at a time")
    opens = np.array(sorted(bars), dtype=np.int64)
    table = np.array([bars[t] for t in opens.tolist()], dtype=np.float64)
    return KlineBars(symbols.pop(), opens, table[:, 0].astype(np.int64), *(table[:, i] for i in range(1, 9)))


def _volume(text: str, where: str, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise PriceFileError(f"{where}:{line}: volume: expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0.0):
        raise PriceFileError(f"{where}:{line}: volume: expected a finite number >= 0, got {text!r}")
    return value


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
