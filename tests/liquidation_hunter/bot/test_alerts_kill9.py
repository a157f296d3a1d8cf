"""Alerts pending when the bot is killed (``kill -9``) are delivered by the next run, each exactly once: the real
``run`` process against the fake exchange and a local webhook (issue 16)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bot_process import run_cli, started_bot, wait_for
from fakes.alert_receiver import AlertReceiver, Answer
from fakes.binance import FakeBinance, FakeBinanceRest

from liquidation_hunter.alerts.model import alert_id
from liquidation_hunter.trading.books import Books

CONFIG = """\
mode: paper
symbols: [BTCUSDT]
exchange:
  ws_url: {ws_url}
  rest_url: {rest_url}
risk:
  starting_wallet: 10000
schedule:
  heartbeat: 1
storage:
  path: books.sqlite
  events: null
logging:
  format: json
alerts:
  channels:
    webhook:
      enabled: true
      url: {hook}
      signing_key_env: TEST_HOOK_SIGNING_KEY
  timeout_seconds: 2
"""


SECRET = "a-webhook-signing-key-123"
ENV = {"TEST_HOOK_SIGNING_KEY": SECRET}


@pytest.fixture
def servers() -> Iterator[tuple[FakeBinance, FakeBinanceRest, AlertReceiver]]:
    with FakeBinance(ping_interval=None) as ws, FakeBinanceRest(symbols=["BTCUSDT"], prices={"BTCUSDT": 100_000.0}) \
            as rest, AlertReceiver() as hook:
        yield ws, rest, hook


def _counts(path: Path) -> tuple[int, int]:
    with Books.open_readonly(path) as books:
        counts = books.outbox_counts()
    return counts.pending, counts.delivered


def test_five_alerts_pending_at_a_kill_9_are_delivered_exactly_once_after_the_restart(
        tmp_path: Path, servers: tuple[FakeBinance, FakeBinanceRest, AlertReceiver]) -> None:
    ws, rest, hook = servers
    books_path = tmp_path / "books.sqlite"
    now = int(time.time() * 1000)
    ids = [alert_id("test", f"a{i}", now) for i in range(5)]
    with Books.open(books_path, starting_wallet=10_000.0, now_ms=now) as books:
        for i, aid in enumerate(ids):
            books.enqueue_alert(alert_id=aid, channels=["webhook"], rule="test", kind="cascade", symbol="BTCUSDT",
                                at=now, text=f"alert {i}", data={"i": i})
    config = tmp_path / "bot.yaml"
    config.write_text(CONFIG.format(ws_url=ws.market_url, rest_url=rest.base_url, hook=f"{hook.base_url}/hook"))
    hook.default = Answer(503)  # the first run: every attempt fails, the alerts stay pending
    log = tmp_path / "bot.log"
    with started_bot(config, log, env=ENV) as bot:
        wait_for(lambda: len({r.headers["Idempotency-Key"] for r in hook.received}) == 5,
                 "an attempt at each alert", log, bot=bot)
        bot.send_signal(signal.SIGKILL)
        bot.wait(10)
    assert bot.returncode == -signal.SIGKILL
    assert _counts(books_path) == (5, 0)
    tried = len(hook.received)

    hook.default = Answer(200, {"ok": True})
    with started_bot(config, tmp_path / "bot2.log", env=ENV) as bot:
        wait_for(lambda: _counts(books_path) == (0, 5), "the five deliveries", tmp_path / "bot2.log", bot=bot)
        time.sleep(1.5)  # a sender that would send again has had its chance
        report = json.loads(run_cli("status", "--config", str(config), "--json", cwd=tmp_path).stdout)
        text = run_cli("status", "--config", str(config), cwd=tmp_path).stdout
    delivered = [r for r in hook.received[tried:] if r.status == 200]
    assert sorted(r.headers["Idempotency-Key"] for r in delivered) == sorted(ids)
    assert len(hook.received) - tried == 5  # no retry, no duplicate
    assert bot.returncode == 0
    assert report["outbox"] == {"pending": 0, "delivered": 5, "failed": 0, "dropped": 0}
    [channel] = report["stream"]["alerts"]["channels"]
    assert channel["signing_key"] == "TEST_HOOK_SIGNING_KEY=****-123"  # the last 4 characters at most
    assert (f"alerts to webhook (url {hook.base_url}/hook, signing_key TEST_HOOK_SIGNING_KEY=****-123, "
            "min_interval_s 0.0); rules cluster, cascade, bot_events, stream_down") in text
    assert "  outbox: 0 pending, 5 delivered, 0 failed, 0 dropped (full)" in text
    for said in (log.read_text(), (tmp_path / "bot2.log").read_text(), json.dumps(report), text):
        assert SECRET not in said
