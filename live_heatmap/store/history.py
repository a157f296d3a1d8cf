"""Liquidation history in and out: read any recording into events, import it into a store, export events
and clusters.

:func:`load_events` recognises its source by content, not by name:

* an :class:`~live_heatmap.store.recorder.EventStore` file (SQLite), or a ``postgresql://`` URL (the same store in
  PostgreSQL: :mod:`live_heatmap.store.postgres`, by its scheme, not by content);
* raw ``forceOrder`` frames, one JSON object a line (payloads or ``{"stream","data"}`` envelopes), read by
  :func:`~live_heatmap.wire.events.parse_force_order`, bad lines counted by reason;
* the flat CSV of ``data/binance/liquidations_normalized.csv`` (columns ``T, s, S, o, f, q, p, ap, X, l, z``
  and more). It has no ``E``: the event time is ``T``. Where ``ap`` is missing (empty or ``None``) the
  parser's rule applies: ``p`` is used and the event is marked ``fallback=True``;
* Binance's former ``liquidationSnapshot`` archive CSV (``time, side, order_type, time_in_force,
  original_quantity, price, average_price, order_status, last_fill_quantity, accumulated_fill_quantity``).
  Its rows do not name the symbol: it comes from ``symbol=`` or from the file name
  (``BTCUSDT-liquidationSnapshot-2023-06-25.csv``). Binance published these archives for COIN-M contracts
  too (``BTCUSD_PERP``), whose quantities are contracts (100 USD each for BTC, 10 USD for the others), not
  coins: read as coins they would weigh 300 times too much at BTC's price. They are refused
  (:class:`SnapshotSymbolError`): by the symbol (``_PERP``, ``USD_YYMMDD`` or a bare ``...USD``), and, when
  the symbol is given as a USD-M one, by the numbers (every quantity a whole number at prices above 1,000,
  which a USD-M archive of fractional coins does not show). The archives repeat rows; like every source,
  duplicates are dropped;
* Bybit's recorded history of its former ``liquidation.<symbol>`` topic (deprecated by Bybit in 2025, read here
  as history only), in the two forms its public recorder left: the CSV ``ts_ms,symbol,side,qty,price,ts`` (one
  row per liquidation) and the raw frames, one JSON object a line, ``{"t": ms, "d": [{"updatedTime",
  "symbol", "side", "size", "price"}, ...]}``. ``side`` is the liquidated *position*'s (``Buy``: a long was
  liquidated), ``price`` the bankruptcy price, ``qty``/``size`` base units; the events are
  ``exchange=bybit, price_kind=bankruptcy``. Only USDT-margined linear ids (``BTCUSDT``) are read (their id is
  the heatmap's key); any other symbol is rejected as ``bad_symbol``, not guessed. Both forms use the
  recorder's time ``t`` (``ts_ms``), which its CSV is made of, as the trade and event time (the topic's
  ``updatedTime`` is 0.5 to 2.5 s earlier), so the two forms of one recording are the same events and import
  once;
* what :func:`export_events` writes: CSV with a header of the event's fields, or a JSON array of objects. An
  export made before the venue was kept (8 fields, no ``exchange``) reads as Binance's events (``fill_avg``),
  which is what it holds;
* a directory: the Parquet dataset :func:`~live_heatmap.store.parquet.export_parquet` writes
  (``exchange=/symbol=/date=`` partitions), read through DuckDB with the filters pushed into the scan.

Any of the text formats may be gzip-compressed or the only file in a zip archive (as Binance served them).
Events come back sorted by trade time, ties by symbol, side, quantity and price (the order an
:class:`~live_heatmap.store.recorder.EventStore` reads in, so equal content reads back in equal order from any
source), then exchange, each liquidation once (by :attr:`~live_heatmap.wire.events.LiquidationEvent.dedupe_key`:
the same tuple from two venues is two liquidations). Time ranges are ``since_ms <= trade_time < until_ms``, in UTC
epoch ms; ``exchanges`` (venue names, None: all) filters by venue.

This module recognises the file and filters, sorts and deduplicates; one reader per file kind lives beside it:
:mod:`~live_heatmap.store.binance_files` (frames, the normalized CSV, snapshots), :mod:`~live_heatmap.store.bybit_files`
and :mod:`~live_heatmap.store.exports` (which also writes the exports).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, NamedTuple

from live_heatmap.common.symbols import symbol_key
from live_heatmap.store.binance_files import (
    NORMALIZED_NEEDS,
    SNAPSHOT_COLUMNS,
    SnapshotSymbolError,
    read_frames,
    read_normalized,
    snapshot_events,
)
from live_heatmap.store.bybit_files import BYBIT_COLUMNS, is_bybit_frame, read_bybit_csv, read_bybit_frames
from live_heatmap.store.exports import (
    EVENT_FIELDS,
    EVENT_FIELDS_1,
    export_clusters,
    export_events,
    read_events_csv,
    read_events_json,
)
from live_heatmap.store.interface import EventStorage
from live_heatmap.store.parquet import is_dataset_layout, read_dataset
from live_heatmap.store.schema import SQLITE_MAGIC, event_order
from live_heatmap.store.stores import open_event_store
from live_heatmap.store.target import is_postgres_url
from live_heatmap.venue import Venue, chosen_venues
from live_heatmap.wire.events import LiquidationEvent

# BYBIT_COLUMNS, EVENT_FIELDS, SnapshotSymbolError, export_events and export_clusters are imported from here too.
__all__ = [
    "BYBIT_COLUMNS",
    "EVENT_FIELDS",
    "FORMATS",
    "ImportReport",
    "LoadReport",
    "SnapshotSymbolError",
    "detect_format",
    "event_order",
    "export_clusters",
    "export_events",
    "import_events",
    "load_events",
    "read_events",
]

FORMATS = ("sqlite", "frames", "normalized_csv", "snapshot_csv", "events_csv", "events_json", "bybit_csv",
           "bybit_frames", "parquet")
"""What :func:`detect_format` answers."""

Source = str | os.PathLike[str] | EventStorage
"""A file (any kind :func:`detect_format` knows), a ``postgresql://`` URL, or an open event store."""


