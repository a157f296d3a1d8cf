"""How much of Binance's REST weight the estimated layer's live inputs use (issue 14): pure arithmetic, so the config
can refuse a setting before anything runs.

Binance USD-M allows **2,400 request weight per minute per IP** (``X-MBX-USED-WEIGHT-1M``). The estimated layer
asks, per symbol:

* ``GET /fapi/v1/openInterest``: weight 1, once every ``oi_poll_seconds`` (60 s: 1 a minute);
* on start, the window's bars (12 h: 144) of ``GET /fapi/v1/klines`` and ``GET /fapi/v1/markPriceKlines`` in pages
  of :data:`KLINE_PAGE` rows, each page weighted by Binance's table for ``limit`` (1-99: 1, 100-499: 2,
  500-1000: 5, more: 10; 499 is the cheapest per row), and ``GET /futures/data/openInterestHist`` (5m) in pages
  of 500 (counted 1 each as ccxt does; Binance also caps it at 1,000 requests per 5 minutes);
* while running, at most one refill every 5 minutes (a bar without mark coverage, a hole after a reconnect):
  a kline, a mark price kline and an open-interest history page, weight 1 each: counted as 0.6 a minute.

The busiest minute is the first (backfill + polls); :func:`estimated_budget` computes it and
:attr:`Budget.ok` says whether it stays within ``share`` (50 %) of the limit, leaving the rest to the bot's other
calls (prices, orders, positions) and to other programs on the same IP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["BINANCE_WEIGHT_PER_MINUTE", "DEFAULT_SHARE", "KLINE_PAGE", "OI_HISTORY_PAGE", "Budget",
           "estimated_budget", "kline_weight"]

BINANCE_WEIGHT_PER_MINUTE = 2400
DEFAULT_SHARE = 0.5
KLINE_PAGE = 499
OI_HISTORY_PAGE = 500
OPEN_INTEREST_WEIGHT = 1
OI_HISTORY_WEIGHT = 1
REFILL_WEIGHT_PER_MINUTE = 3 / 5
_BAR_MS = 300_000


def kline_weight(limit: int) -> int:
    """Binance's weight of one ``/fapi/v1/klines`` or ``/fapi/v1/markPriceKlines`` request with ``limit`` rows."""
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    return 5 if limit <= 1000 else 10


@dataclass(frozen=True, slots=True)
class Budget:
    """The estimated layer's REST weight for ``symbols`` symbols (module docstring)."""

    symbols: int
    poll_seconds: float
    window_bars: int
    backfill_per_symbol: int
    """Weight of one symbol's start: klines + mark price klines + open-interest history pages."""
    per_minute: float
    """Steady state: polls and refills, all symbols."""
    first_minute: float
    """The start: every symbol's backfill plus a minute of polls."""
    limit: int = BINANCE_WEIGHT_PER_MINUTE
    share: float = DEFAULT_SHARE

    @property
    def allowed(self) -> float:
        return self.limit * self.share

    @property
    def ok(self) -> bool:
        return self.first_minute <= self.allowed

    def line(self) -> str:
        """One line naming the numbers."""
        return (f"{self.symbols} symbols: open interest every {self.poll_seconds:g} s + refills = "
                f"{self.per_minute:.1f} weight/minute; start backfill {self.window_bars} bars = "
                f"{self.backfill_per_symbol} weight a symbol; first minute {self.first_minute:.0f} of Binance's "
                f"{self.limit} weight/minute (allowed: {self.share:.0%} = {self.allowed:.0f})")

    def to_dict(self) -> dict[str, Any]:
        return {"symbols": self.symbols, "oi_poll_seconds": self.poll_seconds, "window_bars": self.window_bars,
                "backfill_weight_per_symbol": self.backfill_per_symbol, "weight_per_minute": round(self.per_minute, 2),
                "first_minute_weight": round(self.first_minute, 2), "limit_per_minute": self.limit,
                "allowed_share": self.share, "line": self.line()}


def estimated_budget(symbols: int, poll_seconds: float, window_ms: int, *, share: float = DEFAULT_SHARE,
                     limit: int = BINANCE_WEIGHT_PER_MINUTE) -> Budget:
    """The weight of ``symbols`` symbols polled every ``poll_seconds`` with a ``window_ms`` backfill."""
    if symbols < 0 or poll_seconds <= 0 or window_ms <= 0:
        raise ValueError("symbols >= 0, poll_seconds > 0 and window_ms > 0 are needed")
    bars = window_ms // _BAR_MS
    full, rest = divmod(bars, KLINE_PAGE)
    kline_pages = full * kline_weight(KLINE_PAGE) + (kline_weight(rest) if rest else 0)
    backfill = 2 * kline_pages + math.ceil(bars / OI_HISTORY_PAGE) * OI_HISTORY_WEIGHT
    per_minute = symbols * (OPEN_INTEREST_WEIGHT * 60.0 / poll_seconds + REFILL_WEIGHT_PER_MINUTE)
    return Budget(symbols, poll_seconds, bars, backfill, per_minute, symbols * backfill + per_minute, limit, share)
