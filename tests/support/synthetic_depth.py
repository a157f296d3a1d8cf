"""A synthetic BTC-like book for the depth soak (tests/live_heatmap/orderbook/test_depth_soak.py,
benchmarks/bench_depth.py): a real :class:`~live_heatmap.orderbook.book.OrderBook` kept by diffs, one step a
second.

* Prices lie on a fixed grid of ``tick`` (5 USDT at 60,000: about 0.0083 %, six levels a 0.05 % bin), the book
  shows ``levels`` per side around the mid (1,000, as Binance's snapshot).
* The mid walks: log-return N(0, ``sigma``) a second (1e-4: about 2.9 % a day, BTC's order).
* Sizes persist and churn: each second a level is re-drawn with probability ``0.3 * exp(-d / 0.2 %) + 0.01``
  (``d`` its distance from the mid: the touch churns every few seconds, the far book every ~100 s) as
  ``base * (1 + d / 0.5 %) * lognormal(0, 0.6)`` BTC; when the mid crosses a level it changes side
  (the old side's order is gone, a new size is drawn).

Everything is a function of the seed.
"""

from __future__ import annotations

import math

import numpy as np

from live_heatmap.orderbook.book import OrderBook


class SyntheticBtcBook:
    """A book evolving like BTC's (module docstring); ``step(at_ms)`` moves it one second."""

    def __init__(self, seed: int = 15, *, symbol: str = "BTCUSDT", mid: float = 60_000.0, tick: float = 5.0,
                 levels: int = 1000, sigma: float = 1e-4, base: float = 0.4) -> None:
        self.rng = np.random.default_rng(seed)
        self.book = OrderBook(symbol)
        self.tick = tick
        self.levels = levels
        self.sigma = sigma
        self.base = base
        self.mid = mid
        # The grid spans far beyond a day's walk; sizes for every grid price, drawn once, then churned.
        span = int(mid * 0.5 / tick)
        self.prices = np.round(mid - span * tick + np.arange(2 * span + 1) * tick, 2)
        self.sizes = self._draw(np.arange(self.prices.size))
        self.low, self.high = self._window()
        bids, asks = self._rows(self.low, self.high)
        self.book.load(bids, asks, 1, 0)
        self.update_id = 1

    def _distance(self, index: np.ndarray) -> np.ndarray:
        return np.abs(self.prices[index] / self.mid - 1.0)

    def _draw(self, index: np.ndarray) -> np.ndarray:
        d = self._distance(index)
        return np.round(self.base * (1 + d / 0.005) * self.rng.lognormal(0.0, 0.6, index.size), 3) + 0.001

    def _split(self) -> int:
        """Index of the first ask price (the first grid price above the mid)."""
        return int(np.searchsorted(self.prices, self.mid, side="right"))

    def _window(self) -> tuple[int, int]:
        split = self._split()
        return split - self.levels, split + self.levels

    def _rows(self, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
        split = self._split()
        bids = np.column_stack([self.prices[low:split], self.sizes[low:split]])
        asks = np.column_stack([self.prices[split:high], self.sizes[split:high]])
        return bids, asks

    def step(self, at_ms: int) -> OrderBook:
        """One second: the mid walks, sizes churn, the book gets the diff; returns the book."""
        old_split = self._split()
        self.mid *= math.exp(self.rng.normal(0.0, self.sigma))
        split = self._split()
        low, high = split - self.levels, split + self.levels
        window = np.arange(low, high)
        d = self._distance(window)
        churn = window[self.rng.random(window.size) < 0.3 * np.exp(-d / 0.002) + 0.01]
        crossed = np.arange(min(old_split, split), max(old_split, split))
        changed = np.union1d(churn, crossed)
        self.sizes[changed] = self._draw(changed)
        zero = np.zeros(0, dtype=np.int64)
        # Levels that left the window or the side they were on are removed from the side they were on.
        gone_bids = np.concatenate([np.arange(self.low, low) if low > self.low else zero,
                                    np.arange(split, old_split) if split < old_split else zero])
        gone_asks = np.concatenate([np.arange(high, self.high) if high < self.high else zero,
                                    np.arange(old_split, split) if split > old_split else zero])
        set_bids = changed[changed < split]
        set_bids = np.union1d(set_bids, np.arange(low, self.low)) if low < self.low else set_bids
        set_asks = changed[changed >= split]
        set_asks = np.union1d(set_asks, np.arange(self.high, high)) if high > self.high else set_asks
        bids = np.concatenate([np.column_stack([self.prices[gone_bids], np.zeros(gone_bids.size)]),
                               np.column_stack([self.prices[set_bids], self.sizes[set_bids]])])
        asks = np.concatenate([np.column_stack([self.prices[gone_asks], np.zeros(gone_asks.size)]),
                               np.column_stack([self.prices[set_asks], self.sizes[set_asks]])])
        self.update_id += 1
        self.book.apply(bids, asks, self.update_id, at_ms)
        self.low, self.high = low, high
        return self.book
