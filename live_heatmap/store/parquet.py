"""Liquidation history as a Parquet dataset for research, written and read through DuckDB (issue 17).

The layout is Hive's: ``DIR/exchange=<venue>/symbol=<SYMBOL>/date=<YYYY-MM-DD>/events.parquet``, the date being
the UTC day of the trade time. Each file holds one partition's events in the read order
(:func:`~live_heatmap.store.schema.event_order`) with the event's other fields as columns (``side``, ``price``,
``quantity``, ``event_time``, ``trade_time``, ``status``, ``fallback``, ``price_kind``, ``venue_symbol``); the
exchange and the symbol are in the path only, as DuckDB's ``PARTITION_BY`` leaves them.

Export is idempotent, one partition at a time: the events of a partition are merged with the partition's file
(by :attr:`~live_heatmap.wire.events.LiquidationEvent.dedupe_key`); a partition whose file already holds them all
is not touched (no write, the same bytes and mtime), one that grew (a partial day exported again later) is
rewritten whole, to a hidden file renamed over the old one, so a reader never sees half a file. A second export
of the same range writes nothing and says ``0 new``. An export never removes an event from the dataset.

Reading (:func:`read_dataset`, for :func:`~live_heatmap.store.history.load_events`) lists only the partition
folders wanted (the venues, the symbols, the days of the time range), by name, and reads their files in one DuckDB
query over ``read_parquet([...], hive_partitioning)``; the time range goes into the scan (row groups by their
``trade_time`` statistics). The layout is checked in every folder listed: a misplaced entry is named.

DuckDB is imported only here, and only when a dataset is written or read: it is not on the bot's start path.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from live_heatmap.common.errors import first_line
from live_heatmap.side import Side
from live_heatmap.store.schema import READ_ORDER, event_order
from live_heatmap.venue import PriceKind, Venue
from live_heatmap.wire.events import LiquidationEvent

if TYPE_CHECKING:
    import duckdb

__all__ = ["ParquetExport", "check_dataset", "check_magic", "connect", "dataset_sha256", "day_of", "export_parquet",
           "is_dataset_layout", "partition_files", "read_dataset", "write_partitions"]

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
_KEYS = ("exchange", "symbol", "date")
_VALUE_OK: tuple[Callable[[str], bool], ...] = (_VENUES.__contains__, bool,
                                                 lambda v: _DATE.fullmatch(v) is not None)
Part = tuple[str, str, str]
"""A partition: exchange, symbol, UTC day (``YYYY-MM-DD``)."""


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


def connect(threads: int = 2) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in memory (DuckDB imported here, only when a dataset is written or read)."""
    import duckdb  # noqa: PLC0415 - lazy: duckdb (research only, off the bot's start path)

    return duckdb.connect(config={"threads": threads})


