"""Liquidation history as a Parquet dataset for research, written and read through DuckDB (issue 17).

The layout is Hive's: ``DIR/exchange=<venue>/symbol=<SYMBOL>/date=<YYYY-MM-DD>/events.parquet``, the date being
the UTC day of the trade time. Each file holds one partition's events in the read order
(:func:`~live_heatmap.store.history.event_order`) with the event's other fields as columns (``side``, ``price``,
``quantity``, ``event_time``, ``trade_time``, ``status``, ``fallback``, ``price_kind``, ``venue_symbol``); the
exchange and the symbol are in the path only, as DuckDB's ``PARTITION_BY`` leaves them.

Export is idempotent, one partition at a time: the events of a partition are merged with the partition's file
(by :attr:`~live_heatmap.wire.events.LiquidationEvent.dedupe_key`); a partition whose file already holds them all
is not touched (no write, the same bytes and mtime), one that grew (a partial day exported again later) is
rewritten whole, to a hidden file renamed over the old one, so a reader never sees half a file. A second export
of the same range writes nothing and says ``0 new``. An export never removes an event from the dataset.

Reading (:func:`read_dataset`, for :func:`~live_heatmap.store.history.load_events`) is one DuckDB query over
``read_parquet(..., hive_partitioning)``: the symbol and exchange filters prune directories, the time range
prunes ``date=`` directories and row groups (by the files' ``trade_time`` statistics).

DuckDB is imported only here, and only when a dataset is written or read: it is not on the bot's start path.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from live_heatmap.side import Side
from live_heatmap.venue import PriceKind, Venue
from live_heatmap.wire.events import LiquidationEvent

if TYPE_CHECKING:
    import duckdb

__all__ = ["ParquetExport", "check_dataset", "dataset_sha256", "export_parquet", "read_dataset"]

FILE_NAME = "events.parquet"
"""The one file of each partition."""
DAY_MS = 86_400_000
_PARQUET_MAGIC = b"PAR1"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_FILE_COLUMNS = ("side", "price", "quantity", "event_time", "trade_time", "status", "fallback", "price_kind",
                 "venue_symbol")
_SIDES = {side.value: side for side in Side}
_VENUES = {venue.value: venue for venue in Venue}
_KINDS = {kind.value: kind for kind in PriceKind}
_LAYOUT = "exchange=<venue>/symbol=<SYMBOL>/date=<YYYY-MM-DD>/*.parquet"


class ParquetExport(NamedTuple):
    """What :func:`export_parquet` did."""

    events: int
    """Events given (the export's range)."""
    new: int
    """Events the dataset did not hold before."""
    written: int
    """Partition files written (new partitions, and partitions that grew)."""
    unchanged: int
    """Partitions that already held every given event: not touched."""


def _connect() -> duckdb.DuckDBPyConnection:
    import duckdb  # noqa: PLC0415 - lazy: duckdb (research only, off the bot's start path)

    return duckdb.connect(config={"threads": 2})


def _day(trade_time: int) -> str:
    return datetime.fromtimestamp(trade_time // DAY_MS * 86_400, tz=UTC).strftime("%Y-%m-%d")


def export_parquet(events: Iterable[LiquidationEvent], out: str | os.PathLike[str]) -> ParquetExport:
    """Write ``events`` into the dataset at ``out`` (created when missing), one partition at a time, merged with
    what each partition holds; see the module's description. Raises ``ValueError`` for an ``out`` that is a file
    or a partition file that is not Parquet."""
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise ValueError(f"{root}: not a directory (a Parquet dataset is a directory)")
    parts: dict[tuple[str, str, str], list[LiquidationEvent]] = {}
    given = 0
    for event in events:
        given += 1
        parts.setdefault((str(event.exchange), event.symbol, _day(event.trade_time)), []).append(event)
    new = written = unchanged = 0
    with _connect() as db:
        for (exchange, symbol, day), chosen in sorted(parts.items()):
            folder = root / f"exchange={exchange}" / f"symbol={symbol}" / f"date={day}"
            target = folder / FILE_NAME
            held = _read_file(db, target, exchange, symbol) if target.exists() else []
            merged = {e.dedupe_key: e for e in held}
            before = len(merged)
            for event in chosen:
                merged.setdefault(event.dedupe_key, event)
            if len(merged) == before:
                unchanged += 1
                continue
            folder.mkdir(parents=True, exist_ok=True)
            _write_file(db, sorted(merged.values(), key=_order), target)
            new += len(merged) - before
            written += 1
    return ParquetExport(given, new, written, unchanged)


def _order(event: LiquidationEvent) -> tuple[int, str, str, float, float, str]:
    return event[5], event[0], event[1], event[3], event[2], event[8]


def _write_file(db: duckdb.DuckDBPyConnection, events: Sequence[LiquidationEvent], target: Path) -> None:
    """One partition's events (in order) to ``target``, through a hidden file renamed over it."""
    columns: dict[str, Any] = {
        "side": np.array([str(e.side) for e in events], dtype=object),
        "price": np.array([e.price for e in events], dtype=np.float64),
        "quantity": np.array([e.quantity for e in events], dtype=np.float64),
        "event_time": np.array([e.event_time for e in events], dtype=np.int64),
        "trade_time": np.array([e.trade_time for e in events], dtype=np.int64),
        "status": np.array([e.status for e in events], dtype=object),
        "fallback": np.array([e.fallback for e in events], dtype=np.bool_),
        "price_kind": np.array([str(e.price_kind) for e in events], dtype=object),
        "venue_symbol": np.array([e.venue_symbol for e in events], dtype=object),
    }
    staging = target.with_name(f".{target.name}.tmp")
    db.register("partition_rows", columns)
    try:
        db.execute(f"COPY (SELECT {', '.join(_FILE_COLUMNS)} FROM partition_rows) TO '{_quoted(staging)}' "
                   "(FORMAT PARQUET, COMPRESSION ZSTD)")
    finally:
        db.unregister("partition_rows")
    os.replace(staging, target)


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _read_file(db: duckdb.DuckDBPyConnection, path: Path, exchange: str, symbol: str) -> list[LiquidationEvent]:
    """One partition file's events (the exchange and symbol from its path)."""
    _check_magic(path)
    rows = db.execute(f"SELECT {', '.join(_FILE_COLUMNS)} FROM read_parquet(?)", [str(path)]).fetchall()
    venue = _VENUES[exchange]
    return [LiquidationEvent(symbol, _SIDES[d], p, q, e, t, x, bool(f), venue, _KINDS[k], v)
            for d, p, q, e, t, x, f, k, v in rows]


def _check_magic(path: Path) -> None:
    with path.open("rb") as fh:
        if fh.read(4) != _PARQUET_MAGIC:
            raise ValueError(f"{path}: not a Parquet file")


def check_dataset(path: str | os.PathLike[str]) -> list[Path]:
    """The dataset's partition files, sorted; ``ValueError`` (one line naming the problem) for a directory that is
    not such a dataset: no Parquet file in it, a file outside the ``exchange=/symbol=/date=`` layout (an unknown
    venue or a bad date included), or a file that is not Parquet. Hidden files (a write in progress) are skipped."""
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"{root}: not a directory")
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(files):
            if name.startswith((".", "_")):
                continue
            file = Path(folder) / name
            _check_place(root, file)
            _check_magic(file)
            found.append(file)
    if not found:
        raise ValueError(f"{root}: not a Parquet dataset of liquidations (no {_LAYOUT} file in it)")
    return found


def _check_place(root: Path, file: Path) -> None:
    parts = file.relative_to(root).parts
    keys = [p.partition("=") for p in parts[:-1]]
    ok = (len(parts) == 4 and parts[-1].endswith(".parquet")
          and [k for k, _, _ in keys] == ["exchange", "symbol", "date"]
          and keys[0][2] in _VENUES and bool(keys[1][2]) and _DATE.fullmatch(keys[2][2]) is not None)
    if not ok:
        raise ValueError(f"{root}: not a Parquet dataset of liquidations: {'/'.join(parts)} is not laid out as "
                         f"{_LAYOUT}")


def read_dataset(path: str | os.PathLike[str], symbols: frozenset[str] | None, since_ms: int | None,
                 until_ms: int | None, exchanges: frozenset[Venue] | None) -> list[LiquidationEvent]:
    """The dataset's events with ``since_ms <= trade_time < until_ms``, of ``symbols`` (heatmap keys; None: all)
    and ``exchanges`` (None: all), in the read order. The filters go into DuckDB's scan (partitions pruned by
    their path, row groups by their statistics). ``ValueError`` for a directory that is not such a dataset."""
    root = Path(path)
    check_dataset(root)
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if symbols is not None:
        if not symbols:
            return []
        where.append(f"symbol IN ({', '.join('?' * len(symbols))})")
        params += sorted(symbols)
    if exchanges is not None:
        if not exchanges:
            return []
        where.append(f"exchange IN ({', '.join('?' * len(exchanges))})")
        params += sorted(str(v) for v in exchanges)
    if since_ms is not None:
        where.append("date >= CAST(? AS DATE) AND trade_time >= ?")
        params += [_day(since_ms), since_ms]
    if until_ms is not None:
        where.append("date <= CAST(? AS DATE) AND trade_time < ?")
        params += [_day(until_ms), until_ms]
    glob = _quoted(root / "*" / "*" / "*" / "*.parquet")
    sql = (f"SELECT symbol, {', '.join(_FILE_COLUMNS)}, exchange FROM read_parquet('{glob}', hive_partitioning = "
           "true, hive_types = {'exchange': VARCHAR, 'symbol': VARCHAR, 'date': DATE}) WHERE "
           + " AND ".join(where) + " ORDER BY trade_time, symbol, side, quantity, price, exchange")
    import duckdb  # noqa: PLC0415 - lazy: duckdb (research only, off the bot's start path)

    try:
        with _connect() as db:
            rows = db.execute(sql, params).fetchall()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{root}: not a Parquet dataset of liquidations ({first[:160]})") from None
    names: dict[str, str] = {}
    return [LiquidationEvent(names.setdefault(s, s), _SIDES[d], p, q, e, t, x, bool(f), _VENUES[v], _KINDS[k], vs)
            for s, d, p, q, e, t, x, f, k, vs, v in rows]


def dataset_sha256(path: str | os.PathLike[str]) -> str:
    """One hash of the dataset: every partition file's relative path and bytes, in order (a backtest's inputs)."""
    root = Path(path)
    digest = hashlib.sha256()
    for file in check_dataset(root):
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        with file.open("rb") as fh:
            digest.update(hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()
