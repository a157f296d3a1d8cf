"""The density profile: liquidation notional per price, decayed, per side (the seed's KDE, made fast).

A Gaussian kernel density estimate on a log-price axis, weighted by each event's decayed notional
(``notional * exp(-age_minutes / time_decay_minutes)``), with ``bandwidth`` the kernel's standard deviation in
log price (0.003: 0.3 % of the price). It is computed as scipy's ``gaussian_kde`` would be, but by linear
binning onto a grid of ``bandwidth / 40`` and one discrete convolution with the sampled kernel:
O(events + bins * kernel) instead of O(events * points), the convolution by FFT on long grids; numpy only.
The grid spans the events' prices plus 5 bandwidths each side; past ``max_bins`` the grid step grows (the
profile gets coarser, never slower). The values are densities of notional: ``long[i]`` is USD per unit of log
price at ``prices[i]``; their integral over log price is the decayed notional of that side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["DensityProfile", "density_profile"]

BINS_PER_BANDWIDTH = 40
TRUNCATE = 5.0
"""The kernel is cut at 5 bandwidths (its tail there is 4e-6 of its peak)."""
DEFAULT_MAX_BINS = 65_536
"""At 0.3 % a grid of 1/40 bandwidth covers prices 11x apart; wider, the step grows."""
FFT_ABOVE = 2_000_000
"""Direct convolution up to this many multiply-adds, FFT above."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DensityProfile:
    """Decayed notional density per side on a common log-spaced price grid (empty without events)."""

    prices: FloatArray
    long: FloatArray
    short: FloatArray
    bandwidth: float
    long_notional: float
    """Decayed notional of the long side (the integral of ``long`` over log price)."""
    short_notional: float
    events: int

    def to_dict(self, *, points: int | None = None) -> dict[str, Any]:
        """Plain JSON-ready dict; ``points`` resamples the grid to about that many points (every k-th)."""
        step = 1 if points is None or points <= 0 or self.prices.size <= points else math.ceil(
            self.prices.size / points)
        return {
            "bandwidth": self.bandwidth, "events": self.events,
            "long_notional": self.long_notional, "short_notional": self.short_notional,
            "prices": self.prices[::step].tolist(), "long": self.long[::step].tolist(),
            "short": self.short[::step].tolist(),
        }


def density_profile(prices: npt.ArrayLike, notionals: npt.ArrayLike, trade_times_ms: npt.ArrayLike,
                    is_long: npt.ArrayLike, *, now_ms: int, time_decay_minutes: float, bandwidth: float,
                    max_bins: int = DEFAULT_MAX_BINS) -> DensityProfile:
    """The density profile of these events at ``now_ms`` (see the module). Raises ``ValueError`` for a bandwidth
    or decay that is not positive or arrays of different lengths; events with a non-positive price or notional
    are left out."""
    if not (bandwidth > 0 and math.isfinite(bandwidth)):
        raise ValueError(f"bandwidth: expected a number > 0, got {bandwidth!r}")
    if not time_decay_minutes > 0:
        raise ValueError(f"time_decay_minutes: expected a number > 0, got {time_decay_minutes!r}")
    price = np.asarray(prices, np.float64)
    notional = np.asarray(notionals, np.float64)
    times = np.asarray(trade_times_ms, np.int64)
    longs = np.asarray(is_long, np.bool_)
    if not (price.shape == notional.shape == times.shape == longs.shape):
        raise ValueError("density_profile: prices, notionals, trade times and sides differ in length")
    ok = (price > 0) & (notional > 0) & np.isfinite(price) & np.isfinite(notional)
    if not ok.all():
        price, notional, times, longs = price[ok], notional[ok], times[ok], longs[ok]
    empty = np.empty(0, np.float64)
    if price.size == 0:
        return DensityProfile(empty, empty, empty, bandwidth, 0.0, 0.0, 0)
    x = np.log(price)
    weight = notional * np.exp(-(now_ms - times) / (time_decay_minutes * 60_000.0))
    lo, hi = float(x.min()) - TRUNCATE * bandwidth, float(x.max()) + TRUNCATE * bandwidth
    step = max(bandwidth / BINS_PER_BANDWIDTH, (hi - lo) / (max_bins - 1))
    n = math.ceil((hi - lo) / step) + 1
    grid = lo + step * np.arange(n)
    half = math.ceil(TRUNCATE * bandwidth / step)
    offsets = step * np.arange(-half, half + 1)
    kernel = np.exp(-0.5 * (offsets / bandwidth) ** 2) / (math.sqrt(2.0 * math.pi) * bandwidth)
    position = (x - lo) / step
    left = np.minimum(position.astype(np.int64), n - 2)
    frac = position - left
    row = longs.astype(np.int64) ^ 1  # 0: long, 1: short; both sides binned in one pass (flat index row * n + bin)
    flat = row * n + left
    binned = np.bincount(flat, weight * (1.0 - frac), minlength=2 * n).astype(np.float64, copy=False)
    binned += np.bincount(flat + 1, weight * frac, minlength=2 * n)[:2 * n]  # a right neighbour stays in its row
    sides = _convolve(binned.reshape(2, n), kernel)[:, half:half + n]
    return DensityProfile(np.exp(grid), sides[0], sides[1], bandwidth, float(weight[longs].sum()),
                          float(weight[~longs].sum()), int(price.size))


def _convolve(rows: FloatArray, kernel: FloatArray) -> FloatArray:
    """Each row's full linear convolution with ``kernel``: direct for short rows, by FFT (the kernel's once) for
    long ones."""
    if rows.shape[1] * kernel.size <= FFT_ABOVE:
        return np.stack([np.convolve(r, kernel) for r in rows])
    size = rows.shape[1] + kernel.size - 1
    fast = 1 << (size - 1).bit_length()
    out: FloatArray = np.fft.irfft(np.fft.rfft(rows, fast, axis=1) * np.fft.rfft(kernel, fast), fast,
                                   axis=1)[:, :size]
    return out