def day_of(time_ms: int) -> str:
    """The UTC day (``YYYY-MM-DD``) of an epoch-ms time: the ``date=`` of its partition."""
    return datetime.fromtimestamp(time_ms // DAY_MS * 86_400, tz=UTC).strftime("%Y-%m-%d")


def export_parquet(events: Iterable[LiquidationEvent], out: str | os.PathLike[str]) -> ParquetExport:
    """Write ``events`` into the dataset at ``out`` (created when missing), merged with what each partition holds;
    see the module's description. Raises ``ValueError`` for an ``out`` that is a file or holds files that are not
    such a dataset."""
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise ValueError(f"{root}: not a directory (a Parquet dataset is a directory)")
    parts: dict[Part, list[LiquidationEvent]] = {}
    given = 0
    for event in events:
        given += 1
        parts.setdefault((str(event.exchange), event.symbol, day_of(event.trade_time)), []).append(event)
    held: dict[Part, list[LiquidationEvent]] = {}
    if root.exists() and any(root.iterdir()):  # the partitions this export touches, read in one query
        exchanges, symbols, days = ({p[i] for p in parts} for i in range(3))
        wanted = (exchanges, symbols, days)
        touched = [p for p in _layout(root, lambda depth, value: value in wanted[depth]) if p[:3] in parts]
        for event in _query(root, [p[3] for p in touched], "TRUE", []):
            held.setdefault((str(event.exchange), event.symbol, day_of(event.trade_time)), []).append(event)
    changed: dict[Part, list[LiquidationEvent]] = {}
    new = 0
    for part, chosen in parts.items():
        merged = {e.dedupe_key: e for e in held.get(part, ())}
        before = len(merged)
        for event in chosen:
            merged.setdefault(event.dedupe_key, event)
        if len(merged) > before:
            changed[part] = sorted(merged.values(), key=event_order)
            new += len(merged) - before
    if changed:
        _write(root, changed)
    return ParquetExport(given, new, len(changed), len(parts) - len(changed))


def _write(root: Path, parts: dict[Part, list[LiquidationEvent]]) -> None:
    """Each partition's events, whole and in order (:func:`write_partitions`)."""
    write_partitions(root, {part: {
        "side": np.array([str(e.side) for e in rows], dtype=object),
        "price": np.array([e.price for e in rows], dtype=np.float64),
        "quantity": np.array([e.quantity for e in rows], dtype=np.float64),
        "event_time": np.array([e.event_time for e in rows], dtype=np.int64),
        "trade_time": np.array([e.trade_time for e in rows], dtype=np.int64),
        "status": np.array([e.status for e in rows], dtype=object),
        "fallback": np.array([e.fallback for e in rows], dtype=np.bool_),
        "price_kind": np.array([str(e.price_kind) for e in rows], dtype=object),
        "venue_symbol": np.array([e.venue_symbol for e in rows], dtype=object),
    } for part, rows in parts.items()}, _FILE_COLUMNS)


def write_partitions(root: Path, parts: Mapping[Part, Mapping[str, npt.NDArray[Any]]], columns: Sequence[str], *,
                     file_name: str = FILE_NAME) -> None:
    """Each partition's rows (equal-length column arrays, in the order to keep), whole, by one ``COPY ... TO``
    into a hidden file beside the partition's, renamed over it (a reader sees the old file or the new one, never
    half). One ``COPY`` per partition: measured faster than one ``PARTITION_BY`` over thousands of partitions
    (benchmarks/RESULTS.md)."""
    with connect(threads=1) as db:  # one thread: one file, rows in the order given
        for (exchange, symbol, day), table in sorted(parts.items()):
            folder = root / f"exchange={exchange}" / f"symbol={symbol}" / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            staging = folder / f".{file_name}.tmp"
            db.register("partition_rows", dict(table))
            try:
                db.execute(f"COPY (SELECT {', '.join(columns)} FROM partition_rows) TO '{_quoted(staging)}' "
                           "(FORMAT PARQUET, COMPRESSION ZSTD)")
            finally:
                db.unregister("partition_rows")
            os.replace(staging, folder / file_name)


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def check_magic(path: Path) -> None:
    """``ValueError`` naming ``path`` when it is not a Parquet file (its first bytes)."""
    with path.open("rb") as fh:
        if fh.read(4) != _PARQUET_MAGIC:
            raise ValueError(f"{path}: not a Parquet file")


def _layout(root: Path, keep: Callable[[int, str], bool] | None = None,
            what: str = "liquidations") -> list[tuple[str, str, str, Path]]:
    """The partition files as ``(exchange, symbol, date, path)``, sorted, by names only (no file opened), level by
    level: ``keep(level, value)`` (0 exchange, 1 symbol, 2 date) prunes folders not wanted before they are listed.
    ``ValueError`` naming the first entry outside the layout in the folders listed, or when the dataset has no
    file at all. Hidden entries (a write in progress) are skipped."""
    found: list[tuple[str, str, str, Path]] = []
    any_file = False

    def level(folder: Path, depth: int, values: tuple[str, ...]) -> None:
        nonlocal any_file
        with os.scandir(folder) as entries:
            names = sorted((e.name, e.is_dir()) for e in entries if not e.name.startswith((".", "_")))
        for name, is_dir in names:
            if depth == 3:
                if is_dir or not name.endswith(".parquet"):
                    _misplaced(root, folder / name, what)
                any_file = True
                found.append((*values, folder / name))  # type: ignore[arg-type]
                continue
            key, eq, value = name.partition("=")
            if not is_dir or not eq or key != _KEYS[depth] or not _VALUE_OK[depth](value):
                _misplaced(root, folder / name, what)
            if keep is None or keep(depth, value):
                level(folder / name, depth + 1, (*values, value))
            else:
                any_file = True  # pruned: not listed, the dataset is not empty for it

    level(root, 0, ())
    if not any_file:
        raise ValueError(f"{root}: not a Parquet dataset of {what} (no {_LAYOUT} file in it)")
    return found


def partition_files(root: str | os.PathLike[str], keep: Callable[[int, str], bool] | None = None, *,
                    what: str = "liquidations") -> list[tuple[str, str, str, Path]]:
    """A dataset's partition files as ``(exchange, symbol, date, path)``, sorted, found by names only: the
    ``exchange=/symbol=/date=`` layout walked level by level, ``keep(level, value)`` (0 exchange, 1 symbol, 2 date)
    pruning folders before they are listed. ``ValueError`` naming an entry outside the layout, or a dataset with
    no file (``what``: what the dataset holds, for the message). Shared by every Parquet dataset of the project."""
    return _layout(Path(root), keep, what)


def _misplaced(root: Path, entry: Path, what: str) -> None:
    raise ValueError(f"{root}: not a Parquet dataset of {what}: {entry.relative_to(root).as_posix()} is not "
                     f"laid out as {_LAYOUT}")


def check_dataset(path: str | os.PathLike[str]) -> list[Path]:
    """The dataset's partition files, sorted; ``ValueError`` (one line naming the problem) for a directory that is
    not such a dataset: no Parquet file in it, a file outside the ``exchange=/symbol=/date=`` layout (an unknown
    venue or a bad date included), or a file that is not Parquet."""
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"{root}: not a directory")
    files = [p[3] for p in _layout(root)]
    for file in files:
        check_magic(file)
    return files