class ImportReport(NamedTuple):
    """What :func:`import_events` did."""

    inserted: int
    """New rows in the store."""
    duplicates: int
    """Events read that were already stored, or repeated in the source."""
    rejected: int
    """Lines or rows that are not a usable liquidation (see :attr:`LoadReport.rejected` for the reasons)."""


@dataclass(slots=True)
class LoadReport:
    """What :func:`read_events` read: the events and the counts."""

    format: str
    events: list[LiquidationEvent] = field(default_factory=list)
    read: int = 0
    """Events parsed that passed the filters (before dedupe)."""
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    """Unusable lines or rows by reason (the parser's :class:`~live_heatmap.wire.events.RejectReason` values, and
    ``bad_exchange``, ``bad_price_kind`` (an export's venue columns), ``not_an_array`` (a Bybit frame's ``d``))."""


# ---------------------------------------------------------------------------------------------- reading

def load_events(source: Source, *, symbols: Iterable[str] | None = None, since_ms: int | None = None,
                until_ms: int | None = None, symbol: str | None = None,
                exchanges: Iterable[str] | None = None) -> list[LiquidationEvent]:
    """Every liquidation in ``source`` (a path, a ``postgresql://`` URL or an open event store), filtered, sorted by
    trade time and deduplicated. ``symbols`` filters (either form), ``exchanges`` by venue (``["bybit"]``);
    ``symbol`` names the symbol of a ``liquidationSnapshot`` file whose name does not. Raises ``ValueError``
    for an unknown format or exchange."""
    return read_events(source, symbols=symbols, since_ms=since_ms, until_ms=until_ms, symbol=symbol,
                       exchanges=exchanges).events


def read_events(source: Source, *, symbols: Iterable[str] | None = None, since_ms: int | None = None,
                until_ms: int | None = None, symbol: str | None = None,
                exchanges: Iterable[str] | None = None) -> LoadReport:
    """:func:`load_events` with the counts: format, events read, duplicates dropped, rejects by reason."""
    keep = None if symbols is None else frozenset(symbol_key(s) for s in symbols)
    venues = chosen_venues(exchanges)
    if not isinstance(source, str | os.PathLike):
        return _from_store(source, keep, since_ms, until_ms, venues)
    path = os.fspath(source)
    fmt = "postgresql" if is_postgres_url(path) else detect_format(path)
    if fmt in ("sqlite", "postgresql"):
        with open_event_store(path, readonly=True) as store:
            return _from_store(store, keep, since_ms, until_ms, venues)
    report = LoadReport(fmt)
    if fmt == "parquet":  # filtered and sorted by DuckDB; unique by the layout, checked below all the same
        events: Iterable[LiquidationEvent] = read_dataset(path, keep, since_ms, until_ms, venues)
    else:
        events = _iter_file(path, fmt, report.rejected, symbol)
    try:
        selected = [e for e in events if (keep is None or e[0] in keep) and (venues is None or e[8] in venues)
                    and (since_ms is None or e[5] >= since_ms) and (until_ms is None or e[5] < until_ms)]
    except UnicodeDecodeError as exc:
        raise _not_text(path, exc) from None
    report.read = len(selected)
    selected.sort(key=event_order)
    first: dict[tuple[str, int, str, float, float, str], LiquidationEvent] = {}
    for event in selected:  # the key is dedupe_key's, without the property call
        first.setdefault((event[0], event[5], event[1], event[3], event[2], event[8]), event)
    report.events = list(first.values())
    report.duplicates = report.read - len(report.events)
    return report


