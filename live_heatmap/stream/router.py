"""Where a connection's payloads go: a table keyed by event type, into the stream's sinks.

The stream knows its sinks only by these protocols: a :class:`Sink` (the heatmap) takes liquidations, mark
prices and rejects; a :class:`FundingSink` (:class:`~live_heatmap.funding.FundingRates`) takes the funding rate
and next funding time that every ``markPriceUpdate`` carries (``r``, ``T``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from live_heatmap.wire.events import FrameRejected, LiquidationEvent
from live_heatmap.wire.kline import Kline, parse_kline_frame

__all__ = ["DEPTH_EVENTS", "MARKET_EVENTS", "WRONG_CONNECTION", "FundingSink", "KlineSink", "Router", "Sink",
           "StreamStats", "TradeSink", "system_wall_ms"]

WRONG_CONNECTION = "wrong_connection"
"""The reject reason of an event on the connection that must not carry it (issue 15): order-book events on the
``/market`` connection, liquidations, mark prices, klines or trades on the ``/public`` one."""
DEPTH_EVENTS = frozenset({"depthUpdate", "bookTicker"})
"""Binance's order-book events: served on ``/public`` since 2026-04."""
MARKET_EVENTS = frozenset({"forceOrder", "markPriceUpdate", "kline", "aggTrade"})
"""Binance's events that stay on ``/market``."""

log = structlog.get_logger("live_heatmap.stream.stream")


def system_wall_ms() -> int:
    """Wall-clock UTC epoch milliseconds."""
    return time.time_ns() // 1_000_000


class Sink(Protocol):
    """What the stream feeds (:class:`~live_heatmap.heatmap.LiveLiquidationHeatmap` is one)."""

    def ingest(self, frame: dict[str, Any] | LiquidationEvent) -> bool:
        """A ``forceOrder`` payload (Binance) or a parsed event (Bybit, OKX); True if it was stored. Never raises
        for a bad frame."""

    def record_reject(self, reason: str) -> None:
        """Count a frame the stream could not use."""

    def update_price(self, symbol: str, price: float, timestamp_ms: int | None = None) -> None:
        """A mark price (exchange id)."""

    def track(self, symbols: Iterable[str]) -> None:
        """The symbols the stream will deliver (when it was given a list)."""


class FundingSink(Protocol):
    """What takes the streamed funding rates."""

    def update_funding(self, symbol: str, rate: float, next_funding_ms: int, at_ms: int) -> None:
        """``rate`` (fraction per interval) is the current estimate for the funding at ``next_funding_ms``."""


class KlineSink(Protocol):
    """What takes the streamed klines (the estimated layer's inputs, issue 14)."""

    def on_kline(self, kline: Kline) -> None:
        """One kline frame of a followed symbol, closed or not (the taker keeps the closed ones)."""


class TradeSink(Protocol):
    """What takes the streamed trades (``<symbol>@aggTrade``: the liquidity layer's walls, issue 15)."""

    def on_trade(self, symbol: str, price: float, quantity: float, at_ms: int) -> None:
        """One aggregated trade of a followed symbol (exchange id)."""


@dataclass(slots=True)
class StreamStats:
    """What the router passed on (read by :meth:`LiquidationStream.status`)."""

    events: int = 0
    filtered: int = 0
    mark_prices: int = 0
    funding_rates: int = 0
    klines: int = 0
    trades: int = 0
    last_event_wall_ms: int | None = None
    rejected: Counter[str] = field(default_factory=Counter)
    """Frames (or their elements) the stream could not use, by reason."""


