"""A live bot, built as ``run`` builds it (``build_bot``), against the local fake Binance REST server, with its
clock driven by hand: sizing from the exchange's wallet, deposits and withdrawals, funding from the income
history, an exit booked while another symbol's entry is stuck in flight, a refused stop-loss, unknown symbols.

The heatmap is fed directly (the stream is the end-to-end test's business); everything else is real: the
config, ccxt, the live broker, the books on SQLite."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ccxt
import pytest
from fakes.binance import FakeBinance, FakeBinanceRest
from helpers import MINUTE, NOW, event
from structlog.testing import capture_logs

from liquidation_hunter.bot.engine import Bot
from liquidation_hunter.bot.runner import build_bot
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.trading.live import LiveBroker
from liquidation_hunter.trading.model import EntryOrder
from liquidation_hunter.trading.status import render_status, status_report
from live_heatmap.common.timeparse import utc_day

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
KEY, SECRET = "live-bot-key", "live-bot-secret"
ENV = {"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET}
PRICES = {"BTCUSDT": 100_000.0, "ETHUSDT": 3_000.0}


class Clock:
    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def rest(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBinanceRest]:
    """The local fake exchange. The bot's ccxt client has ccxt's rate limiter on, as it must against Binance: it
    sleeps a request's weight times 50 ms before sending it (1.5 s before the income history, 2 s before every
    symbol's open orders). The fake has no limit, so these tests skip the sleeps, as the tests that build ccxt
    themselves do (``enableRateLimit: False``); the requests are the same."""
    monkeypatch.setattr(ccxt.Exchange, "throttle", lambda _self, _cost=None: None)
    with FakeBinanceRest(api_key=KEY, api_secret=SECRET, wallet=5_000.0, prices=dict(PRICES)) as fake:
        yield fake


def live_bot(tmp_path: Path, rest: FakeBinanceRest, clock: Clock, symbols: tuple[str, ...] = (BTC, ETH),
             **risk: Any) -> Bot:
    """``mode: live`` with a stop 0.6 % away and 1 % risk per trade; the books start with the default
    10,000 USDT, the exchange holds 5,000."""
    config = BotConfig.from_mapping({
        "mode": "live", "symbols": list(symbols), "storage": {"path": str(tmp_path / "live.sqlite")},
        "exchange": {"rest_url": rest.base_url},
        "risk": {"leverage": 5, "risk_per_trade": 0.01, "from_signal": False, "stop_loss_pct": 0.6,
                 "take_profit_pct": 1.5, "max_notional_per_position": 50_000, "cooldown_minutes": 0, **risk},
    })
    bot = build_bot(config, live_flag=True, clock=clock, environ=ENV)
    bot.start()
    return bot


def long_signal(bot: Bot, symbol: str = "BTCUSDT", price: float = 100_000.0, now: int = NOW) -> None:
    """Ten 1-unit short liquidations 1.5 % above ``price`` (a strong magnet for a long) and ``price`` fresh."""
    for i in range(10):
        assert bot.heatmap.ingest(event(price * 1.015 + i, 1.0, side="short", age_min=1 + i / 10, symbol=symbol,
                                        now=now))
    bot.heatmap.update_price(symbol, price, now)


def test_live_sizing_limits_and_status_use_the_exchanges_wallet(tmp_path: Path, rest: FakeBinanceRest) -> None:
    clock = Clock()
    bot = live_bot(tmp_path, rest, clock)
    books = bot.books
    # the books opened with 10,000; the exchange holds 5,000: the difference is a withdrawal, not a loss
    [transfer] = books.transfers()
    assert (transfer.kind, transfer.amount, transfer.exchange_wallet) == ("withdrawal", -5_000.0, 5_000.0)
    assert books.wallet() == 5_000.0 and books.realized_since(0) == 0.0 and books.audit() == []

    long_signal(bot)
    bot.run_job("signals")
    [order] = [o for o in rest.orders if not o.reduce_only]
    quantity = float(order.quantity)
    # 1 % of the exchange's 5,000 at a stop 0.6 % away: 8,333 USDT, 0.083 BTC (10,000 would have sent 0.166)
    risked = quantity * 100_000.0 * 0.006
    assert 0.6 * 50.0 <= risked <= 50.0, quantity
    assert quantity < 0.1
    [position] = bot.broker.positions()
    assert position.quantity == quantity

    bot.run_job("heartbeat")
    report = status_report(books, now_ms=clock.now, heartbeat_s=60)
    assert report.account.wallet == pytest.approx(float(rest.wallet), abs=1e-9)  # the exchange's, less the fee
    assert report.stream["exchange"]["wallet"] == pytest.approx(float(rest.wallet), abs=1e-9)
    assert [(t.kind, t.amount) for t in report.transfers] == [("withdrawal", -5_000.0)]
    text = render_status(report)
    assert "exchange: wallet 4,99" in text and "withdrawal -5,000.00" in text

    # money moved in by hand: a deposit; peak and today's start move with it (no gain for the limits)
    bot.run_job("snapshot")  # a peak to move
    peak, day = books.peak_equity(), utc_day(clock.now)
    assert peak is not None
    day_start = books.day_start_equity(day, 0.0, clock.now)  # written by the signals job's limits
    assert day_start > 0.0
    rest.set_wallet(float(rest.wallet) + 1_000)
    clock.now += MINUTE
    bot.run_job("heartbeat")
    deposit = books.transfers()[0]
    assert (deposit.kind, deposit.amount) == ("deposit", pytest.approx(1_000.0))
    assert books.peak_equity() == pytest.approx(peak + 1_000.0)
    assert books.day_start_equity(day, 0.0, clock.now) == pytest.approx(day_start + 1_000.0)
    assert books.wallet() == pytest.approx(float(rest.wallet)) and books.audit() == []
    assert bot.failures == {} and rest.unexpected == []


def test_a_withdrawal_is_not_a_loss_for_the_drawdown_halt(tmp_path: Path, rest: FakeBinanceRest) -> None:
    clock = Clock()
    bot = live_bot(tmp_path, rest, clock, max_drawdown_pct=10.0)
    bot.run_job("snapshot")  # the peak: 5,000
    rest.set_wallet(2_000.0)  # 60 % withdrawn
    clock.now += MINUTE
    bot.run_job("heartbeat")
    long_signal(bot, now=clock.now)
    bot.run_job("signals")
    assert bot.books.halt_reason() is None
    assert len(bot.broker.positions()) == 1  # sized on 2,000
    [order] = [o for o in rest.orders if not o.reduce_only]
    assert float(order.quantity) * 100_000.0 * 0.006 <= 20.0


def test_live_funding_is_booked_from_the_income_history_once(tmp_path: Path, rest: FakeBinanceRest) -> None:
    clock = Clock()
    bot = live_bot(tmp_path, rest, clock)
    long_signal(bot)
    bot.run_job("signals")
    [position] = bot.broker.positions()
    rest.set_funding_rate("BTCUSDT", "0.0001")
    paid = rest.pay_funding("BTCUSDT", at_ms=NOW + 8 * MINUTE)
    assert paid < 0  # a long pays a positive rate
    clock.now += 10 * MINUTE
    bot.run_job("heartbeat")
    bot.run_job("heartbeat")
    [held] = bot.broker.positions()
    assert held.funding == pytest.approx(float(paid))
    assert len(bot.books.transfers()) == 1  # the start's withdrawal only: the funding explains the difference
    assert bot.books.wallet() == pytest.approx(float(rest.wallet)) and bot.books.audit() == []

    # a restart on the same books books nothing twice
    again = LiveBroker(bot.books, bot.broker._client, leverage=5, symbols=[BTC, ETH])  # type: ignore[attr-defined]
    assert again.start(clock.now) == []
    [held] = again.positions()
    assert held.funding == pytest.approx(float(paid)) and held.id == position.id
    assert any(r.path == "/fapi/v1/income" and r.params["incomeType"] == "FUNDING_FEE" for r in rest.requests)


def test_an_exit_is_booked_while_another_symbols_entry_is_in_flight(tmp_path: Path, rest: FakeBinanceRest) -> None:
    clock = Clock()
    bot = live_bot(tmp_path, rest, clock)
    eth = bot.broker.open(EntryOrder(client_id="lh-eth-held", symbol=ETH, direction=1, quantity=0.5,
                                     reference_price=3_000.0, stop_loss=2_950.0, take_profit=3_100.0, leverage=5,
                                     created_at=NOW), 3_000.0, NOW)
    assert eth is not None
    long_signal(bot)  # BTC's entry: its market order's answer is held by the exchange
    gate = rest.hold_next("/fapi/v1/order", method="POST")
    entering = threading.Thread(target=bot.run_job, args=("signals",), daemon=True)
    entering.start()
    deadline = time.monotonic() + 20
    while not any(r.method == "POST" and r.path == "/fapi/v1/order" and r.params.get("symbol") == "BTCUSDT"
                  for r in rest.requests):
        assert time.monotonic() < deadline and entering.is_alive(), "the BTC entry never reached the exchange"
        time.sleep(0.02)
    try:
        rest.set_price("ETHUSDT", 2_940.0)  # ETH's stop triggers on the exchange
        bot.heatmap.update_price("ETHUSDT", 2_940.0, clock.now)
        bot.run_job("positions")  # must not wait for BTC's entry
        assert entering.is_alive(), "the BTC entry was not in flight any more: the test proves nothing"
        [trade] = bot.books.closed_trades()
        assert (trade.position.symbol, trade.reason) == (ETH, "stop_loss")
        assert bot.broker.positions() == []  # BTC is not booked yet
    finally:
        gate.set()
        entering.join(20)
    [btc] = bot.broker.positions()
    assert btc.symbol == BTC
    assert [s.action for s in bot.books.recent_signals()] == ["entered"]
    assert bot.books.audit() == [] and bot.failures == {}


def test_a_look_at_the_wallet_does_not_hold_up_exits_and_books_nothing_when_they_moved_the_wallet(
        tmp_path: Path, rest: FakeBinanceRest) -> None:
    """The heartbeat's look at the exchange's wallet is sent without the broker's lock: an exit is booked while
    the balance request hangs, and the look then books no transfer (the books' wallet moved meanwhile)."""
    clock = Clock()
    bot = live_bot(tmp_path, rest, clock)
    eth = bot.broker.open(EntryOrder(client_id="lh-eth-look", symbol=ETH, direction=1, quantity=0.5,
                                     reference_price=3_000.0, stop_loss=2_950.0, take_profit=3_100.0, leverage=5,
                                     created_at=NOW), 3_000.0, NOW)
    assert eth is not None
    transfers = bot.books.transfers()
    rest.clear_requests()
    gate = rest.hold_next("/fapi/v3/account", method="GET")
    looking = threading.Thread(target=bot.run_job, args=("heartbeat",), daemon=True)
    looking.start()
    deadline = time.monotonic() + 20
    while not any(r.path == "/fapi/v3/account" for r in rest.requests):
        assert time.monotonic() < deadline and looking.is_alive(), "the look never reached the exchange"
        time.sleep(0.02)
    try:
        rest.set_price("ETHUSDT", 2_940.0)  # ETH's stop triggers on the exchange
        bot.heatmap.update_price("ETHUSDT", 2_940.0, clock.now)
        bot.run_job("positions")  # must not wait for the look
        assert looking.is_alive(), "the look was over already: the test proves nothing"
        [trade] = bot.books.closed_trades()
        assert (trade.position.symbol, trade.reason) == (ETH, "stop_loss")
    finally:
        gate.set()
        looking.join(20)
    assert bot.books.transfers() == transfers  # the stale balance was not taken for a withdrawal
    bot.run_job("heartbeat")  # the next look agrees with the books
    assert bot.books.transfers() == transfers and bot.books.audit() == [] and bot.failures == {}


def test_a_refused_stop_loss_is_named_for_what_happened(tmp_path: Path, rest: FakeBinanceRest) -> None:
    clock = Clock()
    bot = live_bot(tmp_path, rest, clock)
    long_signal(bot)
    rest.fail_next("/fapi/v1/algoOrder", code=-2021, msg="Order would immediately trigger.", method="POST")
    with capture_logs() as logs:
        bot.run_job("signals")
        bot.run_job("positions")
    [record] = bot.books.recent_signals()
    assert record.action.startswith("entered then closed: stop-loss refused: ")
    assert "Order would immediately trigger" in record.action
    [trade] = bot.books.closed_trades()
    assert trade.reason == "protection_failed" and trade.exit_fee > 0
    assert [e["event"] for e in logs].count("position_closed") == 1
    assert bot.broker.positions() == [] and bot.books.audit() == []


def test_symbols_the_exchange_does_not_list_are_warned_about_once_and_shown(
        tmp_path: Path, rest: FakeBinanceRest) -> None:
    clock = Clock()
    with capture_logs() as logs:
        bot = live_bot(tmp_path, rest, clock, symbols=(BTC, "NOTACOIN/USDT:USDT"))
        bot.run_job("heartbeat")
        bot.run_job("heartbeat")
    warned = [e for e in logs if e["event"] == "symbol_not_listed"]
    assert [e["symbol"] for e in warned] == ["NOTACOIN/USDT:USDT"] and warned[0]["log_level"] == "warning"
    report = status_report(bot.books, now_ms=clock.now, heartbeat_s=60)
    assert report.stream["unknown_symbols"] == ["NOTACOIN/USDT:USDT"]
    assert "does not list (never traded): NOTACOIN/USDT:USDT" in render_status(report)


def _wait(predicate: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _short_liquidation(symbol: str, price: float, qty: float, at_ms: int) -> dict[str, Any]:
    """A forceOrder frame: a BUY order closes a short (a short liquidated)."""
    return {"e": "forceOrder", "E": at_ms, "o": {"s": symbol, "S": "BUY", "o": "LIMIT", "f": "IOC", "q": str(qty),
                                                  "p": str(price), "ap": str(price), "X": "FILLED", "l": str(qty),
                                                  "z": str(qty), "T": at_ms}}


def test_a_frozen_mark_price_goes_stale_end_to_end(tmp_path: Path, rest: FakeBinanceRest) -> None:
    """The stream's mark prices keep the exchange's time (``E``): when ETH's frames stop, a strong cluster
    65 s later is not traded; the reason is in the signal log once and ``status`` lists the stale price."""
    clock = Clock()
    with FakeBinance(ping_interval=None) as ws:
        config = BotConfig.from_mapping({
            "mode": "live", "symbols": [BTC, ETH], "storage": {"path": str(tmp_path / "live.sqlite")},
            "exchange": {"rest_url": rest.base_url, "ws_url": ws.market_url, "mark_price": True},
            "risk": {"leverage": 5, "from_signal": False, "stop_loss_pct": 0.6, "take_profit_pct": 1.5,
                     "max_notional_per_position": 50_000},
        })
        bot = build_bot(config, live_flag=True, clock=clock, environ=ENV)
        bot.start()
        assert bot.stream is not None
        bot.stream.start()
        try:
            _wait(lambda: ws.wait_for_subscription("ethusdt@markPrice@1s", timeout=0.1), "the subscriptions")
            ws.publish_mark_price("BTCUSDT", 100_000, NOW)
            ws.publish_mark_price("ETHUSDT", 3_000, NOW)
            _wait(lambda: bot.prices(clock.now) == {BTC: 100_000.0, ETH: 3_000.0}, "both mark prices")

            clock.now = NOW + 65_000  # ETH's frames stop; BTC's go on; a strong ETH cluster comes
            ws.publish_mark_price("BTCUSDT", 100_000, clock.now)
            for i in range(10):
                ws.publish_force_order(_short_liquidation("ETHUSDT", 3_045 + i, 3.0, NOW + 55_000 + 500 * i))
            _wait(lambda: bot.heatmap.event_count("ETHUSDT") == 10
                  and bot.price_times().get(BTC, (0, 0))[1] == clock.now, "the cluster and BTC's price")
            with capture_logs() as logs:
                for _ in range(3):
                    bot.run_job("clusters")
                    bot.run_job("signals")
                bot.run_job("heartbeat")
            assert bot.broker.positions() == [] and [o for o in rest.orders] == []
            [record] = bot.books.recent_signals()
            assert record.symbol == ETH
            assert record.action == "skipped: no fresh price (the last is 65 s old; limit 60 s)"
            assert [e["symbol"] for e in logs if e["event"] == "price_stale"] == [ETH]
            report = status_report(bot.books, now_ms=clock.now, heartbeat_s=60)
            assert report.stream["stale_prices"] == {ETH: 65.0}
            assert "stale prices (not traded): ETH/USDT:USDT 65 s" in render_status(report)

            # a fresh frame: the same cluster trades, so the stale price was what held it back
            clock.now += 1_000
            ws.publish_mark_price("ETHUSDT", 3_000, clock.now)
            _wait(lambda: bot.price_times().get(ETH, (0, 0))[1] == clock.now, "ETH's fresh price")
            bot.run_job("signals")
            [position] = bot.broker.positions()
            assert position.symbol == ETH and bot.stale_prices == {}
        finally:
            bot.stream.stop(timeout=1.0)
