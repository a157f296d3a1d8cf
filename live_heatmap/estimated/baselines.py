"""The predictors the harness (:mod:`.validation`) scores: three baselines and the adapter for the model.

* :class:`RecentPrints`: the last hour's biggest same-side liquidation prints as levels (smoothed 0.1 %);
* :class:`Climatology`: the notional-weighted distribution of d per side, leaving the event's session out
  (scores G = 0 by construction; its top-5 share is a baseline);
* :class:`Shuffled`: another predictor's states taken from other times of the same symbol, their distances
  from the mark kept: what a predictor scores when its timing carries no information;
* :class:`ModelPredictor`: any state with a mark and per-side notional per price bin (:class:`LevelState`,
  which the model's state satisfies) as a :class:`.validation.Density`.

Every predictor is told a time and sees nothing after it. Marks come from a ``MarkAt`` function (the caller's
price files, or the events themselves).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np

from live_heatmap.estimated.validation import (
    BIN,
    LAG_MS,
    Density,
    Event,
    FloatArray,
    IntArray,
    Predictor,
    climatology,
    sessions,
    to_density,
)

__all__ = ["Climatology", "LevelState", "MarkAt", "ModelPredictor", "RecentPrints", "Shuffled", "shuffled_states"]

MarkAt = Callable[[str, int], float | None]
"""The mark price of a symbol at a time (the latest at or before it), or None."""


class RecentPrints:
    """Levels at the ``top`` biggest liquidations of each side in the ``window_ms`` up to the asked time,
    weighted by notional, smoothed ``width``. A side without a print there has no density (the harness scores
    that event as climatology)."""

    name = "recent-prints"

    def __init__(self, events: Sequence[Event], mark_at: MarkAt, *, window_ms: int = 3_600_000, top: int = 5,
                 width: float = BIN) -> None:
        self._mark_at, self._window, self._top, self._width = mark_at, window_ms, top, width
        by: dict[tuple[str, str], list[Event]] = {}
        for e in sorted(events, key=lambda e: e.time_ms):
            by.setdefault((e.symbol, e.side), []).append(e)
        self._cols = {k: (np.array([e.time_ms for e in v], dtype=np.int64), np.array([e.price for e in v]),
                          np.array([e.notional for e in v])) for k, v in by.items()}

    def predict(self, symbol: str, at_ms: int) -> Density | None:
        mark = self._mark_at(symbol, at_ms)
        if mark is None or mark <= 0:
            return None
        sides = [self._side(symbol, side, at_ms, mark) for side in ("long", "short")]
        return None if sides[0] is None and sides[1] is None else Density(mark, sides[0], sides[1])

    def _side(self, symbol: str, side: str, at_ms: int, mark: float) -> FloatArray | None:
        cols = self._cols.get((symbol, side))
        if cols is None:
            return None
        t, p, n = cols
        lo, hi = np.searchsorted(t, [at_ms - self._window, at_ms], side="right")
        if hi <= lo:
            return None
        pick = lo + np.argsort(-n[lo:hi], kind="stable")[: self._top]
        return to_density(np.log(p[pick] / mark), n[pick], width=self._width)


class Climatology:
    """The notional-weighted distribution of d per side over every session but the asked time's own (the
    harness's climatology, as a predictor). ``events`` time-sorted, ``marks`` their marks (None: unused)."""

    name = "climatology"

    def __init__(self, events: Sequence[Event], marks: Sequence[float | None], mark_at: MarkAt, *,
                 gap_minutes: float = 60.0, lag_ms: int = LAG_MS) -> None:
        self._mark_at, self._lag = mark_at, lag_ms
        used = [(e, m) for e, m in zip(events, marks, strict=True) if m is not None and m > 0]
        self._times = np.array([e.time_ms for e, _ in used], dtype=np.int64)
        session = sessions(self._times, gap_minutes)
        d = np.array([np.log(e.price / m) for e, m in used], dtype=np.float64)
        is_long = np.array([e.side == "long" for e, _ in used], dtype=bool)
        notional = np.array([e.notional for e, _ in used], dtype=np.float64)
        self._long: FloatArray | None = None
        self._short: FloatArray | None = None
        if used:
            self._long, self._short = climatology(d, is_long, notional, session)

    def predict(self, symbol: str, at_ms: int) -> Density | None:
        mark = self._mark_at(symbol, at_ms)
        if mark is None or mark <= 0 or self._long is None or self._short is None:
            return None
        i = min(int(np.searchsorted(self._times, at_ms + self._lag, side="left")), self._times.size - 1)
        return Density(mark, self._long[i], self._short[i])


