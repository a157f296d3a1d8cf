"""The paper broker's liquidation price with leverage brackets: the bracket of the position's notional (MMR and
maintenance amount), the fixed rate for a symbol without brackets, and entries the brackets refuse."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_paper_pinned import BTC, DAY0, MMR, START, entry, opened, paper

from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.errors import OrderRejected
from liquidation_hunter.trading.paper import PaperBroker
from live_heatmap.estimated import parse_leverage_brackets, shipped_brackets

ETH = "ETH/USDT:USDT"
TABLE = parse_leverage_brackets([{"symbol": "BTCUSDT", "brackets": [
    {"bracket": 1, "initialLeverage": 125, "notionalFloor": 0, "notionalCap": 1_000, "maintMarginRatio": 0.004,
     "cum": 0},
    {"bracket": 2, "initialLeverage": 50, "notionalFloor": 1_000, "notionalCap": 20_000, "maintMarginRatio": 0.01,
     "cum": 6},
]}], as_of=datetime(2026, 1, 1, tzinfo=UTC), source="exchange")


@pytest.fixture
def books(tmp_path: Path) -> Iterator[Books]:
    with Books.open(tmp_path / "paper.sqlite", starting_wallet=START, now_ms=DAY0) as b:
        yield b


@pytest.mark.parametrize("direction", [1, -1])
def test_the_bracket_of_the_notional_sets_the_price(books: Books, direction: int) -> None:
    position = opened(paper(books, brackets=TABLE), entry("b", BTC, direction, 0.1, leverage=10), 50_000.0)
    q, e = position.quantity, position.entry_price
    assert q * e > 1_000  # bracket 2
    # margin + PnL = maintenance margin, at the price: q*e/10 + d*q*(P - e) = 0.01*q*P - 6
    price = position.liquidation_price
    assert q * e / 10 + direction * q * (price - e) == pytest.approx(0.01 * q * price - 6.0, rel=1e-12)


def test_a_symbol_without_brackets_uses_the_rate(books: Books) -> None:
    position = opened(paper(books, brackets=TABLE), entry("e", ETH, 1, 1.0, leverage=10), 3_000.0)
    e = position.entry_price
    assert position.liquidation_price == pytest.approx(e * 0.9 / (1 - MMR), rel=1e-12)


def test_above_the_largest_position_or_too_much_leverage_is_refused(books: Books) -> None:
    broker = paper(books, brackets=TABLE)
    with pytest.raises(OrderRejected, match="above the largest position allowed"):
        broker.open(entry("big", BTC, 1, 1.0, leverage=10), 50_000.0, 1)
    with pytest.raises(OrderRejected, match="leaves no margin above the maintenance margin of BTC"):
        broker.open(entry("lev", BTC, 1, 0.1, leverage=125), 50_000.0, 1)  # 1/125 < MMR 0.01


def test_a_long_at_1x_is_never_liquidated(books: Books) -> None:
    position = opened(paper(books, brackets=TABLE), entry("one", BTC, 1, 0.01, leverage=1), 50_000.0)
    assert position.liquidation_price == 0.0


def test_from_risk_uses_the_shipped_table(books: Books) -> None:
    broker = PaperBroker.from_risk(books, BotConfig().risk)
    assert broker.brackets is shipped_brackets()
