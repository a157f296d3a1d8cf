"""Sizing that counts the costs and follows Binance's market rules (issue 12): the loss at the stop, fees and
slippage of both fills included, is the risk budget; one position's margin is capped; quantities are rounded
down to the step and a size below the market's minimums is refused with the figures. Real SQLite books, the
shipped market rules (ccxt's own parsing, offline), every expected number worked out in the comments."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from liquidation_hunter.bot.risk import NO_RULES, TOO_SMALL, RiskManager, loss_at_stop
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.config.sections import RiskConfig
from liquidation_hunter.signals.rules import Signal
from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.exchange import ExchangeClient
from liquidation_hunter.trading.markets import shipped_rules
from liquidation_hunter.trading.model import AccountState
from liquidation_hunter.trading.paper import PaperBroker

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
DOGE = "DOGE/USDT:USDT"
DAY0 = 1_737_936_000_000  # 2025-01-27T00:00:00Z
T = DAY0 + 17 * 3_600_000
START = 10_000.0


@pytest.fixture
def books(tmp_path: Path) -> Iterator[Books]:
    with Books.open(tmp_path / "risk.sqlite", starting_wallet=START, now_ms=DAY0) as b:
        yield b


@pytest.fixture(scope="module")
def rules() -> ExchangeClient:
    return shipped_rules()


def account(wallet: float = START, *, margin: float = 0.0) -> AccountState:
    return AccountState(wallet=wallet, margin=margin, unrealized=0.0, positions=0, at=T)


def signal(direction: int, entry: float, stop: float, take: float, symbol: str = BTC) -> Signal:
    return Signal(symbol, direction, 0.9, None, entry, stop, take, "test idea", T)


def manager(books: Books, precision: Any = None, **risk: Any) -> RiskManager:
    settings: dict[str, Any] = {"max_margin_pct": 100.0}
    settings.update(risk)
    return RiskManager(RiskConfig(**settings), books, precision)


# ------------------------------------------------------------------ costs


def test_the_loss_at_the_stop_with_fees_and_slippage_both_ways_is_the_budget(books: Books) -> None:
    # defaults: taker 0.05 %, slippage 2 bps. Long 100 -> stop 98: entry fill E = 100.02, stop fill
    # X = 98 * 0.9998 = 97.9804; per unit L = (E - X) + 0.0005 * (E + X) = 2.0396 + 0.0990002 = 2.1386002;
    # budget 1 % of 10,000 = 100 -> quantity 100 / 2.1386002 = 46.7595...
    sizing = manager(books).size(signal(1, 100.0, 98.0, 104.0), account())
    assert sizing.quantity == pytest.approx(100.0 / 2.1386002, rel=1e-12)
    assert sizing.notional == pytest.approx(100.0 * 100.0 / 2.1386002, rel=1e-12)
    # the old sizing (notional = budget / stop distance = 5,000, 50 units) loses 50 * 2.1386002 = 106.93
    assert loss_at_stop(1, 100.0, 98.0, 50.0, taker_fee=0.0005, slippage_bps=2.0) == pytest.approx(106.93001, rel=1e-9)
    assert sizing.quantity < 50.0


def test_a_short_is_sized_the_same_way(books: Books) -> None:
    # short 100 -> stop 101: E = 99.98, X = 101 * 1.0002 = 101.0202; L = (101.0202 - 99.98) + 0.0005 * 201.0002
    # = 1.0402 + 0.1005001 = 1.1407001 -> quantity 100 / 1.1407001 = 87.665...
    sizing = manager(books).size(signal(-1, 100.0, 101.0, 97.0), account())
    assert sizing.quantity == pytest.approx(100.0 / 1.1407001, rel=1e-12)
    assert loss_at_stop(-1, 100.0, 101.0, sizing.quantity, taker_fee=0.0005, slippage_bps=2.0) == pytest.approx(
        100.0, rel=1e-12)


def test_higher_costs_make_a_smaller_trade(books: Books) -> None:
    cheap = manager(books, taker_fee=0.0, slippage_bps=0.0).size(signal(1, 100.0, 98.0, 104.0), account())
    dear = manager(books, taker_fee=0.001, slippage_bps=10.0).size(signal(1, 100.0, 98.0, 104.0), account())
    assert cheap.quantity == pytest.approx(50.0, rel=1e-12)  # no costs: 100 / 2
    # E = 100.1, X = 97.902: L = 2.198 + 0.001 * 198.002 = 2.396002
    assert dear.quantity == pytest.approx(100.0 / 2.396002, rel=1e-12)


# ------------------------------------------------------------------ the margin cap


def test_one_position_takes_at_most_max_margin_pct_of_equity(books: Books) -> None:
    # short 100 -> stop 101 wants 8,766.5 notional (above); 25 % of 10,000 at leverage 3 = 7,500 notional
    risk = RiskManager(RiskConfig(max_margin_pct=25.0, leverage=3), books)
    sizing = risk.size(signal(-1, 100.0, 101.0, 97.0), account())
    assert sizing.notional == pytest.approx(7_500.0, rel=1e-12)
    assert sizing.quantity == pytest.approx(75.0, rel=1e-12)
    # its margin is 2,500: a quarter of the equity, the rest is left for the next signals
    assert sizing.notional / 3 == pytest.approx(0.25 * START, rel=1e-12)
    # the default is 25 %
    assert RiskConfig().max_margin_pct == 25.0


@pytest.mark.parametrize("value", [0.0, -5.0, 100.5])
def test_max_margin_pct_is_validated(value: float) -> None:
    with pytest.raises(ValueError, match=r"risk\.max_margin_pct"):
        BotConfig.from_mapping({"risk": {"max_margin_pct": value}})


# ------------------------------------------------------------------ market rules


def test_the_quantity_is_rounded_down_to_the_step(books: Books, rules: ExchangeClient) -> None:
    # BTC long 100,000 -> stop 99,400: L = (100,020 - 99,380.12) + 0.0005 * 199,400.12 = 639.88 + 99.70006
    # = 739.58006 -> 0.13521... BTC, rounded DOWN to BTCUSDT's step 0.001: 0.135
    sizing = manager(books, rules).size(signal(1, 100_000.0, 99_400.0, 101_500.0), account())
    assert sizing.quantity == 0.135
    per_unit = loss_at_stop(1, 100_000.0, 99_400.0, 1.0, taker_fee=0.0005, slippage_bps=2.0)
    assert per_unit == pytest.approx(739.58006, rel=1e-12) and 100.0 / per_unit == pytest.approx(0.13521, rel=1e-4)
    assert sizing.notional == pytest.approx(13_500.0, rel=1e-12)
    assert loss_at_stop(1, 100_000.0, 99_400.0, sizing.quantity, taker_fee=0.0005, slippage_bps=2.0) <= 100.0


def test_below_the_minimum_order_value_the_signal_is_refused_with_the_figures(books: Books,
                                                                               rules: ExchangeClient) -> None:
    # max_notional 95 USDT: 0.00095 BTC at 100,000 rounds down to 0.000 -> below BTCUSDT's minimum quantity 0.001
    tiny = manager(books, rules, max_notional_per_position=95.0).size(signal(1, 100_000.0, 99_400.0, 101_500.0),
                                                                      account())
    assert (tiny.quantity, tiny.notional) == (0.0, 0.0)
    assert tiny.reason == (f"{TOO_SMALL}: quantity 0.00095 rounds down to 0 at {BTC}'s step, below its minimum "
                           "quantity 0.001")
    # 150 USDT: 0.0015 -> 0.001 BTC; its value at the entry fill 100,020 is 100.02 >= 100: traded
    ok = manager(books, rules, max_notional_per_position=150.0).size(signal(1, 100_000.0, 99_400.0, 101_500.0),
                                                                     account())
    assert ok.quantity == 0.001
    # a short fills lower: 0.001 at 99,980 is 99.98 USDT, below BTCUSDT's minimum order value of 100
    short = manager(books, rules, max_notional_per_position=150.0).size(
        signal(-1, 100_000.0, 100_600.0, 98_500.0), account())
    assert short.quantity == 0.0
    assert short.reason == (f"{TOO_SMALL}: notional 99.98 USDT (0.001 at 99980), below {BTC}'s minimum order "
                            "value 100 USDT")


def test_eth_needs_20_usdt_and_doge_whole_coins(books: Books, rules: ExchangeClient) -> None:
    eth = manager(books, rules, max_notional_per_position=19.0).size(signal(1, 3_000.0, 2_980.0, 3_050.0, ETH),
                                                                     account())
    # 19 / 3,000 = 0.00633 -> 0.006 ETH, 0.006 * 3,000.6 = 18.00 USDT < 20
    assert eth.reason == (f"{TOO_SMALL}: notional 18.00 USDT (0.006 at 3000.6), below {ETH}'s minimum order "
                          "value 20 USDT")
    doge = manager(books, rules, max_notional_per_position=100.0).size(signal(1, 0.32, 0.318, 0.33, DOGE), account())
    assert doge.quantity == 312.0  # 100 / 0.32 = 312.5 -> 312 (step 1)


def test_a_symbol_the_rules_do_not_list_is_refused(books: Books, rules: ExchangeClient) -> None:
    sizing = manager(books, rules).size(signal(1, 1.0, 0.98, 1.05, "NOPE/USDT:USDT"), account())
    assert sizing.quantity == 0.0
    assert sizing.reason == (f"{NO_RULES}: the exchange's market rules (step, tick, minimums) do not list "
                             "NOPE/USDT:USDT")


def test_the_stop_is_sized_where_the_tick_puts_it(books: Books, rules: ExchangeClient) -> None:
    # BTC tick 0.1: a stop at 99,400.06 is placed at 99,400.1, nearer; one at 99,399.96 at 99,400.0
    far = manager(books, rules).size(signal(1, 100_000.0, 99_399.96, 101_500.0), account())
    placed = float(rules.price_to_precision(BTC, 99_399.96))
    assert placed == 99_400.0
    assert far.quantity == 0.135  # as for a stop at 99,400
    assert loss_at_stop(1, 100_000.0, placed, far.quantity, taker_fee=0.0005, slippage_bps=2.0) <= 100.0


# ------------------------------------------------------------------ through the paper broker


@pytest.mark.parametrize("sig", [
    signal(1, 100_000.0, 99_400.0, 101_500.0, BTC), signal(-1, 3_100.0, 3_120.0, 3_050.0, ETH),
    signal(1, 0.32169, 0.3195, 0.33, DOGE), signal(-1, 0.32169, 0.3239, 0.31, DOGE)],
    ids=["btc-long", "eth-short", "doge-long", "doge-short"])
def test_a_paper_trade_stopped_out_loses_at_most_the_budget(books: Books, rules: ExchangeClient, sig: Signal) -> None:
    risk = RiskManager(RiskConfig(leverage=5), books, rules)
    broker = PaperBroker.from_risk(books, risk.config, precision=rules)
    symbol, entry = sig.symbol, sig.entry
    assert entry is not None
    sizing = risk.size(sig, account())
    assert sizing.quantity > 0, sizing.reason
    position = broker.open(risk.entry_order(sig, sizing, strategy="test", now_ms=T), entry, T)
    assert position is not None
    closed = broker.on_prices({symbol: position.stop_loss}, T + 60_000)  # the price touches the stop
    assert [c.reason for c in closed] == ["stop_loss"]
    loss = -closed[0].net_pnl
    assert 0 < loss <= 0.01 * START * (1 + 1e-9)


# ------------------------------------------------------------------ every refusal, at its edge


class Steps:
    """A market of made-up rules (a :class:`~liquidation_hunter.trading.paper.Precision`) for the edges the
    shipped markets do not have: no minimum quantity, a coarse step."""

    def __init__(self, *, step: float, tick: float, min_amount: float | None, min_notional: float | None) -> None:
        self.step, self.tick, self.least, self.smallest = step, tick, min_amount, min_notional

    def has_market(self, symbol: str) -> bool:
        return True

    def amount_to_precision(self, symbol: str, amount: float) -> float:
        return int(amount / self.step + 1e-9) * self.step

    def price_to_precision(self, symbol: str, price: float) -> float:
        return round(price / self.tick) * self.tick

    def min_amount(self, symbol: str) -> float | None:
        return self.least

    def min_notional(self, symbol: str) -> float | None:
        return self.smallest


def test_a_stop_the_tick_moves_onto_the_entry_is_refused(books: Books, rules: ExchangeClient) -> None:
    # BTCUSDT's tick is 0.1: a long's stop at 99,999.99 is placed at 100,000.0, the entry itself
    sizing = manager(books, rules).size(signal(1, 100_000.0, 99_999.99, 101_000.0), account())
    assert (sizing.quantity, sizing.notional, sizing.stop_loss, sizing.take_profit) == (0.0, 0.0, 99_999.99,
                                                                                     101_000.0)
    assert sizing.reason == ("stop-loss 99999.99 rounds to 100000 at the market's tick, not beyond the entry 100000")
    # one tick below is a stop: sized
    assert manager(books, rules).size(signal(1, 100_000.0, 99_999.9, 101_000.0), account()).quantity > 0


@pytest.mark.parametrize(("symbol", "market", "wallet", "reason"), [
    # a symbol the rules do not list
    ("PEPE/USDT:USDT", None, START, f"{NO_RULES}: the exchange's market rules (step, tick, minimums) do not list "
                                    "PEPE/USDT:USDT"),
    # a coarse step rounds the size to nothing, and the market has no minimum quantity
    (BTC, Steps(step=1.0, tick=0.1, min_amount=None, min_notional=None), 10.0,
     f"{TOO_SMALL}: quantity {{q}} rounds down to 0 at BTC/USDT:USDT's step, below its minimum quantity 0"),
    # under the minimum quantity (1) though the value (50 USDT) is above the minimum value (5)
    (BTC, Steps(step=0.1, tick=0.1, min_amount=1.0, min_notional=5.0), 107.0,
     f"{TOO_SMALL}: quantity {{q}} rounds down to 0.5 at BTC/USDT:USDT's step, below its minimum quantity 1"),
])
def test_every_refusal_for_the_market_keeps_the_levels_and_trades_nothing(
        books: Books, rules: ExchangeClient, *, symbol: str, market: Any, wallet: float, reason: str) -> None:
    # long 100 -> stop 98 -> take 104 (2.1386002 lost per unit at the stop, see above)
    sizing = manager(books, market or rules).size(signal(1, 100.0, 98.0, 104.0, symbol), account(wallet))
    wanted = reason.format(q=f"{wallet * 0.01 / 2.1386002:.8g}")  # the size before rounding: budget / loss per unit
    assert sizing == type(sizing)(0.0, 0.0, 98.0, 104.0, wanted)


def test_a_value_exactly_at_the_minimum_is_accepted_and_a_cent_less_is_refused(books: Books) -> None:
    # no costs: 1 unit at 100 risks 2 at a stop of 98; a budget of 2 (1 % of 200) gives 1 unit worth exactly 100
    market = Steps(step=1.0, tick=0.01, min_amount=1.0, min_notional=100.0)
    costless = manager(books, market, taker_fee=0.0, slippage_bps=0.0)
    sizing = costless.size(signal(1, 100.0, 98.0, 104.0), account(200.0))
    assert (sizing.quantity, sizing.notional, sizing.reason) == (1.0, 100.0, "")
    refused = costless.size(signal(1, 99.99, 97.99, 104.0), account(200.0))  # 1 unit worth 99.99
    assert refused.quantity == 0.0 and refused.reason == (
        f"{TOO_SMALL}: notional 99.99 USDT (1 at 99.99), below BTC/USDT:USDT's minimum order value 100 USDT")
    assert (refused.notional, refused.stop_loss, refused.take_profit) == (0.0, 97.99, 104.0)


def test_the_margin_cap_is_a_share_of_the_equity_even_below_one_usdt(books: Books) -> None:
    # equity 0.4 USDT, leverage 3, 25 %: margin at most 0.1, notional at most 0.3 (10 % risk alone allows
    # 0.04 / 2.1386002 units at 100 = 1.87 USDT, the available balance 0.4 * 3 * 0.99 = 1.188)
    sizing = manager(books, leverage=3, max_margin_pct=25.0, risk_per_trade=0.1).size(
        signal(1, 100.0, 98.0, 104.0), account(0.4))
    assert sizing.notional == pytest.approx(0.3, rel=1e-12)
