"""Model bars from fetched history: the one place that joins klines, mark price klines and open interest into the
:class:`~live_heatmap.estimated.bars.Bar` s the estimated-levels model takes, :func:`load_history_bars`.

It reads what ``liquidation-hunter fetch-history`` keeps under its root (``var/history/binance`` by default)::

    klines/<S>/<I>/*.zip  markPriceKlines/<S>/<I>/*.zip  metrics/<S>/*.zip

through the project's readers (:func:`~liquidation_hunter.data.prices.load_kline_bars`,
:func:`~liquidation_hunter.data.open_interest.load_open_interest`). For each kline bar:

* ``mark_high``/``mark_low`` from the mark price kline with the same open time; when there is none (the
  folder is missing or has a hole), the trade high/low stand in and the bar is counted in ``trade_range_bars``;
* ``open_interest``: the latest metrics row at or before the bar's end (``close_time + 1``) and at most
  ``max_oi_age_ms`` (10 minutes) older; a bar without one is left out and counted in ``bars_without_oi``
  (the model then sees the next bar's OI change over the longer step, which it handles like any other).

No look-ahead: a bar takes nothing timed after its end.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from liquidation_hunter.data.history_parquet import (
    EXCHANGE,
    is_history_dataset,
    read_klines,
    read_open_interest,
    table_name,
)
from liquidation_hunter.data.open_interest import OpenInterestGap, OpenInterestHistory, load_open_interest
from liquidation_hunter.data.prices import KlineBars, PriceSeries, load_kline_bars
from live_heatmap.common.symbols import symbol_key
from live_heatmap.estimated.bars import Bar

__all__ = ["DEFAULT_HISTORY_DIR", "HistoryBars", "HistoryError", "has_history", "load_history_bars"]

DEFAULT_HISTORY_DIR = "var/history/binance"
"""Where ``fetch-history`` keeps the archive by default."""
MAX_OI_AGE_MS = 600_000


class HistoryError(ValueError):
    """Fetched history that cannot be made into bars; the message names the folder."""


@dataclass(frozen=True, slots=True)
class HistoryBars:
    """One symbol's bars in time order and what the join had to work around."""

    symbol: str
    interval: str
    bars: list[Bar]
    trade_range_bars: int
    """Bars whose mark high/low are the trade high/low (no mark price kline for them)."""
    bars_without_oi: int
    """Kline bars left out: no open interest row within 10 minutes before their end."""
    oi_gaps: tuple[OpenInterestGap, ...]
    prices: PriceSeries | None = None
    """The trade klines closing in the window asked for as a price series (each bar a point at its close time
    with its open, high, low and close; bars without open interest too): what a backtest fills at."""

    def notes(self) -> list[str]:
        """One line per thing the join worked around (empty when none)."""
        out = []
        if self.trade_range_bars:
            out.append(f"{self.trade_range_bars} of {len(self.bars)} bars use the trade high/low for the mark "
                       "(no mark price kline)")
        if self.bars_without_oi:
            out.append(f"{self.bars_without_oi} kline bars left out (no open interest within 10 minutes)")
        if self.oi_gaps:
            out.append(f"{len(self.oi_gaps)} gaps over 10 minutes in the open interest")
        return out


