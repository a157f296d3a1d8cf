"""One Redis Streams entry per liquidation: the stream it goes to (``liq:<exchange>``) and its fields.

Besides the event, each entry carries what a consumer needs to see a loss: the publisher's ``epoch`` (its start
time in ms: a new publisher starts a new sequence) and ``seq``, the entry's number in its stream for that epoch
(1, 2, 3 ...), and ``t``, when it was sent (ms: the publish-to-store latency and the loss of a Redis restart are
measured on it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

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


def encode(event: LiquidationEvent, epoch: int, seq: int, sent_ms: int) -> dict[str, str | int | float]:
    """The entry's fields (``repr`` of the floats: they read back equal)."""
    return {"s": event.symbol, "d": event.side.value, "p": repr(float(event.price)), "q": repr(float(event.quantity)),
            "e": event.event_time, "T": event.trade_time, "x": event.status, "f": int(event.fallback),
            "v": event.exchange.value, "k": event.price_kind.value, "vs": event.venue_symbol, "ep": epoch, "n": seq,
            "t": sent_ms}


def decode(fields: Mapping[bytes, bytes]) -> Entry:
    """An entry read back (raises ``KeyError``/``ValueError`` for one that is not a liquidation)."""
    def text(key: bytes) -> str:
        return fields[key].decode()

    event = LiquidationEvent(text(b"s"), Side(text(b"d")), float(text(b"p")), float(text(b"q")), int(text(b"e")),
                             int(text(b"T")), text(b"x"), text(b"f") == "1", Venue(text(b"v")), PriceKind(text(b"k")),
                             text(b"vs"))
    return Entry(event, int(text(b"ep")), int(text(b"n")), int(text(b"t")))
