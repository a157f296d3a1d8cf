"""OKX v5 public: one subscription ``liquidation-orders`` / ``SWAP`` covers every instrument.

* The configured instruments are kept by ``instId`` before a message is parsed (the others counted as
  filtered); the parser needs the instruments' contract sizes (``ctVal``).
* Answers: ``{"event":"subscribe",...}``, or ``{"event":"error","code":..,"msg":..}``: a refused subscription
  ends the connection (the shard reconnects with backoff), counted and shown in status.
* Keep-alive: after ``ping_interval`` (20 s, under OKX's 30) with nothing received, the text ``ping``; the
  answer is the text ``pong``. OKX closes a connection with no data for 30 s (code 4004).
* Limits: 3 connection requests a second per IP (the stream's connection limiter); 480 subscribe requests an
  hour per connection (a budget per connection; one is sent).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import structlog

from live_heatmap.common.instruments import Instruments
from live_heatmap.stream.limits import RateLimiter
from live_heatmap.stream.router import FundingSink, Sink, StreamStats
from live_heatmap.stream.settings import StreamSettings
from live_heatmap.stream.subscriptions import Plan
from live_heatmap.stream.venues.base import JsonSession, KeepAlive, MessageRouter, SubscriptionBook
from live_heatmap.stream.venues.markets import resolve_symbols
from live_heatmap.stream.venues.routing import EventRouter
from live_heatmap.venue import Venue
from live_heatmap.wire.okx import CHANNEL, parse_okx_frame

__all__ = ["OkxAdapter", "OkxSession", "keep_instruments"]

log = structlog.get_logger("live_heatmap.stream.stream")
SWAP_TOPIC = f"{CHANNEL}:SWAP"
"""The one subscription, as a topic name (``<channel>:<instType>``)."""


class OkxSession(JsonSession):
    """One OKX connection: its subscription (within the hour's budget), the answers, the text pong."""

    keepalive = KeepAlive.WHEN_IDLE
    ping_message = "ping"

    def __init__(self, name: str, topics: tuple[str, ...], router: MessageRouter, book: SubscriptionBook, *,
                 budget: RateLimiter | None, first_id: int) -> None:
        super().__init__(name, router)
        self.book = book
        self.budget = budget
        self._to_send = deque(topics)
        self._pending: deque[str] = deque()
        self._next_id = first_id
        self.requests_sent = 0

    def next_request(self) -> str | None:
        if not self._to_send or (self.budget is not None and self.budget.reserve() > 0.0):
            return None
        channel, inst_type = self._to_send.popleft().split(":", 1)
        req_id, self._next_id = str(self._next_id), self._next_id + 1
        self._pending.append(req_id)
        self.requests_sent += 1
        return orjson.dumps({"id": req_id, "op": "subscribe",
                             "args": [{"channel": channel, "instType": inst_type}]}).decode()

    def has_requests(self) -> bool:
        return bool(self._to_send)

    def ready(self) -> bool:
        return not self._to_send and not self._pending

    def on_frame(self, data: bytes) -> None:
        if data != b"pong":
            super().on_frame(data)

    def on_message(self, message: Any) -> bool:
        if type(message) is not dict:
            return False
        if "event" in message:
            self._on_event(message)
            return True
        if "arg" in message:
            self.router.on_payload(message)
            return True
        return False

    def _on_event(self, answer: dict[str, Any]) -> None:
        event = answer.get("event")
        if event == "subscribe":
            if self._pending:
                self._pending.popleft()
            return
        if event == "error":
            why = f"{str(answer.get('code'))[:20]} {str(answer.get('msg'))[:180]}"
            self.book.errors += 1
            self.errors.append(why)
            log.warning("stream.subscribe_refused", venue="okx", connection=self.name, msg=why)
            if self._pending:  # the answer to our subscription: without it the connection is useless
                self._pending.popleft()
                self.failure = f"subscribe refused: {why}"
            return
        log.info("stream.venue_notice", venue="okx", connection=self.name, answer=str(answer)[:200])


def keep_instruments(ids: frozenset[str]) -> Callable[[dict[str, Any]], int]:
    """Trims a message's ``data`` to the elements of ``ids``; returns how many liquidations it removed."""

    def keep(message: dict[str, Any]) -> int:
        data = message.get("data")
        if type(data) is not list:
            return 0
        kept, removed = [], 0
        for element in data:
            inst_id = element.get("instId") if type(element) is dict else None
            if type(inst_id) is str and inst_id not in ids:
                details = element.get("details")
                removed += max(1, len(details)) if type(details) is list else 1
            else:
                kept.append(element)
        if removed:
            message["data"] = kept
        return removed

    return keep


class OkxAdapter:
    """OKX's part of the stream."""

    venue = Venue.OKX

    def plan(self, symbols: Sequence[str] | str, settings: StreamSettings, instruments: Instruments | None) -> Plan:
        del settings
        if instruments is None:
            raise ValueError("okx: the stream needs the venue's instruments (sizes are in contracts of ctVal)")
        if isinstance(symbols, str):
            resolve_symbols(self.venue, symbols, None)  # checks the word
            return Plan(((SWAP_TOPIC,),), None, frozenset())
        found, skipped = resolve_symbols(self.venue, symbols, instruments)
        pairs = found or []
        return Plan(((SWAP_TOPIC,),) if pairs else (), frozenset(i for i, _ in pairs),
                    frozenset(key for _, key in pairs), skipped)

    def url(self, settings: StreamSettings) -> str:
        return settings.ws_url

    def router(self, sink: Sink, plan: Plan, stats: StreamStats, *, funding: FundingSink | None,
               wall_ms: Callable[[], int], instruments: Instruments | None) -> MessageRouter:
        del funding
        if instruments is None:
            raise ValueError("okx: the stream needs the venue's instruments")
        keep = None if plan.symbol_filter is None else keep_instruments(plan.symbol_filter)
        return EventRouter(self.venue, sink, stats, parse_okx_frame, instruments,
                           wall_ms=wall_ms, keep=keep)

    def session(self, name: str, topics: tuple[str, ...], router: MessageRouter, settings: StreamSettings, *,
                first_id: int, book: SubscriptionBook, monotonic: Callable[[], float]) -> OkxSession:
        limit = settings.subscribe_limit
        budget = None if limit is None else RateLimiter(limit[0], limit[1], clock=monotonic)
        return OkxSession(name, topics, router, book, budget=budget, first_id=first_id)
