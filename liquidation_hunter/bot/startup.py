"""Starting the broker: its recovery needs the exchange (live: markets, positions, the wallet). When the exchange
cannot be reached the bot does not stop: each attempt is one warning line, the next comes after the stream's
capped backoff (0.5 s doubling to 30 s, jittered), tried by the bot's jobs, and nothing is traded until one
succeeds. Then every configured symbol the exchange does not list is warned about once and kept for the health
record (``unknown_symbols``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Literal

import structlog

from liquidation_hunter.trading.errors import ExchangeUnavailable
from liquidation_hunter.trading.model import Broker, ClosedTrade
from live_heatmap.common.backoff import Backoff
from live_heatmap.common.symbols import MarketsLike

__all__ = ["BrokerStartup"]

log = structlog.get_logger("liquidation_hunter.bot")


class BrokerStartup:
    """Starts ``broker`` once, under the bot's trading ``lock``; the trades its recovery finds closed go to
    ``on_exit``. ``symbols``: the configured ones, checked against ``markets`` once started."""

    def __init__(self, broker: Broker, *, lock: threading.Lock, on_exit: Callable[[ClosedTrade], None],
                 markets: MarketsLike | None, symbols: Sequence[str] | Literal["all"]) -> None:
        self._broker = broker
        self._lock = lock
        self._on_exit = on_exit
        self._markets = markets
        self._symbols = symbols
        self._backoff = Backoff()
        self._next_at = 0
        self.ready = False
        """The broker has started (live: the exchange answered); nothing is traded before."""
        self.unknown_symbols: list[str] = []
        """Configured symbols the exchange does not list (markets loaded)."""

    def connect(self, now_ms: int) -> bool:
        """Start the broker once; on :class:`ExchangeUnavailable` log one warning and set the next attempt."""
        with self._lock:
            if self.ready:
                return True
            try:
                for trade in self._broker.start(now_ms):
                    self._on_exit(trade)
            except ExchangeUnavailable as exc:
                delay = self._backoff.next_delay()
                self._next_at = now_ms + round(delay * 1000)
                log.warning("exchange_unreachable", attempt=self._backoff.attempts, error=str(exc),
                            retry_in_s=round(delay, 1), consequence="not trading until the exchange answers")
                return False
            self.ready = True
        if self._backoff.attempts:
            log.info("exchange_reachable", attempts=self._backoff.attempts + 1)
        self._check_symbols()
        return True

    def is_ready(self, now_ms: int) -> bool:
        """Whether the broker has started; tries again when the backoff's delay has passed."""
        if self.ready:
            return True
        return now_ms >= self._next_at and self.connect(now_ms)

    def _check_symbols(self) -> None:
        """Warn once about every configured symbol the exchange does not list (its markets loaded)."""
        markets = self._markets
        listed = getattr(markets, "markets", None) if markets is not None else None
        if self._symbols == "all" or not listed:
            return
        self.unknown_symbols = [s for s in self._symbols if s not in listed]
        for symbol in self.unknown_symbols:
            log.warning("symbol_not_listed", symbol=symbol, consequence="never traded: the exchange does not list "
                        "it (a typo? delisted?); remove it from symbols")
