"""Open interest history: the one reader of Binance's archive ``metrics`` files, :func:`load_open_interest`.

A ``metrics`` file (``<S>-metrics-YYYY-MM-DD.zip`` holding one CSV, or the CSV itself) has one row per 5 minutes,
288 a full day::

    create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,
    sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio
    2024-01-01 00:05:00,BTCUSDT,70069.371,2978395232.5,1.49,1.36,1.67,0.87

``create_time`` is UTC (``YYYY-MM-DD HH:MM:SS``; epoch milliseconds are read too), ``sum_open_interest`` in the
base asset, ``sum_open_interest_value`` in the quote asset; the four ratios may be empty (NaN). Rows are sorted by
time, a time repeated across files keeps the last one read, and every step between two rows longer than
``max_gap_ms`` (10 minutes) is reported in :attr:`OpenInterestHistory.gaps` rather than filled. A row that cannot
be read is a :class:`MetricsFileError` naming the file and line. Files are read as given (a folder: every
``.csv`` and ``.zip`` in it, as ``fetch-history`` keeps them).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from liquidation_hunter.data.archive_text import csv_text
from live_heatmap.common.symbols import symbol_key

__all__ = ["METRICS_COLUMNS", "MetricsFileError", "OpenInterestGap", "OpenInterestHistory", "load_open_interest",
           "open_interest_history"]

METRICS_COLUMNS = ("create_time", "symbol", "sum_open_interest", "sum_open_interest_value",
                   "count_toptrader_long_short_ratio", "sum_toptrader_long_short_ratio", "count_long_short_ratio",
                   "sum_taker_long_short_vol_ratio")
STEP_MS = 300_000
MAX_GAP_MS = 600_000
_RATIOS = METRICS_COLUMNS[4:]


class MetricsFileError(ValueError):
    """A metrics file that cannot be read; the message names the file (and the line)."""


@dataclass(frozen=True, slots=True)
class OpenInterestGap:
    """No row between ``after_ms`` and ``before_ms`` (two consecutive rows more than the allowed step apart)."""

    after_ms: int
    before_ms: int

    @property
    def minutes(self) -> float:
        return (self.before_ms - self.after_ms) / 60_000


@dataclass(frozen=True, slots=True)
class OpenInterestHistory:
    """One symbol's open interest rows in time order (equal-length arrays) and the gaps found between them."""

    symbol: str
    time_ms: npt.NDArray[np.int64]
    open_interest: npt.NDArray[np.float64]
    """``sum_open_interest``: contracts in the base asset."""
    open_interest_value: npt.NDArray[np.float64]
    """``sum_open_interest_value``: in the quote asset."""
    ratios: dict[str, npt.NDArray[np.float64]]
    """The four long/short ratio columns by their archive names (NaN where empty)."""
    gaps: tuple[OpenInterestGap, ...]

    def rows_per_day(self) -> dict[str, int]:
        """Rows per UTC day (``YYYY-MM-DD``); 288 is a full day of 5-minute rows."""
        days = (self.time_ms // 86_400_000).astype("datetime64[D]")
        found, counts = np.unique(days, return_counts=True)
        return {str(d): int(c) for d, c in zip(found, counts, strict=True)}


def load_open_interest(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
                       max_gap_ms: int = MAX_GAP_MS) -> OpenInterestHistory:
    """Read metrics files or folders of one symbol (module docstring) into an :class:`OpenInterestHistory`."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    rows: dict[int, tuple[float, ...]] = {}
    symbols: set[str] = set()
    for item in paths:
        for path in _files(Path(item)):
            for stamp, symbol, values in _read(path):
                symbols.add(symbol)
                rows[stamp] = values
    if not rows:
        raise MetricsFileError(f"{', '.join(map(str, paths))}: no open interest rows")
    if len(symbols) > 1:
        raise MetricsFileError(f"{', '.join(map(str, paths))}: rows of several symbols ({', '.join(sorted(symbols))}"
                               "); read one symbol at a time")
    times = np.array(sorted(rows), dtype=np.int64)
    table = np.array([rows[t] for t in times.tolist()], dtype=np.float64)
    return open_interest_history(symbols.pop(), times, table, max_gap_ms=max_gap_ms)


def open_interest_history(symbol: str, times: npt.NDArray[np.int64], table: npt.NDArray[np.float64], *,
                          max_gap_ms: int = MAX_GAP_MS) -> OpenInterestHistory:
    """An :class:`OpenInterestHistory` from rows in time order (no time twice): ``table``'s columns are
    ``sum_open_interest``, ``sum_open_interest_value`` and the four ratios, in the archive's order; the gaps
    over ``max_gap_ms`` found between them."""
    steps = np.diff(times)
    gaps = tuple(OpenInterestGap(int(times[i]), int(times[i + 1])) for i in np.flatnonzero(steps > max_gap_ms))
    return OpenInterestHistory(symbol=symbol, time_ms=times, open_interest=table[:, 0],
                               open_interest_value=table[:, 1],
                               ratios={name: table[:, 2 + i] for i, name in enumerate(_RATIOS)}, gaps=gaps)


def _files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    found = sorted(p for p in path.iterdir() if p.is_file() and p.name.lower().endswith((".csv", ".zip")))
    if not found:
        raise MetricsFileError(f"{path}: a folder with no metrics file (.csv or .zip)")
    return found


def _text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise MetricsFileError(f"{path}: no such file") from None
    return csv_text(raw, str(path), MetricsFileError)


def _read(path: Path) -> list[tuple[int, str, tuple[float, ...]]]:
    reader = csv.reader(io.StringIO(_text(path)))
    header = [c.strip() for c in next(reader, [])]
    missing = [c for c in METRICS_COLUMNS[:4] if c not in header]
    if missing:
        raise MetricsFileError(f"{path}: not a metrics file: no column {', '.join(missing)} (header {header[:8]})")
    col = {name: header.index(name) if name in header else None for name in METRICS_COLUMNS}
    out: list[tuple[int, str, tuple[float, ...]]] = []
    for line, row in enumerate(reader, start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) < len(header):
            raise MetricsFileError(f"{path}:{line}: expected {len(header)} columns, got {len(row)}")
        stamp = _time(row[col["create_time"] or 0], path, line)
        symbol = symbol_key(row[col["symbol"] or 0].strip())
        oi = _number(row[col["sum_open_interest"] or 0], "sum_open_interest", path, line)
        value = _number(row[col["sum_open_interest_value"] or 0], "sum_open_interest_value", path, line)
        ratios = tuple(_ratio(row, col[name], name, path, line) for name in _RATIOS)
        out.append((stamp, symbol, (oi, value, *ratios)))
    return out


def _time(text: str, path: Path, line: int) -> int:
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise MetricsFileError(f"{path}:{line}: create_time: expected YYYY-MM-DD HH:MM:SS, got {text!r}") from None
    return int(moment.timestamp() * 1000)


def _number(text: str, name: str, path: Path, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise MetricsFileError(f"{path}:{line}: {name}: expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0.0):
        raise MetricsFileError(f"{path}:{line}: {name}: expected a finite number >= 0, got {text!r}")
    return value


def _ratio(row: list[str], index: int | None, name: str, path: Path, line: int) -> float:
    if index is None or not row[index].strip():
        return math.nan
    return _number(row[index], name, path, line)