class Router:
    """Routes one stream's payloads into its sinks; ``wall_ms`` stamps the last event (injected clock)."""

    def __init__(self, sink: Sink, symbol_filter: frozenset[str] | None, stats: StreamStats, *,
                 funding: FundingSink | None = None,
                 wall_ms: Callable[[], int] = system_wall_ms) -> None:
        self.sink = sink
        self.funding = funding
        self.symbol_filter = symbol_filter
        self.stats = stats
        self.klines: KlineSink | None = None
        """Where ``kline`` frames go (set by the stream when asked to; None: they are rejected as unknown)."""
        self.trades: TradeSink | None = None
        """Where ``aggTrade`` frames go (set by the stream when asked to; None: they are rejected as unknown)."""
        self._wall_ms = wall_ms
        self._routes: dict[str, Callable[[dict[str, Any]], None]] = {
            "forceOrder": self._force_order,
            "markPriceUpdate": self._mark_price,
            "kline": self._kline,
            "aggTrade": self._agg_trade,
            **{event: self._wrong_connection for event in DEPTH_EVENTS},
        }

    def on_payload(self, payload: Any) -> None:
        if type(payload) is list:  # !markPrice@arr@1s
            for item in payload:
                self.on_payload(item)
            return
        route = self._routes.get(str(payload.get("e"))) if type(payload) is dict else None
        if route is None:
            self.on_reject("unknown_event_type", b"")
            return
        route(payload)

    def on_reject(self, reason: str, raw: bytes) -> None:
        self.stats.rejected[reason] += 1
        self.sink.record_reject(reason)
        log.debug("stream.rejected", reason=reason, raw=raw[:200])

    def _force_order(self, payload: dict[str, Any]) -> None:
        self.stats.last_event_wall_ms = self._wall_ms()
        if self.symbol_filter is not None:
            order = payload.get("o")
            if type(order) is dict and order.get("s") not in self.symbol_filter:
                self.stats.filtered += 1
                return
        self.stats.events += 1
        self.sink.ingest(payload)

    def _mark_price(self, payload: dict[str, Any]) -> None:
        symbol = payload.get("s")
        if self.symbol_filter is not None and symbol not in self.symbol_filter:
            return
        try:
            price, at = float(payload["p"]), int(payload["E"])
            self.sink.update_price(str(symbol), price, timestamp_ms=at)
        except (KeyError, TypeError, ValueError):
            self.on_reject("bad_mark_price", b"")
            return
        self.stats.mark_prices += 1
        if self.funding is not None:
            self._funding(self.funding, str(symbol), payload, at)

    def _kline(self, payload: dict[str, Any]) -> None:
        if self.klines is None:
            self.on_reject("unknown_event_type", b"")
            return
        parsed = parse_kline_frame(payload)
        if isinstance(parsed, FrameRejected):
            self.on_reject(f"kline_{parsed.reason.value}", b"")
            return
        if self.symbol_filter is not None and parsed.symbol not in self.symbol_filter:
            return
        self.stats.klines += 1
        self.klines.on_kline(parsed)

    def _wrong_connection(self, payload: dict[str, Any]) -> None:
        """Depth on the ``/market`` connection: Binance serves it on ``/public`` (a separate connection)."""
        del payload
        self.on_reject(WRONG_CONNECTION, b"")

    def _agg_trade(self, payload: dict[str, Any]) -> None:
        if self.trades is None:
            self.on_reject("unknown_event_type", b"")
            return
        symbol = payload.get("s")
        if self.symbol_filter is not None and symbol not in self.symbol_filter:
            return
        try:
            price, quantity, at = float(payload["p"]), float(payload["q"]), int(payload["T"])
        except (KeyError, TypeError, ValueError):
            self.on_reject("bad_agg_trade", b"")
            return
        if not (price > 0 and quantity >= 0 and price < float("inf") and quantity < float("inf")):
            self.on_reject("bad_agg_trade", b"")
            return
        self.stats.trades += 1
        self.trades.on_trade(str(symbol), price, quantity, at)

    def _funding(self, funding: FundingSink, symbol: str, payload: dict[str, Any], at: int) -> None:
        """``r`` and ``T``; a contract without funding (delivery: ``"r": ""``, ``"T": 0``) is skipped quietly."""
        try:
            rate, next_funding = float(payload["r"]), int(payload["T"])
        except (KeyError, TypeError, ValueError):
            return
        if next_funding > 0 and -1.0 < rate < 1.0:  # also refuses NaN and infinities
            funding.update_funding(symbol, rate, next_funding, at)
            self.stats.funding_rates += 1
