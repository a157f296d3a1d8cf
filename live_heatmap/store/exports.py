"""Events and clusters out, as CSV or a JSON array of objects, and events read back from those exports (for
:func:`~live_heatmap.store.history.load_events`, with the parser's checks; an export made before the venue was kept
reads as Binance's events)."""

from __future__ import annotations

import csv
import math
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import orjson

from live_heatmap.cluster import LiquidationCluster
from live_heatmap.side import Side
from live_heatmap.store.file_rows import RowRejected, parsed_rows
from live_heatmap.venue import PriceKind, Venue
from live_heatmap.wire.events import (
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    FrameRejected,
    LiquidationEvent,
    RejectReason,
    symbol_ok,
)

__all__ = ["EVENT_FIELDS", "export_clusters", "export_events"]

EVENT_FIELDS = LiquidationEvent._fields
"""The columns of an exported events CSV (and the keys of an exported JSON object): every field of the event."""
EVENT_FIELDS_1 = EVENT_FIELDS[:8]  # an export made before the venue was kept: Binance's events
# Names -> members by a dict lookup (calling the enum costs a microsecond a field, a third of a row's read).
_SIDE_NAMES: dict[Any, Side] = {side.value: side for side in Side}
_VENUE_NAMES: dict[Any, Venue] = {venue.value: venue for venue in Venue}
_PRICE_KIND_NAMES: dict[Any, PriceKind] = {kind.value: kind for kind in PriceKind}
_BINANCE = (Venue.BINANCE, PriceKind.FILL_AVG, "")

Out = str | os.PathLike[str] | IO[str]


def _event(values: Sequence[Any]) -> LiquidationEvent:
    """An event from exported fields (in :data:`EVENT_FIELDS` order, or its first 8 for an export made before the
    venue was kept: a Binance ``fill_avg`` event), with the parser's checks."""
    if len(values) == len(EVENT_FIELDS):
        venue = _venue_fields(values[8], values[9], values[10])
    elif len(values) == len(EVENT_FIELDS_1):
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
        raise RowRejected("bad_exchange", f"exchange={str(exchange)[:20]!r}")
    kind = _PRICE_KIND_NAMES.get(price_kind) if isinstance(price_kind, str) else None
    if kind is None:
        raise RowRejected("bad_price_kind", f"price_kind={str(price_kind)[:20]!r}")
    if not isinstance(venue_symbol, str) or (venue_symbol and not symbol_ok(venue_symbol)):
        raise FrameRejected(RejectReason.BAD_SYMBOL, f"venue_symbol={str(venue_symbol)[:40]!r}")
    return venue, kind, venue_symbol


def read_events_csv(text: IO[str], rejected: Counter[str]) -> Iterator[LiquidationEvent]:
    rows = csv.reader(text)
    columns = len(next(rows))  # 11, or 8 in an export made before the venue was kept

    def parse(row: list[str]) -> LiquidationEvent:
        if len(row) != columns:
            raise FrameRejected(RejectReason.MISSING_FIELD, f"{len(row)} columns, the header has {columns}")
        return _event(row)

    return parsed_rows((row for row in rows if row), parse, rejected)


def read_events_json(text: IO[str], rejected: Counter[str]) -> Iterator[LiquidationEvent]:
    try:
        items = orjson.loads(text.read())
    except orjson.JSONDecodeError:
        rejected[RejectReason.NOT_JSON.value] += 1
        return

    def parse(item: Any) -> LiquidationEvent:
        if not isinstance(item, dict):
            raise FrameRejected(RejectReason.NOT_AN_OBJECT, type(item).__name__)
        fields = EVENT_FIELDS if "exchange" in item else EVENT_FIELDS_1  # no exchange: an export made before
        return _event([item.get(name) for name in fields])

    yield from parsed_rows(items if isinstance(items, list) else [items], parse, rejected)


def export_events(events: Iterable[LiquidationEvent], fmt: str, out: Out) -> int:
    """Write events as ``csv`` (a header of :data:`EVENT_FIELDS`, one row each) or ``json`` (an array of
    objects with those keys: the venue included) to a path or an open text file. Prices and quantities are
    written exactly (the shortest text that reads back to the same float), so
    :func:`~live_heatmap.store.history.load_events` reads back equal events.
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
