"""The one interface of an event store: what the recorder, warm start, import, export and the readers use, met by
the SQLite file (:class:`~live_heatmap.store.recorder.EventStore`) and by PostgreSQL
(:class:`~live_heatmap.store.postgres.PostgresEventStore`); :func:`~live_heatmap.store.stores.open_event_store`
opens either by its target.

Both hold the same table (the same columns, the same unique key: a liquidation stored once per venue) and read in
the same order (trade time, then symbol, side, quantity, price, exchange), so every reader gets the same events in
the same order from either. A row the table refuses (a side other than long/short) raises one of
:data:`REFUSED` on either, so the recorder drops it alone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from typing import Protocol, Self

from live_heatmap.wire.events import LiquidationEvent

__all__ = ["REFUSED", "EventStorage", "RowRefusedError"]


class RowRefusedError(ValueError):
    """PostgreSQL refused a row of a batch (a CHECK or NOT NULL rule): nothing of the batch was stored."""


REFUSED: tuple[type[Exception], ...] = (sqlite3.IntegrityError, RowRefusedError)
"""What ``append`` raises, on either store, for a batch holding a row the table refuses."""


class EventStorage(Protocol):
    """An event store: times are UTC epoch ms, ranges ``since_ms <= trade_time < until_ms``; thread-safe."""

    path: str
    """Where it is, fit for a log line (a PostgreSQL URL with any password masked)."""
    readonly: bool
    schema_version: int

    def append(self, events: Iterable[LiquidationEvent]) -> int:
        """Store ``events`` in one transaction (all or nothing); how many were new."""

    def prune(self, older_than_ms: int, *, chunk: int = 5_000, max_chunks: int | None = None) -> int:
        """Delete events traded before ``older_than_ms``, ``chunk`` rows per transaction; how many went."""

    def events(self, symbols: Iterable[str] | None = None, since_ms: int | None = None,
               until_ms: int | None = None, *, exchanges: Iterable[str] | None = None) -> Iterator[LiquidationEvent]:
        """Stored events in the read order (trade time, symbol, side, quantity, price, exchange)."""

    def count(self, symbols: Iterable[str] | None = None, since_ms: int | None = None,
              until_ms: int | None = None, *, exchanges: Iterable[str] | None = None) -> int:
        """How many events :meth:`events` would give."""

    def symbols(self) -> list[str]:
        """The exchange ids that have events, sorted."""

    def span(self) -> tuple[int, int] | None:
        """``(first, last)`` trade time stored, or None when empty."""

    def integrity_check(self) -> str:
        """``"ok"`` for an intact store, else what is wrong."""

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...
