"""Pins of the paper broker's money path (the fill rules in ``trading/paper.py``'s docstring), through its public
interface only, on real SQLite books: several positions on one tick, sub-1-USDT symbols, the balance check with
the entry fee, the exchange's steps and minimums (also on the broker the bot runner builds), leverage 1, and
the boundaries where a rule starts to apply. Expected values are computed here from the documented formulas."""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_paper_broker import ExchangeInfoPrecision

from liquidation_hunter.trading.books import Books, BooksError
from liquidation_hunter.trading.errors import OrderRejected
from liquidation_hunter.trading.model import AccountState, ClosedTrade, EntryOrder, Position, liquidation_price
from liquidation_hunter.trading.paper import PaperBroker

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
SOL = "SOL/USDT:USDT"
XRP = "XRP/USDT:USDT"
DOGE = "DOGE/USDT:USDT"
HOUR = 3_600_000
DAY0 = 1_737_936_000_000  # 2025-01-27T00:00:00Z, a funding time
T = DAY0 + 7 * HOUR  # 07:00 UTC, between two funding times
START = 10_000.0
SLIP = 2.0 / 10_000  # 2 bps
TAKER = 0.0005
MMR = 0.004  # the broker's default maintenance margin rate


class Filters(ExchangeInfoPrecision):
    """Binance's recorded exchangeInfo (BTC, ETH), plus markets the recording lacks, in the same filter format.

    DOGE: written here in exchangeInfo's format as Binance lists DOGEUSDT (tick 0.00001, step 1, minQty 1,
    min notional 5 USDT); the recording has no DOGE market, so these four values are not from it.
    LOTS: a market whose minimum quantity (10) is ten steps (1), as MARKET_LOT_SIZE can make it.
    FREE: a market with a step (0.1) and a tick (0.01) but no minimum quantity and no minimum notional."""

    def __init__(self) -> None:
        super().__init__()
        self.filters[DOGE] = {"PRICE_FILTER": {"tickSize": "0.000010"},
                              "LOT_SIZE": {"stepSize": "1", "minQty": "1"}, "MIN_NOTIONAL": {"notional": "5"}}
        self.filters["LOTS/USDT:USDT"] = {"PRICE_FILTER": {"tickSize": "0.01"},
                                          "LOT_SIZE": {"stepSize": "1", "minQty": "10"},
                                          "MIN_NOTIONAL": {"notional": "5"}}

    def has_market(self, symbol: str) -> bool:
        return symbol == "FREE/USDT:USDT" or super().has_market(symbol)

    def min_amount(self, symbol: str) -> float | None:
        return None if symbol == "FREE/USDT:USDT" else super().min_amount(symbol)

    def min_notional(self, symbol: str) -> float | None:
        return None if symbol == "FREE/USDT:USDT" else super().min_notional(symbol)

    def amount_to_precision(self, symbol: str, amount: float) -> float:
        if symbol == "FREE/USDT:USDT":
            return math.floor(amount * 10) / 10
        return super().amount_to_precision(symbol, amount)

    def price_to_precision(self, symbol: str, price: float) -> float:
        if symbol == "FREE/USDT:USDT":
            return round(price, 2)
        return super().price_to_precision(symbol, price)


@pytest.fixture
def books(tmp_path: Path) -> Iterator[Books]:
    with Books.open(tmp_path / "paper.sqlite", starting_wallet=START, now_ms=DAY0) as b:
        yield b


def paper(books: Books, **options: object) -> PaperBroker:
    settings: dict[str, object] = {"slippage_bps": 2.0, "taker_fee": TAKER, "maker_fee": 0.0002, "funding": False}
    settings.update(options)
    return PaperBroker(books, **settings)  # type: ignore[arg-type]


def entry(client_id: str, symbol: str, direction: int, quantity: float, *, stop_loss: float = 0.0,
          take_profit: float = 0.0, leverage: int = 5) -> EntryOrder:
    return EntryOrder(client_id=client_id, symbol=symbol, direction=direction, quantity=quantity,
                      reference_price=1.0, stop_loss=stop_loss, take_profit=take_profit, leverage=leverage,
                      created_at=T, strategy="pinned")


def opened(broker: PaperBroker, order: EntryOrder, price: float, now: int = T) -> Position:
    position = broker.open(order, price, now)
    assert position is not None
    return position


def filled(price: float, direction: int, slip: float = SLIP) -> float:
    """A market fill: a buy pays ``slip`` more, a sell gets ``slip`` less."""
    return price * (1.0 + direction * slip)


def expected_net(direction: int, quantity: float, entry_price: float, exit_price: float, exit_fee: float) -> float:
    """gross - entry fee - exit fee (no funding): gross = d * (exit - entry) * q, entry fee = q * entry * taker."""
    return direction * (exit_price - entry_price) * quantity - quantity * entry_price * TAKER - exit_fee


