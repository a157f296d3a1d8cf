"""Fetched history (klines, mark price klines, open interest) as Parquet, read through DuckDB (issue 17).

``fetch-history ... --parquet DIR`` (:func:`export_history`) keeps, beside the verified zips, one dataset per
table under ``DIR``, each partitioned as the liquidations' dataset (:mod:`live_heatmap.store.parquet`: the same
layout walker, the same writer)::

    DIR/klines_<I>/exchange=binance/symbol=<S>/date=<YYYY-MM-DD>/data.parquet           (I: 5m, 1m, ...)
    DIR/markPriceKlines_<I>/exchange=binance/symbol=<S>/date=<YYYY-MM-DD>/data.parquet
    DIR/metrics/exchange=binance/symbol=<S>/date=<YYYY-MM-DD>/data.parquet

the date being the UTC day of a kline's open time (a metrics row's time). Klines hold ``open_time``,
``close_time`` (BIGINT, epoch ms), ``open``, ``high``, ``low``, ``close``, ``volume``, ``quote_volume``,
``taker_buy_volume``, ``taker_buy_quote_volume`` (DOUBLE); metrics hold ``time_ms`` and the archive's
``sum_open_interest``, ``sum_open_interest_value`` and four ratios (NaN where empty). Rows in time order.

Rows come from the project's readers of the zips (:func:`~liquidation_hunter.data.prices.load_kline_bars`,
:func:`~liquidation_hunter.data.open_interest.load_open_interest`), so the checks are theirs. Idempotent like the
events' export: a partition is merged with its file by time (a row already held is kept as it is); one that holds
every row given is not touched (no write, the same bytes and mtime), one that grew is rewritten whole to a hidden
file renamed over it. A second export of the same range writes nothing.

Reading (:func:`read_klines`, :func:`read_open_interest`): a directory laid out so (:func:`is_history_dataset`)
is what :func:`~liquidation_hunter.data.history_bars.load_history_bars` reads instead of the zips, so
``backtest --history DIR``, ``validate-estimated --history DIR`` and the estimated layer read Parquet with no
other change, and get the same bars. Only the symbol's folders (and the days up to the end asked for) are
listed; DuckDB reads their files in one query (all its days: the open interest's gaps are reported over the
whole history, as from the zips).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from liquidation_hunter.data.open_interest import (
    MAX_GAP_MS,
    METRICS_COLUMNS,
    OpenInterestHistory,
    load_open_interest,
    open_interest_history,
)
from liquidation_hunter.data.prices import KlineBars, load_kline_bars
from live_heatmap.common.errors import first_line
from live_heatmap.store.parquet import check_magic, connect, day_of, partition_files, write_partitions

__all__ = ["EXCHANGE", "HistoryExport", "dataset_symbols", "export_history", "is_history_dataset", "read_klines",
           "read_open_interest", "table_name"]

EXCHANGE = "binance"
"""The venue of ``fetch-history`` (Binance's public archive)."""
FILE_NAME = "data.parquet"
KLINE_COLUMNS = ("open_time", "close_time", "open", "high", "low", "close", "volume", "quote_volume",
                 "taker_buy_volume", "taker_buy_quote_volume")
OI_COLUMNS = ("time_ms", *METRICS_COLUMNS[2:])
_KLINE_KINDS = ("klines", "markPriceKlines")
_WHAT = "fetched history"
Columns = dict[str, npt.NDArray[Any]]


class HistoryExport(NamedTuple):
    """What :func:`export_history` did, over every table it wrote."""

    rows: int
    """Rows given (the range's)."""
    new: int
    """Rows the dataset did not hold before."""
    written: int
    """Partition files written."""
    unchanged: int
    """Partitions that held every row given: not touched."""


def table_name(kind: str, interval: str) -> str:
    """The table folder of ``kind`` (``klines``, ``markPriceKlines``, ``metrics``) at ``interval``."""
    return kind if kind == "metrics" else f"{kind}_{interval}"


def is_history_dataset(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` is laid out as this module's datasets (a table folder holding ``exchange=`` folders), by
    names only. The zips of ``fetch-history`` (``klines/<S>/``, ``metrics/<S>/``) are not."""
    base = Path(root)
    if not base.is_dir():
        return False
    prefixes = tuple(f"{k}_" for k in _KLINE_KINDS)
    return any(table.is_dir() and (table.name == "metrics" or table.name.startswith(prefixes))
               and any(child.name.startswith("exchange=") for child in table.iterdir()) for table in base.iterdir())


def dataset_symbols(root: str | os.PathLike[str]) -> list[str]:
    """The symbols with klines in the dataset at ``root`` (any interval), sorted."""
    found: set[str] = set()
    for table in Path(root).glob("klines_*"):
        folder = table / f"exchange={EXCHANGE}"
        if folder.is_dir():
            found.update(p.name.removeprefix("symbol=") for p in folder.iterdir() if p.name.startswith("symbol="))
    return sorted(found)


# ---------------------------------------------------------------------- writing


def _day_ms(day: str) -> int:
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)


def export_history(archive: str | os.PathLike[str], out: str | os.PathLike[str], symbol: str, *, interval: str = "5m",
                   kinds: Sequence[str] = ("metrics", "klines", "markPriceKlines"), first_day: str | None = None,
                   last_day: str | None = None) -> HistoryExport:
    """The zips ``fetch-history`` keeps under ``archive`` for ``symbol`` (a heatmap key such as ``BTCUSDT``) and
    ``kinds``, the rows of the UTC days ``first_day..last_day`` (``YYYY-MM-DD``, both included; None: every day),
    merged into the datasets under ``out`` (module docstring). A kind without a folder is skipped. Raises the
    readers' errors for a file that cannot be read, ``ValueError`` for an ``out`` that is a file."""
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise ValueError(f"{target}: not a directory (the Parquet history is a directory)")
    base = Path(archive)
    lo = None if first_day is None else _day_ms(first_day)
    hi = None if last_day is None else _day_ms(last_day) + 86_400_000
    totals = [0, 0, 0, 0]
    for kind in kinds:
        folder = base / kind / symbol if kind == "metrics" else base / kind / symbol / interval
        if not folder.is_dir() or not any(folder.iterdir()):
            continue
        columns: tuple[str, ...]
        if kind == "metrics":
            oi = load_open_interest(folder)
            table = {"time_ms": oi.time_ms, "sum_open_interest": oi.open_interest,
                     "sum_open_interest_value": oi.open_interest_value, **oi.ratios}
            key, columns = "time_ms", OI_COLUMNS
        else:
            k = load_kline_bars(folder, symbol=symbol)
            table = {name: getattr(k, name) for name in KLINE_COLUMNS}
            key, columns = "open_time", KLINE_COLUMNS
        times = table[key]
        keep = np.ones(len(times), dtype=bool)
        if lo is not None:
            keep &= times >= lo
        if hi is not None:
            keep &= times < hi
        done = _merge(target / table_name(kind, interval), symbol, {c: table[c][keep] for c in columns}, key, columns)
        totals = [a + b for a, b in zip(totals, done, strict=True)]
    return HistoryExport(*totals)


def _merge(root: Path, symbol: str, rows: Columns, key: str, columns: Sequence[str]) -> tuple[int, int, int, int]:
    """``rows`` merged into the table at ``root`` partition by partition: (rows, new, written, unchanged)."""
    days = np.array([day_of(int(t)) for t in rows[key].tolist()], dtype=object)
    wanted = sorted(set(days.tolist()))
    held: dict[str, Columns] = {}
    if wanted and root.is_dir() and any(root.iterdir()):
        days_wanted = set(wanted)
        keep = (lambda v: v == EXCHANGE, lambda v: v == symbol, days_wanted.__contains__)
        for _exchange, _symbol, day, path in partition_files(root, lambda depth, value: keep[depth](value),
                                                              what=_WHAT):
            held[day] = _read_files(root, [path], columns, key)
    changed: dict[tuple[str, str, str], Columns] = {}
    new = 0
    for day in wanted:
        mine = {c: rows[c][days == day] for c in columns}
        before = held.get(day)
        if before is not None:
            fresh = ~np.isin(mine[key], before[key])
            if not fresh.any():
                continue
            merged = {c: np.concatenate([before[c], mine[c][fresh]]) for c in columns}
        else:
            merged = mine
        order = np.argsort(merged[key], kind="stable")
        changed[(EXCHANGE, symbol, day)] = {c: merged[c][order] for c in columns}
        new += len(merged[key]) - (0 if before is None else len(before[key]))
    if changed:
        write_partitions(root, changed, columns, file_name=FILE_NAME)
    return len(rows[key]), new, len(changed), len(wanted) - len(changed)


# ---------------------------------------------------------------------- reading


def _read_files(root: Path, files: Sequence[Path], columns: Sequence[str], key: str) -> Columns:
    """The rows of ``files`` (one symbol's partition files) in ``key`` order, as columns."""
    for file in files:
        check_magic(file)
    import duckdb  # noqa: PLC0415 - lazy: duckdb (research only, off the bot's start path)

    sql = f"SELECT {', '.join(columns)} FROM read_parquet(?) ORDER BY {key}"
    try:
        with connect() as db:
            found = db.execute(sql, [[str(f) for f in files]]).fetchnumpy()
    except duckdb.Error as exc:
        raise ValueError(f"{root}: not a Parquet dataset of {_WHAT} ({first_line(exc, 160)})") from None
    return {c: np.asarray(found[c], dtype=np.int64 if c in ("open_time", "close_time", "time_ms") else np.float64)
            for c in columns}


def _table(root: str | os.PathLike[str], kind: str, symbol: str, interval: str) -> Columns | None:
    """The symbol's rows of a table (None when the dataset has no file of it): only its folders listed."""
    table = Path(root) / table_name(kind, interval)
    folder = table / f"exchange={EXCHANGE}" / f"symbol={symbol}"
    if not folder.is_dir():
        return None
    wanted = (lambda v: v == EXCHANGE, lambda v: v == symbol, lambda _v: True)
    files = [p[3] for p in partition_files(table, lambda depth, value: wanted[depth](value), what=_WHAT)]
    if not files:
        return None
    columns = OI_COLUMNS if kind == "metrics" else KLINE_COLUMNS
    return _read_files(table, files, columns, columns[0])


def read_klines(root: str | os.PathLike[str], kind: str, symbol: str, *, interval: str = "5m") -> KlineBars | None:
    """The ``kind`` (``klines`` or ``markPriceKlines``) bars of ``symbol`` at ``interval`` in the dataset at
    ``root``, as :func:`~liquidation_hunter.data.prices.load_kline_bars` gives them from the zips; None when it
    has none."""
    t = _table(root, kind, symbol, interval)
    if t is None:
        return None
    return KlineBars(symbol, *(t[c] for c in KLINE_COLUMNS))


def read_open_interest(root: str | os.PathLike[str], symbol: str, *,
                       max_gap_ms: int = MAX_GAP_MS) -> OpenInterestHistory | None:
    """The open interest of ``symbol`` in the dataset at ``root``, as
    :func:`~liquidation_hunter.data.open_interest.load_open_interest` gives it from the zips (its gaps over
    ``max_gap_ms`` too); None when it has none."""
    t = _table(root, "metrics", symbol, "")
    if t is None:
        return None
    table = np.column_stack([t[c] for c in OI_COLUMNS[1:]]).astype(np.float64)
    return open_interest_history(symbol, t["time_ms"], table, max_gap_ms=max_gap_ms)
