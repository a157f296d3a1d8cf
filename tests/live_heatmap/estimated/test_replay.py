"""The model's states for the harness (live_heatmap.estimated.replay.ModelStates): the state of the last bar closed
by the asked time, nothing after it, none before the warm-up or after a hole, and the same density the exact
levels give."""

from __future__ import annotations

import numpy as np
import pytest

from live_heatmap.estimated.bars import Bar
from live_heatmap.estimated.baselines import ModelPredictor
from live_heatmap.estimated.layer import EstimatedLayer
from live_heatmap.estimated.replay import ModelStates

BAR = 300_000


def bars(n: int, seed: int = 3) -> list[Bar]:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    oi = 1_000.0 + np.cumsum(rng.normal(2.0, 5.0, n))
    return [Bar(i * BAR, (i + 1) * BAR - 1, float(close[i] * 1.002), float(close[i] * 0.998), float(close[i]), 10.0,
                float(10 * close[i]), 6.0, float(6 * close[i]), float(oi[i])) for i in range(n)]


class Exact:
    """The exact levels of a model fed the bars closed by a time (what ModelStates must match)."""

    def __init__(self, series: list[Bar], at_ms: int) -> None:
        layer = EstimatedLayer()
        for b in series:
            if b.close_time <= at_ms:
                layer.update("X", b)
        model = layer.get("X")
        assert model is not None and model.last_close is not None
        self.mark, self._model = model.last_close, model

    def levels(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        found = self._model.levels(side)
        return found.price, found.notional


def test_the_state_is_the_last_closed_bars_and_gives_the_exact_levels_density() -> None:
    series = bars(400)
    asked = [200 * BAR + 60_000, 250 * BAR - 1, 399 * BAR]
    states = ModelStates(EstimatedLayer(), {"X": series}, {"X": asked}, max_age_ms=600_000, warmup_ms=0)
    for t in asked:
        snap = states("X", t)
        exact = Exact(series, t)
        assert snap is not None and snap.mark == exact.mark
        a = ModelPredictor(lambda s, at, v=snap: v).predict("X", t)
        b = ModelPredictor(lambda s, at, v=exact: v).predict("X", t)
        assert a is not None and b is not None
        for side in ("long", "short"):
            np.testing.assert_allclose(a.of(side), b.of(side), rtol=1e-9, atol=1e-15)


def test_later_bars_change_nothing_before_them() -> None:
    t = 150 * BAR + 30_000
    short = ModelStates(EstimatedLayer(), {"X": bars(400)[:151]}, {"X": [t]}, max_age_ms=600_000, warmup_ms=0)("X", t)
    long = ModelStates(EstimatedLayer(), {"X": bars(400)}, {"X": [t]}, max_age_ms=600_000, warmup_ms=0)("X", t)
    assert short is not None and long is not None
    assert np.array_equal(short.long, long.long) and np.array_equal(short.short, long.short)


def test_no_state_before_the_warm_up_after_a_hole_or_for_an_unknown_symbol() -> None:
    series = bars(300)
    asked = [10 * BAR, 200 * BAR, 400 * BAR]  # 12 h = 144 bars of warm-up; the last is 100 bars after the data
    states = ModelStates(EstimatedLayer(), {"X": series}, {"X": asked}, max_age_ms=600_000)
    assert states("X", 10 * BAR) is None and states("X", 200 * BAR) is not None
    assert states("X", 400 * BAR) is None and states("Y", 200 * BAR) is None
    with pytest.raises(ValueError, match="not among the times asked for"):
        states("X", 100 * BAR)