# ------------------------------------------------------------------ 1. several positions on one tick


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), 0.0, -1.0])
def test_a_position_without_a_usable_price_does_not_shield_the_later_ones(books: Books, bad: float) -> None:
    """The books hold BTC, ETH, SOL, XRP, DOGE in that order. BTC has no price this tick and ETH a price that
    is not finite and positive: both are left alone, and the later three still hit stop, liquidation and
    take-profit."""
    broker = paper(books)
    btc = opened(broker, entry("btc", BTC, 1, 0.01, stop_loss=49_000.0), 50_000.0)
    eth = opened(broker, entry("eth", ETH, 1, 0.1, stop_loss=2_900.0, take_profit=3_100.0), 3_000.0)
    sol = opened(broker, entry("sol", SOL, 1, 2.0, stop_loss=190.0), 200.0)
    xrp = opened(broker, entry("xrp", XRP, -1, 100.0, leverage=10), 2.5)
    doge = opened(broker, entry("doge", DOGE, 1, 1_000.0, take_profit=0.4), 0.35)
    assert [p.symbol for p in broker.positions()] == [BTC, ETH, SOL, XRP, DOGE]

    trades = broker.on_prices({ETH: bad, SOL: 189.99, XRP: 3.0, DOGE: 0.41}, T + 1)

    assert [(t.position.symbol, t.reason, t.closed_at) for t in trades] == [
        (SOL, "stop_loss", T + 1), (XRP, "liquidation", T + 1), (DOGE, "take_profit", T + 1)]
    sol_trade, xrp_trade, doge_trade = trades
    # SOL long, stop 190 reached at 189.99: fills at the stop 2 bps worse (189.962), 189.99 is not worse
    sol_fill = 190.0 * (1 - SLIP)
    assert sol_trade.exit_price == pytest.approx(sol_fill, rel=1e-15)
    assert sol_trade.exit_fee == pytest.approx(2.0 * sol_fill * TAKER, rel=1e-12)
    assert sol_trade.net_pnl == pytest.approx(
        expected_net(1, 2.0, filled(200.0, 1), sol_fill, 2.0 * sol_fill * TAKER), rel=1e-12)
    # XRP short 10x from 2.5 * (1 - 2 bps): liquidation at E * (1 + 1/10) / (1 + mmr); 3.0 gapped past it
    xrp_entry = filled(2.5, -1)
    xrp_liq = xrp_entry * 1.1 / (1 + MMR)
    assert xrp_trade.exit_price == pytest.approx(xrp_liq, rel=1e-12)
    assert xrp_trade.exit_fee == pytest.approx(MMR * 100.0 * xrp_liq, rel=1e-9)  # the maintenance margin
    assert xrp_trade.net_pnl == pytest.approx(-(100.0 * xrp_entry / 10 + 100.0 * xrp_entry * TAKER), rel=1e-12)
    # DOGE long: the take-profit 0.4 reached at 0.41 fills at 0.4, no credit for the gap
    assert doge_trade.exit_price == 0.4
    assert doge_trade.net_pnl == pytest.approx(
        expected_net(1, 1_000.0, filled(0.35, 1), 0.4, 1_000.0 * 0.4 * TAKER), rel=1e-12)

    assert broker.positions() == [btc, eth]
    fees_open = 0.01 * filled(50_000.0, 1) * TAKER + 0.1 * filled(3_000.0, 1) * TAKER
    assert books.wallet() == pytest.approx(START - fees_open + sum(t.net_pnl for t in trades), rel=1e-12)
    assert books.audit() == []
    assert (sol.id, xrp.id, doge.id) == tuple(t.position.id for t in trades)


def test_every_position_is_checked_when_the_first_one_has_no_price(books: Books) -> None:
    """Only the last position (DOGE) has a price; the four before it have none."""
    broker = paper(books)
    for cid, symbol, price in (("btc", BTC, 50_000.0), ("eth", ETH, 3_000.0), ("sol", SOL, 200.0),
                               ("xrp", XRP, 2.5)):
        opened(broker, entry(cid, symbol, 1, 0.01), price)
    opened(broker, entry("doge", DOGE, -1, 1_000.0, stop_loss=0.37), 0.35)
    [trade] = broker.on_prices({DOGE: 0.37}, T + 1)
    assert (trade.position.symbol, trade.reason) == (DOGE, "stop_loss")
    assert trade.exit_price == pytest.approx(0.37 * (1 + SLIP), rel=1e-15)  # a short's stop buys 2 bps higher
    assert [p.symbol for p in broker.positions()] == [BTC, ETH, SOL, XRP]


# ------------------------------------------------------------------ 2. symbols below 1 USDT


def test_doge_stop_loss_below_one_usdt_fires(books: Books) -> None:
    broker = paper(books, precision=Filters())
    position = opened(broker, entry("d1", DOGE, 1, 1_000.7, stop_loss=0.330004, take_profit=0.380004), 0.35)
    assert position.quantity == 1_000.0  # step 1: truncated
    assert (position.stop_loss, position.take_profit) == (0.33, 0.38)  # tick 0.00001
    assert position.entry_price == pytest.approx(0.35 * (1 + SLIP), rel=1e-15)
    assert broker.on_prices({DOGE: 0.33001}, T + 1) == []
    [trade] = broker.on_prices({DOGE: 0.33}, T + 2)
    fill = 0.33 * (1 - SLIP)
    assert (trade.reason, trade.exit_price) == ("stop_loss", pytest.approx(fill, rel=1e-15))
    assert trade.gross_pnl == pytest.approx((fill - 0.35 * (1 + SLIP)) * 1_000.0, rel=1e-12)
    assert trade.exit_fee == pytest.approx(1_000.0 * fill * TAKER, rel=1e-12)
    assert books.wallet() == pytest.approx(START + trade.net_pnl, rel=1e-12)


