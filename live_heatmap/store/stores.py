"""The one way to open an event store: :func:`open_event_store` picks SQLite for a file path and PostgreSQL for a
``postgresql://`` (or ``postgres://``) URL; both meet :class:`~live_heatmap.store.interface.EventStorage`."""

from __future__ import annotations

import os

from live_heatmap.store.interface import EventStorage
from live_heatmap.store.postgres import PostgresEventStore
from live_heatmap.store.recorder import EventStore
from live_heatmap.store.target import is_postgres_url

__all__ = ["open_event_store"]


def open_event_store(target: str | os.PathLike[str], *, readonly: bool = False) -> EventStorage:
    """The event store at ``target``: a SQLite file (created when missing unless ``readonly``) or a PostgreSQL
    database (its tables created when missing unless ``readonly``). :class:`~live_heatmap.store.schema.
    EventStoreError` (one line; a URL shown masked) when it cannot be opened as one."""
    if is_postgres_url(target):
        url = os.fspath(target)
        return PostgresEventStore.open_readonly(url) if readonly else PostgresEventStore.open(url)
    return EventStore.open_readonly(target) if readonly else EventStore.open(target)
