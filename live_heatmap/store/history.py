"""Liquidation history in and out: read any recording into events, import it into a store, export events
and clusters.

:func:`load_events` recognises its source by content, not by name:

* an :class:`~live_heatmap.store.recorder.EventStore` file (SQLite);
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
  which is what it holds.

Any of the text formats may be gzip-compressed or the only file in a zip archive (as Binance served them).
Events come back sorted by trade time, ties by symbol, side, quantity and price (the order an
:class:`~live_heatmap.store.recorder.EventStore` reads in, so equal content reads back in equal order from any
source), then exchange, each liquidation once (by :attr:`~live_heatmap.wire.events.LiquidationEvent.dedupe_key`:
the same tuple from two venues is two liquidations). Time ranges are ``since_ms <= trade_time < until_ms``, in UTC
epoch ms; ``exchanges`` (venue names, None: all) filters by venue.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import os
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

import orjson

from live_heatmap.cluster import LiquidationCluster
from live_heatmap.common.symbols import symbol_key
from live_heatmap.side import Side
from live_heatmap.store.recorder import EventStore, venue_filter
from live_heatmap.store.schema import SQLITE_MAGIC
from live_heatmap.venue import PriceKind, Venue
from live_heatmap.wire.events import (
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    FrameRejected,
    LiquidationEvent,
    RejectReason,
    parse_force_order,
    symbol_ok,
)

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

EVENT_FIELDS = LiquidationEvent._fields
"""The columns of an exported events CSV (and the keys of an exported JSON object): every field of the event."""
_EVENT_FIELDS_1 = EVENT_FIELDS[:8]  # an export made before the venue was kept: Binance's events
FORMATS = ("sqlite", "frames", "normalized_csv", "snapshot_csv", "events_csv", "events_json", "bybit_csv",
           "bybit_frames")
"""What :func:`detect_format` answers."""
BYBIT_COLUMNS = ("ts_ms", "symbol", "side", "qty", "price", "ts")
"""The header of Bybit's recorded ``liquidation.<symbol>`` history as CSV."""

SNAPSHOT_COLUMNS = ("time", "side", "order_type", "time_in_force", "original_quantity", "price", "average_price",
                    "order_status", "last_fill_quantity", "accumulated_fill_quantity")
_SNAPSHOT_TO_WIRE = {"time": "T", "side": "S", "order_type": "o", "time_in_force": "f", "original_quantity": "q",
                     "price": "p", "average_price": "ap", "order_status": "X", "last_fill_quantity": "l",
                     "accumulated_fill_quantity": "z"}
_NORMALIZED_NEEDS = ("T", "s", "S", "p", "ap", "q", "z")
_WIRE_KEYS = ("s", "S", "o", "f", "q", "p", "ap", "X", "l", "z")
_MISSING = {"", "None", "none", "null", "NULL", "nan", "NaN"}
_SNAPSHOT_NAME = re.compile(r"(?P<symbol>[A-Za-z0-9_]+)-liquidationSnapshot-\d{4}-\d{2}-\d{2}")
_COIN_M_ID = re.compile(r"^[A-Z0-9]+USD(?:_PERP|_\d{6})?$")  # BTCUSD_PERP, BTCUSD_230630, ETHUSD
_CONTRACTS_ABOVE = 1_000.0  # a USD-M archive of a coin priced above this holds fractional quantities
_BYBIT_SIDES = {"Buy": Side.LONG, "Sell": Side.SHORT}  # the liquidated position's side
# Names -> members by a dict lookup (calling the enum costs a microsecond a field, a third of a row's read).
_SIDE_NAMES: dict[Any, Side] = {side.value: side for side in Side}
_VENUE_NAMES: dict[Any, Venue] = {venue.value: venue for venue in Venue}
_PRICE_KIND_NAMES: dict[Any, PriceKind] = {kind.value: kind for kind in PriceKind}
_BINANCE = (Venue.BINANCE, PriceKind.FILL_AVG, "")
_BYBIT_LINEAR_USDT = re.compile(r"^[A-Z0-9]+USDT$")  # Bybit's id of a USDT perpetual: the heatmap key itself

