"""The model's states at the times the validation harness asks for, from one replay of each symbol's bars.

:class:`ModelStates` runs an :class:`~live_heatmap.estimated.layer.EstimatedLayer` (so each symbol takes its own
bracket settings) over each symbol's bars in time order and, after each bar some asked time needs, keeps a
:class:`Snapshot`: the state of the last bar closed at or before that time. Nothing after it is used (no
look-ahead). ``ModelStates(...)(symbol, at_ms)`` is a ``state_at`` for
:class:`~live_heatmap.estimated.baselines.ModelPredictor` and
:func:`~live_heatmap.estimated.baselines.shuffled_states`.

A snapshot keeps the levels within the harness's grid (+-10 % of the mark), summed per grid bin at the bin's
centre: the density the harness builds from it is the one it builds from the exact levels (it bins by nearest
centre), in 3 kB per snapshot whatever the window. A state is given only once the model has run for
``warmup_ms`` (default: its window; before that it holds part of the open positions) and when its bar closed no
more than ``max_age_ms`` before the asked time (a hole in the history); otherwise None (the harness scores the
event as climatology and counts it as "no prediction").

Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from live_heatmap.estimated.bars import Bar
from live_heatmap.estimated.layer import EstimatedLayer
from live_heatmap.estimated.validation import GRID, FloatArray, IntArray, bin_of

__all__ = ["ModelStates", "Snapshot"]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The model's state at one bar's close: its mark (the close) and the open notional per grid bin and side
    (a :class:`~live_heatmap.estimated.baselines.LevelState`)."""

    mark: float
    long: FloatArray
    short: FloatArray

    def levels(self, side: str) -> tuple[FloatArray, FloatArray]:
        """The bins' prices (``mark * exp(GRID)``) and the side's notional in each."""
        return self.mark * np.exp(GRID), self.long if side == "long" else self.short


def _snapshot(mark: float, layer: EstimatedLayer, symbol: str) -> Snapshot:
    model = layer.get(symbol)
    assert model is not None  # a bar was just applied
    sides = []
    for side in ("long", "short"):
        exact = model.levels(side)
        idx = bin_of(np.log(exact.price / mark)) if exact.price.size else np.zeros(0, dtype=np.int64)
        keep = idx >= 0
        sides.append(np.bincount(idx[keep], weights=exact.notional[keep], minlength=GRID.size).astype(np.float64))
    return Snapshot(mark, sides[0], sides[1])


class ModelStates:
    """The states of ``layer``'s model over ``bars`` (per symbol, in time order) at ``times`` (per symbol, any
    order): module docstring. Asking for a time not among ``times`` raises ValueError."""

    def __init__(self, layer: EstimatedLayer, bars: Mapping[str, Sequence[Bar]], times: Mapping[str, Sequence[int]],
                 *, max_age_ms: int, warmup_ms: int | None = None) -> None:
        warmup = layer.config.window_ms if warmup_ms is None else warmup_ms
        self._closes: dict[str, IntArray] = {}
        self._kept: dict[str, dict[int, Snapshot | None]] = {}
        self._max_age = max_age_ms
        for symbol, series in bars.items():
            closes = np.array([b.close_time for b in series], dtype=np.int64)
            asked = np.asarray(list(times.get(symbol, ())), dtype=np.int64)
            need = set((np.searchsorted(closes, asked, side="right") - 1).tolist()) - {-1}
            kept: dict[int, Snapshot | None] = {}
            start = series[0].open_time if series else 0
            for i, bar in enumerate(series):
                if not need:
                    break
                layer.update(symbol, bar)
                if i in need:
                    need.discard(i)
                    kept[i] = _snapshot(bar.close, layer, symbol) if bar.close_time - start >= warmup else None
            self._closes[symbol], self._kept[symbol] = closes, kept

    def __call__(self, symbol: str, at_ms: int) -> Snapshot | None:
        closes = self._closes.get(symbol)
        if closes is None:
            return None
        i = int(np.searchsorted(closes, at_ms, side="right")) - 1
        if i < 0 or at_ms - int(closes[i]) > self._max_age:
            return None
        kept = self._kept[symbol]
        if i not in kept:
            raise ValueError(f"ModelStates: {symbol} at {at_ms} was not among the times asked for")
        return kept[i]
