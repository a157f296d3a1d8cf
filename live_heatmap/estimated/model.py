"""Estimated liquidation levels of one symbol, bar by closed bar (issue 14, docs/ESTIMATED.md "The model").

Per closed bar k (:class:`~live_heatmap.estimated.bars.Bar`), :meth:`EstimatedLevels.update`:

1. drops the vintages older than the window;
2. consumes long levels ``>= mark_low`` and short levels ``<= mark_high`` (inclusive); C_k is their
   notional;
3. dV = (OI_k - OI_{k-1}) * quote_volume/base_volume + C_k (the close when the bar has no volume;
   the first bar only sets OI_{k-1});
4. dV > 0: a new vintage; longs and shorts get their share of dV at their entry price (attribution
   ``taker``, ``candle`` or ``even``), each split over the leverage mix and placed at its exact
   isolated liquidation price;
5. dV < 0: every level shrinks by ``min(1, |dV| / total open notional)``.

The state is exact: one (price, notional) per vintage, side and leverage tier, in a ring of arrays
(a few hundred kB for a 7-day window of 5-minute bars). Log-price bins are a view of it
(:meth:`EstimatedLevels.binned`). Pure numpy: no clock, no I/O; the state after bar k depends only
on bars <= k.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from live_heatmap.estimated.bars import Bar, check_bar
from live_heatmap.estimated.config import ModelConfig
from live_heatmap.estimated.liquidation import liquidation_prices

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class ExactLevels(NamedTuple):
    """The open levels of one side, oldest vintage first, one row per (vintage, leverage tier)."""

    price: FloatArray       #: liquidation price
    notional: FloatArray    #: open notional in quote (at entry)
    leverage: FloatArray    #: the tier's leverage
    opened_at: IntArray     #: close time (ms) of the bar that opened the vintage


class BinnedLevels(NamedTuple):
    """Notional per log-price bin and side, labelled *estimated* by whoever shows it.

    ``prices`` are the bin prices (a global grid ``(1 + bin_width) ** i``, ascending, covering
    +-``range_fraction`` around ``reference_price``); a level between two bin prices is split
    linearly (in log price) between them. ``long_outside``/``short_outside`` is the open notional
    outside the range.
    """

    prices: FloatArray
    long: FloatArray
    short: FloatArray
    reference_price: float
    long_outside: float
    short_outside: float


class LeverageDistribution(NamedTuple):
    """Open notional per leverage tier (ascending) and side: the seed's ``leverageDistribution``."""

    leverages: FloatArray
    long: FloatArray
    short: FloatArray


def _liquidation_factors(leverages: FloatArray, mmr: float) -> tuple[FloatArray, FloatArray]:
    """Liquidation price / entry price of a long and a short per tier (isolated, WB = Q*EP/L, cum = 0).

    Binance's formula (:func:`~live_heatmap.estimated.liquidation.liquidation_prices`) at an entry
    price of 1: with cum = 0 the price is proportional to the entry, EP (1 - 1/L) / (1 - MMR) for a
    long, EP (1 + 1/L) / (1 + MMR) for a short.
    """
    one = np.ones(1)
    longs = np.array([liquidation_prices(1, one, float(lev), mmr)[0] for lev in leverages])
    shorts = np.array([liquidation_prices(-1, one, float(lev), mmr)[0] for lev in leverages])
    return longs, shorts