Source = str | os.PathLike[str] | EventStore
Out = str | os.PathLike[str] | IO[str]


class SnapshotSymbolError(ValueError):
    """A ``liquidationSnapshot`` file whose symbol is missing or not a USD-M contract (a COIN-M archive counts
    contracts, not coins). ``str()`` names the Python argument (``symbol=``); :meth:`naming` names another
    (the command line's ``--file-symbol ``)."""

    def __init__(self, template: str) -> None:
        self.template = template
        super().__init__(self.naming("symbol="))

    def naming(self, option: str) -> str:
        """The message with ``option`` (``symbol=``, ``--file-symbol ``) as the way to give the file's symbol."""
        return self.template.format(option=option)


class _Rejected(ValueError):
    """A row rejected for a reason :class:`~live_heatmap.wire.events.RejectReason` does not name (the venue
    columns of an export, the shape of a Bybit recorder frame)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


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
    """Every liquidation in ``source`` (a path or an open :class:`EventStore`), filtered, sorted by trade
    time and deduplicated. ``symbols`` filters (either form), ``exchanges`` by venue (``["bybit"]``);
    ``symbol`` names the symbol of a ``liquidationSnapshot`` file whose name does not. Raises ``ValueError``
    for an unknown format or exchange."""
    return read_events(source, symbols=symbols, since_ms=since_ms, until_ms=until_ms, symbol=symbol,
                       exchanges=exchanges).events


def read_events(source: Source, *, symbols: Iterable[str] | None = None, since_ms: int | None = None,
                until_ms: int | None = None, symbol: str | None = None,
                exchanges: Iterable[str] | None = None) -> LoadReport:
    """:func:`load_events` with the counts: format, events read, duplicates dropped, rejects by reason."""
    keep = None if symbols is None else frozenset(symbol_key(s) for s in symbols)
    venues = venue_filter(exchanges)
    if isinstance(source, EventStore):
        return _from_store(source, keep, since_ms, until_ms, venues)
    path = os.fspath(source)
    fmt = detect_format(path)
    if fmt == "sqlite":
        with EventStore.open_readonly(path) as store:
            return _from_store(store, keep, since_ms, until_ms, venues)
    report = LoadReport(fmt)
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
    """One of :data:`FORMATS`, from the file's first bytes (through gzip or zip). ``ValueError`` if none."""
    where = os.fspath(path)
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
        return "bybit_frames" if _is_bybit_frame(first) else "frames"
    if first.startswith("["):
        return "events_json"
    header = [c.strip() for c in next(csv.reader([first]))] if first else []
    if tuple(header) in (EVENT_FIELDS, _EVENT_FIELDS_1):
        return "events_csv"
    if tuple(header) == BYBIT_COLUMNS:
        return "bybit_csv"
    if all(c in header for c in _NORMALIZED_NEEDS):
        return "normalized_csv"
    if tuple(header) == SNAPSHOT_COLUMNS or (len(header) == len(SNAPSHOT_COLUMNS) and header[0].isdigit()):
        return "snapshot_csv"
    raise ValueError(f"{where}: not a recording this project reads (an event store, forceOrder JSON lines, the "
                     "normalized CSV, a liquidationSnapshot CSV, Bybit's liquidation history (CSV or frames) or "
                     f"an export); first line: {first[:80]!r}")


