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
    # a table whose second bracket allows 125x at an MMR of 1 %: 1/125 < MMR, liquidated at once
    loose = parse_leverage_brackets([{"symbol": "BTCUSDT", "brackets": [
        {"bracket": 1, "initialLeverage": 125, "notionalFloor": 0, "notionalCap": 1_000, "maintMarginRatio": 0.004,
         "cum": 0},
        {"bracket": 2, "initialLeverage": 125, "notionalFloor": 1_000, "notionalCap": 20_000,
         "maintMarginRatio": 0.01, "cum": 6},
    ]}], as_of=datetime(2026, 1, 1, tzinfo=UTC), source="exchange")
    with pytest.raises(OrderRejected, match="leaves no margin above the maintenance margin of BTC"):
        paper(books, brackets=loose).open(entry("lev", BTC, 1, 0.1, leverage=125), 50_000.0, 1)


def test_leverage_above_the_brackets_maximum_at_the_notional_is_refused(books: Books) -> None:
    broker = paper(books, brackets=TABLE)
    # 0.1 BTC at 50,000 is about 5,000 USDT: bracket 2, at most 50x, though the first bracket allows 125x
    with pytest.raises(OrderRejected, match=r"leverage 75 is above the maximum 50x of BTC/USDT:USDT's bracket at a "
                                            r"notional of 50\d\d\.\d\d USDT"):
        broker.open(entry("big", BTC, 1, 0.1, leverage=75), 50_000.0, 1)
    assert books.open_positions() == []
    small = opened(broker, entry("small", BTC, 1, 0.01, leverage=75), 50_000.0)  # 500 USDT: bracket 1, 125x
    assert small.quantity == pytest.approx(0.01)
    assert opened(paper(books, brackets=TABLE), entry("at", ETH, 1, 1.0, leverage=75), 3_000.0).quantity == 1.0


def test_a_long_at_1x_is_never_liquidated(books: Books) -> None:
    position = opened(paper(books, brackets=TABLE), entry("one", BTC, 1, 0.01, leverage=1), 50_000.0)
    assert position.liquidation_price == 0.0


def test_from_risk_uses_the_shipped_table(books: Books) -> None:
    broker = PaperBroker.from_risk(books, BotConfig().risk)
    assert broker.brackets is shipped_brackets()
