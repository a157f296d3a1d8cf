"""End to end: ``liquidation-hunter run`` in paper mode, as its own process, against the fake Binance WebSocket
and REST servers replaying the real 2025-01-27 liquidation cascade fast. It trades; it is killed with SIGKILL
mid-run and restarted on the same books; it stops on SIGTERM within 5 s. Then the books must balance, every
position the logs announced must be in them exactly once, and nothing may be doubled.

The bot is started through tests/support/guarded_cli.py, so it cannot reach the internet either.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from bot_process import log_events, run_cli, start_bot, wait_for
from fakes.binance import FakeBinance, FakeBinanceRest
from market_replay import MarketReplay, session

from liquidation_hunter.trading.books import Books

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"]
START_MS = 1_737_996_600_000  # 2025-01-27T16:50:00Z
END_MS = 1_737_998_400_000  # 2025-01-27T17:20:00Z
SPEED = 90.0  # 30 recorded minutes in 20 s

CONFIG = """\
mode: paper
symbols: [{symbols}]
exchange:
  ws_url: {ws_url}
  rest_url: {rest_url}
  mark_price: true
heatmap:
  min_cluster_size: 3
hunter:
  min_strength: 0.3
  min_distance_pct: 0.3
  max_distance_pct: 3.0
  preferred_distance_pct: 0.8
risk:
  starting_wallet: 10000
  leverage: 5
  max_open_positions: 4
  risk_per_trade: 0.01
  cooldown_minutes: 0
  time_exit_minutes: 0.1           # 6 s: trades end even where price reaches neither exit
  daily_loss_limit_pct: null
  max_drawdown_pct: null
schedule:
  clusters: 0.5
  signals: 0.5
  positions: 0.5
  snapshot: 1
  heartbeat: 1
storage:
  path: books.sqlite
  events: events.sqlite            # recorded; the restart warm-starts the heatmap from it
logging:
  format: json
  level: info
api:
  enabled: true
  port: 0                          # the OS picks; the bot logs it (api_listening)