def is_dataset_layout(path: str | os.PathLike[str]) -> None:
    """The dataset's top level checked by names only (each venue's folder listed, no deeper): for telling a
    dataset's directory by its layout; ``ValueError`` naming what is not laid out so."""
    _layout(Path(path), lambda depth, _value: depth == 0)


def read_dataset(path: str | os.PathLike[str], symbols: frozenset[str] | None, since_ms: int | None,
                 until_ms: int | None, exchanges: frozenset[Venue] | None) -> list[LiquidationEvent]:
    """The dataset's events with ``since_ms <= trade_time < until_ms``, of ``symbols`` (heatmap keys; None: all)
    and ``exchanges`` (None: all), in the read order. Partitions are chosen by their path before DuckDB opens a
    file (the symbols, the venues, the days of the range); the time range goes into DuckDB's scan (row groups by
    their statistics). ``ValueError`` for a directory that is not such a dataset."""
    root = Path(path)
    first = None if since_ms is None else day_of(since_ms)
    last = None if until_ms is None else day_of(until_ms)
    wanted: tuple[Callable[[str], bool], ...] = (
        lambda exchange: exchanges is None or exchange in exchanges,
        lambda symbol: symbols is None or symbol in symbols,
        lambda day: (first is None or day >= first) and (last is None or day <= last))
    files = [p[3] for p in _layout(root, lambda depth, value: wanted[depth](value))]
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if since_ms is not None:
        where.append("trade_time >= ?")
        params.append(since_ms)
    if until_ms is not None:
        where.append("trade_time < ?")
        params.append(until_ms)
    return _query(root, files, " AND ".join(where), params)


def _query(root: Path, files: Sequence[Path], where: str, params: list[Any]) -> list[LiquidationEvent]:
    """The events of ``files`` (partition files, their exchange and symbol from the path) matching ``where``."""
    if not files:
        return []
    for file in files:
        check_magic(file)
    sql = (f"SELECT symbol, {', '.join(_FILE_COLUMNS)}, exchange FROM read_parquet(?, hive_partitioning = true, "
           "hive_types = {'exchange': VARCHAR, 'symbol': VARCHAR, 'date': DATE}) WHERE "
           + where + f" ORDER BY {READ_ORDER}")
    import duckdb  # noqa: PLC0415 - lazy: duckdb (research only, off the bot's start path)

    try:
        with connect() as db:
            rows = db.execute(sql, [[str(f) for f in files], *params]).fetchall()
    except duckdb.Error as exc:
        raise ValueError(f"{root}: not a Parquet dataset of liquidations ({first_line(exc, 160)})") from None
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
