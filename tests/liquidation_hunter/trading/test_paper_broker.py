"""The paper broker against hand-computed fills, fees, funding and liquidations, on real SQLite books;
and a crash test: a paper bot killed with SIGKILL again and again must leave books that balance."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from bot_process import output_lines
from conftest import DATA

from liquidation_hunter.config.sections import RiskConfig
from liquidation_hunter.data.prices import PricePath
from liquidation_hunter.trading.books import Books, BooksError
from liquidation_hunter.trading.errors import OrderRejected
from liquidation_hunter.trading.model import EntryOrder, Position, liquidation_price
from liquidation_hunter.trading.paper import PaperBroker

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
HOUR = 3_600_000
DAY0 = 1_737_936_000_000  # 2025-01-27T00:00:00Z
T = DAY0 + 7 * HOUR  # 07:00 UTC, between two funding times
START = 10_000.0
WORKER = Path(__file__).resolve().parents[2] / "support" / "books_worker.py"


class ExchangeInfoPrecision:
    """Binance's rounding from the recorded exchangeInfo: amounts truncated to LOT_SIZE.stepSize, prices
    rounded to PRICE_FILTER.tickSize, LOT_SIZE.minQty as the minimum."""

    def __init__(self) -> None:
        info = json.loads((DATA / "rest" / "exchangeInfo.json").read_text())
        self.filters: dict[str, dict[str, dict[str, str]]] = {}
        for market in info["symbols"]:
            if market["contractType"] == "PERPETUAL":
                unified = f"{market['baseAsset']}/{market['quoteAsset']}:{market['marginAsset']}"
                self.filters[unified] = {f["filterType"]: f for f in market["filters"]}

    def has_market(self, symbol: str) -> bool:
        return symbol in self.filters

    def amount_to_precision(self, symbol: str, amount: float) -> float:
        step = Decimal(self.filters[symbol]["LOT_SIZE"]["stepSize"])
        return float((Decimal(repr(amount)) / step).to_integral_value(ROUND_DOWN) * step)

    def price_to_precision(self, symbol: str, price: float) -> float:
        tick = Decimal(self.filters[symbol]["PRICE_FILTER"]["tickSize"])
        return float((Decimal(repr(price)) / tick).to_integral_value(ROUND_HALF_UP) * tick)

    def min_amount(self, symbol: str) -> float | None:
        return float(self.filters[symbol]["LOT_SIZE"]["minQty"])

    def min_notional(self, symbol: str) -> float | None:
        return float(self.filters[symbol]["MIN_NOTIONAL"]["notional"])


@pytest.fixture
def books(tmp_path: Path) -> Iterator[Books]:
    with Books.open(tmp_path / "paper.sqlite", starting_wallet=START, now_ms=DAY0) as b:
        yield b


def broker_for(books: Books, **options: object) -> PaperBroker:
    settings: dict[str, object] = {"slippage_bps": 2.0, "taker_fee": 0.0005, "maker_fee": 0.0002}
    settings.update(options)
    return PaperBroker(books, **settings)  # type: ignore[arg-type]


@pytest.fixture
def broker(books: Books) -> PaperBroker:
    return broker_for(books)


def order(client_id: str = "o1", *, symbol: str = BTC, direction: int = 1, quantity: float = 0.1,
          stop_loss: float = 0.0, take_profit: float = 0.0, leverage: int = 5) -> EntryOrder:
    return EntryOrder(client_id=client_id, symbol=symbol, direction=direction, quantity=quantity,
                      reference_price=50_000.0, stop_loss=stop_loss, take_profit=take_profit, leverage=leverage,
                      created_at=T, strategy="test")


def funding_rows(books: Books) -> list[tuple[int, int, float, float]]:
    with sqlite3.connect(books.path) as db:
        return db.execute("SELECT position_id, at, rate, amount FROM funding ORDER BY position_id, at").fetchall()


def opened(broker: PaperBroker, entry: EntryOrder, price: float = 50_000.0, now: int = T) -> Position:
    position = broker.open(entry, price, now)
    assert position is not None
    return position


# ------------------------------------------------------------------ entries


def test_long_entry_pays_slippage_and_taker_fee(books: Books, broker: PaperBroker) -> None:
    position = opened(broker, order(stop_loss=49_000.0, take_profit=52_000.0))
    assert position.entry_price == pytest.approx(50_010.0, rel=1e-15)  # 2 bps worse: a buy pays more
    assert position.quantity == 0.1
    assert position.entry_fee == pytest.approx(2.5005, rel=1e-12)  # 0.05 % of 5001.0
    assert position.margin == pytest.approx(1000.2, rel=1e-12)  # 5001.0 / 5
    assert position.liquidation_price == pytest.approx(40_168.674698795181, rel=1e-12)  # 50010 * 0.8 / 0.996
    assert (position.stop_loss, position.take_profit, position.opened_at) == (49_000.0, 52_000.0, T)
    state = broker.account({BTC: 50_000.0}, T)
    assert state.wallet == pytest.approx(START - 2.5005, rel=1e-12)
    assert state.margin == pytest.approx(1000.2, rel=1e-12)
    assert state.unrealized == pytest.approx(-1.0, rel=1e-9)  # marked at 50 000, bought at 50 010
    assert broker.positions() == [position]
    assert books.audit() == []


def test_short_entry_sells_lower(broker: PaperBroker) -> None:
    position = opened(broker, order(direction=-1))
    assert position.entry_price == pytest.approx(49_990.0, rel=1e-15)
    assert position.entry_fee == pytest.approx(2.4995, rel=1e-12)
    assert position.margin == pytest.approx(999.8, rel=1e-12)
    assert position.liquidation_price == pytest.approx(59_749.003984063745, rel=1e-12)  # 49990 * 1.2 / 1.004


@pytest.mark.parametrize(("direction", "entry", "leverage", "mmr", "expected"), [
    (1, 100.0, 10, 0.004, 100 * 0.9 / 0.996),
    (-1, 100.0, 10, 0.004, 100 * 1.1 / 1.004),
    (1, 100.0, 1, 0.004, 0.0),  # an unlevered long cannot be liquidated
    (1, 100.0, 20, 0.0, 95.0),  # no maintenance margin: the bankruptcy price
    (-1, 100.0, 20, 0.0, 105.0),
])
def test_liquidation_price_formula(direction: int, entry: float, leverage: int, mmr: float,
                                   expected: float) -> None:
    assert liquidation_price(direction, entry, leverage, mmr) == pytest.approx(expected, rel=1e-12)


def test_liquidation_price_leaves_exactly_the_maintenance_margin() -> None:
    for direction in (1, -1):
        entry, quantity, leverage, mmr = 2_345.6, 3.0, 7, 0.01
        liq = liquidation_price(direction, entry, leverage, mmr)
        equity = quantity * entry / leverage + direction * (liq - entry) * quantity
        assert equity == pytest.approx(mmr * quantity * liq, rel=1e-12)


def test_quantity_and_levels_rounded_like_binance(books: Books) -> None:
    broker = broker_for(books, precision=ExchangeInfoPrecision())
    position = opened(broker, order(quantity=0.123_99, stop_loss=48_123.46, take_profit=52_000.04))
    assert position.quantity == 0.123  # LOT_SIZE.stepSize 0.001, truncated
    assert (position.stop_loss, position.take_profit) == (48_123.5, 52_000.0)  # tickSize 0.10
    assert position.entry_fee == pytest.approx(0.123 * 50_010.0 * 0.0005, rel=1e-12)
    with pytest.raises(OrderRejected, match="below the minimum"):
        broker.open(order("tiny", symbol=ETH, quantity=0.000_99), 3_000.0, T)
    assert books.position_by_client_id("tiny") is None


def test_entry_is_idempotent_by_client_id(books: Books, broker: PaperBroker) -> None:
    first = opened(broker, order())
    assert broker.open(order(), 51_000.0, T + 1) is None
    assert broker.close(first, "manual", 50_000.0, T + 2) is not None
    # closed, the symbol is free and the wallet ample: the replayed signal still opens nothing
    assert broker.open(order(), 50_000.0, T + 3) is None
    assert [p.client_id for p in books.open_positions()] == []
    assert len(books.closed_trades()) == 1 and books.audit() == []


def test_one_open_position_per_symbol(broker: PaperBroker) -> None:
    opened(broker, order("a"))
    with pytest.raises(OrderRejected, match="already has an open position"):
        broker.open(order("b", direction=-1), 50_000.0, T)
    assert opened(broker, order("c", symbol=ETH, quantity=1.0), 3_000.0).symbol == ETH


def test_insufficient_balance_is_rejected_and_nothing_written(books: Books, broker: PaperBroker) -> None:
    opened(broker, order("eth", symbol=ETH, quantity=10.0, leverage=5), 3_000.0)  # margin 6001.2
    wallet = books.wallet()
    # margin 1.0 * 50010 / 5 = 10002 > available 10000 - 15.003 - 6001.2
    with pytest.raises(OrderRejected, match="insufficient balance"):
        broker.open(order("btc", quantity=1.0), 50_000.0, T)
    with pytest.raises(OrderRejected, match="insufficient balance"):  # 0.4 BTC: 4000.8 margin + 10 fee
        broker.open(order("btc", quantity=0.4), 50_000.0, T)
    assert books.wallet() == wallet and books.order("btc") is None
    assert opened(broker, order("btc", quantity=0.3)).margin == pytest.approx(3000.6)


@pytest.mark.parametrize("price", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_price_is_rejected(broker: PaperBroker, price: float) -> None:
    with pytest.raises(OrderRejected, match="price"):
        broker.open(order(), price, T)


@pytest.mark.parametrize(("field", "value"), [("direction", 0), ("quantity", 0.0), ("quantity", float("nan")),
                                              ("leverage", 0), ("leverage", 250), ("stop_loss", float("nan")),
                                              ("take_profit", -1.0)])
def test_invalid_order_is_rejected(broker: PaperBroker, field: str, value: float) -> None:
    fields = {"direction": 1, "quantity": 0.1, "leverage": 5, "stop_loss": 0.0, "take_profit": 0.0}
    fields[field] = value
    with pytest.raises(OrderRejected):
        broker.open(order(**fields), 50_000.0, T)  # type: ignore[arg-type]


@pytest.mark.parametrize(("direction", "stop", "target"), [(1, 50_000.0, 0.0), (1, 0.0, 49_999.0),
                                                            (-1, 49_999.0, 0.0), (-1, 0.0, 50_000.0)])
def test_exit_levels_on_the_wrong_side_are_rejected(broker: PaperBroker, direction: int, stop: float,
                                                    target: float) -> None:
    with pytest.raises(OrderRejected, match="would trigger at once"):
        broker.open(order(direction=direction, stop_loss=stop, take_profit=target), 50_000.0, T)


# ------------------------------------------------------------------ exits


def test_market_close_golden(books: Books, broker: PaperBroker) -> None:
    position = opened(broker, order())
    trade = broker.close(position, "time_exit", 51_000.0, T + HOUR // 2)
    assert trade is not None
    assert trade.exit_price == pytest.approx(50_989.8, rel=1e-15)  # a sell gets 2 bps less
    assert trade.gross_pnl == pytest.approx(97.98, rel=1e-9)  # (50989.8 - 50010) * 0.1
    assert trade.exit_fee == pytest.approx(2.54949, rel=1e-12)
    assert trade.net_pnl == pytest.approx(97.98 - 2.5005 - 2.54949, rel=1e-9)
    assert books.wallet() == pytest.approx(START + trade.net_pnl, rel=1e-12)
    assert books.order("o1-x") is not None and books.order("o1-x").purpose == "time_exit"  # type: ignore[union-attr]
    assert broker.close(position, "manual", 40_000.0, T + HOUR) is None
    assert books.audit() == []


@pytest.mark.parametrize("case", [
    (1, 49_000.0, 49_000.0, 48_990.2),  # reached: the stop, 2 bps worse
    (1, 49_000.0, 48_995.0, 48_990.2),  # a little past, within the slippage: still the stop's fill
    (1, 49_000.0, 45_000.0, 45_000.0),  # gapped through: the current price
    (-1, 51_000.0, 51_000.0, 51_010.2),
    (-1, 51_000.0, 55_000.0, 55_000.0),
])
def test_stop_loss(books: Books, broker: PaperBroker, case: tuple[int, float, float, float]) -> None:
    direction, stop, price, fill = case
    position = opened(broker, order(direction=direction, stop_loss=stop))
    assert broker.on_prices({BTC: stop + direction * 1.0}, T + 1) == []  # not yet
    [trade] = broker.on_prices({BTC: price}, T + 2)
    assert (trade.reason, trade.closed_at) == ("stop_loss", T + 2)
    assert trade.exit_price == pytest.approx(fill, rel=1e-15)
    assert trade.gross_pnl == pytest.approx(direction * (fill - position.entry_price) * 0.1, rel=1e-12)
    assert trade.exit_fee == pytest.approx(fill * 0.1 * 0.0005, rel=1e-12)
    assert books.wallet() == pytest.approx(START + trade.net_pnl, rel=1e-12)
    assert broker.on_prices({BTC: price}, T + 3) == [] and books.audit() == []


def test_stop_loss_golden_net(broker: PaperBroker) -> None:
    opened(broker, order(stop_loss=49_000.0))
    [trade] = broker.on_prices({BTC: 49_000.0}, T + 1)
    # gross (48990.2 - 50010) * 0.1 = -101.98; fees 2.5005 + 2.44951
    assert trade.net_pnl == pytest.approx(-106.93001, rel=1e-9)


@pytest.mark.parametrize(("direction", "target", "price"), [
    (1, 52_000.0, 52_000.0), (1, 52_000.0, 53_000.0), (-1, 48_000.0, 48_000.0), (-1, 48_000.0, 47_500.0)])
def test_take_profit_fills_at_its_level(broker: PaperBroker, direction: int, target: float, price: float) -> None:
    opened(broker, order(direction=direction, take_profit=target, stop_loss=50_000 - direction * 5_000))
    assert broker.on_prices({BTC: target - direction * 1.0}, T + 1) == []
    [trade] = broker.on_prices({BTC: price}, T + 2)
    assert (trade.reason, trade.exit_price) == ("take_profit", target)
    assert trade.gross_pnl == pytest.approx(199.0, rel=1e-9)  # |target - entry| * 0.1 both ways
    assert trade.exit_fee == pytest.approx(target * 0.1 * 0.0005, rel=1e-12)


@pytest.mark.parametrize("direction", [1, -1])
@pytest.mark.parametrize("beyond", [0.0, 0.05])
def test_liquidation_loses_the_margin_and_fees(books: Books, broker: PaperBroker, direction: int,
                                               beyond: float) -> None:
    position = opened(broker, order(direction=direction, stop_loss=50_000 - direction * 2_000))
    liq = position.liquidation_price
    assert broker.on_prices({BTC: liq * (1 + direction * 1e-6)}, T + 1)[0].reason == "stop_loss"
    position = opened(broker, order("o2", direction=direction, stop_loss=50_000 - direction * 2_000))
    price = liq * (1 - direction * beyond)  # exactly at the liquidation price, or gapped 5 % through it
    [trade] = broker.on_prices({BTC: price}, T + 2)  # past the stop too: the liquidation, the worse
    assert (trade.reason, trade.exit_price) == ("liquidation", liq)
    assert trade.exit_fee == pytest.approx(0.004 * 0.1 * liq, rel=1e-9)  # clearance: the maintenance margin
    assert -trade.net_pnl == pytest.approx(position.margin + position.entry_fee, rel=1e-12)
    wallet_after_first = START + books.closed_trades()[1].net_pnl
    assert books.wallet() == pytest.approx(wallet_after_first - position.margin - position.entry_fee, rel=1e-12)
    assert books.audit() == []


def test_long_liquidation_golden(books: Books, broker: PaperBroker) -> None:
    opened(broker, order())  # long 0.1 at 50010, 5x: margin 1000.2, liquidation 40168.6747
    assert broker.on_prices({BTC: 40_170.0}, T + 1) == []
    [trade] = broker.on_prices({BTC: 40_000.0}, T + 2)
    assert trade.gross_pnl == pytest.approx(-984.132530120482, rel=1e-12)
    assert trade.exit_fee == pytest.approx(16.067469879518, rel=1e-10)
    assert books.wallet() == pytest.approx(START - 1000.2 - 2.5005, rel=1e-12)


def test_stop_beyond_the_liquidation_price_is_never_reached(broker: PaperBroker) -> None:
    opened(broker, order(leverage=20, stop_loss=45_000.0))  # liquidated near 47 700 first
    [trade] = broker.on_prices({BTC: 46_000.0}, T + 1)
    assert trade.reason == "liquidation"


# ------------------------------------------------------------------ paths: what the price went through


@pytest.mark.parametrize("direction", [1, -1])
def test_a_wick_between_two_checks_reaches_the_stop(books: Books, broker: PaperBroker, direction: int) -> None:
    stop = 50_000 - direction * 1_000
    opened(broker, order(direction=direction, stop_loss=stop, take_profit=50_000 + direction * 2_000))
    # the price went to 48 900 (long) / 51 100 (short) and came back: the latest price alone misses it
    assert broker.on_prices({BTC: 50_100.0}, T + 1) == []
    wick = PricePath(first=50_100.0, low=48_900.0 if direction > 0 else 50_050.0,
                     high=50_150.0 if direction > 0 else 51_100.0, last=50_100.0)
    [trade] = broker.on_price_paths({BTC: wick}, T + 2)
    assert (trade.reason, trade.closed_at) == ("stop_loss", T + 2)
    assert trade.exit_price == pytest.approx(stop * (1 - direction * 0.0002), rel=1e-15)  # the stop, slipped
    assert books.audit() == [] and broker.positions() == []


@pytest.mark.parametrize("direction", [1, -1])
def test_stop_and_take_profit_in_one_path_the_stop_first(broker: PaperBroker, direction: int) -> None:
    stop, target = 50_000 - direction * 1_000, 50_000 + direction * 2_000
    opened(broker, order(direction=direction, stop_loss=stop, take_profit=target))
    both = PricePath(first=50_000.0, low=48_000.0 if direction > 0 else 47_000.0,
                     high=53_000.0 if direction > 0 else 52_000.0, last=50_500.0)
    [trade] = broker.on_price_paths({BTC: both}, T + 1)
    assert (trade.reason, trade.exit_price) == ("stop_loss", pytest.approx(stop * (1 - direction * 0.0002)))


def test_a_path_that_opened_beyond_the_stop_fills_at_its_first_price(broker: PaperBroker) -> None:
    opened(broker, order(stop_loss=49_000.0, take_profit=52_000.0))
    [trade] = broker.on_price_paths({BTC: PricePath(first=48_000.0, low=47_500.0, high=49_500.0, last=49_400.0)},
                                    T + 1)
    assert (trade.reason, trade.exit_price) == ("stop_loss", 48_000.0)  # the gap, not the later low


@pytest.mark.parametrize(("points", "fill"), [
    (([50_000.0, 48_800.0, 47_000.0],) * 3, 48_800.0),  # trades: the first one past the stop, not the low after
    (([50_000.0, 49_050.0, 49_000.0],) * 3, 49_000.0 * (1 - 0.0002)),  # reached it exactly: the stop, slipped
    (([50_000.0, 48_500.0], [49_900.0, 47_000.0], [50_100.0, 48_900.0]), 48_500.0),  # bars: the 2nd opened past it
    (([50_000.0, 49_500.0], [49_900.0, 47_000.0], [50_100.0, 49_600.0]), 49_000.0 * (1 - 0.0002)),  # opened above
])
def test_a_stop_fills_where_the_path_first_reached_it(broker: PaperBroker, points: tuple[list[float], ...],
                                                     fill: float) -> None:
    opened(broker, order(stop_loss=49_000.0, take_profit=52_000.0))
    opens, lows, highs = points
    path = PricePath(opens[0], min(lows), max(highs), opens[-1], (opens, lows, highs))
    [trade] = broker.on_price_paths({BTC: path}, T + 1)
    assert (trade.reason, trade.exit_price) == ("stop_loss", pytest.approx(fill, rel=1e-15))


def test_a_take_profit_in_a_path_fills_at_its_level(broker: PaperBroker) -> None:
    opened(broker, order(stop_loss=49_000.0, take_profit=52_000.0))
    assert broker.on_price_paths({BTC: PricePath(50_000.0, 49_100.0, 51_900.0, 50_000.0)}, T + 1) == []
    [trade] = broker.on_price_paths({BTC: PricePath(50_000.0, 49_500.0, 53_000.0, 51_000.0)}, T + 2)
    assert (trade.reason, trade.exit_price) == ("take_profit", 52_000.0)


def test_a_path_through_the_liquidation_price_liquidates_before_the_stop(broker: PaperBroker) -> None:
    position = opened(broker, order(stop_loss=45_000.0, take_profit=52_000.0))
    [trade] = broker.on_price_paths({BTC: PricePath(50_000.0, 40_000.0, 53_000.0, 50_000.0)}, T + 1)
    assert (trade.reason, trade.exit_price) == ("liquidation", position.liquidation_price)


def test_one_price_is_its_own_path(books: Books, tmp_path: Path) -> None:
    # on_prices is on_price_paths with PricePath.at: the same books, fill for fill
    with Books.open(tmp_path / "other.sqlite", starting_wallet=START, now_ms=DAY0) as other:
        one, two = broker_for(books), broker_for(other)
        for b in (one, two):
            opened(b, order(stop_loss=49_000.0))
        [a] = one.on_prices({BTC: 48_000.0}, T + 1)
        [b] = two.on_price_paths({BTC: PricePath.at(48_000.0)}, T + 1)
        assert (a.reason, a.exit_price, a.net_pnl) == (b.reason, b.exit_price, b.net_pnl) == (
            "stop_loss", 48_000.0, pytest.approx(a.net_pnl))


def test_positions_without_a_price_or_with_a_bad_one_are_left_alone(broker: PaperBroker) -> None:
    opened(broker, order(stop_loss=49_000.0))
    assert broker.on_prices({ETH: 1.0}, T + 1) == []
    assert broker.on_prices({BTC: float("nan")}, T + 1) == []
    assert broker.on_prices({BTC: 0.0}, T + 1) == []
    assert len(broker.positions()) == 1


# ------------------------------------------------------------------ funding


@pytest.mark.parametrize(("opened_at", "now", "times"), [
    (DAY0 + 7 * HOUR, DAY0 + 16 * HOUR + HOUR // 2, [8, 16]),
    (DAY0 + 8 * HOUR, DAY0 + 16 * HOUR - 1, []),  # opened at 08:00 sharp: that funding was before it
    (DAY0 + 8 * HOUR, DAY0 + 16 * HOUR, [16]),
    (DAY0 - 1, DAY0, [0]),  # 23:59:59.999 to 00:00
    (DAY0 + 7 * HOUR, DAY0 + 24 * HOUR + 1, [8, 16, 24]),
])
def test_funding_times_are_every_8_hours_utc(books: Books, broker: PaperBroker, opened_at: int, now: int,
                                             times: list[int]) -> None:
    opened(broker, order(), now=opened_at)
    assert broker.on_prices({BTC: 50_000.0}, now) == []
    assert [at for _, at, _, _ in funding_rows(books)] == [DAY0 + h * HOUR for h in times]


@pytest.mark.parametrize(("direction", "rate", "per_time"), [
    (1, None, -0.5),  # long pays the default 0.01 % of 0.1 * 50 000
    (-1, None, 0.5),  # short receives it
    (1, -0.0003, 1.5),  # a negative rate: longs receive
    (-1, -0.0003, -1.5),
])
def test_funding_signs(books: Books, broker: PaperBroker, direction: int, rate: float | None,
                       per_time: float) -> None:
    if rate is not None:
        broker.set_funding_rate(BTC, rate)
    assert broker.funding_rate(BTC) == (0.0001 if rate is None else rate)
    position = opened(broker, order(direction=direction))
    wallet = books.wallet()
    broker.on_prices({BTC: 50_000.0}, DAY0 + 16 * HOUR)
    assert [amount for *_, amount in funding_rows(books)] == pytest.approx([per_time, per_time], rel=1e-12)
    assert books.wallet() == pytest.approx(wallet + 2 * per_time, rel=1e-12)
    trade = broker.close(position, "manual", 50_000.0, DAY0 + 17 * HOUR)
    assert trade is not None and trade.position.funding == pytest.approx(2 * per_time, rel=1e-12)
    assert trade.net_pnl == pytest.approx(trade.gross_pnl - trade.position.entry_fee - trade.exit_fee
                                          + 2 * per_time, rel=1e-12)
    assert books.audit() == []


def test_no_double_funding_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "paper.sqlite"
    with Books.open(path, starting_wallet=START, now_ms=DAY0) as books:
        broker = broker_for(books)
        opened(broker, order())
        broker.on_prices({BTC: 50_000.0}, DAY0 + 16 * HOUR + 5)
        broker.on_prices({BTC: 50_000.0}, DAY0 + 16 * HOUR + 10)
        wallet = books.wallet()
    with Books.open(path, now_ms=DAY0 + 17 * HOUR) as books:
        broker = broker_for(books)
        assert broker.start(DAY0 + 17 * HOUR) == []
        broker.on_prices({BTC: 51_000.0}, DAY0 + 17 * HOUR)
        assert len(funding_rows(books)) == 2 and books.wallet() == wallet
        broker.on_prices({BTC: 51_000.0}, DAY0 + 24 * HOUR)  # midnight: the third, at today's price
        assert [amount for *_, amount in funding_rows(books)] == pytest.approx([-0.5, -0.5, -0.51], rel=1e-12)
        assert books.open_positions()[0].funding == pytest.approx(-1.51, rel=1e-12)


def test_funding_can_be_disabled(books: Books) -> None:
    broker = broker_for(books, funding=False)
    opened(broker, order())
    broker.on_prices({BTC: 50_000.0}, DAY0 + 48 * HOUR)
    assert funding_rows(books) == []


def test_funding_due_is_settled_before_the_exit(books: Books, broker: PaperBroker) -> None:
    opened(broker, order(stop_loss=49_000.0))
    [trade] = broker.on_prices({BTC: 48_000.0}, DAY0 + 8 * HOUR)
    assert trade.position.funding == pytest.approx(-0.48, rel=1e-12)
    assert books.audit() == []


# ------------------------------------------------------------------ start, config


def test_start_checks_the_books(tmp_path: Path, books: Books, broker: PaperBroker) -> None:
    opened(broker, order())
    assert broker.start(T) == []
    with sqlite3.connect(books.path) as db:  # money appearing from nowhere
        db.execute("INSERT INTO ledger(at, kind, amount, note) VALUES (?, 'fee', 5.0, 'forged')", (T,))
    with pytest.raises(BooksError, match="do not balance"):
        broker.start(T)
    with Books.open(tmp_path / "live.sqlite", mode="live", starting_wallet=START) as live, \
            pytest.raises(BooksError, match="live books"):
        broker_for(live).start(T)


def test_from_risk_takes_the_costs_of_the_config(books: Books) -> None:
    risk = RiskConfig(slippage_bps=5.0, taker_fee=0.0004, maker_fee=0.0001, funding=False)
    broker = PaperBroker.from_risk(books, risk)
    assert (broker.name, broker.slippage_bps, broker.taker_fee, broker.maker_fee, broker.funding) == (
        "paper", 5.0, 0.0004, 0.0001, False)


@pytest.mark.parametrize("bad", [{"slippage_bps": -1.0}, {"taker_fee": float("nan")},
                                 {"maintenance_margin_rate": 1.0}, {"funding_interval_ms": 0}])
def test_constructor_checks_its_numbers(books: Books, bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        broker_for(books, **bad)


# ------------------------------------------------------------------ crash test


def test_books_survive_sigkill_at_random_moments(tmp_path: Path) -> None:
    """Run a paper bot, SIGKILL it mid-flight, restart it on the same file; four times over."""
    path, seed, rng = tmp_path / "crash.sqlite", 20_250_127, random.Random(5)
    replays = resumes = 0
    for _cycle in range(4):
        proc = subprocess.Popen([sys.executable, str(WORKER), str(path), str(seed)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        lines = output_lines(proc)
        kill_after, actions = rng.randint(40, 120), 0
        try:
            while actions < kill_after:
                line = lines.get(timeout=20)
                assert line is not None, f"worker ended: {proc.wait()} {proc.stderr.read()}"  # type: ignore[union-attr]
                word = line.split(" ", 1)[0]
                assert word != "replay" or line.endswith(" none"), line  # the replayed entry opened nothing
                replays += word == "replay"
                resumes += word == "resume"
                actions += word in ("open", "exit", "close", "dup")
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            proc.stdout.close()  # type: ignore[union-attr]
            proc.stderr.close()  # type: ignore[union-attr]
        assert proc.returncode == -signal.SIGKILL
    assert resumes == 4 and replays >= 3  # every restart found an entry to replay

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT client_id FROM positions GROUP BY client_id HAVING COUNT(*) > 1").fetchall() == []
        assert db.execute("SELECT symbol FROM positions WHERE status = 'open' GROUP BY symbol "
                          "HAVING COUNT(*) > 1").fetchall() == []
        (entries,) = db.execute("SELECT COUNT(*) FROM orders WHERE purpose = 'entry'").fetchone()
        (positions, closed) = db.execute("SELECT COUNT(*), SUM(status = 'closed') FROM positions").fetchone()
        (exits,) = db.execute("SELECT COUNT(*) FROM orders WHERE purpose != 'entry'").fetchone()
        (derived,) = db.execute(
            "SELECT (SELECT SUM(amount) FROM ledger WHERE kind = 'deposit') "
            "+ (SELECT COALESCE(SUM(gross_pnl - exit_fee), 0) FROM positions WHERE status = 'closed') "
            "- (SELECT SUM(entry_fee) FROM positions) + (SELECT COALESCE(SUM(amount), 0) FROM funding)").fetchone()
    assert entries == positions > 20 and exits == closed > 10
    with Books.open_readonly(path) as books:
        assert books.audit() == []
        assert books.wallet() == pytest.approx(derived, rel=1e-9)
        assert books.wallet() != START


def test_exchange_minimums_and_levels_rounded_onto_the_price_are_refused(books: Books) -> None:
    """Binance refuses an order under the minimum notional, and an exit its tick rounding puts on the wrong side."""
    broker = broker_for(books, slippage_bps=0.0, precision=ExchangeInfoPrecision())
    least = ExchangeInfoPrecision().min_notional(BTC)
    assert least is not None
    with pytest.raises(OrderRejected, match="below the exchange's minimum"):
        broker.open(order("small", quantity=0.001), least / 0.001 * 0.9, T)  # notional 90 % of the minimum
    tick = float(ExchangeInfoPrecision().filters[BTC]["PRICE_FILTER"]["tickSize"])
    with pytest.raises(OrderRejected, match=r"take_profit .* \(rounded to the tick\) would trigger at once"):
        broker.open(order("close", take_profit=50_000.0 + tick * 0.4, stop_loss=49_000.0), 50_000.0, T)
    assert broker.positions() == [] and books.audit() == []