def _is_bybit_frame(line: str) -> bool:
    """A line of Bybit's liquidation recorder: ``{"t": ms, "d": [...]}`` (a ``forceOrder`` frame has neither)."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return isinstance(obj, dict) and "d" in obj and "t" in obj and "e" not in obj


def _not_text(where: str, exc: UnicodeDecodeError) -> ValueError:
    return ValueError(f"{where}: not a recording this project reads (byte {exc.start} is not UTF-8 text)")


def event_order(event: LiquidationEvent) -> tuple[int, str, str, float, float, str]:
    """The sort key of every read: trade time, then symbol, side, quantity, price, exchange."""
    return event[5], event[0], event[1], event[3], event[2], event[8]


def _from_store(store: EventStore, keep: frozenset[str] | None, since_ms: int | None,
                until_ms: int | None, venues: frozenset[Venue] | None) -> LoadReport:
    events = list(store.events(keep, since_ms, until_ms, exchanges=venues))  # sorted and unique already
    return LoadReport("sqlite", events, read=len(events))


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
        "frames": _read_frames,
        "normalized_csv": _read_normalized,
        "events_csv": _read_events_csv,
        "events_json": _read_events_json,
        "bybit_csv": _read_bybit_csv,
        "bybit_frames": _read_bybit_frames,
    }
    with _open_text(path) as text:
        if fmt == "snapshot_csv":
            yield from _snapshot_events(path, text, rejected, symbol)
        else:
            yield from readers[fmt](text, rejected)


def _parsed(items: Iterable[Any], parse: Callable[[Any], LiquidationEvent],
            rejected: Counter[str]) -> Iterator[LiquidationEvent]:
    """``parse`` of each item; an item it rejects is counted in ``rejected`` by reason."""
    for item in items:
        try:
            yield parse(item)
        except FrameRejected as exc:
            rejected[exc.reason.value] += 1
        except _Rejected as exc:
            rejected[exc.reason] += 1


def _read_frames(text: IO[str], rejected: Counter[str]) -> Iterator[LiquidationEvent]:
    return _parsed((line for line in text if line.strip()), parse_force_order, rejected)


def _frame(order: dict[str, Any], time_text: str) -> dict[str, Any]:
    """A ``forceOrder`` payload from one row's fields, so the parser's rules (fallback, checks) apply as is."""
    try:
        t: Any = int(time_text)
    except ValueError:
        t = time_text  # the parser rejects it as bad_timestamp
    order["T"] = t
    return {"e": "forceOrder", "E": t, "o": order}


def _read_normalized(text: IO[str], rejected: Counter[str]) -> Iterator[LiquidationEvent]:
    rows = csv.reader(text)
    header = next(rows)
    index = {name.strip(): i for i, name in enumerate(header)}
    columns = [(key, index[key]) for key in _WIRE_KEYS if key in index]
    at = index["T"]
    parse, missing = parse_force_order, _MISSING
    for row in rows:
        if not row:
            continue
        try:
            order = {key: row[i] for key, i in columns if row[i] not in missing}
            yield parse(_frame(order, row[at]))
        except FrameRejected as exc:
            rejected[exc.reason.value] += 1
        except IndexError:
            rejected[RejectReason.MISSING_FIELD.value] += 1


def _snapshot_events(path: str, text: IO[str], rejected: Counter[str], symbol: str | None) -> list[LiquidationEvent]:
    """The events of a ``liquidationSnapshot`` file, refused when the file is a COIN-M archive."""
    where = path.replace("{", "{{").replace("}", "}}")  # the message is a template
    if symbol is not None:
        given, how = symbol_key(symbol), "{option}" + symbol.replace("{", "{{").replace("}", "}}")
    else:
        match = _SNAPSHOT_NAME.search(Path(path).name)
        if match is None:
            raise SnapshotSymbolError(
                f"{where}: a liquidationSnapshot file does not name its symbol in its rows: give its USD-M symbol "
                "({option}BTCUSDT) or keep Binance's file name (BTCUSDT-liquidationSnapshot-2023-06-25.csv)")
        given, how = match["symbol"].upper(), f"its file name ({match['symbol'].upper()})"
    if _COIN_M_ID.match(given):
        raise SnapshotSymbolError(
            f"{where}: {how} is a COIN-M contract, whose quantities are contracts (100 USD each for BTC, 10 USD "
            "for the others), not coins; only USD-M liquidations (USDT or USDC margined) are read")
    events = list(_read_snapshot(text, rejected, given))
    if events and all(e.quantity.is_integer() and e.price > _CONTRACTS_ABOVE for e in events):
        first = events[0]
        raise SnapshotSymbolError(
            f"{where}: every quantity is a whole number at prices above {_CONTRACTS_ABOVE:,.0f} ({first.quantity:g} "
            f"at {first.price:g}): a COIN-M archive, counting contracts (100 USD each for BTC), not coins, "
            f"whatever {how} says; only USD-M liquidations (USDT or USDC margined) are read")
    return events


def _read_snapshot(text: IO[str], rejected: Counter[str], symbol: str) -> Iterator[LiquidationEvent]:
    keys = [_SNAPSHOT_TO_WIRE[c] for c in SNAPSHOT_COLUMNS]

    def parse(row: list[str]) -> LiquidationEvent:
        if len(row) != len(keys):
            raise FrameRejected(RejectReason.MISSING_FIELD, f"{len(row)} columns")
        order = {key: value for key, value in zip(keys, row, strict=True) if value not in _MISSING}
        order["s"] = symbol
        return parse_force_order(_frame(order, row[0]))

    # the header is skipped (some archives have none)
    return _parsed((row for row in csv.reader(text) if row and row[0] != "time"), parse, rejected)


def _event(values: Sequence[Any]) -> LiquidationEvent:
    """An event from exported fields (in :data:`EVENT_FIELDS` order, or its first 8 for an export made before the
    venue was kept: a Binance ``fill_avg`` event), with the parser's checks."""
    if len(values) == len(EVENT_FIELDS):
        venue = _venue_fields(values[8], values[9], values[10])
    elif len(values) == len(_EVENT_FIELDS_1):
        venue = _BINANCE
    else:
        raise FrameRejected(RejectReason.MISSING_FIELD, f"{len(values)} columns")
    symbol, side, price, quantity, event_time, trade_time, status, fallback = values[:8]
    if not isinstance(symbol, str) or not symbol or not symbol.isprintable() or " " in symbol:
        raise FrameRejected(RejectReason.BAD_SYMBOL, f"symbol={str(symbol)[:40]!r}")
    position = _SIDE_NAMES.get(side) if isinstance(side, str) else None
    if position is None:
        raise FrameRejected(RejectReason.BAD_SIDE, f"side={str(side)[:20]!r}")
    try:
        p, q = float(price), float(quantity)
    except (TypeError, ValueError):
        raise FrameRejected(RejectReason.BAD_NUMBER, f"price={price!r} quantity={quantity!r}") from None
    if not (p > 0 and math.isfinite(p)):
        raise FrameRejected(RejectReason.BAD_PRICE, f"price={price!r}")
    if not (q > 0 and math.isfinite(q)):
        raise FrameRejected(RejectReason.BAD_QUANTITY, f"quantity={quantity!r}")
    times = []
    for name, value in (("event_time", event_time), ("trade_time", trade_time)):
        try:
            t = value if type(value) is int else int(str(value))
        except ValueError:
            raise FrameRejected(RejectReason.BAD_TIMESTAMP, f"{name}={str(value)[:40]!r}") from None
        if not MIN_TIMESTAMP_MS <= t < MAX_TIMESTAMP_MS:
            raise FrameRejected(RejectReason.BAD_TIMESTAMP, f"{name}={t}")
        times.append(t)
    flag = fallback if isinstance(fallback, bool) else str(fallback).strip().lower() in ("true", "1")
    return LiquidationEvent(symbol.upper(), position, p, q, times[0], times[1], str(status or "UNKNOWN"), flag,
                            *venue)


