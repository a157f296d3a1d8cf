"""Close and flatten requests carried out by the bot's positions job (liquidation_hunter/bot/controls.py), on real
SQLite books with the paper broker: a request waits for a price, a refused close stays pending with the reason,
and the price history the page draws fills as the job runs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from helpers import MINUTE, NOW
from test_bot_engine import BTC, Clock, make_bot

from liquidation_hunter.bot.controls import carry_out
from liquidation_hunter.bot.price_history import PriceHistory
from liquidation_hunter.trading.errors import OrderRejected
from liquidation_hunter.trading.model import ClosedTrade, EntryOrder, ExitReason, Position


def _hold(bot: Any, price: float = 100_000.0) -> Position:
    order = EntryOrder("lh-manual", BTC, 1, 0.01, price, price * 0.9, price * 1.1, 3, NOW)
    position = bot.broker.open(order, price, NOW)
    assert position is not None
    return position


def test_a_close_waits_for_a_fresh_price_then_closes_at_it_as_manual(tmp_path: Path) -> None:
    clock = Clock()
    bot = make_bot(tmp_path, clock)
    bot.price_history = PriceHistory(step_ms=5_000)
    _hold(bot)
    request, new = bot.books.request_control("close", BTC, NOW)
    assert new and bot.books.request_control("close", BTC, NOW)[1] is False  # queued once

    bot.run_job("positions")  # no price yet: the paper broker cannot fill
    [pending] = bot.books.control_requests(pending=True)
    assert pending.attempts == 1 and "no fresh price yet" in pending.result and bot.broker.positions()

    clock.now += MINUTE
    bot.heatmap.update_price("BTCUSDT", 101_000.0, clock.now)
    bot.run_job("positions")
    assert bot.broker.positions() == [] and bot.books.control_requests(pending=True) == []
    [trade] = bot.books.closed_trades()
    assert trade.reason == "manual" and trade.exit_price == 101_000.0 * (1 - 0.0002)  # 2 bps on a sell
    done = bot.books.control_request(request.id)
    assert done is not None and done.status == "done" and done.done_at == clock.now
    assert done.result.startswith(f"closed {BTC} long 0.01 at 100979.8 (manual): net ")
    assert bot.exits == 1 and bot.books.audit() == []
    # the page's price line: the price the job read, kept once
    assert bot.price_history.points("BTCUSDT", 0, clock.now) is not None


def test_flatten_with_nothing_open_is_done_at_once(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, Clock())
    request, _ = bot.books.request_control("flatten", None, NOW)
    bot.run_job("positions")
    done = bot.books.control_request(request.id)
    assert done is not None and done.status == "done" and done.result == "no open position"


class RefusingBroker:
    """The paper broker whose closes the exchange refuses (as a live one may: -2022, maintenance...)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name = inner, "live"

    def positions(self) -> list[Position]:
        return list(self.inner.positions())

    def close(self, position: Position, reason: ExitReason, price: float, now_ms: int) -> ClosedTrade | None:
        raise OrderRejected("close BTC: ReduceOnly Order is rejected (Binance -2022)")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_refused_close_stays_pending_with_the_exchanges_reason(tmp_path: Path) -> None:
    bot = make_bot(tmp_path, Clock())
    _hold(bot)
    request, _ = bot.books.request_control("close", BTC, NOW)
    prices: Mapping[str, float] = {}
    assert not carry_out(request, RefusingBroker(bot.broker), bot.books, prices, NOW)  # type: ignore[arg-type]
    [pending] = bot.books.control_requests(pending=True)
    assert "Binance -2022" in pending.result and pending.attempts == 1
    assert carry_out(pending, bot.broker, bot.books, {BTC: 99_000.0}, NOW + 1)  # the next attempt succeeds
    assert bot.books.closed_trades()[0].reason == "manual"
