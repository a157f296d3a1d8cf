"""A paper bot checks its exits on every mark price, not only on the positions job's schedule: end to end, the
real ``run`` process against the local fake exchange, whose WebSocket server sends ``markPriceUpdate`` frames.

The positions job runs once at start, then not for an hour: only the mark-price hook can close the position."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bot_process import log_events, started_bot, wait_for
from fakes.binance import FakeBinance, FakeBinanceRest

from liquidation_hunter.trading.books import Books
from liquidation_hunter.trading.model import EntryOrder
from liquidation_hunter.trading.paper import PaperBroker

BTC = "BTC/USDT:USDT"
STOP, TARGET = 99_000.0, 103_000.0

CONFIG = """\
mode: paper
symbols: [BTCUSDT]
exchange:
  ws_url: {ws_url}
  rest_url: {rest_url}
  mark_price: true
risk:
  starting_wallet: 10000
  funding: false
schedule:
  signals: 3600
  positions: 3600                  # once at start, then an hour later: the test is over long before
  snapshot: 3600
  heartbeat: 1                     # the health record (job runs) the test reads
storage:
  path: books.sqlite
  events: null
logging:
  format: json
  level: info
"""


@pytest.fixture
def servers() -> Iterator[tuple[FakeBinance, FakeBinanceRest]]:
    with FakeBinance(ping_interval=None) as ws, FakeBinanceRest(symbols=["BTCUSDT"],
                                                                prices={"BTCUSDT": 100_000.0}) as rest:
        yield ws, rest


def _health(books: Path) -> dict[str, Any]:
    with sqlite3.connect(books) as db:
        row = db.execute("SELECT value FROM control WHERE key = 'health'").fetchone()
    return json.loads(row[0]) if row else {}


def test_a_mark_price_that_touches_the_stop_closes_the_paper_position_at_once(
        tmp_path: Path, servers: tuple[FakeBinance, FakeBinanceRest]) -> None:
    ws, rest = servers
    books_path = tmp_path / "books.sqlite"
    now = time.time_ns() // 1_000_000
    with Books.open(books_path, starting_wallet=10_000.0, now_ms=now) as books:  # a long the bot finds at start
        broker = PaperBroker(books, slippage_bps=2.0, taker_fee=0.0005, maker_fee=0.0002, funding=False)
        position = broker.open(EntryOrder(client_id="lh-test-long", symbol=BTC, direction=1, quantity=0.01,
                                          reference_price=100_000.0, stop_loss=STOP, take_profit=TARGET, leverage=5,
                                          created_at=now, strategy="test"), 100_000.0, now)
        assert position is not None
    config = tmp_path / "bot.yaml"
    config.write_text(CONFIG.format(ws_url=ws.market_url, rest_url=rest.base_url))
    log = tmp_path / "bot.log"
    with started_bot(config, log) as bot:
        wait_for(lambda: ws.wait_for_subscription("btcusdt@markPrice@1s", timeout=0.05), "the subscription", log,
                 bot=bot)
        # the positions job has had its run at start (no price yet): the next one is an hour away
        wait_for(lambda: _health(books_path).get("job_runs", {}).get("positions") == 1, "positions at start", log,
                 bot=bot)
        assert log_events(log, "bot_started")[0]["open_positions"] == 1

        def send(price: float) -> None:
            ws.publish_mark_price("BTCUSDT", price, time.time_ns() // 1_000_000)

        send(99_500.0)  # above the stop: nothing
        send(99_200.0)
        wait_for(lambda: _health(books_path).get("held_prices", {}).get(BTC) == 99_200.0, "the price", log, bot=bot)
        assert log_events(log, "position_closed") == []
        send(98_990.0)  # touches the stop (a wick): closed now, not in an hour
        wait_for(lambda: log_events(log, "position_closed"), "the stop", log, bot=bot, timeout=30.0)
        send(99_800.0)  # back up: nothing more to do
    assert bot.returncode == 0, log.read_text()[-3000:]
    [closed] = log_events(log, "position_closed")
    assert (closed["client_id"], closed["reason"]) == ("lh-test-long", "stop_loss")
    assert closed["exit"] == pytest.approx(STOP * (1 - 0.0002), rel=1e-12)  # the stop, 2 bps worse
    health = _health(books_path)
    assert health["job_runs"]["positions"] == 1 and health.get("job_failures", {}) == {}  # the hook did it
    with Books.open_readonly(books_path) as books:
        [trade] = books.closed_trades()
        assert books.open_positions() == [] and books.audit() == []
        assert trade.reason == "stop_loss" and trade.exit_price == pytest.approx(STOP * (1 - 0.0002), rel=1e-12)
