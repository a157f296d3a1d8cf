"""Bybit v5 linear: one ``allLiquidation.<symbol>`` topic per symbol (no all-market topic).

* Shards: the ``args`` of one connection, as JSON, stay within ``max_args_chars`` (Bybit: 21,000 characters).
* Subscribe in batches of ``subscribe_batch`` topics and check every answer by ``req_id``: ``success`` true, or
  "already subscribed", is fine; one unknown topic fails its whole request, so a failed batch is split in two
  and each half sent again until the bad topic stands alone: it is dropped for good (warned, counted, shown in
  status) and the rest are subscribed.
* Keep-alive: ``{"op":"ping"}`` every ``ping_interval`` (20 s); the answer is ``{"success":true,"op":"ping",...}``
  (keyed on ``op``, not ``ret_msg``).
* At most 500 new connections per 5 minutes per IP: the stream's connection limiter.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import structlog

from live_heatmap.common.instruments import Instruments
from live_heatmap.common.symbols import symbol_key, to_exchange_id
from live_heatmap.stream.router import FundingSink, Sink, StreamStats
from live_heatmap.stream.settings import StreamSettings
from live_heatmap.stream.subscriptions import Plan
from live_heatmap.stream.venues.base import JsonSession, KeepAlive, MessageRouter, SubscriptionBook
from live_heatmap.stream.venues.markets import resolve_symbols
from live_heatmap.stream.venues.routing import EventRouter
from live_heatmap.venue import Venue
from live_heatmap.wire.bybit import TOPIC_PREFIX, parse_bybit_frame

__all__ = ["BybitAdapter", "BybitSession", "args_chars", "shard_topics"]

log = structlog.get_logger("live_heatmap.stream.stream")
PING = '{"op":"ping"}'


def args_chars(topics: Sequence[str]) -> int:
    """The length of ``topics`` as a JSON array (what Bybit measures against 21,000)."""
    return len(orjson.dumps(list(topics)).decode())


def shard_topics(topics: Sequence[str], max_args_chars: int) -> tuple[tuple[str, ...], ...]:
    """``topics`` in order, cut into connections whose ``args`` stay within ``max_args_chars``."""
    shards: list[tuple[str, ...]] = []
    current: list[str] = []
    size = 2  # []
    for topic in topics:
        add = args_chars([topic]) - 2 + (1 if current else 0)  # the quoted topic, and a comma after the first
        if current and size + add > max_args_chars:
            shards.append(tuple(current))
            current, size, add = [], 2, add - 1
        if size + add > max_args_chars:
            raise ValueError(f"bybit: the topic {topic!r} alone exceeds {max_args_chars} characters of args")
        current.append(topic)
        size += add
    if current:
        shards.append(tuple(current))
    return tuple(shards)


def _by_rule(symbol: str) -> tuple[str, str]:
    return to_exchange_id(symbol), symbol_key(symbol)


class BybitSession(JsonSession):
    """One Bybit connection: batched subscriptions, each answer checked, bad topics found and dropped."""

    keepalive = KeepAlive.MESSAGE
    ping_message = PING

    def __init__(self, name: str, topics: tuple[str, ...], router: MessageRouter, book: SubscriptionBook, *,
                 batch: int, first_id: int) -> None:
        super().__init__(name, router)
        self.book = book
        wanted = [t for t in topics if t not in book.dropped]
        self._queue = deque(tuple(wanted[i:i + batch]) for i in range(0, len(wanted), batch))
        self._in_flight: dict[str, tuple[str, ...]] = {}
        self._next_id = first_id

    def next_request(self) -> str | None:
        if not self._queue:
            return None
        batch = self._queue.popleft()
        req_id, self._next_id = str(self._next_id), self._next_id + 1
        self._in_flight[req_id] = batch
        return orjson.dumps({"req_id": req_id, "op": "subscribe", "args": list(batch)}).decode()

    def has_requests(self) -> bool:
        return bool(self._queue)

    def ready(self) -> bool:
        return not self._queue and not self._in_flight

    def on_message(self, message: Any) -> bool:
        if type(message) is not dict:
            return False
        if "topic" in message:
            self.router.on_payload(message)
            return True
        op = message.get("op")
        if op == "subscribe":
            self._on_subscribe(message)
            return True
        if op in ("ping", "pong"):  # the pong: anything received already answers our ping
            if message.get("success") is False:
                log.warning("stream.ping_refused", venue="bybit", connection=self.name,
                            msg=str(message.get("ret_msg"))[:200])
            return True
        return False

    def _on_subscribe(self, answer: dict[str, Any]) -> None:
        batch = self._in_flight.pop(str(answer.get("req_id")), None)
        if batch is None:
            log.warning("stream.unexpected_answer", venue="bybit", connection=self.name, answer=str(answer)[:200])
            return
        why = str(answer.get("ret_msg"))[:200]
        if answer.get("success") is True or "already subscribed" in why.lower():
            return
        if len(batch) == 1:
            (topic,) = batch
            self.book.dropped.add(topic)
            self.book.errors += 1
            self.errors.append(f"{topic}: {why}")
            log.warning("stream.topic_dropped", venue="bybit", connection=self.name, topic=topic, msg=why)
            return
        half = len(batch) // 2  # one unknown topic fails the whole request: find it by halves
        self._queue.appendleft(batch[half:])
        self._queue.appendleft(batch[:half])


class BybitAdapter:
    """Bybit's part of the stream."""

    venue = Venue.BYBIT

    def plan(self, symbols: Sequence[str] | str, settings: StreamSettings, instruments: Instruments | None) -> Plan:
        if isinstance(symbols, str) and instruments is None:
            raise ValueError("bybit: 'all' needs the venue's instruments (Bybit has one topic per symbol)")
        found, skipped = resolve_symbols(self.venue, symbols, instruments, by_rule=_by_rule)
        pairs = found or []
        topics = [TOPIC_PREFIX + venue_id for venue_id, _ in pairs]
        return Plan(shard_topics(topics, settings.max_args_chars), None, frozenset(key for _, key in pairs), skipped)

    def url(self, settings: StreamSettings) -> str:
        return settings.ws_url

    def router(self, sink: Sink, plan: Plan, stats: StreamStats, *, funding: FundingSink | None,
               wall_ms: Callable[[], int], instruments: Instruments | None) -> MessageRouter:
        del plan, funding  # one topic per symbol: nothing to filter; no funding rates here
        return EventRouter(self.venue, sink, stats, parse_bybit_frame, instruments,
                           wall_ms=wall_ms)

    def session(self, name: str, topics: tuple[str, ...], router: MessageRouter, settings: StreamSettings, *,
                first_id: int, book: SubscriptionBook, monotonic: Callable[[], float]) -> BybitSession:
        del monotonic
        return BybitSession(name, topics, router, book, batch=settings.subscribe_batch, first_id=first_id)