def detect_format(path: str | os.PathLike[str]) -> str:
    """One of :data:`FORMATS`, from the file's first bytes (through gzip or zip), or ``parquet`` for a directory
    laid out as a Parquet dataset. ``ValueError`` if none."""
    where = os.fspath(path)
    if os.path.isdir(where):
        is_dataset_layout(where)  # names only: the files are checked when read
        return "parquet"
    with open(where, "rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    if head == SQLITE_MAGIC:
        return "sqlite"
    first = ""
    try:
        with _open_text(where) as text:
            for line in text:
                first = line.strip()
                if first:
                    break
    except UnicodeDecodeError as exc:
        raise _not_text(where, exc) from None
    if first.startswith("{"):
        return "bybit_frames" if is_bybit_frame(first) else "frames"
    if first.startswith("["):
        return "events_json"
    header = [c.strip() for c in next(csv.reader([first]))] if first else []
    if tuple(header) in (EVENT_FIELDS, EVENT_FIELDS_1):
        return "events_csv"
    if tuple(header) == BYBIT_COLUMNS:
        return "bybit_csv"
    if all(c in header for c in NORMALIZED_NEEDS):
        return "normalized_csv"
    if tuple(header) == SNAPSHOT_COLUMNS or (len(header) == len(SNAPSHOT_COLUMNS) and header[0].isdigit()):
        return "snapshot_csv"
    raise ValueError(f"{where}: not a recording this project reads (an event store, forceOrder JSON lines, the "
                     "normalized CSV, a liquidationSnapshot CSV, Bybit's liquidation history (CSV or frames) or "
                     f"an export); first line: {first[:80]!r}")


def _not_text(where: str, exc: UnicodeDecodeError) -> ValueError:
    return ValueError(f"{where}: not a recording this project reads (byte {exc.start} is not UTF-8 text)")


def _from_store(store: EventStorage, keep: frozenset[str] | None, since_ms: int | None,
                until_ms: int | None, venues: frozenset[Venue] | None) -> LoadReport:
    events = list(store.events(keep, since_ms, until_ms, exchanges=venues))  # sorted and unique already
    return LoadReport("postgresql" if is_postgres_url(store.path) else "sqlite", events, read=len(events))


def _open_text(path: str) -> IO[str]:
    """The file as text: plain, gzip, or the single member of a zip archive."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    if magic == b"PK\x03\x04":
        archive = zipfile.ZipFile(path)
        names = [n for n in archive.namelist() if not n.endswith("/")]
        if len(names) != 1:
            archive.close()
            raise ValueError(f"{path}: a zip archive must hold exactly one file, it holds {len(names)}")
        return io.TextIOWrapper(archive.open(names[0]), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _iter_file(path: str, fmt: str, rejected: Counter[str], symbol: str | None) -> Iterator[LiquidationEvent]:
    readers: dict[str, Callable[[IO[str], Counter[str]], Iterator[LiquidationEvent]]] = {
        "frames": read_frames,
        "normalized_csv": read_normalized,
        "events_csv": read_events_csv,
        "events_json": read_events_json,
        "bybit_csv": read_bybit_csv,
        "bybit_frames": read_bybit_frames,
    }
    with _open_text(path) as text:
        if fmt == "snapshot_csv":
            yield from snapshot_events(path, text, rejected, symbol)
        else:
            yield from readers[fmt](text, rejected)


# ---------------------------------------------------------------------------------------------- import

def import_events(source: Source, store: EventStorage, *, symbols: Iterable[str] | None = None,
                  since_ms: int | None = None, until_ms: int | None = None,
                  symbol: str | None = None, exchanges: Iterable[str] | None = None) -> ImportReport:
    """Append what :func:`load_events` reads from ``source`` to ``store`` (one transaction).

    Returns ``(inserted, duplicates, rejected)``: duplicates are events the store already held or the source
    repeated; importing the same file twice inserts nothing the second time.
    """
    report = read_events(source, symbols=symbols, since_ms=since_ms, until_ms=until_ms, symbol=symbol,
                         exchanges=exchanges)
    inserted = store.append(report.events)
    return ImportReport(inserted, report.read - inserted, sum(report.rejected.values()))