@pytest.mark.parametrize("direction", [1, -1])
def test_doge_take_profit_below_one_usdt_fires(books: Books, direction: int) -> None:
    broker = paper(books, precision=Filters())
    target = 0.38 if direction > 0 else 0.32  # 0.03 beyond the price of 0.35
    opened(broker, entry("d1", DOGE, direction, 2_000.0, take_profit=target), 0.35)
    assert broker.on_prices({DOGE: target - direction * 0.00001}, T + 1) == []
    [trade] = broker.on_prices({DOGE: target}, T + 2)
    assert (trade.reason, trade.exit_price) == ("take_profit", pytest.approx(target, rel=1e-15))
    assert trade.gross_pnl == pytest.approx(direction * (target - 0.35 * (1 + direction * SLIP)) * 2_000.0, rel=1e-9)
    assert trade.gross_pnl > 0


@pytest.mark.parametrize(("direction", "stop", "target", "where"), [
    (1, 0.36, 0.0, "stop_loss 0.36 would trigger at once: it must be below the price"),
    (1, 0.0, 0.34, "take_profit 0.34 would trigger at once: it must be above the price"),
    (-1, 0.34, 0.0, "stop_loss 0.34 would trigger at once: it must be above the price"),
    (-1, 0.0, 0.36, "take_profit 0.36 would trigger at once: it must be below the price"),
])
def test_doge_exit_on_the_wrong_side_is_refused(books: Books, direction: int, stop: float, target: float,
                                                where: str) -> None:
    broker = paper(books, precision=Filters())
    side = "buy" if direction > 0 else "sell"
    with pytest.raises(OrderRejected, match=rf"^d1: {re.escape(where)} 0\.35 for a {side}$"):
        broker.open(entry("d1", DOGE, direction, 1_000.0, stop_loss=stop, take_profit=target), 0.35, T)
    assert broker.positions() == [] and books.wallet() == START


def test_doge_exit_rounded_onto_the_fill_is_refused(books: Books) -> None:
    """A take-profit of 0.350074 is above the price 0.35, but rounds to the tick 0.35007: not above the long's
    fill 0.35 * (1 + 2 bps) = 0.35007, so it would trigger at once."""
    broker = paper(books, precision=Filters())
    with pytest.raises(OrderRejected, match=r"^d1: take_profit 0\.35007 \(rounded to the tick\) would trigger at "
                                            r"once: it must be above the price 0\.35007\d* for a buy$"):
        broker.open(entry("d1", DOGE, 1, 1_000.0, take_profit=0.350074), 0.35, T)
    assert broker.positions() == []


# ------------------------------------------------------------------ 6. margin + entry fee against the balance


def _edge_books(tmp_path: Path, wallet: float) -> Books:
    return Books.open(tmp_path / f"edge-{wallet!r}.sqlite", starting_wallet=wallet, now_ms=DAY0)


def test_entry_that_exactly_fits_margin_plus_fee_is_accepted(tmp_path: Path) -> None:
    notional = 0.2 * 40_000.0  # no slippage: the fill is the price
    margin, fee = notional / 4, notional * TAKER  # 2000 + 4
    with _edge_books(tmp_path, margin + fee) as books:
        broker = paper(books, slippage_bps=0.0)
        position = opened(broker, entry("fit", BTC, 1, 0.2, leverage=4), 40_000.0)
        assert position.margin == pytest.approx(margin, rel=1e-15)
        assert position.entry_fee == pytest.approx(fee, rel=1e-15)
        state = broker.account({BTC: 40_000.0}, T)
        assert state.available == pytest.approx(0.0, abs=1e-9)  # wallet (margin + fee) - fee - margin


@pytest.mark.parametrize("share_of_fee", [0.0, 0.5, 0.999])
def test_entry_whose_margin_fits_but_not_its_fee_is_refused(tmp_path: Path, share_of_fee: float) -> None:
    notional = 0.2 * 40_000.0
    margin, fee = notional / 4, notional * TAKER
    wallet = margin + share_of_fee * fee
    with _edge_books(tmp_path, wallet) as books:
        broker = paper(books, slippage_bps=0.0)
        text = f"fit: insufficient balance: margin {margin:.4f} + fee {fee:.4f} USDT > available {wallet:.4f} USDT"
        with pytest.raises(OrderRejected, match=f"^{re.escape(text)}$"):
            broker.open(entry("fit", BTC, 1, 0.2, leverage=4), 40_000.0, T)
        assert broker.positions() == [] and books.wallet() == wallet and books.order("fit") is None


def test_available_balance_excludes_the_margin_of_open_positions(books: Books) -> None:
    broker = paper(books, slippage_bps=0.0)
    eth = opened(broker, entry("eth", ETH, 1, 10.0, leverage=5), 3_000.0)  # margin 6000, fee 15
    available = START - 15.0 - 6_000.0
    assert broker.account({ETH: 3_000.0}, T).available == pytest.approx(available, rel=1e-12)
    # BTC 1x: margin + fee = q * 50000 * 1.0005; q = 0.08: 4002 > 3985; q = 0.079: 3951.975 fits
    with pytest.raises(OrderRejected, match="insufficient balance"):
        broker.open(entry("btc", BTC, 1, 0.08, leverage=1), 50_000.0, T)
    btc = opened(broker, entry("btc", BTC, 1, 0.079, leverage=1), 50_000.0)
    state = broker.account({ETH: 3_000.0, BTC: 50_000.0}, T)
    assert state.margin == pytest.approx(eth.margin + btc.margin, rel=1e-12)
    assert state.available == pytest.approx(available - 0.079 * 50_000.0 * 1.0005, rel=1e-12)


# ------------------------------------------------------------------ 7. the exchange's steps and minimums


