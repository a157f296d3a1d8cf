"""Model bars from live inputs (issue 14): :class:`BarAssembler` joins, per symbol, closed 5-minute trade klines,
the mark price and open-interest readings into :class:`~live_heatmap.estimated.bars.Bar` values, in time order.

Inputs (any order, any thread that holds the caller's lock; time is always passed in):

* :meth:`BarAssembler.on_kline`: a trade kline (the ``<symbol>@kline_5m`` stream, or a REST row); only closed
  ones (``"x": true``) count, an open one is ignored.
* :meth:`BarAssembler.on_mark`: one mark price update (``<symbol>@markPrice@1s``). Each bar tracks the high and
  low of the updates inside it and whether they *cover* it: no gap longer than ``mark_gap_ms`` (5 s; the stream
  sends one a second) between the bar's start (or the last update before it), its updates and its end. A bar the
  updates do not cover (the bot just started, the stream reconnected) takes its mark high/low from the REST mark
  price kline instead (:meth:`BarAssembler.on_mark_kline`); :meth:`BarAssembler.wanted` says which.
* :meth:`BarAssembler.on_open_interest`: one reading ``(time, base amount)`` (the poller's
  ``/fapi/v1/openInterest``, or the 5-minute ``openInterestHist`` rows of a backfill).

:meth:`BarAssembler.ready` emits a bar once it is closed and an open-interest reading at or after its end
(``close_time + 1``) exists, the first within ``tolerance_ms`` of it. The tolerance (default 120 s, two polls of
the default 60 s: one failed poll is survived) also bounds every wait:

* no reading within the tolerance once it has passed: the bar is dropped and counted (``dropped_no_oi``);
* no mark coverage and no REST mark kline once it has passed: the trade kline's high/low stand in for the mark's,
  counted (``trade_extremes``);
* a hole before the bar (klines missed while the stream was down): the bar waits for the hole to be filled from
  REST (:meth:`wanted` names the range) until the tolerance past its own end; then the hole is given up and
  counted (``missing_bars``).

Bars come out strictly in time order per symbol; a kline at or before the last emitted bar is a duplicate
(a backfill overlapping the stream) and is counted, not emitted. :meth:`BarAssembler.apply` feeds the ready bars
into an :class:`~live_heatmap.estimated.layer.EstimatedLayer`. Pure: no clock, no I/O, not thread-safe.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from live_heatmap.common.symbols import symbol_key
from live_heatmap.estimated.bars import Bar, BarError
from live_heatmap.estimated.layer import EstimatedLayer
from live_heatmap.wire.kline import Kline

__all__ = ["BAR_MS", "BarAssembler", "SymbolInputs", "Wanted"]

BAR_MS = 300_000
"""The bar length: 5 minutes (Binance's ``kline_5m``, the ``openInterestHist`` period)."""
DEFAULT_TOLERANCE_MS = 120_000
DEFAULT_MARK_GAP_MS = 5_000
KLINE_GRACE_MS = 15_000
"""How long after a bar's end its closed kline may take to arrive before the bar counts as missed."""
MAX_KEPT = 48
"""Bars of live mark tracking kept per symbol while no kline comes (4 hours)."""
MAX_OI_KEPT = 10_000
"""Open-interest readings kept per symbol before the bars that use them (a 7-day backfill holds 2,016)."""


@dataclass(slots=True)
class _MarkBar:
    high: float
    low: float
    last_at: int
    max_gap: int


@dataclass(frozen=True, slots=True)
class Wanted:
    """What one symbol needs from REST: trade klines from ``klines_from`` to ``klines_to`` (bar open times, a
    hole left by the stream; None: none), and mark price klines for the bars opening at ``marks``."""

    symbol: str
    klines_from: int | None
    klines_to: int | None
    marks: tuple[int, ...]


@dataclass
class SymbolInputs:
    """One symbol's pending inputs and counters (:meth:`to_dict` is its part of the bot's status)."""

    klines: dict[int, Kline] = field(default_factory=dict)
    marks: dict[int, _MarkBar] = field(default_factory=dict)
    rest_marks: dict[int, tuple[float, float]] = field(default_factory=dict)
    oi_times: list[int] = field(default_factory=list)
    oi_values: list[float] = field(default_factory=list)
    last_mark_at: int | None = None
    last_close: int | None = None
    """``close_time`` of the last bar emitted."""
    bars: int = 0
    dropped_no_oi: int = 0
    trade_extremes: int = 0
    missing_bars: int = 0
    duplicates: int = 0
    rejected: int = 0
    """Bars the layer refused (:class:`BarError`)."""
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"bars": self.bars, "last_bar_close_ms": self.last_close, "pending": len(self.klines),
                "dropped_no_oi": self.dropped_no_oi, "trade_extremes": self.trade_extremes,
                "missing_bars": self.missing_bars, "duplicates": self.duplicates, "rejected": self.rejected,
                "last_error": self.last_error}


