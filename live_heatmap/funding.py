"""Streamed funding rates by symbol: what each ``markPriceUpdate`` says the next funding will charge.

A :class:`~live_heatmap.stream.stream.LiquidationStream` with mark prices fills it (it is a
:class:`~live_heatmap.stream.router.FundingSink`); the paper broker reads the rate of the funding time it
settles. Each frame carries the current estimate ``r`` for the funding at ``T``: the last estimate before
``T`` is the rate charged at ``T``, so the estimates of the last few funding times are kept, not only the
newest (the broker settles a funding shortly *after* its time, when the frames already speak of the next).
"""

from __future__ import annotations

import threading
from typing import NamedTuple

from live_heatmap.common.symbols import symbol_key

__all__ = ["FundingRate", "FundingRates"]


class FundingRate(NamedTuple):
    """An estimate: ``rate`` (fraction per interval) for the funding at ``funding_time_ms``, as of ``at_ms``."""

    rate: float
    funding_time_ms: int
    at_ms: int


class FundingRates:
    """Thread-safe: the stream writes, the broker reads. Symbols in either form (``BTCUSDT``, ``BTC/USDT:USDT``)."""

    def __init__(self, keep: int = 3) -> None:
        self.keep = keep
        """Funding times remembered per symbol."""
        self._rates: dict[str, dict[int, FundingRate]] = {}
        self._lock = threading.Lock()

    def update_funding(self, symbol: str, rate: float, next_funding_ms: int, at_ms: int) -> None:
        key = symbol_key(symbol)
        with self._lock:
            by_time = self._rates.setdefault(key, {})
            by_time[next_funding_ms] = FundingRate(rate, next_funding_ms, at_ms)
            while len(by_time) > self.keep:
                del by_time[min(by_time)]

    def rate_for(self, symbol: str, funding_time_ms: int) -> float | None:
        """The last streamed rate for the funding at ``funding_time_ms``, or None when none was streamed."""
        entry = self._rates.get(symbol_key(symbol), {}).get(funding_time_ms)
        return None if entry is None else entry.rate

    def latest(self, symbol: str) -> FundingRate | None:
        """The newest estimate of ``symbol`` (the next funding time's), or None."""
        by_time = self._rates.get(symbol_key(symbol))
        with self._lock:
            return by_time[max(by_time)] if by_time else None