def test_quantity_rounding_below_the_minimum_quantity_is_refused(books: Books) -> None:
    broker = paper(books, precision=Filters())
    symbol = "LOTS/USDT:USDT"  # step 1, minimum 10
    with pytest.raises(OrderRejected, match=r"^small: quantity 9\.9 of LOTS/USDT:USDT rounds to 9\.0, below the "
                                            r"minimum 10\.0$"):
        broker.open(entry("small", symbol, 1, 9.9), 20.0, T)
    position = opened(broker, entry("ten", symbol, 1, 10.5), 20.0)
    assert position.quantity == 10.0
    assert books.position_by_client_id("small") is None


def test_quantity_rounding_to_zero_is_refused_even_without_a_minimum(books: Books) -> None:
    broker = paper(books, precision=Filters())
    with pytest.raises(OrderRejected, match=r"^zero: quantity 0\.09 of FREE/USDT:USDT rounds to 0\.0, below the "
                                            r"minimum None$"):
        broker.open(entry("zero", "FREE/USDT:USDT", 1, 0.09), 100.0, T)
    with pytest.raises(OrderRejected, match=r"rounds to 0\.0, below the minimum 0\.001"):
        broker.open(entry("zero-btc", BTC, 1, 0.000_9), 50_000.0, T)
    # no minimum: any quantity of at least one step is taken, at any notional
    position = opened(broker, entry("step", "FREE/USDT:USDT", 1, 0.19, stop_loss=90.004), 100.0)
    assert (position.quantity, position.stop_loss) == (0.1, 90.0)
    assert broker.positions() == [position]


def test_notional_at_the_exchange_minimum_is_accepted_and_just_below_refused(books: Books) -> None:
    broker = paper(books, slippage_bps=0.0, precision=Filters())
    least = float(Filters().filters[BTC]["MIN_NOTIONAL"]["notional"])  # 10 USDT in the recording
    price = least / 0.002  # 0.002 BTC (two steps) at 5000: exactly the minimum
    assert 0.002 * price == least
    below = math.nextafter(price, 0.0)
    text = f"under: notional {0.002 * below:.4f} of {BTC} is below the exchange's minimum {least:g}"
    with pytest.raises(OrderRejected, match=f"^{re.escape(text)}$"):
        broker.open(entry("under", BTC, 1, 0.002), below, T)
    position = opened(broker, entry("at", BTC, 1, 0.002), price)
    assert position.notional == least
    assert books.position_by_client_id("under") is None


def test_minimum_notional_is_checked_on_the_slipped_fill(books: Books) -> None:
    """A sell fills 2 bps lower: at exactly the minimum before slippage it is below it after."""
    broker = paper(books, precision=Filters())
    with pytest.raises(OrderRejected, match="below the exchange's minimum 10"):
        broker.open(entry("sell", BTC, -1, 0.002), 5_000.0, T)
    assert opened(broker, entry("buy", BTC, 1, 0.002), 5_000.0).notional == pytest.approx(10.0 * (1 + SLIP))


def test_from_risk_keeps_the_precision_it_is_given(books: Books) -> None:
    from liquidation_hunter.config.sections import RiskConfig

    broker = PaperBroker.from_risk(books, RiskConfig(funding=False), precision=Filters())
    position = opened(broker, entry("r", BTC, 1, 0.012_34, stop_loss=48_000.04), 50_000.0)
    assert (position.quantity, position.stop_loss) == (0.012, 48_000.0)
    with pytest.raises(OrderRejected, match="below the minimum"):
        broker.open(entry("r2", ETH, 1, 0.000_4), 3_000.0, T)


def test_the_paper_broker_the_runner_builds_applies_the_exchange_rules(tmp_path: Path) -> None:
    """``liquidation-hunter run`` builds its bot with ``build_bot``: in paper mode its broker takes the
    exchange's step, tick and minimums from the markets it loaded (here from the local fake Binance)."""
    from fakes.binance import FakeBinanceRest

    from liquidation_hunter.bot.runner import build_bot
    from liquidation_hunter.config.model import BotConfig

    with FakeBinanceRest(symbols=["BTCUSDT", "ETHUSDT"], prices={"BTCUSDT": 50_000.0, "ETHUSDT": 3_000.0}) as rest:
        config = BotConfig.from_mapping({
            "symbols": [BTC], "storage": {"path": str(tmp_path / "books.sqlite")},
            "exchange": {"mark_price": False, "rest_url": rest.base_url}, "risk": {"funding": False}})
        bot = build_bot(config, clock=lambda: T, environ={})
        try:
            assert bot.broker.name == "paper" and bot.markets is not None
            broker = bot.broker
            position = opened(broker, entry("run", BTC, 1, 0.012_34, stop_loss=48_000.04,  # type: ignore[arg-type]
                                            take_profit=52_000.06), 50_000.0)
            assert position.quantity == 0.012  # BTCUSDT stepSize 0.001
            assert (position.stop_loss, position.take_profit) == (48_000.0, 52_000.1)  # tickSize 0.10
            with pytest.raises(OrderRejected, match=r"quantity 0\.0004 of ETH/USDT:USDT rounds to 0\.0, below"):
                broker.open(entry("zero", ETH, 1, 0.000_4), 3_000.0, T)
            with pytest.raises(OrderRejected, match="is below the exchange's minimum"):
                broker.open(entry("tiny", ETH, 1, 0.003), 3_000.0, T)  # 9 USDT < 10 USDT
            # no take-profit (0: none) is not a price to round: the exchange would refuse to round 0
            bare = opened(broker, entry("bare", ETH, -1, 0.01, stop_loss=3_100.004), 3_000.0)  # type: ignore[arg-type]
            assert (bare.quantity, bare.stop_loss, bare.take_profit) == (0.01, 3_100.0, 0.0)
            assert [p.client_id for p in broker.positions()] == ["run", "bare"]
        finally:
            bot.books.close()
            bot.price_feed.close()  # type: ignore[union-attr]