def _venue_fields(exchange: Any, price_kind: Any, venue_symbol: Any) -> tuple[Venue, PriceKind, str]:
    """An export's ``exchange``, ``price_kind`` and ``venue_symbol``, checked (none is guessed when missing)."""
    if exchange is None or price_kind is None or venue_symbol is None:
        raise FrameRejected(RejectReason.MISSING_FIELD, "exchange, price_kind and venue_symbol are needed")
    venue = _VENUE_NAMES.get(exchange) if isinstance(exchange, str) else None
    if venue is None:
        raise _Rejected("bad_exchange", f"exchange={str(exchange)[:20]!r}")
    kind = _PRICE_KIND_NAMES.get(price_kind) if isinstance(price_kind, str) else None
    if kind is None:
        raise _Rejected("bad_price_kind", f"price_kind={str(price_kind)[:20]!r}")
    if not isinstance(venue_symbol, str) or (venue_symbol and not symbol_ok(venue_symbol)):
        raise FrameRejected(RejectReason.BAD_SYMBOL, f"venue_symbol={str(venue_symbol)[:40]!r}")
    return venue, kind, venue_symbol


def _read_events_csv(text: IO[str], rejected: Counter[str]) -> Iterator[LiquidationEvent]:
    rows = csv.reader(text)
    columns = len(next(rows))  # 11, or 8 in an export made before the venue was kept

    def parse(row: list[str]) -> LiquidationEvent:
        if len(row) != columns:
            raise FrameRejected(RejectReason.MISSING_FIELD, f"{len(row)} columns, the header has {columns}")
        return _event(row)

    return _parsed((row for row in rows if row), parse, rejected)


