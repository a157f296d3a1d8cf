"""No look-ahead: the state after bar k is bit-identical whatever comes after it (issue 14)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from live_heatmap.estimated.bars import Bar
from live_heatmap.estimated.config import ATTRIBUTIONS, ModelConfig
from live_heatmap.estimated.model import EstimatedLevels

MINUTE = 60_000

# one bar's free numbers: (close, high above close, low below close, volume, taker-buy share, OI)
BAR_NUMBERS = st.tuples(st.floats(50.0, 150.0), st.floats(0.0, 0.05), st.floats(0.0, 0.05),
                        st.floats(0.0, 1_000.0), st.floats(0.0, 1.0), st.floats(0.0, 1e6))


def make_bars(numbers: list[tuple[float, float, float, float, float, float]], start: int) -> list[Bar]:
    bars = []
    for offset, (close, up, down, volume, buy_share, oi) in enumerate(numbers):
        k = start + offset
        bars.append(Bar(k * MINUTE, k * MINUTE + MINUTE - 1, close * (1 + up), close * (1 - down), close,
                        volume, volume * close, volume * buy_share, volume * buy_share * close, oi))
    return bars


def outputs(m: EstimatedLevels) -> list[object]:
    """Every output of the model, as returned (arrays the caller keeps)."""
    binned = m.binned()
    return [*m.levels("long"), *m.levels("short"), *m.leverage_distribution(), *binned,
            m.total_notional(), m.last_dv, m.last_consumed]


def as_bytes(values: list[object]) -> list[bytes]:
    """Bit-identical means equal bytes (NaN-safe, unlike ==)."""
    return [np.ascontiguousarray(np.asarray(v, dtype=np.float64)).tobytes() for v in values]


@settings(max_examples=60, deadline=None)
@given(prefix=st.lists(BAR_NUMBERS, min_size=1, max_size=40),
       future_a=st.lists(BAR_NUMBERS, max_size=40), future_b=st.lists(BAR_NUMBERS, max_size=40),
       attribution=st.sampled_from(ATTRIBUTIONS))
def test_the_state_at_bar_k_ignores_every_later_input(
        prefix: list[tuple[float, float, float, float, float, float]],
        future_a: list[tuple[float, float, float, float, float, float]],
        future_b: list[tuple[float, float, float, float, float, float]], attribution: str) -> None:
    config = ModelConfig(attribution=attribution, bar_ms=MINUTE)  # type: ignore[arg-type]
    known = make_bars(prefix, 0)
    runs = []
    for future in (future_a, future_b):
        m = EstimatedLevels(config)
        for b in known:
            m.update(b)
        at_k = outputs(m)
        for b in make_bars(future, len(known)):
            m.update(b)
        runs.append(as_bytes(at_k))  # after the future ran: the outputs kept at k did not move either
    fresh = EstimatedLevels(config)
    for b in known:
        fresh.update(b)
    assert runs[0] == runs[1] == as_bytes(outputs(fresh))