# ------------------------------------------------------------------ 12. leverage


@pytest.mark.parametrize("direction", [1, -1])
def test_leverage_one_is_accepted_with_the_whole_notional_as_margin(books: Books, direction: int) -> None:
    broker = paper(books)
    position = opened(broker, entry("l1", BTC, direction, 0.1, leverage=1), 50_000.0)
    fill = filled(50_000.0, direction)
    assert position.leverage == 1
    assert position.margin == pytest.approx(0.1 * fill, rel=1e-15)
    # long: E * (1 - 1/1) / (1 - mmr) = 0, never liquidated; short: E * (1 + 1/1) / (1 + mmr)
    expected = 0.0 if direction > 0 else fill * 2.0 / (1 + MMR)
    assert position.liquidation_price == pytest.approx(expected, rel=1e-12, abs=1e-9)
    assert broker.account({BTC: 50_000.0}, T).available == pytest.approx(
        START - 0.1 * fill * (1 + TAKER), rel=1e-12)
    if direction > 0:
        assert broker.on_prices({BTC: 1e-9}, T + 1) == []  # down 100 %: still not liquidated
    else:
        assert broker.on_prices({BTC: expected * (1 - 1e-9)}, T + 1) == []
        assert broker.on_prices({BTC: expected}, T + 2)[0].reason == "liquidation"


@pytest.mark.parametrize("leverage", [0, -1])
def test_leverage_below_one_is_refused(books: Books, leverage: int) -> None:
    broker = paper(books)
    with pytest.raises(OrderRejected, match=rf"^l0: leverage must be an integer >= 1, got {leverage}$"):
        broker.open(entry("l0", BTC, 1, 0.1, leverage=leverage), 50_000.0, T)
    assert broker.positions() == []


def test_leverage_at_the_maintenance_margin_rate_is_refused(books: Books) -> None:
    """1/250 = 0.004 = mmr: no margin above the maintenance margin; 1/249 > 0.004 is taken."""
    broker = paper(books)
    with pytest.raises(OrderRejected, match=r"leverage 250 leaves no margin above the maintenance margin rate 0\.004"):
        broker.open(entry("l250", BTC, 1, 0.1, leverage=250), 50_000.0, T)
    assert opened(broker, entry("l249", BTC, 1, 0.1, leverage=249), 50_000.0).leverage == 249


# ------------------------------------------------------------------ 13. boundaries


@pytest.mark.parametrize("direction", [1, -1])
def test_liquidation_is_inclusive_of_the_liquidation_price(books: Books, direction: int) -> None:
    broker = paper(books)
    position = opened(broker, entry("liq", BTC, direction, 0.1, leverage=10), 50_000.0)
    liq = filled(50_000.0, direction) * (1 - direction / 10) / (1 - direction * MMR)
    assert position.liquidation_price == pytest.approx(liq, rel=1e-12)
    assert liquidation_price(direction, position.entry_price, 10, MMR,
                                 quantity=position.quantity) == position.liquidation_price
    just_before = math.nextafter(position.liquidation_price, direction * math.inf)
    assert broker.on_prices({BTC: just_before}, T + 1) == []
    [trade] = broker.on_prices({BTC: position.liquidation_price}, T + 2)
    assert (trade.reason, trade.exit_price) == ("liquidation", position.liquidation_price)
    assert trade.net_pnl == pytest.approx(-(position.margin + position.entry_fee), rel=1e-12)


@pytest.mark.parametrize("direction", [1, -1])
def test_stop_fires_exactly_at_its_level(books: Books, direction: int) -> None:
    broker = paper(books)
    stop = 50_000.0 - direction * 500.0
    opened(broker, entry("s", BTC, direction, 0.1, stop_loss=stop), 50_000.0)
    assert broker.on_prices({BTC: math.nextafter(stop, direction * math.inf)}, T + 1) == []
    [trade] = broker.on_prices({BTC: stop}, T + 2)
    assert (trade.reason, trade.exit_price) == ("stop_loss", pytest.approx(stop * (1 - direction * SLIP), rel=1e-15))


@pytest.mark.parametrize("direction", [1, -1])
def test_stop_gapped_through_fills_at_the_worse_current_price(books: Books, direction: int) -> None:
    broker = paper(books)
    stop = 50_000.0 - direction * 500.0
    opened(broker, entry("s", BTC, direction, 0.1, stop_loss=stop), 50_000.0)
    at_stop = stop * (1 - direction * SLIP)
    # exactly at the stop's slipped fill: that fill; one ulp worse: the current price
    worse = math.nextafter(at_stop, -direction * math.inf)
    [trade] = broker.on_prices({BTC: worse}, T + 1)
    assert trade.exit_price == worse
    opened(broker, entry("s2", BTC, direction, 0.1, stop_loss=stop), 50_000.0, T + 2)
    [trade] = broker.on_prices({BTC: at_stop}, T + 3)
    assert trade.exit_price == at_stop