def _read_events_json(text: IO[str], rejected: Counter[str]) -> Iterator[LiquidationEvent]:
    try:
        items = orjson.loads(text.read())
    except orjson.JSONDecodeError:
        rejected[RejectReason.NOT_JSON.value] += 1
        return

    def parse(item: Any) -> LiquidationEvent:
        if not isinstance(item, dict):
            raise FrameRejected(RejectReason.NOT_AN_OBJECT, type(item).__name__)
        fields = EVENT_FIELDS if "exchange" in item else _EVENT_FIELDS_1  # no exchange: an export made before
        return _event([item.get(name) for name in fields])

    yield from _parsed(items if isinstance(items, list) else [items], parse, rejected)


def _bybit_event(time_ms: Any, symbol: Any, side: Any, size: Any, price: Any) -> LiquidationEvent:
    """One liquidation of Bybit's ``liquidation.<symbol>`` topic as its recorder kept it: ``time_ms`` the
    recorder's time (an int: a frame's time as a string is rejected), ``side`` the position's, ``size`` base
    units, ``price`` the bankruptcy price (decimal text or number)."""
    if time_ms is None or symbol is None or side is None or size is None or price is None:
        raise FrameRejected(RejectReason.MISSING_FIELD, "symbol, side, size, price and the time are needed")
    if type(time_ms) is not int or not MIN_TIMESTAMP_MS <= time_ms < MAX_TIMESTAMP_MS:
        raise FrameRejected(RejectReason.BAD_TIMESTAMP, f"time={str(time_ms)[:40]!r} is not epoch ms in 2019..2100")
    if not isinstance(symbol, str) or _BYBIT_LINEAR_USDT.match(symbol) is None:
        raise FrameRejected(RejectReason.BAD_SYMBOL, f"symbol={str(symbol)[:40]!r} is not a USDT perpetual's id")
    position = _BYBIT_SIDES.get(side) if type(side) is str else None
    if position is None:
        raise FrameRejected(RejectReason.BAD_SIDE, f"side={str(side)[:20]!r}")
    numbers = []
    for name, value, reason in (("size", size, RejectReason.BAD_QUANTITY), ("price", price, RejectReason.BAD_PRICE)):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise FrameRejected(RejectReason.BAD_NUMBER, f"{name}={str(value)[:40]!r}")
        try:
            number = float(value)
        except ValueError:
            raise FrameRejected(RejectReason.BAD_NUMBER, f"{name}={str(value)[:40]!r}") from None
        if not (number > 0 and math.isfinite(number)):
            raise FrameRejected(reason, f"{name}={str(value)[:40]!r}")
        numbers.append(number)
    return LiquidationEvent(symbol, position, numbers[1], numbers[0], time_ms, time_ms,
                            exchange=Venue.BYBIT, price_kind=PriceKind.BANKRUPTCY)