class BarAssembler:
    """Bars from klines, mark prices and open interest, per symbol (module docstring)."""

    def __init__(self, symbols: Iterable[str], *, tolerance_ms: int = DEFAULT_TOLERANCE_MS,
                 mark_gap_ms: int = DEFAULT_MARK_GAP_MS, bar_ms: int = BAR_MS) -> None:
        if tolerance_ms <= 0 or mark_gap_ms <= 0 or bar_ms <= 0:
            raise ValueError("tolerance_ms, mark_gap_ms and bar_ms must be > 0")
        self.tolerance_ms = tolerance_ms
        self.mark_gap_ms = mark_gap_ms
        self.bar_ms = bar_ms
        self.symbols: dict[str, SymbolInputs] = {symbol_key(s): SymbolInputs() for s in symbols}

    def _state(self, symbol: str) -> SymbolInputs | None:
        return self.symbols.get(symbol_key(symbol))

    # ------------------------------------------------------------------ inputs

    def on_kline(self, kline: Kline) -> bool:
        """Keep a closed trade kline of a followed symbol; False (ignored) for an open one or another symbol."""
        state = self._state(kline.symbol)
        if state is None or not kline.closed:
            return False
        if state.last_close is not None and kline.close_time <= state.last_close:
            state.duplicates += 1
            return False
        state.klines[kline.open_time] = kline
        return True

    def on_mark(self, symbol: str, price: float, at_ms: int) -> None:
        """One mark price update (module docstring: high/low and coverage of the bar it falls in)."""
        state = self._state(symbol)
        if state is None or not price > 0:
            return
        if state.last_mark_at is not None and at_ms < state.last_mark_at:
            return  # out of order (two streams): the bar's coverage is measured on rising times
        start = at_ms - at_ms % self.bar_ms
        bar = state.marks.get(start)
        if bar is None:
            before = state.last_mark_at
            gap = at_ms - before if before is not None and before >= start - self.mark_gap_ms else at_ms - start
            state.marks[start] = _MarkBar(price, price, at_ms, gap)
            if len(state.marks) > MAX_KEPT:  # no kline for a long time: keep the recent bars only
                del state.marks[min(state.marks)]
        else:
            bar.high, bar.low = max(bar.high, price), min(bar.low, price)
            bar.max_gap = max(bar.max_gap, at_ms - bar.last_at)
            bar.last_at = at_ms
        state.last_mark_at = at_ms

    def on_mark_kline(self, kline: Kline) -> None:
        """A REST mark price kline: the mark high/low of its bar when the stream's updates do not cover it."""
        state = self._state(kline.symbol)
        if state is not None and kline.closed:
            state.rest_marks[kline.open_time] = (kline.high, kline.low)

    def on_open_interest(self, symbol: str, at_ms: int, amount: float) -> None:
        """One open-interest reading (base units) at ``at_ms``."""
        state = self._state(symbol)
        if state is None or not amount >= 0:
            return
        index = bisect.bisect_left(state.oi_times, at_ms)
        if index < len(state.oi_times) and state.oi_times[index] == at_ms:
            state.oi_values[index] = amount
            return
        state.oi_times.insert(index, at_ms)
        state.oi_values.insert(index, amount)
        if len(state.oi_times) > MAX_OI_KEPT:
            del state.oi_times[0], state.oi_values[0]

    # ------------------------------------------------------------------ outputs

    def _covered(self, state: SymbolInputs, open_time: int) -> tuple[float, float] | None:
        bar = state.marks.get(open_time)
        end = open_time + self.bar_ms
        if bar is None or bar.max_gap > self.mark_gap_ms:
            return None
        after = state.last_mark_at if state.last_mark_at is not None else bar.last_at
        # the bar's end is covered by its last update, or by the first one after it
        if end - bar.last_at > self.mark_gap_ms and not (after >= end and after - bar.last_at <= self.mark_gap_ms):
            return None
        return bar.high, bar.low

    def _open_interest(self, state: SymbolInputs, end: int) -> float | None:
        index = bisect.bisect_left(state.oi_times, end)
        if index < len(state.oi_times) and state.oi_times[index] <= end + self.tolerance_ms:
            return state.oi_values[index]
        return None

    def wanted(self, now_ms: int) -> list[Wanted]:
        """Per symbol, what REST should bring (a hole in the klines, bars without mark coverage); empty when
        nothing is missing."""
        out = []
        for symbol, state in self.symbols.items():
            hole_from = hole_to = None
            if state.last_close is not None:
                expected = state.last_close + 1
                latest_closed = (now_ms - KLINE_GRACE_MS) // self.bar_ms * self.bar_ms - self.bar_ms
                first = min(state.klines) if state.klines else latest_closed + self.bar_ms
                if first > expected and latest_closed >= expected:
                    hole_from, hole_to = expected, min(first - self.bar_ms, latest_closed)
            marks = tuple(t for t, k in sorted(state.klines.items()) if k.close_time < now_ms
                          and t not in state.rest_marks and self._covered(state, t) is None)
            if hole_from is not None or marks:
                out.append(Wanted(symbol, hole_from, hole_to, marks))
        return out

    def ready(self, now_ms: int) -> list[tuple[str, Bar]]:
        """The bars that can be emitted at ``now_ms``, oldest first per symbol (module docstring)."""
        out: list[tuple[str, Bar]] = []
        for symbol, state in self.symbols.items():
            for bar in self._ready(state, now_ms):
                out.append((symbol, bar))
            self._prune(state)
        return out

    def _ready(self, state: SymbolInputs, now_ms: int) -> list[Bar]:
        out: list[Bar] = []
        for open_time in sorted(state.klines):
            kline = state.klines[open_time]
            end = kline.close_time + 1
            if state.last_close is not None and open_time > state.last_close + 1:
                hole = state.last_close + 1
                if now_ms <= end + self.tolerance_ms:
                    break  # the hole may still be filled from REST
                state.missing_bars += (open_time - hole) // self.bar_ms
                state.last_close = open_time - 1  # the hole is given up: counted once
            marks = self._covered(state, open_time) or state.rest_marks.get(open_time)
            late = now_ms > end + self.tolerance_ms
            if marks is None and not late:
                break
            oi = self._open_interest(state, end)
            if oi is None:
                if not late:
                    break
                state.dropped_no_oi += 1
                del state.klines[open_time]
                state.last_close = kline.close_time
                continue
            if marks is None:
                state.trade_extremes += 1
                marks = (kline.high, kline.low)
            high, low = marks
            del state.klines[open_time]
            state.last_close = kline.close_time
            out.append(Bar(open_time, kline.close_time, max(high, low), min(high, low), kline.close,
                           kline.base_volume, kline.quote_volume, kline.taker_buy_base, kline.taker_buy_quote, oi))
        return out

    def _prune(self, state: SymbolInputs) -> None:
        if state.last_close is None:
            return
        done = state.last_close + 1
        for book in (state.marks, state.rest_marks):
            for start in [t for t in book if t < done]:
                del book[start]
        keep = bisect.bisect_left(state.oi_times, done)
        del state.oi_times[:keep], state.oi_values[:keep]

    def apply(self, layer: EstimatedLayer, now_ms: int) -> int:
        """Feed :meth:`ready`'s bars into ``layer``; a bar it refuses is counted per symbol (``rejected``,
        ``last_error``). Returns the number of bars applied."""
        applied = 0
        for symbol, bar in self.ready(now_ms):
            state = self.symbols[symbol]
            try:
                layer.update(symbol, bar)
            except BarError as exc:
                state.rejected += 1
                state.last_error = str(exc)
                continue
            state.bars += 1
            applied += 1
        return applied

    def status(self) -> dict[str, dict[str, Any]]:
        """Each symbol's counters (:meth:`SymbolInputs.to_dict`)."""
        return {symbol: state.to_dict() for symbol, state in self.symbols.items()}