@pytest.mark.parametrize("direction", [1, -1])
def test_take_profit_fires_exactly_at_its_level(books: Books, direction: int) -> None:
    broker = paper(books)
    target = 50_000.0 + direction * 500.0
    opened(broker, entry("tp", BTC, direction, 0.1, take_profit=target), 50_000.0)
    assert broker.on_prices({BTC: math.nextafter(target, -direction * math.inf)}, T + 1) == []
    [trade] = broker.on_prices({BTC: target}, T + 2)
    assert (trade.reason, trade.exit_price) == ("take_profit", target)
    assert trade.exit_fee == pytest.approx(0.1 * target * TAKER, rel=1e-12)


def test_liquidation_wins_over_a_stop_and_a_take_profit_is_not_a_stop(books: Books) -> None:
    broker = paper(books)
    position = opened(broker, entry("a", BTC, 1, 0.1, leverage=20, stop_loss=49_000.0, take_profit=51_000.0),
                      50_000.0)
    assert position.liquidation_price > 47_000.0
    [trade] = broker.on_prices({BTC: 46_000.0}, T + 1)  # past the stop and the liquidation
    assert trade.reason == "liquidation"
    opened(broker, entry("b", BTC, 1, 0.1, stop_loss=49_000.0, take_profit=51_000.0), 50_000.0, T + 2)
    assert broker.on_prices({BTC: 50_999.0}, T + 3) == []
    assert broker.on_prices({BTC: 49_001.0}, T + 4) == []


def test_funding_time_at_now_is_settled_and_at_the_opening_is_not(books: Books) -> None:
    broker = paper(books, funding=True)
    eight = DAY0 + 8 * HOUR
    position = opened(broker, entry("f", BTC, 1, 0.1), 50_000.0, now=eight)  # opened exactly at 08:00
    assert broker.on_prices({BTC: 50_000.0}, eight) == []
    assert broker.on_prices({BTC: 50_000.0}, eight + 8 * HOUR - 1) == []
    assert broker.positions()[0].funding == 0.0  # 08:00 was not after the opening; 16:00 not yet due
    wallet = books.wallet()
    assert broker.on_prices({BTC: 45_000.0}, eight + 8 * HOUR) == []  # 16:00 exactly: settled
    paid = -1 * 0.0001 * 0.1 * 45_000.0  # -direction * rate * q * price: a long pays 0.45
    assert broker.positions()[0].funding == pytest.approx(paid, rel=1e-12)
    assert books.wallet() == pytest.approx(wallet + paid, rel=1e-12)
    broker.on_prices({BTC: 45_000.0}, eight + 16 * HOUR - 1)  # settled once, not again
    assert broker.positions()[0].funding == pytest.approx(paid, rel=1e-12)
    trade = broker.close(position, "manual", 50_000.0, eight + 16 * HOUR)  # 00:00 exactly: settled at close
    assert trade is not None
    assert trade.position.funding == pytest.approx(paid - 0.0001 * 0.1 * 50_000.0, rel=1e-12)
    assert trade.net_pnl == pytest.approx(trade.gross_pnl - trade.position.entry_fee - trade.exit_fee
                                          + trade.position.funding, rel=1e-12)


def test_funding_follows_the_rate_set_and_the_interval(books: Books) -> None:
    broker = paper(books, funding=True, funding_interval_ms=HOUR)
    broker.set_funding_rate(ETH, -0.0002)
    assert broker.funding_rate(ETH) == -0.0002 and broker.funding_rate(BTC) == 0.0001
    opened(broker, entry("e", ETH, -1, 1.0), 3_000.0, now=T + 1)
    broker.on_prices({ETH: 3_000.0}, T + 3 * HOUR)  # 08:00, 09:00, 10:00
    per_time = 1 * -0.0002 * 1.0 * 3_000.0  # -direction * rate * q * price, direction -1: a short pays -0.6
    assert broker.positions()[0].funding == pytest.approx(3 * per_time, rel=1e-12)
    with pytest.raises(ValueError, match="funding rate of ETH"):
        broker.set_funding_rate(ETH, float("nan"))


class Streamed:
    """A funding-rate source as the mark-price stream fills it: rates by (symbol, funding time)."""

    def __init__(self, rates: dict[tuple[str, int], float]) -> None:
        self.rates = rates
        self.asked: list[tuple[str, int]] = []

    def rate_for(self, symbol: str, funding_time_ms: int) -> float | None:
        self.asked.append((symbol, funding_time_ms))
        return self.rates.get((symbol, funding_time_ms))


def funding_rows(books: Books) -> list[tuple[int, float, float]]:
    with sqlite3.connect(books.path) as db:
        return [(int(at), rate, amount) for at, rate, amount in
                db.execute("SELECT at, rate, amount FROM funding ORDER BY at")]


def test_funding_uses_the_streamed_rate_of_each_funding_time_and_the_base_rate_otherwise(books: Books) -> None:
    eight, sixteen, midnight = DAY0 + 8 * HOUR, DAY0 + 16 * HOUR, DAY0 + 24 * HOUR
    streamed = Streamed({(BTC, eight): 0.0003, (BTC, midnight): -0.00005, (ETH, sixteen): 0.0007})
    broker = paper(books, funding=True, funding_rates=streamed)
    broker.set_funding_rate(BTC, 0.0002)  # the base rate where nothing was streamed (16:00)
    opened(broker, entry("s", BTC, 1, 0.1), 50_000.0)  # 07:00
    broker.on_prices({BTC: 49_000.0}, midnight)
    assert funding_rows(books) == [  # -direction * rate * q * price, each time at its own rate
        (eight, 0.0003, pytest.approx(-0.0003 * 0.1 * 49_000.0, rel=1e-12)),
        (sixteen, 0.0002, pytest.approx(-0.0002 * 0.1 * 49_000.0, rel=1e-12)),
        (midnight, -0.00005, pytest.approx(0.00005 * 0.1 * 49_000.0, rel=1e-12))]
    assert streamed.asked == [(BTC, eight), (BTC, sixteen), (BTC, midnight)]
    assert broker.positions()[0].funding == pytest.approx(-0.1 * 49_000.0 * (0.0003 + 0.0002 - 0.00005), rel=1e-12)