def _read_bybit_csv(text: IO[str], rejected: Counter[str]) -> Iterator[LiquidationEvent]:
    """Rows ``ts_ms,symbol,side,qty,price,ts`` (``ts`` is ``ts_ms`` as ISO-8601 text, not read)."""
    rows = csv.reader(text)
    next(rows)

    def parse(row: list[str]) -> LiquidationEvent:
        if len(row) != len(BYBIT_COLUMNS):
            raise FrameRejected(RejectReason.MISSING_FIELD, f"{len(row)} columns")
        time_ms, symbol, side, qty, price, _ = (cell.strip() or None for cell in row)  # empty: missing
        return _bybit_event(int(time_ms) if time_ms is not None and time_ms.isdecimal() else time_ms, symbol, side,
                            qty, price)

    return _parsed((row for row in rows if row), parse, rejected)


def _read_bybit_frames(text: IO[str], rejected: Counter[str]) -> Iterator[LiquidationEvent]:
    """Lines ``{"t": ms, "d": [{"updatedTime", "symbol", "side", "size", "price"}, ...]}``: every element of ``d``
    is one liquidation (at the recorder's time ``t``); an empty ``d`` is a frame without any."""
    for line in text:
        if not line.strip():
            continue
        try:
            frame = orjson.loads(line)
        except orjson.JSONDecodeError:
            rejected[RejectReason.NOT_JSON.value] += 1
            continue
        if not isinstance(frame, dict):
            rejected[RejectReason.NOT_AN_OBJECT.value] += 1
            continue
        items = frame.get("d")
        if not isinstance(items, list):
            rejected[RejectReason.MISSING_FIELD.value if items is None else "not_an_array"] += 1
            continue
        t = frame.get("t")

        def parse(item: Any, t: Any = t) -> LiquidationEvent:
            if not isinstance(item, dict):
                raise FrameRejected(RejectReason.NOT_AN_OBJECT, type(item).__name__)
            return _bybit_event(t, item.get("symbol"), item.get("side"), item.get("size"), item.get("price"))

        yield from _parsed(items, parse, rejected)


# ---------------------------------------------------------------------------------------------- import

def import_events(source: Source, store: EventStore, *, symbols: Iterable[str] | None = None,
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


# ---------------------------------------------------------------------------------------------- export

def export_events(events: Iterable[LiquidationEvent], fmt: str, out: Out) -> int:
    """Write events as ``csv`` (a header of :data:`EVENT_FIELDS`, one row each) or ``json`` (an array of
    objects with those keys: the venue included) to a path or an open text file. Prices and quantities are
    written exactly (the shortest text that reads back to the same float), so :func:`load_events` reads back
    equal events.
    Returns how many were written."""
    return _export([dict(zip(EVENT_FIELDS, event, strict=True)) for event in events], EVENT_FIELDS, fmt, out)


def export_clusters(clusters: Iterable[LiquidationCluster], fmt: str, out: Out) -> int:
    """Write clusters (:meth:`LiquidationCluster.to_dict`: every field plus ``span_pct``) as ``csv`` (one row
    each, empty cells for None) or ``json`` (an array of objects). Returns how many were written."""
    rows = [c.to_dict() for c in clusters]
    if fmt == "csv":  # the per-venue split as one JSON cell (issue 13, the heatmap room)
        for row in rows:
            row["notional_by_venue"] = orjson.dumps(row["notional_by_venue"]).decode()
    return _export(rows, list(rows[0]) if rows else [*LiquidationCluster.__dataclass_fields__, "span_pct"], fmt, out)


def _export(rows: list[dict[str, Any]], columns: Sequence[str], fmt: str, out: Out) -> int:
    """``rows`` as CSV (a header of ``columns``) or a JSON array of objects; returns how many."""
    if fmt not in ("csv", "json"):
        raise ValueError(f"format: expected 'csv' or 'json', got {fmt!r}")
    with _writer(out) as fh:
        if fmt == "csv":
            writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        else:
            fh.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
    return len(rows)


@contextmanager
def _writer(out: Out) -> Iterator[IO[str]]:
    """A path opened for writing (and closed after), or an open text file used as is (left open)."""
    if not isinstance(out, str | os.PathLike):
        yield out
        return
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        yield fh
