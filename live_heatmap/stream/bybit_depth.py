"""``BybitDepthStream``: Bybit's ``orderbook.200.<SYMBOL>`` books (and ``publicTrade.<SYMBOL>`` for the walls) on
their own connection to ``venues.bybit.ws_url`` (issue 15, ``orderbook.venue: bybit``).

It reuses the Bybit liquidation stream's session (:class:`~live_heatmap.stream.venues.bybit.BybitSession`:
batched subscribe checked by ``req_id``, ``{"op":"ping"}`` every 20 s) and the depth stream's shards
(:class:`~live_heatmap.stream.depth.DepthStream`: reconnects with backoff); what differs:

* Bybit sends the snapshot in the stream (on subscribe), so the book needs no REST call. After a book message the
  session asks the sink whether that symbol's book needs a snapshot (a gap in ``u``, a crossed book); if so it
  re-subscribes the topic (``unsubscribe`` then ``subscribe``, both checked by ``req_id``): Bybit then pushes a
  fresh snapshot. Once per episode: not again until a snapshot of that topic has come, and at most once a topic
  every ``RESUBSCRIBE_GAP_S`` (a venue sending crossed snapshots cannot make it loop). A refused
  re-subscription ends the connection: the reconnect subscribes every topic again (fresh snapshots).
* Book messages go to the sink whole (:meth:`BybitDepthSink.on_depth`: the taker parses them with
  :func:`~live_heatmap.wire.depth.parse_bybit_depth`); trades are parsed here
  (:func:`~live_heatmap.wire.bybit_trade.parse_bybit_trades`) and handed over one by one; a bad element or
  another topic is a reject by reason, counted in the stream's status.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson
import structlog

from live_heatmap.common.instruments import Instruments
from live_heatmap.common.symbols import to_exchange_id
from live_heatmap.stream.depth import DepthStream
from live_heatmap.stream.router import StreamStats, system_wall_ms
from live_heatmap.stream.settings import StreamSettings
from live_heatmap.stream.subscriptions import Plan
from live_heatmap.stream.venues.base import MessageRouter, SubscriptionBook
from live_heatmap.stream.venues.bybit import BybitSession, shard_topics
from live_heatmap.venue import Venue
from live_heatmap.wire.bybit_trade import TRADE_PREFIX, parse_bybit_trades
from live_heatmap.wire.depth import BYBIT_BOOK_PREFIX

__all__ = ["BOOK_DEPTH", "RESUBSCRIBE_GAP_S", "BybitDepthRouter", "BybitDepthSession", "BybitDepthSink",
           "BybitDepthStream", "book_topic"]

log = structlog.get_logger("live_heatmap.stream.stream")

RESUBSCRIBE_GAP_S = 5.0
"""At most one re-subscribe of a topic this often (as Binance's books get at most one snapshot a symbol every 5 s)."""

BOOK_DEPTH = 200
"""Levels a side of the book topic: ``orderbook.200`` (snapshot then deltas every 100 ms, linear)."""


def book_topic(symbol: str) -> str:
    """``orderbook.200.<SYMBOL>`` for an id or a unified symbol."""
    return f"{BYBIT_BOOK_PREFIX}{BOOK_DEPTH}.{to_exchange_id(symbol)}"


class BybitDepthSink(Protocol):
    """What takes Bybit's books and trades (the bot's :class:`~liquidation_hunter.bot.liquidity.LiquidityInputs`)."""

    def on_depth(self, payload: dict[str, Any]) -> None:
        """One ``orderbook.200`` message as Bybit sent it (decoded; the taker parses it). Never raises."""

    def on_trade(self, symbol: str, price: float, quantity: float, at_ms: int) -> None:
        """One parsed trade of a followed symbol."""

    def needs_snapshot(self, symbol: str) -> bool:
        """Whether ``symbol``'s book has none to serve and waits for a snapshot."""


class BybitDepthRouter:
    """Book messages to the sink whole, trades parsed to it; anything else rejected by reason."""

    def __init__(self, sink: BybitDepthSink, symbols: frozenset[str], stats: StreamStats, *,
                 wall_ms: Callable[[], int] = system_wall_ms) -> None:
        self.sink = sink
        self.symbols = symbols
        self.stats = stats
        self._wall_ms = wall_ms

    def on_payload(self, payload: Any) -> None:
        topic = payload.get("topic") if type(payload) is dict else None
        if not isinstance(topic, str):
            self.on_reject("unknown_message", b"")
            return
        self.stats.last_event_wall_ms = self._wall_ms()
        if topic.startswith(BYBIT_BOOK_PREFIX):
            self.stats.events += 1
            self.sink.on_depth(payload)
            return
        if not topic.startswith(TRADE_PREFIX):
            self.on_reject("unknown_topic", b"")
            return
        trades, rejects = parse_bybit_trades(payload, self.symbols)
        for rejected in rejects:
            self.on_reject(str(rejected.reason), b"")
        for trade in trades:
            self.stats.events += 1
            self.sink.on_trade(trade.symbol, trade.price, trade.quantity, trade.at_ms)

    def on_reject(self, reason: str, raw: bytes) -> None:
        self.stats.rejected[reason] += 1
        log.debug("stream.rejected", venue="bybit", connection="orderbook", reason=reason, raw=raw[:200])


class BybitDepthSession(BybitSession):
    """A Bybit session that also re-subscribes a book topic whose book needs a snapshot (module docstring)."""

    def __init__(self, name: str, topics: tuple[str, ...], router: MessageRouter, book: SubscriptionBook, *,
                 batch: int, first_id: int, needs_snapshot: Callable[[str], bool],
                 monotonic: Callable[[], float]) -> None:
        super().__init__(name, topics, router, book, batch=batch, first_id=first_id)
        self._needs_snapshot = needs_snapshot
        self._monotonic = monotonic
        self._resubscribed_at: dict[str, float] = {}
        self._awaiting = {t for t in topics if t.startswith(BYBIT_BOOK_PREFIX)}
        """Book topics whose snapshot has not come yet on this connection (no re-subscribe meanwhile)."""
        self._control: deque[tuple[str, str]] = deque()
        self._control_ids: dict[str, tuple[str, str]] = {}
        self.resubscribes = 0

    def resubscribe(self, topic: str) -> None:
        """Queue ``unsubscribe`` then ``subscribe`` of ``topic`` (Bybit answers the subscribe with a snapshot)."""
        self._awaiting.add(topic)
        self._control.extend((("unsubscribe", topic), ("subscribe", topic)))
        self.resubscribes += 1
        log.info("orderbook.resubscribe", venue="bybit", connection=self.name, topic=topic,
                 resubscribes=self.resubscribes)

    def next_request(self) -> str | None:
        if not self._control:
            return super().next_request()
        op, topic = self._control.popleft()
        req_id, self._next_id = str(self._next_id), self._next_id + 1
        self._control_ids[req_id] = (op, topic)
        return orjson.dumps({"req_id": req_id, "op": op, "args": [topic]}).decode()

    def has_requests(self) -> bool:
        return bool(self._control) or super().has_requests()

    def on_message(self, message: Any) -> bool:
        if type(message) is not dict:
            return False
        control = self._control_ids.pop(str(message.get("req_id")), None)
        if control is not None and message.get("op") in ("subscribe", "unsubscribe"):
            self._on_control(control, message)
            return True
        handled = super().on_message(message)
        topic = message.get("topic")
        if isinstance(topic, str) and topic.startswith(BYBIT_BOOK_PREFIX):
            if message.get("type") == "snapshot":
                self._awaiting.discard(topic)
            if topic not in self._awaiting and self._needs_snapshot(topic.rsplit(".", 1)[-1].upper()):
                now = self._monotonic()
                last = self._resubscribed_at.get(topic)
                if last is None or now - last >= RESUBSCRIBE_GAP_S:  # else a later message asks again
                    self._resubscribed_at[topic] = now
                    self.resubscribe(topic)
        return handled

    def _on_control(self, control: tuple[str, str], answer: dict[str, Any]) -> None:
        op, topic = control
        why = str(answer.get("ret_msg"))[:200]
        if answer.get("success") is True:
            return
        self.book.errors += 1
        self.errors.append(f"{op} {topic}: {why}")
        # no fresh snapshot will come on this connection: a new one subscribes every topic again
        self.failure = f"bybit refused to {op} {topic} for a resync: {why}"[:300]
        log.warning("orderbook.resubscribe_refused", venue="bybit", connection=self.name, topic=topic, op=op,
                    msg=why, consequence="reconnecting")


class _BybitDepthAdapter:
    """The book connection's part: ``orderbook.200`` (and ``publicTrade``) topics, the re-subscribing session."""

    venue = Venue.BYBIT

    def __init__(self, sink: BybitDepthSink, trades: bool, wall_ms: Callable[[], int]) -> None:
        self._sink = sink
        self._trades = trades
        self._wall_ms = wall_ms

    def plan(self, symbols: Sequence[str] | str, settings: StreamSettings, instruments: Instruments | None) -> Plan:
        del instruments
        if isinstance(symbols, str):
            raise ValueError("symbols: an order book follows a list of symbols, not 'all'")
        ids = list(dict.fromkeys(to_exchange_id(s) for s in symbols))
        topics = [book_topic(s) for s in ids] + ([TRADE_PREFIX + s for s in ids] if self._trades else [])
        return Plan(shard_topics(topics, settings.max_args_chars), frozenset(ids))

    def url(self, settings: StreamSettings) -> str:
        return settings.ws_url

    def router(self, sink: Any, plan: Plan, stats: StreamStats, *, funding: Any, wall_ms: Callable[[], int],
               instruments: Instruments | None) -> MessageRouter:
        del sink, funding, wall_ms, instruments
        return BybitDepthRouter(self._sink, plan.symbol_filter or frozenset(), stats, wall_ms=self._wall_ms)

    def session(self, name: str, topics: tuple[str, ...], router: MessageRouter, settings: StreamSettings, *,
                first_id: int, book: SubscriptionBook, monotonic: Callable[[], float]) -> BybitDepthSession:
        return BybitDepthSession(name, topics, router, book, batch=settings.subscribe_batch, first_id=first_id,
                                 needs_snapshot=self._sink.needs_snapshot, monotonic=monotonic)


class BybitDepthStream(DepthStream):
    """Bybit's book feed of ``symbols`` into ``sink`` (module docstring); ``trades``: also ``publicTrade`` for the
    walls. ``settings.ws_url`` is Bybit's linear URL (Bybit's keep-alive: :meth:`StreamSettings.for_venue`)."""

    connection = "orderbook"

    def __init__(self, sink: BybitDepthSink, symbols: Sequence[str], settings: StreamSettings | None = None, *,
                 trades: bool = True, wall_ms: Callable[[], int] = system_wall_ms) -> None:
        self._build(_BybitDepthAdapter(sink, trades, wall_ms), symbols,
                    settings or StreamSettings.for_venue(Venue.BYBIT), wall_ms)
