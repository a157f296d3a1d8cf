"""Binance's liquidation price: the worked values of issue 14 to the cent, the defining balance (margin plus
unrealised PnL equals the maintenance margin at the price), brackets by notional, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from live_heatmap.estimated import (
    Bracket,
    Brackets,
    liquidation_price,
    liquidation_price_at_leverage,
    liquidation_prices,
)

BTC = Brackets("BTCUSDT", [
    Bracket(2, 100, 50_000.0, 600_000.0, 0.005, 50.0),
    Bracket(1, 125, 0.0, 50_000.0, 0.004, 0.0),
    Bracket(3, 50, 600_000.0, 3_000_000.0, 0.01, 3_050.0),
])


def test_worked_values_at_leverage_to_the_cent() -> None:
    assert round(liquidation_price_at_leverage(1, 67_000.0, 10, 0.004), 2) == 60_542.17
    assert round(liquidation_price_at_leverage(-1, 67_000.0, 25, 0.004), 2) == 69_402.39


def test_worked_values_with_wallet_and_cum_to_the_cent() -> None:
    assert round(liquidation_price(1, 1.0, 100_000.0, 10_000.0, 0.005, 50.0), 2) == 90_402.01
    assert round(liquidation_price(-1, 1.0, 100_000.0, 10_000.0, 0.005, 50.0), 2) == 109_502.49


def test_brackets_give_the_bracket_of_the_notional() -> None:
    # 1 BTC at 100,000 is in bracket 2 (50k..600k): MMR 0.005, cum 50, as in the worked value.
    assert round(liquidation_price_at_leverage(1, 100_000.0, 10, BTC), 2) == 90_402.01
    assert round(liquidation_price_at_leverage(-1, 100_000.0, 10, BTC), 2) == 109_502.49
    assert liquidation_price_at_leverage(1, 100_000.0, 10, BTC, quantity=0.1) == pytest.approx(
        liquidation_price_at_leverage(1, 100_000.0, 10, 0.004))


@given(side=st.sampled_from([1, -1]), quantity=st.floats(1e-4, 1e4), entry=st.floats(1e-3, 1e6),
       leverage=st.floats(1.5, 125.0), mmr=st.floats(0.0, 0.2), cum=st.floats(0.0, 1e3))
def test_at_the_price_margin_plus_pnl_equals_maintenance(*, side: int, quantity: float, entry: float, leverage: float,
                                                         mmr: float, cum: float) -> None:
    wallet = quantity * entry / leverage
    try:
        price = liquidation_price(side, quantity, entry, wallet, mmr, cum)
    except ValueError:
        assert side > 0 and wallet + cum >= quantity * entry  # only a long that cannot lose its margin
        return
    equity = wallet + side * quantity * (price - entry)
    maintenance = quantity * price * mmr - cum
    assert equity == pytest.approx(maintenance, rel=1e-9, abs=1e-9 * quantity * entry)


@given(side=st.sampled_from([1, -1]), entries=st.lists(st.floats(1e-3, 1e6), min_size=1, max_size=20),
       leverage=st.floats(1.5, 125.0), mmr=st.floats(0.0, 0.1), cum=st.floats(0.0, 10.0))
def test_vectorised_matches_the_scalar(side: int, entries: list[float], leverage: float, mmr: float,
                                       cum: float) -> None:
    scalar = []
    for entry in entries:
        try:
            scalar.append(liquidation_price_at_leverage(side, entry, leverage, mmr, cum=cum))
        except ValueError:
            with pytest.raises(ValueError, match="no liquidation price"):
                liquidation_prices(side, np.array(entries), leverage, mmr, cum=cum)
            return
    np.testing.assert_allclose(liquidation_prices(side, np.array(entries), leverage, mmr, cum=cum), scalar, rtol=1e-12)


def test_for_notional_edges_and_max_leverage() -> None:
    assert BTC.for_notional(0.0).bracket == 1
    assert BTC.for_notional(49_999.99).bracket == 1
    assert BTC.for_notional(50_000.0).bracket == 2
    assert BTC.for_notional(3_000_000.0).bracket == 3
    assert [BTC.max_leverage(n) for n in (1.0, 50_000.0, 600_000.0)] == [125, 100, 50]
    assert [b.bracket for b in BTC] == [1, 2, 3]
    with pytest.raises(ValueError, match="above the largest position allowed"):
        BTC.for_notional(3_000_000.01)
    with pytest.raises(ValueError, match="notional must be"):
        BTC.for_notional(math.nan)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: liquidation_price_at_leverage(1, 67_000.0, 0, 0.004), "leverage must be"),
    (lambda: liquidation_price_at_leverage(1, 67_000.0, -5, 0.004), "leverage must be"),
    (lambda: liquidation_price_at_leverage(1, math.nan, 10, 0.004), "entry_price must be"),
    (lambda: liquidation_price_at_leverage(1, 67_000.0, math.nan, 0.004), "leverage must be"),
    (lambda: liquidation_price_at_leverage(1, 67_000.0, 10, math.nan), "maint_margin_ratio must be"),
    (lambda: liquidation_price_at_leverage(1, 67_000.0, 10, 1.0), "maint_margin_ratio must be"),
    (lambda: liquidation_price_at_leverage(0, 67_000.0, 10, 0.004), "side must be"),
    (lambda: liquidation_price(1, 0.0, 67_000.0, 100.0, 0.004), "quantity must be"),
    (lambda: liquidation_price(1, 1.0, 67_000.0, -1.0, 0.004), "wallet_balance must be"),
    (lambda: liquidation_price(1, 1.0, 67_000.0, 100.0, 0.004, math.inf), "cum must be"),
    (lambda: liquidation_price_at_leverage(1, 67_000.0, 1, 0.004), "no liquidation price"),
    (lambda: liquidation_price(1, 1.0, 67_000.0, 67_000.0, 0.0, 10.0), "no liquidation price"),
    (lambda: liquidation_price_at_leverage(1, 67_000.0, 10, BTC, cum=5.0), "cum comes from the bracket"),
    (lambda: liquidation_prices(1, np.array([1.0, math.nan]), 10, 0.004), "index 1"),
    (lambda: liquidation_prices(1, np.array([1.0, 2.0]), 0.5, 0.004), "no liquidation price"),
])
def test_bad_input_is_a_value_error_naming_it(call: object, message: str) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match=message):
        call()


def test_malformed_brackets_are_refused() -> None:
    with pytest.raises(ValueError, match="no leverage brackets"):
        Brackets("X", [])
    with pytest.raises(ValueError, match="not at the previous cap"):
        Brackets("X", [Bracket(1, 20, 0.0, 10.0, 0.01, 0.0), Bracket(2, 10, 11.0, 20.0, 0.02, 0.1)])
    with pytest.raises(ValueError, match="starts at 5"):
        Brackets("X", [Bracket(1, 20, 5.0, 10.0, 0.01, 0.0)])
    with pytest.raises(ValueError, match="allow no position"):
        Brackets("X", [Bracket(1, 20, 0.0, 0.0, 0.01, 0.0)])
    with pytest.raises(ValueError, match="maint_margin_ratio out of range"):
        Bracket(1, 20, 0.0, 10.0, 1.5, 0.0)


def test_an_empty_bracket_holds_no_position() -> None:
    # Binance lists a few (floor == cap): BEAMXUSDT's 8th bracket of 2025-12-25.
    brackets = Brackets("X", [Bracket(3, 2, 20.0, 30.0, 0.2, 1.0), Bracket(2, 3, 20.0, 20.0, 0.1667, 0.5),
                              Bracket(1, 5, 0.0, 20.0, 0.1, 0.0), Bracket(4, 1, 30.0, 30.0, 0.5, 2.0)])
    assert [brackets.for_notional(n).bracket for n in (19.9, 20.0, 30.0)] == [1, 3, 3]
