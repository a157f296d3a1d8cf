"""One Redis Streams entry per liquidation: the stream it goes to (``liq:<exchange>``) and its fields.

Besides the event, each entry carries what a consumer needs to see a loss: the publisher's ``epoch`` (its start
time in ms: a new publisher starts a new sequence) and ``seq``, the entry's number in its stream for that epoch
(1, 2, 3 ...), and ``t``, when it was sent (ms: the publish-to-store latency and the loss of a Redis restart are
measured on it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import orjson

from live_heatmap import LiquidationEvent, Side
from live_heatmap.venue import PriceKind, Venue

__all__ = ["Entry", "decode", "encode", "stream_name"]

PREFIX = "liq:"


def stream_name(exchange: str) -> str:
    """``liq:<exchange>``."""
    return PREFIX + exchange


class Entry(NamedTuple):
    """A decoded entry: the event, the publisher's epoch, its sequence number and the publish time (ms)."""

    event: LiquidationEvent
    epoch: int
    seq: int
    sent_ms: int


def encode(event: LiquidationEvent, epoch: int, seq: int, sent_ms: int) -> dict[str, bytes]:
    """The entry's one field ``e``: a JSON array of the event's fields in :class:`LiquidationEvent`'s order, then
    the epoch, the sequence number and the send time (one field, not one per value: redis-py encodes each field
    of an ``XADD`` apart, and one field halved the publisher's time per entry)."""
    return {"e": orjson.dumps((event.symbol, event.side.value, float(event.price), float(event.quantity),
                               event.event_time, event.trade_time, event.status, event.fallback,
                               event.exchange.value, event.price_kind.value, event.venue_symbol, epoch, seq, sent_ms))}


def decode(fields: Mapping[bytes, bytes]) -> Entry:
    """An entry read back (raises ``KeyError``/``ValueError``/``TypeError`` for one that is not a liquidation)."""
    (symbol, side, price, quantity, event_time, trade_time, status, fallback, exchange, price_kind, venue_symbol,
     epoch, seq, sent_ms) = orjson.loads(fields[b"e"])
    event = LiquidationEvent(str(symbol), Side(side), float(price), float(quantity), int(event_time), int(trade_time),
                             str(status), bool(fallback), Venue(exchange), PriceKind(price_kind), str(venue_symbol))
    return Entry(event, int(epoch), int(seq), int(sent_ms))