def test_the_rate_asked_for_is_the_streamed_one_when_known(books: Books) -> None:
    eight = DAY0 + 8 * HOUR
    broker = paper(books, funding=True, funding_rates=Streamed({(BTC, eight): 0.0004, (ETH, eight): math.nan}))
    assert broker.funding_rate(BTC, eight) == 0.0004
    assert broker.funding_rate(BTC, eight + 8 * HOUR) == 0.0001  # nothing streamed for 16:00: the base rate
    assert broker.funding_rate(BTC) == 0.0001  # no funding time: the base rate
    assert broker.funding_rate(ETH, eight) == 0.0001  # a streamed NaN is not a rate
    assert paper(books, funding=True).funding_rate(BTC, eight) == 0.0001  # no stream: the base rate
    from liquidation_hunter.config.sections import RiskConfig

    from_config = PaperBroker.from_risk(books, RiskConfig(funding=True), funding_rates=Streamed({(BTC, eight): 4e-4}))
    assert from_config.funding_rate(BTC, eight) == 0.0004  # the bot's broker reads the stream's rates


# ------------------------------------------------------------------ market exits, records


@pytest.mark.parametrize("direction", [1, -1])
def test_market_close_worsens_the_price_and_pays_the_taker_fee(books: Books, direction: int) -> None:
    broker = paper(books)
    position = opened(broker, entry("m", ETH, direction, 2.0), 3_000.0)
    trade = broker.close(position, "time_exit", 3_100.0, T + HOUR)
    assert trade is not None
    fill = 3_100.0 * (1 - direction * SLIP)
    assert (trade.reason, trade.closed_at, trade.exit_price) == ("time_exit", T + HOUR, pytest.approx(fill, rel=1e-15))
    assert trade.exit_fee == pytest.approx(2.0 * fill * TAKER, rel=1e-12)
    assert trade.net_pnl == pytest.approx(expected_net(direction, 2.0, filled(3_000.0, direction), fill,
                                                       2.0 * fill * TAKER), rel=1e-12)
    assert books.order("m-x") is not None
    with pytest.raises(OrderRejected, match=r"^m-x: price must be finite and > 0, got 0\.0$"):
        broker.close(position, "manual", 0.0, T + HOUR)


def test_records_a_user_reads(books: Books) -> None:
    """The model's derived numbers: side, notional, unrealised PnL, net PnL, available and equity."""
    assert entry("b", BTC, 1, 1.0).side == "buy" and entry("s", BTC, -1, 1.0).side == "sell"
    broker = paper(books)
    position = opened(broker, entry("p", BTC, -1, 0.1), 50_000.0)
    assert position.strategy == "pinned"
    fill = filled(50_000.0, -1)
    assert position.notional == pytest.approx(0.1 * fill, rel=1e-15)
    assert position.unrealized(49_000.0) == pytest.approx(-1 * (49_000.0 - fill) * 0.1, rel=1e-12)
    state = broker.account({BTC: 49_000.0}, T)
    assert state.available == pytest.approx(state.wallet - state.margin, rel=1e-15)
    assert state.equity == pytest.approx(START - 0.1 * fill * TAKER + (fill - 49_000.0) * 0.1, rel=1e-12)
    synthetic = AccountState(wallet=100.0, margin=30.0, unrealized=-5.0, positions=1, at=T)
    assert (synthetic.available, synthetic.equity) == (70.0, 95.0)
    trade = ClosedTrade(position=position, exit_price=49_000.0, reason="manual", closed_at=T, exit_fee=3.0,
                        gross_pnl=100.0)
    assert trade.net_pnl == pytest.approx(100.0 - position.entry_fee - 3.0 + position.funding, rel=1e-15)


@pytest.mark.parametrize(("direction", "entry_price", "leverage", "mmr"), [
    (1, 100.0, 10, 0.004), (-1, 100.0, 10, 0.004), (1, 2.5, 3, 0.01), (-1, 2.5, 3, 0.01), (1, 0.35, 1, 0.0)])
def test_liquidation_price_formula(direction: int, entry_price: float, leverage: int, mmr: float) -> None:
    # margin + unrealised PnL = maintenance margin: q*E/L + d*q*(P - E) = mmr*q*P  =>  P = E*(1 - d/L)/(1 - d*mmr)
    expected = entry_price * (1 - direction / leverage) / (1 - direction * mmr)
    assert liquidation_price(direction, entry_price, leverage, mmr) == pytest.approx(expected, rel=1e-13, abs=1e-15)


