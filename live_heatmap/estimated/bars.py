"""One closed bar of one symbol, as the estimated-levels model reads it (issue 14).

A :class:`Bar` is what the model needs of a closed kline plus the open interest at its close. The
live inputs (5-minute klines and mark-price klines, OI polled once a minute) and the history
readers (Binance's ``klines``, ``markPriceKlines`` and ``metrics`` archives) build these; the
model never reads files or the network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple


class Bar(NamedTuple):
    """One closed bar: times in epoch milliseconds, prices in quote, volumes in base and quote.

    ``mark_high``/``mark_low`` are the bar's **mark** price extremes (Binance liquidates on the mark
    price); where only trade klines exist they may be the trade high/low, an approximation the
    caller should state. ``open_interest`` is in base units at the bar's close (Binance's
    ``openInterest`` / ``sum_open_interest``).
    """

    open_time: int
    close_time: int
    mark_high: float
    mark_low: float
    close: float
    base_volume: float
    quote_volume: float
    taker_buy_base: float
    taker_buy_quote: float
    open_interest: float


class BarError(ValueError):
    """A bar the model cannot use; the message names the field."""


def check_bar(bar: Bar, previous_close_time: int | None) -> None:
    """Raise :class:`BarError` naming the first thing wrong with ``bar``.

    Bars must arrive in time order (close times strictly rising), with finite, non-negative
    numbers, positive prices, ``mark_low <= mark_high`` and the taker-buy side not larger than the
    whole bar.
    """
    for name in ("mark_high", "mark_low", "close", "base_volume", "quote_volume",
                 "taker_buy_base", "taker_buy_quote", "open_interest"):
        value = getattr(bar, name)
        if not math.isfinite(value) or value < 0:
            raise BarError(f"bar closing at {bar.close_time}: {name} must be a finite number >= 0, got {value!r}")
    if bar.close <= 0 or bar.mark_low <= 0:
        raise BarError(f"bar closing at {bar.close_time}: prices must be > 0")
    if bar.mark_low > bar.mark_high:
        raise BarError(f"bar closing at {bar.close_time}: mark_low {bar.mark_low} is above mark_high {bar.mark_high}")
    if bar.taker_buy_base > bar.base_volume or bar.taker_buy_quote > bar.quote_volume:
        raise BarError(f"bar closing at {bar.close_time}: taker-buy volume is larger than the bar's volume")
    if bar.close_time < bar.open_time:
        raise BarError(f"bar closing at {bar.close_time}: close_time is before open_time {bar.open_time}")
    if previous_close_time is not None and bar.close_time <= previous_close_time:
        raise BarError(f"bar closing at {bar.close_time}: bars must come in time order "
                       f"(the previous one closed at {previous_close_time})")


def aggregate_bars(bars: Sequence[Bar], size: int) -> list[Bar]:
    """Merge every ``size`` consecutive bars into one (e.g. 1-minute klines into 5-minute bars).

    Highs/lows are the extremes, volumes the sums, the close and the open interest those of the
    last bar of each group; a short last group is kept.
    """
    if size < 1:
        raise BarError(f"aggregate size must be >= 1, got {size}")
    merged: list[Bar] = []
    for start in range(0, len(bars), size):
        group = bars[start:start + size]
        merged.append(Bar(
            open_time=group[0].open_time, close_time=group[-1].close_time,
            mark_high=max(b.mark_high for b in group), mark_low=min(b.mark_low for b in group),
            close=group[-1].close,
            base_volume=sum(b.base_volume for b in group), quote_volume=sum(b.quote_volume for b in group),
            taker_buy_base=sum(b.taker_buy_base for b in group),
            taker_buy_quote=sum(b.taker_buy_quote for b in group),
            open_interest=group[-1].open_interest))
    return merged
