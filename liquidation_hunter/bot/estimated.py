"""The estimated layer's live inputs in the bot (issue 14, ``estimated.enabled``): :class:`EstimatedInputs`.

* On start (:meth:`EstimatedInputs.backfill`, a service before the stream opens): per symbol the window's 5-minute
  klines, mark price klines and ``openInterestHist`` (5m) over REST, through the same
  :class:`~live_heatmap.estimated.assembly.BarAssembler` as the live inputs, so the layer is warm at once.
* While running: the stream's ``<symbol>@kline_5m`` frames (:meth:`on_kline`, the stream's thread) and the mark
  prices the bot already follows (:meth:`on_mark`, a price listener of the heatmap); the ``estimated`` job
  (:meth:`poll`, every ``estimated.oi_poll_seconds``) reads each symbol's open interest, fills from REST what the
  stream missed (:meth:`~live_heatmap.estimated.assembly.BarAssembler.wanted`) and feeds the ready bars into the
  layer.

Exchange errors are counted per symbol and logged; the loop goes on. The REST weight this uses is computed
(:func:`~live_heatmap.estimated.budget.estimated_budget`, refused by the config beyond 50 % of Binance's limit),
logged at start and shown by ``status`` with each symbol's bars, last bar time, errors and the layer's label.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog

from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.trading.errors import ExchangeUnavailable, OrderRejected
from liquidation_hunter.trading.exchange import ExchangeClient
from live_heatmap.common.errors import describe
from live_heatmap.common.symbols import to_exchange_id
from live_heatmap.estimated.assembly import BAR_MS, DEFAULT_TOLERANCE_MS, BarAssembler
from live_heatmap.estimated.budget import Budget, estimated_budget
from live_heatmap.estimated.config import WINDOWS_MS
from live_heatmap.estimated.layer import EstimatedLayer
from live_heatmap.wire.kline import Kline

__all__ = ["EstimatedInputs"]

log = structlog.get_logger("liquidation_hunter.bot")

_FAILURES = (ExchangeUnavailable, OrderRejected, ValueError)


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


class EstimatedInputs:
    """Klines, mark prices and open interest of ``symbols`` into ``layer`` (module docstring). Thread-safe: the
    stream's thread, the price listener and the job share one lock."""

    def __init__(self, layer: EstimatedLayer, client: ExchangeClient, symbols: Sequence[str], *, window_ms: int,
                 poll_seconds: float, budget: Budget | None = None) -> None:
        self.layer = layer
        self.client = client
        self.symbols = [to_exchange_id(s) for s in symbols]
        self.window_ms = window_ms
        tolerance = max(DEFAULT_TOLERANCE_MS, round(2 * poll_seconds * 1000))
        self.assembler = BarAssembler(self.symbols, tolerance_ms=tolerance)
        self.budget = budget or estimated_budget(len(self.symbols), poll_seconds, window_ms)
        self.oi_errors: Counter[str] = Counter()
        self.rest_errors: Counter[str] = Counter()
        self.last_error: str | None = None
        self.backfilled: dict[str, int] = {}
        self.kline_frames = 0
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: BotConfig, client: ExchangeClient,
                    brackets: Callable[[], Any]) -> EstimatedInputs:
        """The inputs and their layer for ``config.estimated`` (enabled, symbols a list: the config checked it);
        ``brackets()`` gives the bracket table (:func:`liquidation_hunter.trading.brackets.current_brackets`)."""
        est = config.estimated
        layer = EstimatedLayer(est.model_config(), brackets(), est.validation())
        symbols = [] if config.symbols == "all" else list(config.symbols)
        inputs = cls(layer, client, symbols, window_ms=WINDOWS_MS[est.window], poll_seconds=est.oi_poll_seconds)
        log.info("estimated.budget", budget=inputs.budget.line(), label=layer.label)
        return inputs

    # ------------------------------------------------------------------ live inputs

    def on_kline(self, kline: Kline) -> None:
        """A kline frame from the stream (its thread)."""
        with self._lock:
            self.kline_frames += 1
            self.assembler.on_kline(kline)

    def on_mark(self, symbol: str, price: float, at_ms: int) -> None:
        """A mark price the bot follows (the heatmap's price listener)."""
        with self._lock:
            self.assembler.on_mark(symbol, price, at_ms)

    # ------------------------------------------------------------------ REST

    def _failed(self, counter: Counter[str], symbol: str, what: str, exc: Exception) -> None:
        counter[symbol] += 1
        self.last_error = f"{symbol} {what}: {describe(exc)}"[:300]
        log.warning("estimated.exchange_error", symbol=symbol, what=what, error=describe(exc),
                    errors=counter[symbol], consequence="tried again at the next poll")

    def _fill(self, symbol: str, first_open: int, last_open: int, now_ms: int, *, klines: bool, marks: bool,
              oi: bool) -> int:
        """Bars opening from ``first_open`` to ``last_open`` of ``symbol`` from REST into the assembler; the number
        of trade klines read (errors counted, never raised)."""
        read = 0
        try:
            trade = self.client.klines_5m(symbol, first_open, last_open, now_ms=now_ms) if klines else []
            mark = self.client.klines_5m(symbol, first_open, last_open, now_ms=now_ms, mark=True) if marks else []
            since = max(first_open + BAR_MS, now_ms - 30 * 86_400_000 + BAR_MS)
            rows = self.client.open_interest_history(symbol, since, last_open + BAR_MS, now_ms=now_ms) \
                if oi and since <= last_open + BAR_MS else []
        except _FAILURES as exc:
            self._failed(self.rest_errors, symbol, "backfill", exc)
            return 0
        with self._lock:
            for kline in trade:
                read += self.assembler.on_kline(kline)
            for kline in mark:
                self.assembler.on_mark_kline(kline)
            for at, amount, _value in rows:
                self.assembler.on_open_interest(symbol, at, amount)
        return read

    def backfill(self, now_ms: int) -> int:
        """The window's bars of every symbol from REST into the layer (module docstring); bars applied."""
        last_open = now_ms - now_ms % BAR_MS - BAR_MS
        first_open = last_open - self.window_ms + BAR_MS
        for symbol in self.symbols:
            self.backfilled[symbol] = self._fill(symbol, first_open, last_open, now_ms, klines=True, marks=True,
                                                 oi=True)
        with self._lock:
            applied = self.assembler.apply(self.layer, now_ms)
        log.info("estimated.backfilled", bars=applied, klines=dict(self.backfilled), label=self.layer.label)
        return applied

    def poll(self, now_ms: int) -> int:
        """The ``estimated`` job: each symbol's open interest, REST fills of what is missing, the ready bars into
        the layer; bars applied. Never raises for the exchange's failures (counted, logged)."""
        for symbol in self.symbols:
            try:
                at, amount = self.client.open_interest(symbol)
            except _FAILURES as exc:
                self._failed(self.oi_errors, symbol, "open interest", exc)
                continue
            with self._lock:
                self.assembler.on_open_interest(symbol, at, amount)
        with self._lock:
            wanted = self.assembler.wanted(now_ms)
        for want in wanted:
            if want.klines_from is not None and want.klines_to is not None:
                self._fill(want.symbol, want.klines_from, want.klines_to, now_ms, klines=True, marks=True, oi=True)
            if want.marks:
                self._fill(want.symbol, min(want.marks), max(want.marks), now_ms, klines=False, marks=True, oi=False)
        with self._lock:
            return self.assembler.apply(self.layer, now_ms)

    # ------------------------------------------------------------------ status

    def status(self) -> dict[str, Any]:
        """The budget, the layer's label and validation, and per symbol: bars, last bar time, errors, counters."""
        with self._lock:
            per_symbol = self.assembler.status()
        symbols = {}
        for symbol, row in per_symbol.items():
            model = self.layer.get(symbol)
            symbols[symbol] = {**row, "last_bar_close": _iso(row["last_bar_close_ms"]),
                               "model_bars": 0 if model is None else model.bars,
                               "oi_errors": self.oi_errors[symbol], "rest_errors": self.rest_errors[symbol],
                               "backfilled_klines": self.backfilled.get(symbol)}
        return {"label": self.layer.label, "validation": self.layer.validation.summary,
                "budget": self.budget.to_dict(), "kline_frames": self.kline_frames, "last_error": self.last_error,
                "symbols": symbols}
