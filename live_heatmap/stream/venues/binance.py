"""Binance USD-M: today's behaviour, as an adapter. ``<symbol>@forceOrder`` or ``!forceOrder@arr`` (with a
symbol filter), SUBSCRIBE requests answered by id, payloads in ``{"stream","data"}`` envelopes (combined URL)
or bare; the server pings, we answer and also send WebSocket pings; 1024 streams a connection; 24 h rotation."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import structlog

from live_heatmap.common.instruments import Instruments
from live_heatmap.stream.router import FundingSink, Router, Sink, StreamStats
from live_heatmap.stream.settings import StreamSettings
from live_heatmap.stream.subscriptions import Plan, plan_subscriptions, stream_url, subscribe_requests
from live_heatmap.stream.venues.base import JsonSession, KeepAlive, MessageRouter, SubscriptionBook
from live_heatmap.venue import Venue

__all__ = ["BinanceAdapter", "BinanceSession"]

log = structlog.get_logger("live_heatmap.stream.stream")


class BinanceSession(JsonSession):
    """One Binance connection: its SUBSCRIBE requests, their answers by id, and the routing of its frames."""

    keepalive = KeepAlive.WS_PING
    ping_message = ""

    def __init__(self, name: str, streams: tuple[str, ...], router: MessageRouter, first_id: int) -> None:
        super().__init__(name, router)
        self._requests = deque(orjson.dumps(r).decode() for r in subscribe_requests(streams, first_id))
        self._pending_ids = set(range(first_id, first_id + len(self._requests)))

    def next_request(self) -> str | None:
        return self._requests.popleft() if self._requests else None

    def has_requests(self) -> bool:
        return bool(self._requests)

    def ready(self) -> bool:
        return not self._pending_ids

    def on_message(self, message: Any) -> bool:
        if type(message) is list:
            self.router.on_payload(message)
        elif type(message) is not dict:
            return False
        elif "stream" in message and "data" in message:
            self.router.on_payload(message["data"])
        elif "e" in message:
            self.router.on_payload(message)
        elif "id" in message and ("result" in message or "code" in message):
            self._on_reply(message)
        elif "code" in message:
            self.errors.append(str(message.get("msg"))[:200])
            log.warning("stream.error_frame", connection=self.name, code=message.get("code"),
                        msg=str(message.get("msg"))[:200])
        else:
            return False
        return True

    def _on_reply(self, reply: dict[str, Any]) -> None:
        request_id = reply.get("id")
        if "code" in reply:
            self.errors.append(str(reply.get("msg"))[:200])
            log.warning("stream.subscribe_refused", connection=self.name, id=request_id,
                        code=reply.get("code"), msg=str(reply.get("msg"))[:200])
        if isinstance(request_id, int):
            self._pending_ids.discard(request_id)


class BinanceAdapter:
    """Binance's part of the stream."""

    venue = Venue.BINANCE

    def plan(self, symbols: Sequence[str] | str, settings: StreamSettings, instruments: Instruments | None) -> Plan:
        del instruments  # Binance's ids follow the rule (BTC/USDT:USDT -> BTCUSDT)
        return plan_subscriptions(symbols, mark_price=settings.mark_price, per_symbol_limit=settings.per_symbol_limit,
                                  max_streams=settings.max_streams_per_connection, klines=settings.klines,
                                  agg_trades=settings.agg_trades)

    def url(self, settings: StreamSettings) -> str:
        return stream_url(settings.ws_url, combined=settings.combined)

    def router(self, sink: Sink, plan: Plan, stats: StreamStats, *, funding: FundingSink | None,
               wall_ms: Callable[[], int], instruments: Instruments | None) -> MessageRouter:
        del instruments
        return Router(sink, plan.symbol_filter, stats, funding=funding, wall_ms=wall_ms)

    def session(self, name: str, topics: tuple[str, ...], router: MessageRouter, settings: StreamSettings, *,
                first_id: int, book: SubscriptionBook, monotonic: Callable[[], float]) -> BinanceSession:
        del settings, book, monotonic
        return BinanceSession(name, topics, router, first_id)