def load_history_bars(root: str | os.PathLike[str], symbol: str, *, interval: str = "5m",
                      start_ms: int | None = None, end_ms: int | None = None) -> HistoryBars:
    """The bars of ``symbol`` (``BTCUSDT`` or ``BTC/USDT:USDT``) under ``root`` (module docstring), those closing
    in ``[start_ms, end_ms]`` when given. Raises :class:`HistoryError` (a ``ValueError``) naming what is missing,
    and the readers' own errors for a file that cannot be read."""
    key = symbol_key(symbol)
    base = Path(root)
    if is_history_dataset(base):
        k, m, oi = _from_dataset(base, key, interval)
    else:
        k, m, oi = _from_archive(base, key, interval)
    mark_high = k.high.copy()
    mark_low = k.low.copy()
    from_mark = np.zeros(len(k.open_time), dtype=bool)
    if m is not None:
        index = np.searchsorted(m.open_time, k.open_time)
        found = (index < len(m.open_time)) & (m.open_time[np.minimum(index, len(m.open_time) - 1)] == k.open_time)
        mark_high[found] = m.high[index[found]]
        mark_low[found] = m.low[index[found]]
        from_mark = found
    ends = k.close_time + 1
    at = np.searchsorted(oi.time_ms, ends, side="right") - 1
    has_oi = at >= 0
    has_oi[has_oi] = ends[has_oi] - oi.time_ms[at[has_oi]] <= MAX_OI_AGE_MS
    keep = has_oi.copy()
    if start_ms is not None:
        keep &= k.close_time >= start_ms
    if end_ms is not None:
        keep &= k.close_time <= end_ms
    window = np.ones(len(keep), dtype=bool)
    if start_ms is not None:
        window &= k.close_time >= start_ms
    if end_ms is not None:
        window &= k.close_time <= end_ms
    bars = [Bar(int(k.open_time[i]), int(k.close_time[i]), float(max(mark_high[i], mark_low[i])),
                float(min(mark_high[i], mark_low[i])), float(k.close[i]), float(k.volume[i]),
                float(k.quote_volume[i]), float(k.taker_buy_volume[i]), float(k.taker_buy_quote_volume[i]),
                float(oi.open_interest[at[i]])) for i in np.flatnonzero(keep).tolist()]
    w = np.flatnonzero(window)
    prices = PriceSeries({key: (k.close_time[w], k.close[w], k.open[w], k.low[w], k.high[w])})
    return HistoryBars(symbol=key, interval=interval, bars=bars,
                       trade_range_bars=int((keep & ~from_mark).sum()),
                       bars_without_oi=int((window & ~has_oi).sum()), oi_gaps=oi.gaps, prices=prices)


def has_history(root: str | os.PathLike[str], symbol: str) -> bool:
    """Whether ``root`` (the zips of ``fetch-history`` or its Parquet, :mod:`.history_parquet`) holds klines or
    open interest of ``symbol`` (a heatmap key)."""
    base = Path(root)
    if is_history_dataset(base):
        return any((table / f"exchange={EXCHANGE}" / f"symbol={symbol}").is_dir() for table in base.iterdir())
    return (base / "klines" / symbol).is_dir() or (base / "metrics" / symbol).is_dir()


def _missing(folder: Path, need: str, key: str, interval: str) -> HistoryError:
    return HistoryError(f"{folder}: no {need} of {key} at {interval}; run `liquidation-hunter fetch-history "
                        f"{key} --from ... --to ...` first")


def _from_archive(base: Path, key: str, interval: str) -> tuple[KlineBars, KlineBars | None, OpenInterestHistory]:
    """Klines, mark price klines (None when missing) and open interest from the zips of ``fetch-history``."""
    klines_dir = base / "klines" / key / interval
    metrics_dir = base / "metrics" / key
    for need, folder in (("klines", klines_dir), ("metrics (open interest)", metrics_dir)):
        if not folder.is_dir() or not any(folder.iterdir()):
            raise _missing(folder, need, key, interval)
    mark_dir = base / "markPriceKlines" / key / interval
    marks = load_kline_bars(mark_dir, symbol=key) if mark_dir.is_dir() and any(mark_dir.iterdir()) else None
    return load_kline_bars(klines_dir, symbol=key), marks, load_open_interest(metrics_dir)


def _from_dataset(base: Path, key: str, interval: str) -> tuple[KlineBars, KlineBars | None, OpenInterestHistory]:
    """The same from the Parquet history (through DuckDB; the symbol's partitions only)."""
    klines = read_klines(base, "klines", key, interval=interval)
    if klines is None:
        raise _missing(base / table_name("klines", interval), "klines", key, interval)
    oi = read_open_interest(base, key)
    if oi is None:
        raise _missing(base / "metrics", "metrics (open interest)", key, interval)
    return klines, read_klines(base, "markPriceKlines", key, interval=interval), oi
