"""The bot's jobs with time driven by hand: a real heatmap, the real strategy, the paper broker on a real
SQLite file. The scheduler and the network are the end-to-end test's business (test_bot_e2e.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import MINUTE, NOW, event

from liquidation_hunter import LiquidationHunter, Signal
from liquidation_hunter.bot.engine import Bot
from liquidation_hunter.bot.risk import entry_client_id, loss_at_stop
from liquidation_hunter.config.model import BotConfig
from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.paper import PaperBroker
from live_heatmap import LiveLiquidationHeatmap
from strategies import make_strategy

BTC = "BTC/USDT:USDT"


class Clock:
    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def make_bot(tmp_path: Path, clock: Clock, **risk: Any) -> Bot:
    config = BotConfig.from_mapping({
        "symbols": [BTC], "storage": {"path": str(tmp_path / "books.sqlite")},
        "risk": {"leverage": 3, "funding": False, **risk},
    })
    heatmap = LiveLiquidationHeatmap(config=config.heatmap, clock=clock)
    heatmap.track(["BTCUSDT"])
    books = Books.open(config.storage.path, starting_wallet=config.risk.starting_wallet, now_ms=clock())
    broker = PaperBroker.from_risk(books, config.risk)
    strategy = make_strategy("liquidation_magnet", LiquidationHunter(config.hunter, heatmap), {})
    return Bot(config=config, heatmap=heatmap, strategy=strategy, broker=broker, books=books, clock=clock)


def short_cluster_above(bot: Bot, level: float = 101_500.0, now: int = NOW) -> None:
    """Ten 1-BTC short liquidations around ``level``: a strong target above a price of 100,000."""
    for i in range(10):
        assert bot.heatmap.ingest(event(level + i, 1.0, side="short", age_min=1 + i / 10, now=now))


def test_a_signal_becomes_a_sized_paper_position_and_its_take_profit_closes_it(tmp_path: Path) -> None:
    clock = Clock()
    bot = make_bot(tmp_path, clock, max_margin_pct=100.0)  # the margin cap is tested in test_sizing_costs_and_rules
    short_cluster_above(bot)
    bot.heatmap.update_price("BTCUSDT", 100_000.0, NOW)
    bot.run_job("signals")

    [position] = bot.broker.positions()
    # hunter: take-profit 80 % of the way to 101,504.x, stop at half that distance below
    assert position.direction == 1 and position.take_profit == pytest.approx(100_000 + 0.8 * 1_504.5, rel=1e-4)
    # 1 % of 10,000 lost at the stop, fees and slippage of both fills included, sized at the signal's entry
    assert loss_at_stop(1, 100_000.0, position.stop_loss, position.quantity, taker_fee=0.0005,
                        slippage_bps=2.0) == pytest.approx(100.0, rel=1e-9)
    assert position.entry_price == pytest.approx(100_000.0 * 1.0002)  # 2 bps slippage on a buy
    assert position.margin == pytest.approx(position.quantity * position.entry_price / 3)
    [record] = bot.books.recent_signals()
    assert record.action == "entered" and record.direction == 1 and record.level == pytest.approx(101_504.5, rel=1e-4)

    clock.now += MINUTE
    bot.heatmap.update_price("BTCUSDT", position.take_profit + 1.0, clock.now)
    bot.run_job("positions")
    assert bot.broker.positions() == []
    [trade] = bot.books.closed_trades()
    assert trade.reason == "take_profit" and trade.exit_price == pytest.approx(position.take_profit)
    assert bot.books.audit() == []
    assert bot.failures == {} and bot.runs == {"signals": 1, "positions": 1}


def test_the_same_idea_trades_once_and_cooldown_blocks_a_new_one(tmp_path: Path) -> None:
    clock = Clock()
    bot = make_bot(tmp_path, clock, cooldown_minutes=2)
    short_cluster_above(bot)
    bot.heatmap.update_price("BTCUSDT", 100_000.0, NOW)
    bot.run_job("signals")
    [position] = bot.broker.positions()
    assert bot.broker.close(position, "manual", 100_100.0, clock.now) is not None

    clock.now += MINUTE  # inside the cooldown
    bot.heatmap.update_price("BTCUSDT", 100_000.0, clock.now)
    bot.run_job("signals")
    assert bot.broker.positions() == []
    assert bot.books.recent_signals()[0].action.startswith("skipped: cooldown")

    clock.now += 2 * MINUTE  # cooldown over, but it is the same cluster: the same client id
    bot.heatmap.update_price("BTCUSDT", 100_000.0, clock.now)
    bot.run_job("signals")
    assert bot.broker.positions() == []
    assert bot.books.recent_signals()[0].action == "skipped: this signal was already traded"
    assert len(bot.books.closed_trades()) == 1


def test_halt_stops_entries_but_exits_keep_running(tmp_path: Path) -> None:
    clock = Clock()
    bot = make_bot(tmp_path, clock)
    short_cluster_above(bot)
    bot.heatmap.update_price("BTCUSDT", 100_000.0, NOW)
    bot.run_job("signals")
    [position] = bot.broker.positions()
    bot.books.set_halt("halted by hand", clock.now)
    bot.heatmap.update_price("BTCUSDT", position.stop_loss - 10.0, clock.now)
    bot.run_job("positions")
    assert [t.reason for t in bot.books.closed_trades()] == ["stop_loss"]
    clock.now += 30 * MINUTE
    short_cluster_above(bot, 101_000.0, now=clock.now)
    bot.heatmap.update_price("BTCUSDT", 99_500.0, clock.now)
    bot.run_job("signals")
    assert bot.broker.positions() == [] and bot.runs["signals"] == 2


def test_time_exit(tmp_path: Path) -> None:
    clock = Clock()
    bot = make_bot(tmp_path, clock, time_exit_minutes=30)
    short_cluster_above(bot)
    bot.heatmap.update_price("BTCUSDT", 100_000.0, NOW)
    bot.run_job("signals")
    clock.now += 29 * MINUTE
    bot.heatmap.update_price("BTCUSDT", 100_000.0, clock.now)
    bot.run_job("positions")
    assert len(bot.broker.positions()) == 1
    clock.now += MINUTE
    bot.run_job("positions")  # the price is a minute old: still fresh enough
    assert [t.reason for t in bot.books.closed_trades()] == ["time_exit"]


def test_drawdown_halts_and_daily_loss_blocks(tmp_path: Path) -> None:
    clock = Clock()
    bot = make_bot(tmp_path, clock, max_drawdown_pct=1.0, daily_loss_limit_pct=5.0, risk_per_trade=0.01)
    bot.run_job("snapshot")  # peak = 10,000
    bot.books.record_adjustment(-150.0, now_ms=clock.now, note="a loss from outside")
    short_cluster_above(bot)
    bot.heatmap.update_price("BTCUSDT", 100_000.0, NOW)
    bot.run_job("signals")
    assert bot.broker.positions() == []
    halt = bot.books.halt_reason()
    assert halt is not None and halt.startswith("max drawdown: equity 9850.00 is 1.50 % below the peak 10000.00")

    other = make_bot(tmp_path / "other", Clock(), daily_loss_limit_pct=3.0, risk_per_trade=0.01)
    other.job_snapshot(NOW)
    assert other.risk.account_block(other.account(NOW), NOW) is None  # records today's start: 10,000
    other.books.record_adjustment(-300.0, now_ms=NOW, note="a loss")
    block = other.risk.account_block(other.account(NOW + MINUTE), NOW + MINUTE)
    assert block is not None and block.startswith("daily loss limit")
    tomorrow = NOW + 24 * 60 * MINUTE
    assert other.risk.account_block(other.account(tomorrow), tomorrow) is None  # a new UTC day


def test_a_failing_job_is_counted_and_the_others_go_on(tmp_path: Path) -> None:
    clock = Clock()
    bot = make_bot(tmp_path, clock)

    class Broken:
        name = "broken"

        def decide(self, symbol: str, price: float, now_ms: int) -> Signal:
            raise RuntimeError("strategy bug")

    bot.strategy = Broken()
    bot.heatmap.update_price("BTCUSDT", 100_000.0, NOW)
    bot.run_job("signals")
    bot.run_job("snapshot")
    bot.run_job("heartbeat")
    assert bot.failures == {"signals": 1}
    assert bot.runs == {"snapshot": 1, "heartbeat": 1}
    health = bot.books.health()
    assert health is not None and health[0]["job_failures"] == {"signals": 1}


class TypeErrorStrategy:
    """A strategy with a bug: the kind of error a broken refusal would hide."""

    name = "typo"

    def decide(self, symbol: str, price: float, now_ms: int) -> Signal:
        return Signal(symbol, 1, 0.9, None, price, price * "0.99", price * 1.02, "r", now_ms)  # type: ignore[operator]


def test_a_programming_error_in_a_job_is_raised_under_the_tests(tmp_path: Path) -> None:
    """The suite sets LIQUIDATION_HUNTER_RAISE_JOB_ERRORS=1 (conftest): a TypeError fails the test that meets
    it instead of passing for "no entry"; it is counted before it is raised."""
    bot = make_bot(tmp_path, Clock())
    assert bot.raise_errors
    bot.strategy = TypeErrorStrategy()
    bot.heatmap.update_price("BTCUSDT", 100_000.0, NOW)
    with pytest.raises(TypeError):
        bot.run_job("signals")
    assert bot.errors == {"signals": 1} and bot.failures == {}


def test_a_programming_error_is_counted_apart_and_shown_in_status(tmp_path: Path) -> None:
    """In production the loop survives a bug, but it is logged, counted as an error (not a failure, not a
    refusal) and shown by status."""
    from liquidation_hunter.trading.status import render_status, status_report

    clock = Clock()
    bot = make_bot(tmp_path, clock)
    bot.raise_errors = False
    bot.strategy = TypeErrorStrategy()
    bot.heatmap.update_price("BTCUSDT", 100_000.0, NOW)
    bot.run_job("signals")
    bot.run_job("heartbeat")
    assert bot.errors == {"signals": 1} and bot.failures == {} and bot.runs == {"heartbeat": 1}
    assert bot.books.recent_signals() == [] and bot.broker.positions() == []
    health = bot.books.health()
    assert health is not None and health[0]["job_errors"] == {"signals": 1}
    assert health[0]["last_job_error"].startswith("signals: TypeError: can't multiply sequence")
    text = render_status(status_report(bot.books, now_ms=clock.now, heartbeat_s=10.0))
    assert "PROGRAMMING ERRORS in jobs {'signals': 1}: last signals: TypeError" in text


def test_entry_client_ids_follow_the_idea_and_fit_binance() -> None:
    base = Signal(BTC, 1, 0.9, None, 100.0, 99.0, 102.0, "r", NOW, origin="short-123")
    same = Signal(BTC, 1, 0.5, None, 101.0, 99.5, 103.0, "other words", NOW + MINUTE, origin="short-123")
    other = Signal(BTC, -1, 0.9, None, 100.0, 101.0, 98.0, "r", NOW, origin="short-123")
    cid = entry_client_id(base, "cascade_fade")
    assert cid == entry_client_id(same, "cascade_fade") != entry_client_id(other, "cascade_fade")
    assert cid != entry_client_id(base, "liquidation_magnet")
    assert len(cid) <= 36 and all(c.isalnum() or c in ".:/_-" for c in cid)


def test_without_the_mark_stream_prices_come_over_rest_in_one_request(tmp_path: Path) -> None:
    """``exchange.mark_price: false``: the prices job asks premiumIndex once for every symbol; a price's time is
    the one the exchange stamped on it (premiumIndex's ``time``), not when the answer arrived."""
    from fakes.binance import FakeBinanceRest

    from liquidation_hunter.trading.exchange import ExchangeClient

    exchange_clock = Clock()  # the fake exchange's own clock
    with FakeBinanceRest(symbols=["BTCUSDT", "ETHUSDT"], prices={"BTCUSDT": 100_000.0, "ETHUSDT": 3_000.0},
                         clock=exchange_clock) as rest:
        config = BotConfig.from_mapping({
            "symbols": [BTC, "ETHUSDT"], "storage": {"path": str(tmp_path / "books.sqlite")},
            "exchange": {"mark_price": False, "rest_url": rest.base_url}, "risk": {"funding": False}})
        client = ExchangeClient.from_config(config.exchange, None, sleep=lambda _s: None)
        client.load_markets()  # as the runner does at start
        clock = Clock()
        heatmap = LiveLiquidationHeatmap(config=config.heatmap, clock=clock)
        books = Books.open(config.storage.path, starting_wallet=10_000.0, now_ms=clock())
        bot = Bot(config=config, heatmap=heatmap, broker=PaperBroker.from_risk(books, config.risk), books=books,
                  strategy=make_strategy("liquidation_magnet", LiquidationHunter(config.hunter, heatmap), {}),
                  price_feed=client, clock=clock)
        rest.clear_requests()
        bot.run_job("prices")
        assert [(r.method, r.path) for r in rest.requests] == [("GET", "/fapi/v1/premiumIndex")]
        assert bot.prices(clock.now) == {BTC: 100_000.0, "ETH/USDT:USDT": 3_000.0}
        assert heatmap.get_price("ETHUSDT") == 3_000.0
        assert bot.price_times()[BTC] == (100_000.0, NOW)
        clock.now += 2 * MINUTE  # no fresh poll: stale prices are not traded on
        assert bot.prices(clock.now) == {}
        exchange_clock.now = clock.now - 70_000  # the exchange answers with a price it computed 70 s ago
        bot.run_job("prices")
        assert bot.price_times()[BTC] == (100_000.0, clock.now - 70_000) and bot.prices(clock.now) == {}
        exchange_clock.now = clock.now - 1_000
        bot.run_job("prices")
        assert bot.prices(clock.now) == {BTC: 100_000.0, "ETH/USDT:USDT": 3_000.0}
        rest.fail_next("/fapi/v1/premiumIndex", status=503, code=-1001, msg="Internal error", times=10)
        bot.run_job("prices")
        assert bot.failures == {"prices": 1}
        client.close()


def test_a_stale_mark_price_is_not_traded_on(tmp_path: Path) -> None:
    """A dead stream's last price must not open positions (nor be used for exits) after a minute."""
    clock = Clock()
    bot = make_bot(tmp_path, clock)
    short_cluster_above(bot)
    bot.heatmap.update_price("BTCUSDT", 100_000.0, NOW - 2 * MINUTE)
    assert bot.prices(NOW) == {}
    bot.run_job("signals")
    bot.run_job("signals")
    assert bot.broker.positions() == []
    [record] = bot.books.recent_signals()  # the reason, recorded once however many runs skip it
    assert record.action == "skipped: no fresh price (the last is 120 s old; limit 60 s)"
    assert bot.health(NOW).to_dict()["stale_prices"] == {BTC: 120.0}
    bot.heatmap.update_price("BTCUSDT", 100_000.0, NOW - 30_000)
    assert bot.prices(NOW) == {BTC: 100_000.0}
    bot.run_job("signals")
    assert len(bot.broker.positions()) == 1 and bot.health(NOW).to_dict()["stale_prices"] == {}


def test_a_mark_price_checks_an_open_positions_exits_at_once_and_costs_a_lookup_otherwise(tmp_path: Path) -> None:
    clock = Clock()
    bot = make_bot(tmp_path, clock)
    reads = []
    positions = bot.broker.positions
    bot.broker.positions = lambda: reads.append(1) or positions()  # type: ignore[method-assign]
    bot.heatmap.add_price_listener(bot.on_mark_price)  # as `run` wires a paper bot
    for i in range(50):  # nothing open: the positions are read once, then each price is a dict lookup
        bot.heatmap.update_price("BTCUSDT", 100_000.0 + i, NOW)
    assert len(reads) == 1 and bot.books.closed_trades() == []
    short_cluster_above(bot)
    bot.heatmap.update_price("BTCUSDT", 100_000.0, NOW)
    bot.run_job("signals")
    [position] = positions()
    clock.now += 1_000
    bot.heatmap.update_price("BTCUSDT", position.stop_loss + 1.0, clock.now)
    assert positions() == [position]
    bot.heatmap.update_price("BTCUSDT", position.stop_loss - 1.0, clock.now)  # no positions run: the hook
    [trade] = bot.books.closed_trades()
    assert (trade.reason, trade.closed_at) == ("stop_loss", clock.now) and positions() == []
    assert "positions" not in bot.runs and bot.exits == 1 and bot.books.audit() == []
    bot.heatmap.update_price("ETHUSDT", 3_000.0, clock.now)  # another symbol: nothing
    assert bot.failures == {} and bot.heatmap.listener_errors == 0


def test_the_heartbeat_escalates_while_the_stream_stays_disconnected(tmp_path: Path) -> None:
    """info for the first minute disconnected, then warning, then error after five; the reconnect count is in
    the health record from the start (not None before the first heartbeat)."""
    from structlog.testing import capture_logs

    from liquidation_hunter.bot.assembly import stream_settings
    from live_heatmap.stream.stream import LiquidationStream

    clock = Clock()
    bot = make_bot(tmp_path, clock)
    bot.stream = LiquidationStream(bot.heatmap, ["BTCUSDT"], stream_settings(bot.config.exchange))  # never opened
    bot.start()
    health = bot.books.health()
    assert health is not None and health[0]["reconnects"] == 0 and health[0]["connected"] is False
    levels = []
    with capture_logs() as logs:
        for seconds in (30, 61, 299, 301, 900):
            clock.now = NOW + seconds * 1000
            bot.run_job("heartbeat")
            [beat] = [e for e in logs if e["event"] == "heartbeat"][-1:]
            levels.append((seconds, beat["log_level"], beat.get("disconnected_s")))
    assert levels == [(30, "info", 30), (61, "warning", 61), (299, "warning", 299), (301, "error", 301),
                      (900, "error", 900)]
    assert beat["reconnects"] == 0
    record = bot.books.health()
    assert record is not None and record[0]["disconnected_s"] == 900.0 and record[0]["reconnects"] == 0


def test_a_refused_entry_is_logged_at_error_once_then_at_debug_with_a_count(tmp_path: Path) -> None:
    """The paper broker refuses an order below the exchange's minimum notional every signals run: one error
    line for the signal, then debug lines that count."""
    from fakes.binance import FakeBinanceRest
    from structlog.testing import capture_logs

    from liquidation_hunter.trading.exchange import ExchangeClient

    with FakeBinanceRest(symbols=["BTCUSDT"], prices={"BTCUSDT": 100_000.0}) as rest:
        client = ExchangeClient.from_config(
            BotConfig.from_mapping({"exchange": {"rest_url": rest.base_url}}).exchange, None, sleep=lambda _s: None)
        client.load_markets()
        clock = Clock()
        bot = make_bot(tmp_path, clock, max_notional_per_position=50.0)  # Binance's minimum is 100 USDT
        bot.broker = PaperBroker.from_risk(bot.books, bot.config.risk, precision=client)
        short_cluster_above(bot)
        with capture_logs() as logs:
            for i in range(4):
                clock.now = NOW + i * 10_000
                bot.heatmap.update_price("BTCUSDT", 100_000.0, clock.now)
                bot.run_job("signals")
        client.close()
    rejected = [(e["log_level"], e["times"]) for e in logs if e["event"] == "entry_rejected"]
    assert rejected == [("error", 1), ("debug", 2), ("debug", 3), ("debug", 4)]
    assert len(bot.books.recent_signals()) == 1  # and the signal log has it once