def test_liquidation_clears_at_least_the_taker_fee(books: Books) -> None:
    """With no maintenance margin the margin left at the liquidation price is 0: the exit fee is the taker fee."""
    broker = paper(books, maintenance_margin_rate=0.0)
    position = opened(broker, entry("z", ETH, 1, 1.0, leverage=10), 3_000.0)
    bankruptcy = filled(3_000.0, 1) * (1 - 1 / 10)  # E * (1 - 1/L) / (1 - 0)
    assert position.liquidation_price == pytest.approx(bankruptcy, rel=1e-12)
    [trade] = broker.on_prices({ETH: 2_000.0}, T + 1)
    assert (trade.reason, trade.exit_price) == ("liquidation", position.liquidation_price)
    assert trade.exit_fee == pytest.approx(1.0 * bankruptcy * TAKER, rel=1e-12)
    assert trade.net_pnl == pytest.approx(-(position.margin + position.entry_fee + trade.exit_fee), rel=1e-9)


# ------------------------------------------------------------------ what a user reads when refused


@pytest.mark.parametrize(("field", "value", "text"), [
    ("direction", 0, "x: direction must be +1 or -1, got 0"),
    ("quantity", 0.0, "x: quantity must be finite and > 0, got 0.0"),
    ("quantity", float("inf"), "x: quantity must be finite and > 0, got inf"),
    ("stop_loss", float("nan"), "x: stop_loss must be finite and >= 0 (0: none), got nan"),
    ("take_profit", -1.0, "x: take_profit must be finite and >= 0 (0: none), got -1.0"),
    ("leverage", 2.0, "x: leverage must be an integer >= 1, got 2.0"),
])
def test_an_invalid_order_is_refused_saying_why(books: Books, field: str, value: float, text: str) -> None:
    broker = paper(books)
    fields: dict[str, object] = {"direction": 1, "quantity": 0.1, "stop_loss": 0.0, "take_profit": 0.0,
                                 "leverage": 5}
    fields[field] = value
    order = EntryOrder(client_id="x", symbol=BTC, reference_price=50_000.0, created_at=T, **fields)  # type: ignore[arg-type]
    with pytest.raises(OrderRejected, match=f"^{re.escape(text)}$"):
        broker.open(order, 50_000.0, T)
    assert broker.positions() == [] and books.wallet() == START


@pytest.mark.parametrize("price", [float("nan"), 0.0, -5.0])
def test_an_unusable_entry_price_is_refused_saying_why(books: Books, price: float) -> None:
    with pytest.raises(OrderRejected, match=f"^{re.escape(f'x: price must be finite and > 0, got {price!r}')}$"):
        paper(books).open(entry("x", BTC, 1, 0.1), price, T)


@pytest.mark.parametrize(("key", "value"), [
    ("slippage_bps", -1.0), ("slippage_bps", 10_000.0), ("slippage_bps", float("nan")),
    ("taker_fee", -0.0001), ("taker_fee", 1.0), ("taker_fee", 1.5),
    ("maker_fee", -1.0), ("maker_fee", -1.5), ("maker_fee", 1.0), ("maker_fee", 1.5),
    ("maintenance_margin_rate", -0.001), ("maintenance_margin_rate", 1.0),
    ("funding_interval_ms", 0), ("funding_interval_ms", -HOUR),
])
def test_the_constructor_refuses_numbers_out_of_range(books: Books, key: str, value: float) -> None:
    text = f"PaperBroker: {key} out of range: {value!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(text)}$"):
        paper(books, **{key: value})


def test_the_constructor_takes_the_edges_of_its_ranges(books: Books) -> None:
    free = paper(books, slippage_bps=0.0, taker_fee=0.0, maker_fee=-0.999, maintenance_margin_rate=0.0)
    assert (free.slippage_bps, free.taker_fee, free.maker_fee, free.maintenance_margin_rate) == (0.0, 0.0, -0.999, 0.0)
    position = opened(free, entry("free", BTC, 1, 0.1, leverage=20), 50_000.0)
    assert (position.entry_price, position.entry_fee) == (50_000.0, 0.0)
    assert position.liquidation_price == pytest.approx(50_000.0 * (1 - 1 / 20), rel=1e-12)  # the bankruptcy price
    dear = paper(books, slippage_bps=9_999.0, taker_fee=0.999, maker_fee=0.999)
    assert (dear.slippage_bps, dear.taker_fee) == (pytest.approx(9_999.0), 0.999)
    every_ms = paper(books, funding=True, funding_interval_ms=1)
    every_ms.on_prices({BTC: 50_000.0}, T + 3)  # funding times T+1, T+2, T+3 after the opening at T
    assert every_ms.positions()[0].funding == pytest.approx(3 * -0.0001 * 0.1 * 50_000.0, rel=1e-12)


# ------------------------------------------------------------------ start


def test_start_refuses_books_without_a_mode(books: Books) -> None:
    broker = paper(books)
    assert broker.start(T) == []
    with sqlite3.connect(books.path) as db:  # the meta row naming the books' mode lost
        db.execute("DELETE FROM meta WHERE key = 'mode'")
    with pytest.raises(BooksError, match=f"^{re.escape(f'{books.path}: unknown books cannot be paper-traded')}$"):
        broker.start(T)


def test_start_names_every_problem_of_books_that_do_not_balance(books: Books) -> None:
    broker = paper(books)
    opened(broker, entry("a", BTC, 1, 0.1), 50_000.0)
    with sqlite3.connect(books.path) as db:  # money from nowhere, and a position's funding without its rows
        db.execute("INSERT INTO ledger(at, kind, amount, note) VALUES (?, 'fee', 5.0, 'forged')", (T,))
        db.execute("UPDATE positions SET funding = 1.0")
    problems = books.audit()
    assert len(problems) == 2
    text = f"{books.path}: the books do not balance: {problems[0]}; {problems[1]}"
    with pytest.raises(BooksError, match=f"^{re.escape(text)}$"):
        broker.start(T)
