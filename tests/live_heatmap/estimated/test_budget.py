"""The estimated layer's REST weight (issue 14): Binance's kline weight table and the budget's arithmetic."""

from __future__ import annotations

import math

import pytest

from live_heatmap.estimated.budget import (
    BINANCE_WEIGHT_PER_MINUTE,
    KLINE_PAGE,
    OI_HISTORY_PAGE,
    REFILL_WEIGHT_PER_MINUTE,
    estimated_budget,
    kline_weight,
)
from live_heatmap.estimated.config import WINDOWS_MS


@pytest.mark.parametrize(("limit", "weight"), [(1, 1), (99, 1), (100, 2), (499, 2), (500, 5), (1000, 5),
                                               (1001, 10), (1500, 10)])
def test_kline_weight_follows_binances_table(limit: int, weight: int) -> None:
    assert kline_weight(limit) == weight


@pytest.mark.parametrize("window", list(WINDOWS_MS))
@pytest.mark.parametrize(("symbols", "poll"), [(1, 60.0), (10, 60.0), (40, 15.0)])
def test_the_budget_adds_polls_refills_and_the_start_backfill(window: str, symbols: int, poll: float) -> None:
    budget = estimated_budget(symbols, poll, WINDOWS_MS[window])
    bars = WINDOWS_MS[window] // 300_000
    pages = [min(KLINE_PAGE, bars - start) for start in range(0, bars, KLINE_PAGE)]
    per_symbol = 2 * sum(kline_weight(p) for p in pages) + math.ceil(bars / OI_HISTORY_PAGE)
    assert budget.window_bars == bars
    assert budget.backfill_per_symbol == per_symbol
    assert budget.per_minute == pytest.approx(symbols * (60.0 / poll + REFILL_WEIGHT_PER_MINUTE))
    assert budget.first_minute == pytest.approx(symbols * per_symbol + budget.per_minute)
    assert budget.ok is (budget.first_minute <= BINANCE_WEIGHT_PER_MINUTE / 2)


def test_the_line_names_the_numbers() -> None:
    budget = estimated_budget(2, 60.0, WINDOWS_MS["12h"])
    line = budget.line()
    for number in ("2 symbols", "60 s", "144 bars", "2400", "50%", "1200"):
        assert number in line
    assert budget.to_dict()["first_minute_weight"] == round(budget.first_minute, 2)


def test_a_busy_setting_is_not_ok() -> None:
    busy = estimated_budget(100, 10.0, WINDOWS_MS["7d"])
    assert busy.first_minute > busy.allowed
    assert not busy.ok


@pytest.mark.parametrize(("symbols", "poll", "window"), [(-1, 60.0, 1), (1, 0.0, 1), (1, 60.0, 0)])
def test_nonsense_is_refused(symbols: int, poll: float, window: int) -> None:
    with pytest.raises(ValueError, match="needed"):
        estimated_budget(symbols, poll, window)
