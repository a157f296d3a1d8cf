"""What a bot on a feed missed, and filling it from the history store.

A gap is seen when an entry's sequence number jumps past the next expected one (the same publisher epoch): the
missing numbers are the count. ``XINFO STREAM`` says why: the stream was trimmed past the bot's last id (its first
entry is beyond it, or ``max-deleted-entry-id`` is: ``trimmed``), or the entries never came back after a Redis
restart (AOF ``everysec`` keeps all but about the last second: ``lost``). A new publisher epoch whose first entries
the bot did not read counts those (``seq - 1``); what the previous publisher sent after the bot's cursor and the
stream lost is not counted, and its time range is filled all the same. Each gap is one log line, counted in the
books' cursor and in ``status``; with ``feed.fill_from`` the events of its time range are read from that event
store and handed on like the feed's (the heatmap and the event store drop those they hold already).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import structlog

from live_heatmap import LiquidationEvent
from live_heatmap.common.errors import describe
from live_heatmap.store.stores import open_event_store

__all__ = ["Gap", "fill_gap", "gap_kind"]

log = structlog.get_logger("liquidation_hunter.feed")


@dataclass(frozen=True, slots=True)
class Gap:
    """Entries of ``stream`` missed between the bot's last entry (``after_id``, its event at ``from_ms``) and the
    next one read (``until_ms``): ``missed`` entries, why (``trimmed``, ``lost``), and how many
    events were filled from the store (None: no store configured)."""

    stream: str
    kind: str
    missed: int
    after_id: str
    from_ms: int
    until_ms: int
    filled: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _id(raw: Any) -> tuple[int, int]:
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def gap_kind(client: Any, stream: str, after_id: str) -> str:
    """``trimmed`` when the stream no longer holds the entries past ``after_id``: its first entry is beyond it
    (``MAXLEN`` trimming), or an entry past it was deleted (``max-deleted-entry-id``, Redis 7: ``XDEL``); else
    ``lost`` (a restart lost the stream's last entries). ``lost`` too when the server does not say."""
    try:
        info = client.xinfo_stream(stream)
    except Exception:  # noqa: BLE001 - the kind is a label: a failed look must not stop the feed
        return "lost"
    first = info.get("first-entry")
    deleted = info.get("max-deleted-entry-id")
    after = _id(after_id)
    if (first and _id(first[0]) > after) or (deleted is not None and _id(deleted) > after):
        return "trimmed"
    return "lost"


def fill_gap(gap: Gap, store_path: str | None, exchange: str, handler: Callable[[Sequence[LiquidationEvent]], object]
             ) -> Gap:
    """``gap`` with its events (``[from_ms, until_ms]`` of ``exchange``) read from the event store at ``store_path``
    (a file or a ``postgresql://`` URL) and handed to ``handler``; the gap logged in one line either way. Never
    raises."""
    filled: int | None = None
    error: str | None = None
    if store_path is not None:
        try:
            with open_event_store(store_path, readonly=True) as store:
                events = list(store.events(since_ms=gap.from_ms, until_ms=gap.until_ms + 1, exchanges=[exchange]))
            handler(events)
            filled = len(events)
        except Exception as exc:  # noqa: BLE001 - the store missing or broken: the gap stays counted, the feed goes on
            error = describe(exc)
    done = replace(gap, filled=filled, error=error)
    log.warning("feed_gap", stream=gap.stream, kind=gap.kind, missed=gap.missed, after_id=gap.after_id,
                from_ms=gap.from_ms, until_ms=gap.until_ms, filled=filled, fill_error=error,
                consequence="filled from feed.fill_from" if filled is not None else
                "not filled (set feed.fill_from to the publisher's event store)")
    return done
