"""The event window against a plain deque: any sequence of adds, flushes and prunes."""

from __future__ import annotations

from collections import deque

import numpy as np
from helpers import NOW, event
from hypothesis import given, settings
from hypothesis import strategies as st

from live_heatmap.window import EventWindow

ops_st = st.lists(st.one_of(
    st.tuples(st.just("add"), st.integers(min_value=1, max_value=25)),
    st.tuples(st.just("read"), st.just(0)),
    st.tuples(st.just("prune"), st.integers(min_value=0, max_value=400)),
), max_size=40)


@settings(max_examples=150)
@given(st.integers(min_value=1, max_value=70), ops_st)
def test_window_matches_a_bounded_deque(capacity: int, ops: list[tuple[str, int]]) -> None:
    window = EventWindow("BTCUSDT", capacity)
    model: deque = deque(maxlen=capacity)
    serial = 0
    for op, arg in ops:
        if op == "add":
            for _ in range(arg):
                e = event(100.0 + (serial * 7919 % 101) * 0.1, 1.0 + serial % 3, age_min=-serial / 100,
                          side="long" if serial % 3 else "short")
                serial += 1
                assert window.add(e)
                model.append(e)
        elif op == "read":
            assert window.events() == list(model)
        else:
            cutoff = NOW + arg * 600  # trade times run NOW + serial * 600 ms
            window.by_side(min_trade_time=cutoff)
            model = deque((e for e in model if e.trade_time >= cutoff), maxlen=capacity)
        for side, (prices, qtys, times) in enumerate(window.by_side()):
            expected = sorted((e.price, e.quantity, e.trade_time) for e in model if (e.side == "short") == side)
            assert np.all(np.diff(prices) >= 0)
            assert sorted(zip(prices.tolist(), qtys.tolist(), times.tolist(), strict=True)) == expected
        assert window.events() == list(model)
        assert len(window) == len(model)
    for e in model:  # held events are still duplicates; evicted ones are not
        assert not window.add(e)