"""


@pytest.fixture
def servers() -> Iterator[tuple[FakeBinance, FakeBinanceRest]]:
    prices = {"BTCUSDT": 101_000.0, "ETHUSDT": 3_100.0, "SOLUSDT": 235.0, "DOGEUSDT": 0.33}
    with FakeBinance(ping_interval=None) as ws, FakeBinanceRest(symbols=SYMBOLS, prices=prices) as rest:
        yield ws, rest


def test_paper_bot_trades_survives_sigkill_and_stops_on_sigterm(
        tmp_path: Path, servers: tuple[FakeBinance, FakeBinanceRest]) -> None:
    ws, rest = servers
    config = tmp_path / "bot.yaml"
    config.write_text(CONFIG.format(symbols=", ".join(SYMBOLS), ws_url=ws.market_url, rest_url=rest.base_url))
    log = tmp_path / "bot.log"
    replay = MarketReplay(ws, session(SYMBOLS, START_MS, END_MS), speed=SPEED)

    bot = start_bot(config, log)
    wait_for(lambda: log_events(log, "loop_started") and ws.open_connections(), "the bot to connect", log, bot=bot)
    replay.start()
    try:
        # First run: trade, then die without warning while positions are open or being managed.
        wait_for(lambda: len(log_events(log, "position_opened")) >= 2, "two positions", log, bot=bot, timeout=40)
        bot.send_signal(signal.SIGKILL)
        bot.wait(10)
        assert bot.returncode == -signal.SIGKILL
        opened_first = {r["client_id"] for r in log_events(log, "position_opened")}
        closed_first = {r["client_id"] for r in log_events(log, "position_closed")}

        # Second run on the same books: it resumes and keeps trading.
        bot = start_bot(config, log)
        wait_for(lambda: len(log_events(log, "loop_started")) == 2, "the restart", log, bot=bot)
        restarted = log_events(log, "bot_started")[-1]
        # the first run recorded what it saw; the restart rebuilt its heatmap from that, not from nothing
        assert 0 < log_events(log, "warm_start")[-1]["events"] <= replay.published
        wait_for(lambda: replay.done or len(log_events(log, "position_opened")) > len(opened_first) + 1,
                 "trading after the restart", log, bot=bot, timeout=40)
        wait_for(lambda: len(log_events(log, "heartbeat")) >= 4, "heartbeats", log, bot=bot, timeout=30)
    finally:
        replay.stop()
        if bot.poll() is None:
            sent = time.monotonic()
            bot.send_signal(signal.SIGTERM)
            bot.wait(10)
            stop_seconds = time.monotonic() - sent

    assert bot.returncode == 0, log.read_text()[-3000:]
    assert stop_seconds < 5.0
    assert log_events(log, "bot_stopped")[-1]["reason"] == "SIGTERM"

    opened = [r["client_id"] for r in log_events(log, "position_opened")]
    closed = [r["client_id"] for r in log_events(log, "position_closed")]
    assert len(opened) == len(set(opened)), "a signal opened two positions"
    assert len(closed) == len(set(closed)), "a position was closed twice"
    # the restart found exactly the positions the first run had opened and not closed (paper positions
    # cannot close while the bot is down: their exits are simulated by the bot itself)
    assert restarted["open_positions"] == len(opened_first - closed_first)
    with Books.open_readonly(tmp_path / "books.sqlite") as books:
        assert books.audit() == []
        held = {p.client_id for p in books.open_positions()} | {t.position.client_id for t in books.closed_trades()}
        assert set(opened) <= held, "a position the log announced is missing from the books"
        assert len(held) == len(opened), "the books hold a position the logs never announced"
        trades = books.closed_trades()
        assert trades, "nothing was closed"
        assert {t.reason for t in trades} <= {"stop_loss", "take_profit", "time_exit", "liquidation"}
        # nothing doubled: one entry fill and one exit fill per position
        assert len(books.orders(purpose="entry", status="filled")) == len(held)
        assert {t.position.client_id for t in trades} == set(closed)
        health = books.health()
        assert health is not None and health[0]["stopped"] == "SIGTERM" and health[0]["events"] > 0
    assert rest.unexpected == []

    status = run_cli("status", "--config", str(config), "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    report = json.loads(status.stdout)
    assert report["bot"]["running"] is False and report["bot"]["stopped"] == "SIGTERM"
    assert len(report["positions"]) == len(held) - len(trades)
    assert report["recent_signals"] and report["stream"]["events"] > 0


def test_sigint_stops_the_bot_within_5_seconds_with_state_flushed(
        tmp_path: Path, servers: tuple[FakeBinance, FakeBinanceRest]) -> None:
    ws, rest = servers
    config = tmp_path / "bot.yaml"
    config.write_text(CONFIG.format(symbols=", ".join(SYMBOLS), ws_url=ws.market_url, rest_url=rest.base_url))
    log = tmp_path / "bot.log"
    bot = start_bot(config, log)
    try:
        wait_for(lambda: log_events(log, "heartbeat") and ws.open_connections(), "the first heartbeat", log, bot=bot)
        # the running bot serves its read-only API on loopback
        port = log_events(log, "api_listening")[-1]["port"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
            assert json.loads(answer.read())["status"] == "ok"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=5) as answer:
            assert json.loads(answer.read())["mode"] == "paper"
    finally:
        sent = time.monotonic()
        bot.send_signal(signal.SIGINT)
        bot.wait(10)
    assert time.monotonic() - sent < 5.0
    assert bot.returncode == 0
    assert log_events(log, "bot_stopped")[-1]["reason"] == "SIGINT"
    assert ws.wait_for_disconnect(ws.connections()[0].id, timeout=2.0)
    with Books.open_readonly(tmp_path / "books.sqlite") as books:
        health = books.health()
        assert health is not None and health[0]["stopped"] == "SIGINT"
        assert books.snapshots() and books.audit() == []