class Shuffled:
    """``inner``'s state at another time of the same symbol (one of ``times[symbol]`` at least ``min_shift_ms``
    away, drawn from a generator seeded by ``seed``, the symbol and the asked time: deterministic), its
    distances kept and measured from the asked time's mark."""

    def __init__(self, inner: Predictor, times: Mapping[str, Sequence[int]], mark_at: MarkAt, *, seed: int = 14,
                 min_shift_ms: int = 6 * 3_600_000) -> None:
        self.name = f"shuffled {inner.name}"
        self._inner, self._mark_at, self._seed, self._shift = inner, mark_at, seed, min_shift_ms
        self._times: dict[str, IntArray] = {s: np.unique(np.asarray(v, dtype=np.int64)) for s, v in times.items()}

    def predict(self, symbol: str, at_ms: int) -> Density | None:
        t = self._times.get(symbol)
        if t is None:
            return None
        far = t[np.abs(t - at_ms) >= self._shift]
        if far.size == 0:
            return None
        other = self._inner.predict(symbol, int(far[_rng(self._seed, symbol, at_ms).integers(far.size)]))
        mark = self._mark_at(symbol, at_ms)
        if other is None or mark is None or mark <= 0:
            return None
        return Density(mark, other.long, other.short)


class LevelState(Protocol):
    """What the harness reads of a model's state at one bar: its mark and, per side, the notional per price
    bin (``levels(side)`` -> the bins' prices and their notional)."""

    @property
    def mark(self) -> float: ...

    def levels(self, side: str) -> tuple[FloatArray, FloatArray]: ...


class ModelPredictor:
    """A model as a predictor: ``state_at(symbol, at_ms)`` returns its state at the last bar closed at or
    before ``at_ms`` (or None); its levels become densities over d, smoothed ``width``.

    Levels say where open positions *would* be liquidated, not how likely the price is to get there: most of a
    state's notional sits far from the price, where no liquidation happens before the next bar. With a
    ``prior`` (the :class:`Climatology` of the same events: where liquidations happen, by distance), the
    density is ``prior * (levels + floor / bins)``, normalised (``levels`` the normalised level mass): the levels
    reweight where liquidations tend to happen; ``floor`` (default 1: half the level mass spread evenly) keeps a
    hole in the levels (those consumed around the price) from zeroing the density. Flat levels then score
    G = 0; levels where the events are, G > 0. Without a prior, the levels alone. (Calibrated on the synthetic
    market of tests/support/synthetic_market.py: without the floor a time-shuffled state scores about -1.5, with
    it about -0.08, while the true mix keeps G of about +0.2.)
    """

    def __init__(self, state_at: Callable[[str, int], LevelState | None], *, name: str = "model",
                 width: float = BIN, prior: Predictor | None = None, floor: float = 1.0) -> None:
        self.name, self._state_at, self._width, self._prior, self._floor = name, state_at, width, prior, floor

    def predict(self, symbol: str, at_ms: int) -> Density | None:
        state = self._state_at(symbol, at_ms)
        if state is None or not state.mark > 0:
            return None
        prior = None if self._prior is None else self._prior.predict(symbol, at_ms)
        sides = []
        for side in ("long", "short"):
            prices, notional = state.levels(side)
            prices = np.asarray(prices, dtype=np.float64)
            ok = prices > 0
            mass = to_density(np.log(prices[ok] / state.mark), np.asarray(notional, dtype=np.float64)[ok],
                              width=self._width) if ok.any() else None
            weight = None if prior is None or mass is None else prior.of(side)
            if mass is not None and weight is not None:
                mass = (mass + self._floor / mass.size) * weight
                total = float(mass.sum())
                mass = mass / total if total > 0 else None
            sides.append(mass)
        return None if sides[0] is None and sides[1] is None else Density(state.mark, sides[0], sides[1])


class _Moved:
    """A state from another time, its levels at the same distances from ``mark``."""

    def __init__(self, state: LevelState, mark: float) -> None:
        self.mark, self._state, self._ratio = mark, state, mark / state.mark

    def levels(self, side: str) -> tuple[FloatArray, FloatArray]:
        prices, notional = self._state.levels(side)
        return np.asarray(prices, dtype=np.float64) * self._ratio, notional


def shuffled_states(state_at: Callable[[str, int], LevelState | None], times: Mapping[str, Sequence[int]],
                    mark_at: MarkAt, *, seed: int = 14,
                    min_shift_ms: int = 6 * 3_600_000) -> Callable[[str, int], LevelState | None]:
    """A model's states taken from other times (as :class:`Shuffled` picks them), their levels kept at the same
    distances from the asked time's mark: ``ModelPredictor(shuffled_states(...), prior=...)`` is the model
    with its timing's information removed."""
    by = {s: np.unique(np.asarray(v, dtype=np.int64)) for s, v in times.items()}

    def at(symbol: str, at_ms: int) -> LevelState | None:
        t = by.get(symbol)
        if t is None:
            return None
        far = t[np.abs(t - at_ms) >= min_shift_ms]
        if far.size == 0:
            return None
        state = state_at(symbol, int(far[_rng(seed, symbol, at_ms).integers(far.size)]))
        mark = mark_at(symbol, at_ms)
        return None if state is None or mark is None or not mark > 0 or not state.mark > 0 else _Moved(state, mark)

    return at


def _rng(seed: int, symbol: str, at_ms: int) -> np.random.Generator:
    """The shuffles' generator: seeded by ``seed``, the symbol and the time (the same question, the same draw)."""
    return np.random.default_rng([seed, zlib.crc32(symbol.encode()), at_ms % (1 << 32), at_ms >> 32])