class EstimatedLevels:
    """One symbol's estimated liquidation levels; feed it closed bars in time order with :meth:`update`."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        self.config = config if config is not None else ModelConfig()
        self._leverages, self._shares = self.config.tiers()
        self._long_factor, self._short_factor = _liquidation_factors(self._leverages,
                                                                     self.config.maint_margin_ratio)
        self._tiers = len(self._leverages)
        self._allocate(self.config.window_ms // self.config.bar_ms + 2)
        self._head = 0          # the next slot to write
        self._tail = 0          # the oldest live slot
        self._count = 0         # live vintages
        self._previous_oi: float | None = None
        self._previous_close: float | None = None
        self.last_close_time: int | None = None
        self.last_close: float | None = None
        self.bars = 0
        self.last_consumed = 0.0
        self.last_dv = 0.0

    def _allocate(self, slots: int) -> None:
        shape = (slots, self._tiers)
        self._long_price = np.zeros(shape)
        self._long_notional = np.zeros(shape)
        self._short_price = np.full(shape, np.inf)
        self._short_notional = np.zeros(shape)
        self._opened = np.zeros(slots, dtype=np.int64)

    def _grow(self) -> None:
        """Double the ring (bars came faster than ``bar_ms``), oldest vintage first in slot 0."""
        order = np.r_[self._tail:len(self._opened), 0:self._tail]
        old = (self._long_price[order], self._long_notional[order], self._short_price[order],
               self._short_notional[order], self._opened[order])
        count = len(order)
        self._allocate(2 * count)
        self._long_price[:count], self._long_notional[:count] = old[0], old[1]
        self._short_price[:count], self._short_notional[:count] = old[2], old[3]
        self._opened[:count] = old[4]
        self._tail, self._head = 0, count

    def update(self, bar: Bar) -> None:
        """Apply one closed bar (steps 1-5 of the module docstring). Raises BarError on a bad bar."""
        check_bar(bar, self.last_close_time)
        cutoff = bar.close_time - self.config.window_ms
        while self._count and self._opened[self._tail] <= cutoff:
            self._long_notional[self._tail] = 0.0
            self._short_notional[self._tail] = 0.0
            self._tail = (self._tail + 1) % len(self._opened)
            self._count -= 1

        hit = self._long_price >= bar.mark_low
        consumed = float(self._long_notional[hit].sum())
        self._long_notional[hit] = 0.0
        hit = self._short_price <= bar.mark_high
        consumed += float(self._short_notional[hit].sum())
        self._short_notional[hit] = 0.0

        ratio = bar.quote_volume / bar.base_volume if bar.base_volume > 0 else bar.close
        dv = consumed
        if self._previous_oi is not None:
            dv += (bar.open_interest - self._previous_oi) * ratio
        if dv > 0:
            self._open(bar, dv, ratio)
        elif dv < 0:
            total = float(self._long_notional.sum() + self._short_notional.sum())
            if total > 0:
                keep = 1.0 - min(1.0, -dv / total)
                self._long_notional *= keep
                self._short_notional *= keep

        self._previous_oi = bar.open_interest
        self._previous_close = bar.close
        self.last_close_time = bar.close_time
        self.last_close = bar.close
        self.last_consumed = consumed
        self.last_dv = dv
        self.bars += 1

    def _split(self, bar: Bar, vwap: float) -> tuple[float, float, float]:
        """(long share, long entry price, short entry price) by the configured attribution."""
        mode = self.config.attribution
        if mode == "taker" and bar.base_volume > 0:
            sell_base = bar.base_volume - bar.taker_buy_base
            buy_price = bar.taker_buy_quote / bar.taker_buy_base if bar.taker_buy_base > 0 else bar.close
            sell_price = (bar.quote_volume - bar.taker_buy_quote) / sell_base if sell_base > 0 else bar.close
            return bar.taker_buy_base / bar.base_volume, buy_price, sell_price
        if mode == "candle" and self._previous_close is not None:
            share = 1.0 if bar.close > self._previous_close else 0.0 if bar.close < self._previous_close else 0.5
            return share, bar.close, bar.close
        return 0.5, vwap, vwap

    def _open(self, bar: Bar, dv: float, vwap: float) -> None:
        if self._count == len(self._opened):
            self._grow()
        share, long_entry, short_entry = self._split(bar, vwap)
        slot = self._head
        self._long_price[slot] = long_entry * self._long_factor
        self._long_notional[slot] = (dv * share) * self._shares
        self._short_price[slot] = short_entry * self._short_factor
        self._short_notional[slot] = (dv * (1.0 - share)) * self._shares
        self._opened[slot] = bar.close_time
        self._head = (slot + 1) % len(self._opened)
        self._count += 1

    # ---- outputs -------------------------------------------------------------------------

    def _live_slots(self) -> IntArray:
        return (self._tail + np.arange(self._count, dtype=np.int64)) % len(self._opened)

    def levels(self, side: str) -> ExactLevels:
        """The open levels of ``side`` (``"long"`` or ``"short"``) with notional > 0, oldest first."""
        if side not in ("long", "short"):
            raise ValueError(f"side must be 'long' or 'short', got {side!r}")
        slots = self._live_slots()
        price = (self._long_price if side == "long" else self._short_price)[slots].ravel()
        notional = (self._long_notional if side == "long" else self._short_notional)[slots].ravel()
        leverage = np.tile(self._leverages, len(slots))
        opened = np.repeat(self._opened[slots], self._tiers)
        keep = notional > 0
        return ExactLevels(price[keep], notional[keep], leverage[keep], opened[keep])

    def total_notional(self) -> tuple[float, float]:
        """(long, short) open notional."""
        return float(self._long_notional.sum()), float(self._short_notional.sum())

    def leverage_distribution(self) -> LeverageDistribution:
        """Open notional per leverage tier and side."""
        return LeverageDistribution(self._leverages.copy(), self._long_notional.sum(axis=0),
                                    self._short_notional.sum(axis=0))

    def binned(self, reference_price: float | None = None, range_fraction: float | None = None) -> BinnedLevels:
        """Notional per log-price bin and side over +-``range_fraction`` around ``reference_price``.

        Defaults: the last bar's close and the config's range. Before any bar, with no reference
        price, raises ValueError.
        """
        reference = reference_price if reference_price is not None else self.last_close
        if reference is None or not (math.isfinite(reference) and reference > 0):
            raise ValueError("binned: no reference price (no bar yet and none given)")
        spread = range_fraction if range_fraction is not None else self.config.range_fraction
        step = math.log1p(self.config.bin_width)
        low = math.floor(math.log(reference * (1.0 - spread)) / step)
        high = math.ceil(math.log(reference * (1.0 + spread)) / step)
        count = high - low + 1
        prices = np.exp(np.arange(low, high + 1, dtype=np.float64) * step)
        long_bins, long_out = _bin(self._long_price, self._long_notional, step, low, count)
        short_bins, short_out = _bin(self._short_price, self._short_notional, step, low, count)
        return BinnedLevels(prices, long_bins, short_bins, float(reference), long_out, short_out)


def _bin(price: FloatArray, notional: FloatArray, step: float, low: int,
         count: int) -> tuple[FloatArray, float]:
    """Split each level linearly (in log price) between its two neighbouring grid points."""
    live = notional > 0
    values = notional[live]
    position = np.log(price[live]) / step - low
    inside = (position >= 0) & (position <= count - 1)
    position, weight = position[inside], values[inside]
    lower = np.minimum(np.floor(position), count - 2).astype(np.int64)
    upper_share = position - lower
    bins = np.bincount(lower, weight * (1.0 - upper_share), minlength=count).astype(np.float64)
    bins[1:] += np.bincount(lower, weight * upper_share, minlength=count)[:count - 1]
    return bins, float(values[~inside].sum())
