"""Recorded forceOrder payloads: Binance-like thinning, and a handle on a replay running in the server."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

Payload = dict[str, Any] | bytes | str


@dataclass(frozen=True)
class ReplayItem:
    """One payload to replay: its trade time `o.T`, its symbol, and the bytes to put on the wire."""

    trade_ms: int
    symbol: str
    payload: Payload  # what the caller gave (kept for ReplayHandle.sent)
    wire: bytes


def replay_item(payload: Payload) -> ReplayItem:
    """Read `o.T` and `o.s` of a forceOrder payload given as a dict or as raw JSON (sent as-is)."""
    if isinstance(payload, dict):
        decoded, wire = payload, orjson.dumps(payload)
    else:
        wire = payload.encode() if isinstance(payload, str) else payload
        decoded = orjson.loads(wire)
    order = decoded["o"]
    return ReplayItem(trade_ms=int(order["T"]), symbol=str(order["s"]), payload=payload, wire=wire)


def thin_snapshot(items: Sequence[ReplayItem], gap_ms: int) -> list[ReplayItem]:
    """Keep, per symbol, at most one event per `gap_ms` of `o.T`: the latest one, as Binance's snapshot does.

    Per symbol, a window opens at an event; later events of the same symbol within `gap_ms` of the
    window's start replace the kept one (the latest wins), and events that come too soon after the
    kept one but past the window are dropped. So two kept events of one symbol are always at least
    `gap_ms` apart in `o.T`. The kept events stay in their input order.
    """
    kept: dict[str, list[int]] = {}  # symbol -> indices of kept items
    window_start: dict[str, int] = {}
    for index, item in enumerate(items):
        mine = kept.setdefault(item.symbol, [])
        if not mine or item.trade_ms - items[mine[-1]].trade_ms >= gap_ms:
            mine.append(index)
            window_start[item.symbol] = item.trade_ms
        elif item.trade_ms - window_start[item.symbol] < gap_ms and _fits_after(items, mine, item, gap_ms):
            mine[-1] = index
    chosen = sorted(index for indices in kept.values() for index in indices)
    return [items[index] for index in chosen]


def _fits_after(items: Sequence[ReplayItem], kept: list[int], item: ReplayItem, gap_ms: int) -> bool:
    """Can `item` replace the last kept event without coming too close to the one before it?"""
    return len(kept) < 2 or item.trade_ms - items[kept[-2]].trade_ms >= gap_ms


def prepare(payloads: Iterable[Payload], *, thin: bool, gap_ms: int) -> list[ReplayItem]:
    items = [replay_item(payload) for payload in payloads]
    return thin_snapshot(items, gap_ms) if thin else items


class ReplayHandle:
    """A replay running in the server's event loop.

    `sent` lists the payloads published so far (whether or not anyone was subscribed), in order;
    `planned` is how many will be published in all (after thinning).
    """

    def __init__(self, planned: int) -> None:
        self.planned = planned
        self._sent: list[Payload] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._cancel: Callable[[], Any] | None = None

    @property
    def sent(self) -> list[Payload]:
        """A copy of the payloads published so far."""
        with self._lock:
            return list(self._sent)

    @property
    def done(self) -> bool:
        """True once the replay has published everything, or was stopped."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the replay is done; False if `timeout` passed first."""
        return self._done.wait(timeout)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop publishing (what was sent stays sent) and wait for the replay to end."""
        if self._cancel is not None and not self.done:
            self._cancel()
        self._done.wait(timeout)

    # Called by the server.
    def _attach(self, cancel: Callable[[], Any]) -> None:
        self._cancel = cancel

    def _record(self, payload: Payload) -> None:
        with self._lock:
            self._sent.append(payload)

    def _finish(self) -> None:
        self._done.set()
